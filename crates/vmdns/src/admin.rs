//! The operator's operations on zones, pools and services, shared by the HTTP API and the CLI: parse and
//! validate input (every error names its field), apply the `__KEEP__` rules, call the store.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;
use vmdns_core::{AddressSpec, DnsName, ZoneKind};
use vmdns_providers::{ProviderKind, Settings, settings as provider_settings};

use crate::app::App;
use crate::secrets;
use crate::store::{Pool, PoolInput, Service, ServiceInput, StoreError, Zone};

/// What went wrong, in the terms both the API (status codes) and the CLI (exit codes) need.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input: 422 / exit 2. `field` names it.
    #[error("{}{message}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// 404 / exit 1.
    #[error("{0}")]
    NotFound(String),
    /// 409 / exit 1.
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// 500 / exit 1. The cause is logged, never sent to a client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AdminError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => Self::NotFound(format!("{what} {id} not found")),
            StoreError::Conflict { field, message } => Self::Conflict {
                field: field.to_string(),
                message,
            },
            other => Self::Internal(anyhow::Error::from(other)),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

// ---------------------------------------------------------------------------------------------- zones

/// A zone as given by a client. On update every field is optional; settings follow the `__KEEP__` rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneBody {
    pub name: Option<String>,
    pub provider: Option<String>,
    #[serde(default)]
    pub settings: Option<BTreeMap<String, Value>>,
}

fn parse_zone_name(s: &str) -> AdminResult<DnsName> {
    DnsName::parse(s).map_err(|e| AdminError::invalid("name", e.to_string()))
}

fn parse_provider(s: &str) -> AdminResult<ProviderKind> {
    s.parse().map_err(|e: provider_settings::UnknownProvider| {
        AdminError::invalid("provider", e.to_string())
    })
}

fn settings_from_json(raw: &BTreeMap<String, Value>) -> AdminResult<Settings> {
    raw.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                _ => {
                    return Err(AdminError::invalid(
                        format!("settings.{k}"),
                        "must be a string",
                    ));
                }
            };
            Ok((k.clone(), s))
        })
        .collect()
}

fn check_settings(kind: ProviderKind, name: &DnsName, settings: &Settings) -> AdminResult<()> {
    provider_settings::validate(kind, settings)
        .map_err(|e| AdminError::invalid(format!("settings.{}", e.field), e.reason))?;
    if kind == ProviderKind::Hestiacp && name.as_str().contains('/') {
        return Err(AdminError::invalid(
            "name",
            "HestiaCP does not accept RFC 2317 zone names with '/'",
        ));
    }
    Ok(())
}

/// Normalises what the operator typed: secrets that say "keep" are dropped before validation on create.
fn drop_empty(settings: Settings) -> Settings {
    settings
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_string()))
        .collect()
}

pub async fn create_zone(app: &App, body: ZoneBody) -> AdminResult<Zone> {
    let name = parse_zone_name(
        body.name
            .as_deref()
            .ok_or_else(|| AdminError::invalid("name", "is required"))?,
    )?;
    let kind = parse_provider(
        body.provider
            .as_deref()
            .ok_or_else(|| AdminError::invalid("provider", "is required"))?,
    )?;
    let settings = drop_empty(settings_from_json(&body.settings.unwrap_or_default())?);
    if let Some((k, _)) = settings
        .iter()
        .find(|(k, v)| kind.is_secret(k) && v.as_str() == secrets::KEEP)
    {
        return Err(AdminError::invalid(
            format!("settings.{k}"),
            "there is no stored secret to keep on a new zone",
        ));
    }
    check_settings(kind, &name, &settings)?;
    Ok(app.store.create_zone(&name, kind, &settings).await?)
}

pub async fn update_zone(app: &App, id: i64, body: ZoneBody) -> AdminResult<Zone> {
    let stored = app.store.get_zone(id).await?;
    let name = match body.name.as_deref() {
        Some(n) => parse_zone_name(n)?,
        None => stored.name.clone(),
    };
    let kind = match body.provider.as_deref() {
        Some(p) => parse_provider(p)?,
        None => stored.provider,
    };
    let settings = match &body.settings {
        Some(raw) => {
            let given = settings_from_json(raw)?;
            // Secrets of another provider type are never carried over.
            let carried = if kind == stored.provider {
                stored.settings.clone()
            } else {
                Settings::new()
            };
            drop_empty(secrets::merge_update(kind, &carried, &given))
        }
        None if kind == stored.provider => stored.settings.clone(),
        None => {
            return Err(AdminError::invalid(
                "settings",
                "are required when the provider changes",
            ));
        }
    };
    check_settings(kind, &name, &settings)?;
    Ok(app.store.update_zone(id, &name, kind, &settings).await?)
}

