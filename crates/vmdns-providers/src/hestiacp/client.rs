//! Raw HestiaCP API calls: one form-encoded `POST {server_url}api/` per `v-*` command, the answer read into
//! "the command printed this" or "the command failed with this exit code and text", and the TLS set-up
//! that pins a self-signed certificate by its SHA-256.
//!
//! Hestia answers in two dialects. Legacy logins (`user` + `password`) get HTTP 200 even when the command
//! failed: with `returncode=yes` the body is the exit code, otherwise the command's output (`OK` when it
//! printed nothing, `Error: ...` when it failed). Access keys get a `Hestia-Exit-Code` header, `204` for
//! an empty success and a mapped status with the `Error: ...` text for a failure. [`interpret`] reads both.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};

use super::types::{E_EXISTS, E_FORBIDEN, E_INVALID, E_NOTEXIST, E_PASSWORD, exit_name};
use crate::error::ProviderError;
use crate::http::{Http, HttpConfig, short};

/// How a login is sent. `Debug` never shows the secret half.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// Legacy API: `user=admin&password=...`.
    Password { user: String, password: String },
    /// Access keys (Hestia 1.6+): `access_key=...&secret_key=...`.
    AccessKey {
        access_key: String,
        secret_key: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"<secret>")
                .finish(),
            Self::AccessKey { access_key, .. } => f
                .debug_struct("AccessKey")
                .field("access_key", access_key)
                .field("secret_key", &"<secret>")
                .finish(),
        }
    }
}

/// What a command is for: writes ask legacy logins for `returncode=yes`, so that a failure cannot pass for
/// success behind HTTP 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

/// A command that ran and failed: its exit code (when Hestia said it) and its `Error: ...` text (when it
/// printed one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandError {
    pub(crate) code: Option<u16>,
    pub(crate) text: String,
}

impl CommandError {
    pub(crate) fn is(&self, code: u16) -> bool {
        self.code == Some(code)
    }

    /// Hestia's own words, or the exit code's name (`E_INVALID (2)`) when it printed none.
    pub(crate) fn message(&self) -> String {
        if !self.text.is_empty() {
            short(&self.text)
        } else if let Some(code) = self.code {
            exit_name(code)
        } else {
            "the command failed without a message".to_string()
        }
    }
}

/// The command's output on success, or how it failed.
pub(crate) type Outcome = Result<String, CommandError>;

/// One HestiaCP API endpoint with one login.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: Http,
    api_url: String,
    credentials: Credentials,
}

impl Client {
    /// `server_url` gets a trailing slash if it has none; commands go to `{server_url}api/`.
    pub(crate) fn new(http: Http, server_url: &str, credentials: Credentials) -> Self {
        let base = server_url.trim();
        let api_url = if base.ends_with('/') {
            format!("{base}api/")
        } else {
            format!("{base}/api/")
        };
        Self {
            http,
            api_url,
            credentials,
        }
    }

    #[cfg(test)]
    pub(crate) fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Runs `cmd arg1..argN`. `Err` when the call as such failed (transport, 5xx, credentials or address
    /// refused, an answer that cannot be read); `Ok(Err(..))` when the command ran and failed.
    pub(crate) async fn run(
        &self,
        cmd: &str,
        args: &[&str],
        mode: Mode,
    ) -> Result<Outcome, ProviderError> {
        let returncode =
            mode == Mode::Write && matches!(self.credentials, Credentials::Password { .. });
        let body = self.form(cmd, args, returncode);
        tracing::debug!(cmd, args = ?args, "HestiaCP command");
        let answer = self
            .http
            .send(|c| {
                c.post(&self.api_url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone())
            })
            .await?;
        let exit_header = answer
            .headers
            .get("hestia-exit-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u16>().ok());
        let outcome = interpret(answer.status, exit_header, &answer.text(), returncode);
        if let Ok(Err(e)) = &outcome {
            tracing::debug!(cmd, code = ?e.code, text = %e.text, "HestiaCP command failed");
        }
        outcome
    }

    /// The form body, built by hand (`cmd`, `arg1..N`, `returncode`, then the login).
    fn form(&self, cmd: &str, args: &[&str], returncode: bool) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("cmd", cmd);
        for (i, arg) in args.iter().enumerate() {
            form.append_pair(&format!("arg{}", i + 1), arg);
        }
        if returncode {
            form.append_pair("returncode", "yes");
        }
        match &self.credentials {
            Credentials::Password { user, password } => {
                form.append_pair("user", user);
                form.append_pair("password", password);
            }
            Credentials::AccessKey {
                access_key,
                secret_key,
            } => {
                form.append_pair("access_key", access_key);
                form.append_pair("secret_key", secret_key);
            }
        }
        form.finish()
    }
}

/// Reads one answer (5xx and 429 were already turned into errors by [`Http`]).
///
/// The exit code comes from the `Hestia-Exit-Code` header, else from a numeric body when `returncode=yes`
/// was sent, else from the text: output starting with `Error:` is a failure (its code guessed from the
/// words), anything else on a 2xx is success.
pub(crate) fn interpret(
    status: StatusCode,
    exit_header: Option<u16>,
    body: &str,
    returncode: bool,
) -> Result<Outcome, ProviderError> {
    let body = body.trim();
    let numeric_body = if returncode {
        body.parse::<u16>().ok()
    } else {
        None
    };
    let code = exit_header.or(numeric_body);
    let text = if numeric_body.is_some() { "" } else { body };
    let is_error_text = text.starts_with("Error");

    let refused_words = is_error_text
        && (text.contains("authentication failed") || text.contains("IP is not allowed"));
    if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || matches!(code, Some(E_PASSWORD | E_FORBIDEN))
        || refused_words
    {
        let message = if is_error_text {
            short(text)
        } else if let Some(code) = code {
            exit_name(code)
        } else if text.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {}", status.as_u16(), short(text))
        };
        return Err(ProviderError::Auth { message });
    }

