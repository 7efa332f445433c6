//! [`ProviderKind`] and the settings each provider takes: names, which are secret, defaults, validation.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A zone's provider settings, as strings keyed by setting name (`server_url`, `api_key`, ...).
pub type Settings = BTreeMap<String, String>;

/// The providers vmdns can write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Cloudflare,
    Hestiacp,
    Powerdns,
}

/// How a setting's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingFormat {
    Text,
    /// An `http://` or `https://` URL.
    Url,
    /// A whole number of at least 1.
    Count,
    /// A SHA-256 fingerprint: 64 hex digits, colons allowed.
    Sha256,
}

/// One setting of a provider, as forms and validation see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// Never shown back: reads give `__KEEP__`, and it is encrypted at rest.
    pub secret: bool,
    pub required: bool,
    /// Not shown in forms (tests and tuning).
    pub advanced: bool,
    pub default: Option<&'static str>,
    pub format: SettingFormat,
}

const fn spec(key: &'static str, label: &'static str, help: &'static str) -> SettingSpec {
    SettingSpec {
        key,
        label,
        help,
        secret: false,
        required: true,
        advanced: false,
        default: None,
        format: SettingFormat::Text,
    }
}

const fn secret(mut s: SettingSpec) -> SettingSpec {
    s.secret = true;
    s
}
const fn optional(mut s: SettingSpec) -> SettingSpec {
    s.required = false;
    s
}
const fn advanced(mut s: SettingSpec, default: &'static str, format: SettingFormat) -> SettingSpec {
    s.required = false;
    s.advanced = true;
    s.default = Some(default);
    s.format = format;
    s
}
const fn url(mut s: SettingSpec) -> SettingSpec {
    s.format = SettingFormat::Url;
    s
}

const POWERDNS: &[SettingSpec] = &[
    url(spec(
        "server_url",
        "Server URL",
        "PowerDNS REST API base URL, e.g. https://pdns.example.com:8081",
    )),
    secret(spec(
        "api_key",
        "API Key",
        "Value of api-key in pdns.conf (sent as X-API-Key)",
    )),
    advanced(
        spec("server_id", "Server ID", "PowerDNS server id"),
        "localhost",
        SettingFormat::Text,
    ),
    advanced(
        spec(
            "max_body_bytes",
            "Max PATCH body (bytes)",
            "Split PATCHes to stay below the server's webserver-max-bodysize",
        ),
        "1000000",
        SettingFormat::Count,
    ),
];

const CLOUDFLARE: &[SettingSpec] = &[
    spec(
        "account_id",
        "Account ID",
        "Cloudflare Account ID from the dashboard",
    ),
    spec(
        "zone_id",
        "Zone ID",
        "Cloudflare Zone ID from the zone's Overview page",
    ),
    secret(spec(
        "api_token",
        "API Token",
        "API token scoped to DNS edit on this zone",
    )),
    advanced(
        spec("api_url", "API URL", "Cloudflare API base URL"),
        "https://api.cloudflare.com/client/v4",
        SettingFormat::Url,
    ),
    advanced(
        spec(
            "batch_size",
            "Batch size",
            "Records per batch request (200 on Free plans)",
        ),
        "200",
        SettingFormat::Count,
    ),
    advanced(
        spec(
            "rate_limit",
            "Requests per 5 minutes",
            "Client-side budget per token; Cloudflare allows 1,200",
        ),
        "1000",
        SettingFormat::Count,
    ),
];

