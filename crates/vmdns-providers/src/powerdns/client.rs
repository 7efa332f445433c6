//! Raw HTTP to the PowerDNS API: the zone id, URLs, headers, and status codes turned into
//! [`ProviderError`]s. Every request goes through the shared [`Http`] (retries, backoff, statistics).

use std::fmt;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use url::Url;
use vmdns_core::DnsName;

use super::types::{ErrorBody, Zone};
use crate::error::ProviderError;
use crate::http::{Answer, Http, short};
use crate::settings::SettingsError;

/// The header PowerDNS reads the API key from.
const API_KEY_HEADER: &str = "X-API-Key";

/// The zone id PowerDNS uses in URLs: the name with the trailing dot, every character outside
/// `[A-Za-z0-9.-]` written as `=XX` (upper-case hex of each UTF-8 byte).
pub(crate) fn zone_id(zone: &DnsName) -> String {
    let mut id = String::with_capacity(zone.as_str().len() + 4);
    for b in zone.to_fqdn().bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            id.push(char::from(b));
        } else {
            id.push_str(&format!("={b:02X}"));
        }
    }
    id
}

/// `…/api/v1/servers/{server_id}` from the configured server URL, which may be given as the bare
/// server (`http://pdns:8081`), with a trailing slash, or with `/api` or `/api/v1` already on it.
pub(crate) fn server_base(server_url: &str, server_id: &str) -> Result<Url, String> {
    let mut url = Url::parse(server_url.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    url.set_query(None);
    url.set_fragment(None);
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    if segments.last().is_some_and(|s| s == "v1")
        && segments.len() >= 2
        && segments[segments.len() - 2] == "api"
    {
        segments.truncate(segments.len() - 2);
    } else if segments.last().is_some_and(|s| s == "api") {
        segments.pop();
    }
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| "cannot be used as a base URL".to_string())?;
        path.clear();
        path.extend(&segments);
        path.extend(["api", "v1", "servers", server_id]);
    }
    Ok(url)
}

/// What one PATCH came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatchResult {
    /// `204`: every RRset of the body was applied.
    Applied,
    /// `422` (or `400`): nothing was applied, and one member of the body may be the cause (PowerDNS names
    /// only the first bad one). Worth splitting the body.
    Invalid(String),
    /// Any other 4xx: nothing was applied, and splitting will not help.
    Refused(String),
}

/// The HTTP side of one configured zone.
#[derive(Clone)]
pub(crate) struct Client {
    http: Http,
    zone: DnsName,
    zone_url: Url,
    api_key: HeaderValue,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The API key is left out on purpose.
        f.debug_struct("Client")
            .field("zone", &self.zone)
            .field("zone_url", &self.zone_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        http: Http,
        server_url: &str,
        server_id: &str,
        zone: &DnsName,
        api_key: &str,
    ) -> Result<Self, SettingsError> {
        let mut zone_url =
            server_base(server_url, server_id).map_err(|e| SettingsError::new("server_url", e))?;
        zone_url
            .path_segments_mut()
            .map_err(|()| SettingsError::new("server_url", "cannot be used as a base URL"))?
            .extend(["zones", &zone_id(zone)]);
        let mut api_key = HeaderValue::from_str(api_key.trim()).map_err(|_| {
            SettingsError::new(
                "api_key",
                "contains characters that cannot be sent in an HTTP header",
            )
        })?;
        api_key.set_sensitive(true);
        Ok(Self {
            http,
            zone: zone.clone(),
            zone_url,
            api_key,
        })
    }

    /// `GET` the zone, with query parameters such as `rrsets=false` or `rrset_name=NAME.`.
    pub(crate) async fn get_zone(&self, query: &[(&str, &str)]) -> Result<Zone, ProviderError> {
        let answer = self
            .http
            .send(|c| {
                c.get(self.zone_url.clone())
                    .query(query)
                    .header(ACCEPT, "application/json")
                    .header(API_KEY_HEADER, self.api_key.clone())
            })
            .await?;
        if answer.status.is_success() {
            return answer.json();
        }
        Err(self.zone_error(&answer))
    }