/// "Test connection": `(ok, message)` with the provider's exact words.
pub async fn test_zone(app: &App, zone: &Zone) -> (bool, String) {
    let provider = match vmdns_providers::build(
        zone.provider,
        zone.name.clone(),
        &zone.settings,
        &app.providers,
    ) {
        Ok(p) => p,
        Err(e) => return (false, format!("invalid settings: {e}")),
    };
    match provider.check().await {
        Ok(info) => (true, info.message),
        Err(e) => (false, e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------- pools

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolBody {
    pub name: Option<String>,
    pub first_ip: Option<String>,
    pub last_ip: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    pub prefix_len: Option<Value>,
}

fn parse_ip(field: &str, s: &str) -> AdminResult<IpAddr> {
    s.trim()
        .parse()
        .map_err(|_| AdminError::invalid(field, format!("{s:?} is not an IPv4 or IPv6 address")))
}

fn required<'a>(field: &str, v: &'a Option<String>) -> AdminResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AdminError::invalid(field, "is required"))
}

/// Parses `prefix_len` given as a number or a string.
pub fn parse_prefix_len(v: &Value, ipv4: bool) -> AdminResult<u8> {
    let max = if ipv4 { 32 } else { 128 };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().trim_start_matches('/').parse().ok(),
        _ => None,
    };
    n.filter(|n| *n <= max)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| {
            AdminError::invalid(
                "prefix_len",
                format!("must be a whole number from 0 to {max}"),
            )
        })
}

pub fn parse_pool(body: &PoolBody) -> AdminResult<PoolInput> {
    let name = required("name", &body.name)?.trim().to_string();
    let first_ip = parse_ip("first_ip", required("first_ip", &body.first_ip)?)?;
    let last_ip = parse_ip("last_ip", required("last_ip", &body.last_ip)?)?;
    let gateway = body
        .gateway
        .as_deref()
        .filter(|g| !g.trim().is_empty())
        .map(|g| parse_ip("gateway", g))
        .transpose()?;
    let prefix_len = parse_prefix_len(
        body.prefix_len
            .as_ref()
            .ok_or_else(|| AdminError::invalid("prefix_len", "is required"))?,
        first_ip.is_ipv4(),
    )?;
    let input = PoolInput {
        name,
        first_ip,
        last_ip,
        gateway,
        prefix_len,
    };
    input
        .validate()
        .map_err(|e| AdminError::invalid(e.field, e.reason))?;
    Ok(input)
}

pub async fn create_pool(app: &App, body: &PoolBody) -> AdminResult<Pool> {
    Ok(app.store.create_pool(&parse_pool(body)?).await?)
}

pub async fn update_pool(app: &App, id: i64, body: &PoolBody) -> AdminResult<Pool> {
    Ok(app.store.update_pool(id, &parse_pool(body)?).await?)
}

/// Parses `ADDRESS/LEN` for the live reverse-zone hint.
pub fn parse_prefix(s: &str) -> AdminResult<ipnet::IpNet> {
    let (addr, len) = s.trim().split_once('/').ok_or_else(|| {
        AdminError::invalid("prefix", "must be ADDRESS/LENGTH, e.g. 192.0.2.1/24")
    })?;
    let ip = parse_ip("prefix", addr)?;
    let len =
        parse_prefix_len(&Value::String(len.to_string()), ip.is_ipv4()).map_err(|e| match e {
            AdminError::Invalid { message, .. } => {
                AdminError::invalid("prefix", format!("length {message}"))
            }
            other => other,
        })?;
    ipnet::IpNet::new(ip, len).map_err(|e| AdminError::invalid("prefix", e.to_string()))
}

// ------------------------------------------------------------------------------------------- services

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub ip: Option<String>,
    #[serde(default)]
    pub ptr: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    pub name: Option<String>,
    pub domain: Option<String>,
    #[serde(default)]
    pub addresses: Vec<AddressBody>,
    #[serde(default)]
    pub ttl: Option<Value>,
}

/// Default TTL of a service's records.
pub const DEFAULT_TTL: u32 = 300;