    match code {
        Some(0) if status.is_success() => Ok(Ok(text.to_string())),
        Some(0) => Err(unexpected(status, body)),
        Some(code) => Ok(Err(CommandError {
            code: Some(code),
            text: text.to_string(),
        })),
        None if is_error_text => Ok(Err(CommandError {
            code: guess_code(status, text),
            text: text.to_string(),
        })),
        None if returncode && status.is_success() => Err(ProviderError::transient(format!(
            "malformed answer from HestiaCP (expected an exit code, HTTP {}): {}",
            status.as_u16(),
            short(body)
        ))),
        None if status.is_success() => Ok(Ok(text.to_string())),
        None => Err(unexpected(status, body)),
    }
}

/// The exit code behind an `Error: ...` text that came without one (legacy logins, no `returncode`).
fn guess_code(status: StatusCode, text: &str) -> Option<u16> {
    if text.contains("doesn't exist") || text.contains("does not exist") {
        Some(E_NOTEXIST)
    } else if text.contains("exists") {
        Some(E_EXISTS)
    } else if status == StatusCode::UNPROCESSABLE_ENTITY || text.contains("invalid") {
        Some(E_INVALID)
    } else {
        None
    }
}

/// An answer that is not Hestia's API talking (wrong URL, a proxy's page).
fn unexpected(status: StatusCode, body: &str) -> ProviderError {
    let detail = if body.is_empty() {
        String::new()
    } else {
        format!(": {}", short(body))
    };
    if matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        ProviderError::rejected(format!(
            "HTTP {} from the HestiaCP API (is server_url the panel's address, e.g. https://host:8083/?){detail}",
            status.as_u16()
        ))
    } else if status.is_success() {
        ProviderError::transient(format!(
            "malformed answer from HestiaCP (HTTP {}){detail}",
            status.as_u16()
        ))
    } else {
        ProviderError::rejected(format!(
            "HTTP {} from the HestiaCP API{detail}",
            status.as_u16()
        ))
    }
}

/// Parses a SHA-256 fingerprint: 64 hex digits, colons and spaces allowed, any case.
pub(crate) fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

/// The HTTP client: the shared default, or one that accepts exactly the pinned certificate.
pub(crate) fn http_client(
    config: &HttpConfig,
    pin: Option<[u8; 32]>,
) -> Result<reqwest::Client, String> {
    let Some(sha256) = pin else {
        return Ok(Http::default_client(config));
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate { sha256, provider }))
        .with_no_client_auth();
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("vmdns/", env!("CARGO_PKG_VERSION")))
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| format!("HTTP client set-up failed: {e}"))
}

/// Accepts exactly the server certificate whose SHA-256 is pinned (a self-signed panel certificate), and
/// still checks the handshake signatures against it, so only the holder of its key passes. Host names and
/// expiry are not checked: the pin is the trust.
#[derive(Debug)]
struct PinnedCertificate {
    sha256: [u8; 32],
    provider: Arc<CryptoProvider>,
}

/// The server showed another certificate than the pinned one.
struct FingerprintMismatch {
    found: String,
}

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server's certificate has SHA-256 {}, not the pinned tls_fingerprint",
            self.found
        )
    }
}

/// rustls shows this error with `{:?}`: make that the sentence too.
impl fmt::Debug for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for FingerprintMismatch {}