const HESTIACP: &[SettingSpec] = &[
    url(spec(
        "server_url",
        "Server URL",
        "HestiaCP URL, e.g. https://hestia.example.com:8083/",
    )),
    optional(spec(
        "admin_user",
        "Admin User",
        "HestiaCP admin username (with Admin Password)",
    )),
    optional(secret(spec(
        "admin_password",
        "Admin Password",
        "HestiaCP admin password",
    ))),
    spec("user", "User", "HestiaCP user that owns the DNS domain"),
    optional(spec(
        "access_key",
        "Access Key",
        "Access key id (Hestia 1.6+), instead of the admin password",
    )),
    optional(secret(spec(
        "secret_key",
        "Secret Key",
        "Secret key belonging to the access key",
    ))),
    optional(spec(
        "tls_fingerprint",
        "Certificate SHA-256",
        "Pin a self-signed certificate by its SHA-256 fingerprint instead of verifying it",
    )),
];

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [Self::Cloudflare, Self::Hestiacp, Self::Powerdns];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cloudflare => "cloudflare",
            Self::Hestiacp => "hestiacp",
            Self::Powerdns => "powerdns",
        }
    }

    /// The display name: `Cloudflare`, `HestiaCP`, `PowerDNS`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cloudflare => "Cloudflare",
            Self::Hestiacp => "HestiaCP",
            Self::Powerdns => "PowerDNS",
        }
    }

    pub fn settings(self) -> &'static [SettingSpec] {
        match self {
            Self::Cloudflare => CLOUDFLARE,
            Self::Hestiacp => HESTIACP,
            Self::Powerdns => POWERDNS,
        }
    }

    pub fn setting(self, key: &str) -> Option<&'static SettingSpec> {
        self.settings().iter().find(|s| s.key == key)
    }

    pub fn is_secret(self, key: &str) -> bool {
        self.setting(key).is_some_and(|s| s.secret)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names the provider that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: expected one of cloudflare, hestiacp, powerdns")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cloudflare" => Ok(Self::Cloudflare),
            "hestiacp" | "hestia" => Ok(Self::Hestiacp),
            "powerdns" | "pdns" => Ok(Self::Powerdns),
            _ => Err(UnknownProvider(s.to_string())),
        }
    }
}

/// A setting is missing, unknown or malformed. `field` is the setting's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {field}: {reason}")]
pub struct SettingsError {
    pub field: String,
    pub reason: String,
}