pub fn parse_service(body: &ServiceBody) -> AdminResult<ServiceInput> {
    let name = required("name", &body.name)?.trim().to_string();
    let domain_s = required("domain", &body.domain)?;
    let domain =
        DnsName::parse(domain_s).map_err(|e| AdminError::invalid("domain", e.to_string()))?;
    if domain.zone_kind() != ZoneKind::Forward {
        return Err(AdminError::invalid(
            "domain",
            "must be a forward domain, not a reverse zone",
        ));
    }
    let name_label =
        DnsName::parse(&name).map_err(|e| AdminError::invalid("name", e.to_string()))?;
    DnsName::parse(&format!("{name_label}.{domain}")).map_err(|e| {
        AdminError::invalid("name", format!("<name>.<domain> is not a valid name: {e}"))
    })?;
    let ttl = match &body.ttl {
        None | Some(Value::Null) => DEFAULT_TTL,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|t| (1..=604_800).contains(t))
            .and_then(|t| u32::try_from(t).ok())
            .ok_or_else(|| {
                AdminError::invalid("ttl", "must be a whole number of seconds from 1 to 604800")
            })?,
    };
    let mut addresses: Vec<AddressSpec> = Vec::new();
    for (i, a) in body.addresses.iter().enumerate() {
        let field = format!("addresses[{i}].ip");
        let ip = vmdns_core::reverse::canonical_ip(parse_ip(&field, required(&field, &a.ip)?)?);
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(AdminError::invalid(
                field,
                format!("{ip} cannot be a VM's address"),
            ));
        }
        if addresses.iter().any(|x| x.ip == ip) {
            return Err(AdminError::invalid(field, format!("{ip} is listed twice")));
        }
        let ptr =
            match a.ptr.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(p) => Some(DnsName::parse(p).map_err(|e| {
                    AdminError::invalid(format!("addresses[{i}].ptr"), e.to_string())
                })?),
                None => None,
            };
        addresses.push(AddressSpec { ip, ptr });
    }
    Ok(ServiceInput {
        name,
        domain,
        ttl,
        addresses,
    })
}

/// Two active services with one FQDN would fight over its A/AAAA RRsets: refused (409).
async fn check_fqdn_free(app: &App, input: &ServiceInput, except: Option<i64>) -> AdminResult<()> {
    if let Some(other) = app
        .store
        .service_with_fqdn(&input.name, &input.domain, except)
        .await?
    {
        return Err(AdminError::Conflict {
            field: "name".into(),
            message: format!(
                "service {other} is {}.{} already",
                input.name.trim().to_lowercase(),
                input.domain
            ),
        });
    }
    Ok(())
}

pub async fn create_service(app: &App, body: &ServiceBody) -> AdminResult<Service> {
    let input = parse_service(body)?;
    check_fqdn_free(app, &input, None).await?;
    Ok(app.store.create_service(&input).await?)
}

pub async fn update_service(app: &App, id: i64, body: &ServiceBody) -> AdminResult<Service> {
    let input = parse_service(body)?;
    check_fqdn_free(app, &input, Some(id)).await?;
    Ok(app.store.update_service(id, &input).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(v: Value) -> AdminResult<ServiceInput> {
        let body: ServiceBody = serde_json::from_value(v).expect("shape");
        parse_service(&body)
    }

    fn field_of(r: AdminResult<ServiceInput>) -> String {
        match r {
            Err(AdminError::Invalid { field: Some(f), .. }) => f,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn service_validation_names_fields() {
        let ok = serde_json::json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1", "ptr": "mail.example.net"}]});
        assert_eq!(service(ok).expect("valid").ttl, DEFAULT_TTL);
        let cases = [
            (serde_json::json!({"domain": "example.com"}), "name"),
            (
                serde_json::json!({"name": "vm 1", "domain": "example.com"}),
                "name",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "exa..mple"}),
                "domain",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "2.0.192.in-addr.arpa"}),
                "domain",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "example.com", "ttl": 0}),
                "ttl",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "999.1.1.1"}]}),
                "addresses[0].ip",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.1"}]}),
                "addresses[1].ip",
            ),
            (
                serde_json::json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1", "ptr": "<b>"}]}),
                "addresses[0].ptr",
            ),
        ];
        for (v, field) in cases {
            assert_eq!(field_of(service(v.clone())), field, "{v}");
        }
    }

    #[test]
    fn prefix_parsing() {
        assert!(parse_prefix("192.0.2.1/24").is_ok());
        for bad in ["192.0.2.1", "192.0.2.1/33", "nope/24", "2001:db8::/129"] {
            assert!(
                matches!(parse_prefix(bad), Err(AdminError::Invalid { field: Some(ref f), .. }) if f == "prefix"),
                "{bad}"
            );
        }
    }
}