/// `AB:CD:...`, the way browsers and `openssl x509 -fingerprint -sha256` show it.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = Sha256::digest(end_entity.as_ref());
        if digest.as_slice() == self.sha256.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = FingerprintMismatch {
                found: colon_hex(&digest),
            };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(mismatch)),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Result<Outcome, ProviderError> {
        Ok(Ok(s.to_string()))
    }
    fn failed(code: Option<u16>, text: &str) -> Result<Outcome, ProviderError> {
        Ok(Err(CommandError {
            code,
            text: text.to_string(),
        }))
    }

    #[test]
    fn answers_in_both_dialects() {
        let s = |n: u16| StatusCode::from_u16(n).expect("status");
        // (status, Hestia-Exit-Code, body, returncode sent, expected)
        type Case = (
            u16,
            Option<u16>,
            &'static str,
            bool,
            Result<Outcome, ProviderError>,
        );
        let cases: Vec<Case> = vec![
            // Legacy, returncode=yes: HTTP 200 whatever happened; the body is the exit code.
            (200, None, "0", true, ok("")),
            (200, None, "2", true, failed(Some(2), "")),
            (200, None, "3\n", true, failed(Some(3), "")),
            // Legacy, no returncode: output, `OK`, or the error text.
            (200, None, "OK", false, ok("OK")),
            (200, None, "{\"1\":{}}", false, ok("{\"1\":{}}")),
            (
                200,
                None,
                "Error: dns domain example.com doesn't exist",
                false,
                failed(Some(3), "Error: dns domain example.com doesn't exist"),
            ),
            (
                200,
                None,
                "Error: invalid ip format :: 192.0.2.999",
                false,
                failed(Some(2), "Error: invalid ip format :: 192.0.2.999"),
            ),
            (
                200,
                None,
                "Error: something else",
                false,
                failed(None, "Error: something else"),
            ),
            // Access keys: header + mapped status.
            (204, Some(0), "", false, ok("")),
            (200, Some(0), "{}", false, ok("{}")),
            (
                422,
                Some(2),
                "Error: invalid ip format :: 192.0.2.999",
                false,
                failed(Some(2), "Error: invalid ip format :: 192.0.2.999"),
            ),
            (
                400,
                Some(3),
                "Error: dns/example.com ID=9 doesn't exist",
                false,
                failed(Some(3), "Error: dns/example.com ID=9 doesn't exist"),
            ),
            (400, Some(4), "4", true, failed(Some(4), "")),
            // Refused logins, in every spelling.
            (
                401,
                Some(9),
                "Error: authentication failed",
                false,
                Err(ProviderError::Auth {
                    message: "Error: authentication failed".into(),
                }),
            ),
            (
                401,
                Some(9),
                "9",
                true,
                Err(ProviderError::Auth {
                    message: "E_PASSWORD (9)".into(),
                }),
            ),
            (
                200,
                None,
                "Error: IP is not allowed to connect with API",
                false,
                Err(ProviderError::Auth {
                    message: "Error: IP is not allowed to connect with API".into(),
                }),
            ),
            (
                200,
                None,
                "10",
                true,
                Err(ProviderError::Auth {
                    message: "E_FORBIDEN (10)".into(),
                }),
            ),
        ];
        for (status, header, body, returncode, want) in cases {
            assert_eq!(
                interpret(s(status), header, body, returncode),
                want,
                "{status} {header:?} {body:?} {returncode}"
            );
        }
    }

    #[test]
    fn answers_that_are_not_hestia() {
        let html = "<html><body>Not Found</body></html>";
        let e = interpret(StatusCode::NOT_FOUND, None, html, false).expect_err("404");
        assert_eq!(e.kind(), "rejected");
        assert!(e.to_string().contains("server_url"), "{e}");
        let e = interpret(StatusCode::OK, None, "<html>", true).expect_err("not a code");
        assert_eq!(e.kind(), "transient");
        assert!(e.to_string().contains("malformed"), "{e}");
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let plain = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&plain), Some([0xab; 32]));
        assert_eq!(parse_fingerprint(&colons), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("abcd"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
        assert_eq!(colon_hex(&[0xab, 0x01]), "AB:01");
    }

    #[test]
    fn form_is_url_encoded_and_debug_hides_secrets() {
        let http = Http::new(
            reqwest::Client::new(),
            HttpConfig::default(),
            None,
            Arc::default(),
        );
        let creds = Credentials::Password {
            user: "admin".into(),
            password: "p&ss w=rd".into(),
        };
        let client = Client::new(http, "https://h:8083", creds);
        assert_eq!(client.api_url(), "https://h:8083/api/");
        let body = client.form(
            "v-add-dns-record",
            &["u", "example.com", "@", "A", "192.0.2.1", ""],
            true,
        );
        assert_eq!(
            body,
            "cmd=v-add-dns-record&arg1=u&arg2=example.com&arg3=%40&arg4=A&arg5=192.0.2.1&arg6=&returncode=yes&user=admin&password=p%26ss+w%3Drd"
        );
        let debug = format!("{client:?}");
        assert!(!debug.contains("p&ss"), "{debug}");
        let keys = Credentials::AccessKey {
            access_key: "AK".into(),
            secret_key: "SECRET".into(),
        };
        assert!(!format!("{keys:?}").contains("SECRET"));
    }
}