impl SettingsError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Checks settings for a provider: no unknown keys, every required one present, formats right.
/// Error messages never contain a secret's value.
pub fn validate(kind: ProviderKind, settings: &Settings) -> Result<(), SettingsError> {
    for key in settings.keys() {
        if kind.setting(key).is_none() {
            let known: Vec<&str> = kind.settings().iter().map(|s| s.key).collect();
            return Err(SettingsError::new(
                key.as_str(),
                format!(
                    "unknown setting for {kind}; known settings: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    for spec in kind.settings() {
        let value = settings
            .get(spec.key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            if spec.required {
                return Err(SettingsError::new(spec.key, "is required"));
            }
            continue;
        };
        match spec.format {
            SettingFormat::Text => {
                if value.chars().any(char::is_control) {
                    return Err(SettingsError::new(
                        spec.key,
                        "must not contain control characters",
                    ));
                }
            }
            SettingFormat::Url => check_url(spec.key, value)?,
            SettingFormat::Count => {
                if !value.parse::<u64>().is_ok_and(|n| n >= 1) {
                    return Err(SettingsError::new(
                        spec.key,
                        "must be a whole number of at least 1",
                    ));
                }
            }
            SettingFormat::Sha256 => {
                let hex: String = value.chars().filter(|c| *c != ':').collect();
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(SettingsError::new(
                        spec.key,
                        "must be a SHA-256 fingerprint (64 hex digits)",
                    ));
                }
            }
        }
    }
    if kind == ProviderKind::Hestiacp {
        let has = |k: &str| settings.get(k).is_some_and(|v| !v.trim().is_empty());
        match (
            has("access_key"),
            has("secret_key"),
            has("admin_user"),
            has("admin_password"),
        ) {
            (true, true, _, _) | (false, false, true, true) => {}
            (true, false, _, _) => {
                return Err(SettingsError::new(
                    "secret_key",
                    "is required with access_key",
                ));
            }
            (false, true, _, _) => {
                return Err(SettingsError::new(
                    "access_key",
                    "is required with secret_key",
                ));
            }
            (false, false, false, _) => {
                return Err(SettingsError::new(
                    "admin_user",
                    "is required (or use access_key and secret_key)",
                ));
            }
            (false, false, true, false) => {
                return Err(SettingsError::new(
                    "admin_password",
                    "is required with admin_user",
                ));
            }
        }
        if let Some(fp) = settings
            .get("tls_fingerprint")
            .filter(|v| !v.trim().is_empty())
        {
            let hex: String = fp.trim().chars().filter(|c| *c != ':').collect();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(SettingsError::new(
                    "tls_fingerprint",
                    "must be a SHA-256 fingerprint (64 hex digits)",
                ));
            }
        }
    }
    Ok(())
}

fn check_url(field: &str, value: &str) -> Result<(), SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| SettingsError::new(field, format!("is not a valid URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SettingsError::new(
            field,
            "must start with http:// or https://",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(SettingsError::new(field, "has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SettingsError::new(
            field,
            "must not carry credentials; use the credential settings",
        ));
    }
    Ok(())
}

/// A setting's value, or its default, or `None`.
pub fn get<'a>(kind: ProviderKind, settings: &'a Settings, key: &str) -> Option<&'a str> {
    settings
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .or_else(|| kind.setting(key).and_then(|s| s.default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn powerdns_settings() {
        let ok = s(&[("server_url", "http://127.0.0.1:8081"), ("api_key", "k")]);
        assert_eq!(validate(ProviderKind::Powerdns, &ok), Ok(()));
        let cases = [
            (s(&[("api_key", "k")]), "server_url", "is required"),
            (
                s(&[("server_url", "ftp://x"), ("api_key", "k")]),
                "server_url",
                "http",
            ),
            (
                s(&[("server_url", "not a url"), ("api_key", "k")]),
                "server_url",
                "valid URL",
            ),
            (
                s(&[
                    ("server_url", "http://x"),
                    ("api_key", "k"),
                    ("zone_id", "1"),
                ]),
                "zone_id",
                "unknown setting",
            ),
            (s(&[("server_url", "http://x")]), "api_key", "is required"),
            (
                s(&[
                    ("server_url", "http://x"),
                    ("api_key", "k"),
                    ("max_body_bytes", "0"),
                ]),
                "max_body_bytes",
                "at least 1",
            ),
        ];
        for (settings, field, reason) in cases {
            let err = validate(ProviderKind::Powerdns, &settings).expect_err(field);
            assert_eq!(err.field, field);
            assert!(err.reason.contains(reason), "{err}");
        }
    }

    #[test]
    fn hestia_needs_one_way_to_log_in() {
        let base = [("server_url", "https://h:8083/"), ("user", "admin")];
        let mut pw = s(&base);
        pw.insert("admin_user".into(), "admin".into());
        pw.insert("admin_password".into(), "pw".into());
        assert_eq!(validate(ProviderKind::Hestiacp, &pw), Ok(()));
        let mut key = s(&base);
        key.insert("access_key".into(), "A".repeat(20));
        key.insert("secret_key".into(), "S".repeat(40));
        assert_eq!(validate(ProviderKind::Hestiacp, &key), Ok(()));
        let none = s(&base);
        assert_eq!(
            validate(ProviderKind::Hestiacp, &none)
                .expect_err("none")
                .field,
            "admin_user"
        );
        let mut half = s(&base);
        half.insert("access_key".into(), "A".repeat(20));
        assert_eq!(
            validate(ProviderKind::Hestiacp, &half)
                .expect_err("half")
                .field,
            "secret_key"
        );
    }

    #[test]
    fn secrets_are_marked() {
        assert!(ProviderKind::Powerdns.is_secret("api_key"));
        assert!(ProviderKind::Cloudflare.is_secret("api_token"));
        assert!(ProviderKind::Hestiacp.is_secret("admin_password"));
        assert!(ProviderKind::Hestiacp.is_secret("secret_key"));
        assert!(!ProviderKind::Hestiacp.is_secret("admin_user"));
    }

    #[test]
    fn error_never_echoes_a_secret_value() {
        let bad = s(&[("server_url", "http://x"), ("api_key", "s3cr3t\u{7}")]);
        // Control characters in a secret are accepted as text check; make sure nothing echoes values anyway.
        if let Err(e) = validate(ProviderKind::Powerdns, &bad) {
            assert!(!e.to_string().contains("s3cr3t"));
        }
        let url_with_key = s(&[("server_url", "http://user:s3cr3t@x"), ("api_key", "k")]);
        let e = validate(ProviderKind::Powerdns, &url_with_key).expect_err("creds in url");
        assert!(!e.to_string().contains("s3cr3t"));
    }
}