    /// `PATCH` the zone with a ready-made `{"rrsets": [...]}` body.
    pub(crate) async fn patch(&self, body: Vec<u8>) -> Result<PatchResult, ProviderError> {
        let answer = self
            .http
            .send(|c| {
                c.patch(self.zone_url.clone())
                    .header(ACCEPT, "application/json")
                    .header(CONTENT_TYPE, "application/json")
                    .header(API_KEY_HEADER, self.api_key.clone())
                    .body(body.clone())
            })
            .await?;
        let status = answer.status;
        if status.is_success() {
            return Ok(PatchResult::Applied);
        }
        match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                Ok(PatchResult::Invalid(error_text(&answer)))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Err(self.zone_error(&answer))
            }
            s if s.is_client_error() => Ok(PatchResult::Refused(error_text(&answer))),
            _ => Err(self.zone_error(&answer)),
        }
    }

    /// An answer that is not a success, as the error of a request about the whole zone.
    fn zone_error(&self, answer: &Answer) -> ProviderError {
        let text = error_text(answer);
        match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ProviderError::Auth { message: text }
            }
            StatusCode::NOT_FOUND => ProviderError::ZoneNotFound {
                message: format!(
                    "zone {} does not exist on the server ({}: {text})",
                    self.zone, answer.status
                ),
            },
            s if s.is_client_error() => ProviderError::rejected(text),
            s => ProviderError::transient(format!(
                "unexpected answer HTTP {}: {}",
                s.as_u16(),
                short(&text)
            )),
        }
    }
}

/// The server's own words: the `error` field of a JSON error body, else the body, else the status reason.
pub(crate) fn error_text(answer: &Answer) -> String {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(&answer.body) {
        return body.error;
    }
    let text = short(&answer.text());
    if text.is_empty() {
        answer
            .status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid test name")
    }

    #[test]
    fn zone_ids_escape_everything_outside_the_safe_set() {
        let cases = [
            ("example.com", "example.com."),
            ("Example.COM.", "example.com."),
            ("0/25.2.0.192.in-addr.arpa", "0=2F25.2.0.192.in-addr.arpa."),
            ("0-127.2.0.192.in-addr.arpa", "0-127.2.0.192.in-addr.arpa."),
            ("_dmarc.example.com", "=5Fdmarc.example.com."),
            ("8.b.d.0.1.0.0.2.ip6.arpa", "8.b.d.0.1.0.0.2.ip6.arpa."),
        ];
        for (zone, want) in cases {
            assert_eq!(zone_id(&n(zone)), want, "zone {zone}");
        }
    }

    #[test]
    fn server_url_forms_all_lead_to_api_v1() {
        let cases = [
            (
                "http://127.0.0.1:8081",
                "http://127.0.0.1:8081/api/v1/servers/localhost",
            ),
            (
                "http://127.0.0.1:8081/",
                "http://127.0.0.1:8081/api/v1/servers/localhost",
            ),
            (
                "http://127.0.0.1:8081/api",
                "http://127.0.0.1:8081/api/v1/servers/localhost",
            ),
            (
                "http://127.0.0.1:8081/api/v1",
                "http://127.0.0.1:8081/api/v1/servers/localhost",
            ),
            (
                "https://pdns.example.com/api/v1/",
                "https://pdns.example.com/api/v1/servers/localhost",
            ),
            (
                "https://example.com/pdns/",
                "https://example.com/pdns/api/v1/servers/localhost",
            ),
            (
                "http://127.0.0.1:8081?x=1",
                "http://127.0.0.1:8081/api/v1/servers/localhost",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                server_base(input, "localhost").expect(input).as_str(),
                want,
                "{input}"
            );
        }
        assert!(server_base("ftp://x", "localhost").is_err());
        assert!(server_base("not a url", "localhost").is_err());
    }

    #[test]
    fn zone_url_keeps_the_escaped_id_literally() {
        let http = Http::new(
            reqwest::Client::new(),
            Default::default(),
            None,
            Default::default(),
        );
        let c = Client::new(
            http,
            "http://127.0.0.1:8081",
            "localhost",
            &n("0/25.2.0.192.in-addr.arpa"),
            "k",
        )
        .expect("client");
        assert_eq!(
            c.zone_url.as_str(),
            "http://127.0.0.1:8081/api/v1/servers/localhost/zones/0=2F25.2.0.192.in-addr.arpa."
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let http = Http::new(
            reqwest::Client::new(),
            Default::default(),
            None,
            Default::default(),
        );
        let c = Client::new(
            http,
            "http://127.0.0.1:8081",
            "localhost",
            &n("example.com"),
            "s3cr3t-key",
        )
        .expect("client");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let err = Client::new(
            Http::new(
                reqwest::Client::new(),
                Default::default(),
                None,
                Default::default(),
            ),
            "http://127.0.0.1:8081",
            "localhost",
            &n("example.com"),
            "s3cr3t\nkey",
        )
        .expect_err("newline in key");
        assert_eq!(err.field, "api_key");
        assert!(!err.to_string().contains("s3cr3t"));
    }

    #[test]
    fn error_text_prefers_the_json_error() {
        let answer = |status: u16, body: &str| Answer {
            status: StatusCode::from_u16(status).expect("status"),
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            error_text(&answer(401, r#"{"error": "Unauthorized"}"#)),
            "Unauthorized"
        );
        assert_eq!(error_text(&answer(400, "Bad Request\n")), "Bad Request");
        assert_eq!(error_text(&answer(400, "")), "Bad Request");
    }
}
