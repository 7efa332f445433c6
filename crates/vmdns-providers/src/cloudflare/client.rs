//! Raw HTTP calls to the Cloudflare API v4: one method per endpoint, the envelope unwrapped, pagination
//! followed, every request sent through the shared [`Http`] (retries, backoff, `Retry-After`, rate
//! limit). What an error *means* (auth, zone gone, rejected change, tolerable duplicate) is decided in
//! `mod.rs`; here it is only carried, with Cloudflare's codes and words intact and the token scrubbed.

use std::fmt;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use url::Url;

use super::types::{
    ApiMessage, BatchRequest, BatchResult, DnsRecord, Envelope, IdRef, RecordBody, ResultInfo,
    TokenStatus, Zone,
};
use crate::error::ProviderError;
use crate::http::{Http, short};

/// Records per page when listing. Cloudflare's default is 100; larger pages are allowed and save requests.
/// A server that clamps it still paginates correctly: pages are followed by `result_info`.
pub(crate) const PER_PAGE: u64 = 5000;
/// A guard against a server that never stops paginating.
const MAX_PAGES: u64 = 10_000;

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No usable answer: transport failure, timeout, 5xx, 429 after the retries the HTTP layer allows,
    /// or a 2xx body that is not the expected JSON.
    Provider(ProviderError),
    /// Cloudflare answered, with an error.
    Api(ApiError),
}

/// An error answer: HTTP status plus Cloudflare's `errors` (empty when the body was no envelope, e.g. an
/// HTML 404 from something in front of the API).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) errors: Vec<ApiMessage>,
    /// The body when it was not an envelope (shortened).
    pub(crate) text: String,
}

impl ApiError {
    /// Every code, those in `error_chain` included.
    pub(crate) fn codes(&self) -> Vec<i64> {
        fn walk(ms: &[ApiMessage], out: &mut Vec<i64>) {
            for m in ms {
                out.push(m.code);
                walk(&m.error_chain, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.errors, &mut out);
        out
    }

    pub(crate) fn has_code(&self, codes: &[i64]) -> bool {
        self.codes().iter().any(|c| codes.contains(c))
    }

    /// True when the answer is a Cloudflare envelope (and not an HTML page or empty body).
    pub(crate) fn enveloped(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Cloudflare's words with their codes: `Content for A record must be a valid IPv4 address. (code 9005)`;
    /// a chain reads `DNS Validation Error (code 1004): Content for ... (code 9005)`.
    pub(crate) fn describe(&self) -> String {
        fn one(m: &ApiMessage) -> String {
            let mut s = format!("{} (code {})", m.message, m.code);
            for c in &m.error_chain {
                s.push_str(": ");
                s.push_str(&one(c));
            }
            s
        }
        if self.errors.is_empty() {
            return if self.text.is_empty() {
                format!("HTTP {}", self.status)
            } else {
                format!("HTTP {}: {}", self.status, self.text)
            };
        }
        self.errors.iter().map(one).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The API token. Never printed, never put in a URL.
struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// One zone's endpoints at one API base URL, with one token.
#[derive(Debug)]
pub(crate) struct Client {
    http: Http,
    base: Url,
    token: Token,
    zone_id: String,
    account_id: String,
}

impl Client {
    /// `base` must be an `http(s)` URL (settings validation sees to it); ids are path segments and are
    /// percent-encoded when the URL is built.
    pub(crate) fn new(
        http: Http,
        base: Url,
        token: String,
        zone_id: String,
        account_id: String,
    ) -> Self {
        Self {
            http,
            base,
            token: Token(token),
            zone_id,
            account_id,
        }
    }

    pub(crate) async fn zone(&self) -> Result<Zone, CallError> {
        let (v, _) = self
            .call(Method::GET, &["zones", &self.zone_id], &[], None)
            .await?;
        self.parse(v, "zone")
    }

    pub(crate) async fn verify_user_token(&self) -> Result<TokenStatus, CallError> {
        let (v, _) = self
            .call(Method::GET, &["user", "tokens", "verify"], &[], None)
            .await?;
        self.parse(v, "token status")
    }

    pub(crate) async fn verify_account_token(&self) -> Result<TokenStatus, CallError> {
        let (v, _) = self
            .call(
                Method::GET,
                &["accounts", &self.account_id, "tokens", "verify"],
                &[],
                None,
            )
            .await?;
        self.parse(v, "token status")
    }

    /// Every record of the zone, or every record at `name` (exact full name), all pages.
    pub(crate) async fn list_records(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<DnsRecord>, CallError> {
        let mut out = Vec::new();
        let mut page: u64 = 1;
        loop {
            let mut query = vec![
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ];
            if let Some(n) = name {
                query.push(("name", n.to_string()));
            }
            let (v, info) = self
                .call(
                    Method::GET,
                    &["zones", &self.zone_id, "dns_records"],
                    &query,
                    None,
                )
                .await?;
            let items: Vec<serde_json::Value> = self.parse(v, "record list")?;
            let got = items.len();
            for item in items {
                match serde_json::from_value::<DnsRecord>(item) {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        tracing::debug!(error = %e, "skipping a Cloudflare record of an unexpected shape")
                    }
                }
            }
            let info = info.unwrap_or_default();
            if got == 0 || page >= total_pages(&info, got) || page >= MAX_PAGES {
                return Ok(out);
            }
            page += 1;
        }
    }

    pub(crate) async fn batch(&self, req: &BatchRequest) -> Result<BatchResult, CallError> {
        let body = self.json(req)?;
        let (v, _) = self
            .call(
                Method::POST,
                &["zones", &self.zone_id, "dns_records", "batch"],
                &[],
                Some(body),
            )
            .await?;
        self.parse(v, "batch result")
    }

    pub(crate) async fn create(&self, record: &RecordBody) -> Result<DnsRecord, CallError> {
        let body = self.json(record)?;
        let (v, _) = self
            .call(
                Method::POST,
                &["zones", &self.zone_id, "dns_records"],
                &[],
                Some(body),
            )
            .await?;
        self.parse(v, "record")
    }

    pub(crate) async fn patch(
        &self,
        id: &str,
        record: &RecordBody,
    ) -> Result<DnsRecord, CallError> {
        let body = self.json(record)?;
        let (v, _) = self
            .call(
                Method::PATCH,
                &["zones", &self.zone_id, "dns_records", id],
                &[],
                Some(body),
            )
            .await?;
        self.parse(v, "record")
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<(), CallError> {
        let (v, _) = self
            .call(
                Method::DELETE,
                &["zones", &self.zone_id, "dns_records", id],
                &[],
                None,
            )
            .await?;
        let _: Option<IdRef> = self.parse(v, "deleted id")?;
        Ok(())
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    fn json(&self, body: &impl serde::Serialize) -> Result<Vec<u8>, CallError> {
        serde_json::to_vec(body).map_err(|e| {
            CallError::Provider(ProviderError::transient(format!(
                "cannot encode request: {e}"
            )))
        })
    }

    /// Sends one request (retried by [`Http`] when transient) and unwraps the envelope.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(serde_json::Value, Option<ResultInfo>), CallError> {
        let url = self.url(segments, query);
        let answer = self
            .http
            .send(|c| {
                let mut req = c
                    .request(method.clone(), url.clone())
                    .bearer_auth(&self.token.0)
                    .header(ACCEPT, "application/json");
                if let Some(b) = &body {
                    req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
                }
                req
            })
            .await
            .map_err(|e| CallError::Provider(self.scrub_error(e)))?;
        let status = answer.status;
        match serde_json::from_slice::<Envelope>(&answer.body) {
            Ok(env) if env.success && status.is_success() => {
                Ok((env.result.unwrap_or_default(), env.result_info))
            }
            Ok(env) => {
                let errors = env
                    .errors
                    .into_iter()
                    .map(|m| self.scrub_message(m))
                    .collect();
                Err(CallError::Api(ApiError {
                    status: status.as_u16(),
                    errors,
                    text: String::new(),
                }))
            }
            Err(e) if status.is_success() => {
                Err(CallError::Provider(ProviderError::transient(format!(
                    "malformed answer from Cloudflare (HTTP {}): {e}",
                    status.as_u16()
                ))))
            }
            Err(_) => Err(CallError::Api(ApiError {
                status: status.as_u16(),
                errors: Vec::new(),
                text: self.scrub(&short(&answer.text())),
            })),
        }
    }

    fn parse<T: DeserializeOwned>(&self, v: serde_json::Value, what: &str) -> Result<T, CallError> {
        serde_json::from_value(v).map_err(|e| {
            CallError::Provider(ProviderError::transient(format!(
                "malformed answer from Cloudflare ({what}): {e}"
            )))
        })
    }

    /// Defence in depth: nothing Cloudflare (or anything in between) echoes may carry the token onward.
    fn scrub(&self, s: &str) -> String {
        if self.token.0.is_empty() || !s.contains(&self.token.0) {
            s.to_string()
        } else {
            s.replace(&self.token.0, "***")
        }
    }

    fn scrub_message(&self, m: ApiMessage) -> ApiMessage {
        ApiMessage {
            code: m.code,
            message: self.scrub(&m.message),
            error_chain: m
                .error_chain
                .into_iter()
                .map(|c| self.scrub_message(c))
                .collect(),
        }
    }

    fn scrub_error(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Auth { message } => ProviderError::Auth {
                message: self.scrub(&message),
            },
            ProviderError::ZoneNotFound { message } => ProviderError::ZoneNotFound {
                message: self.scrub(&message),
            },
            ProviderError::ZoneMismatch { expected, found } => ProviderError::ZoneMismatch {
                expected,
                found: self.scrub(&found),
            },
            ProviderError::Rejected { message } => ProviderError::Rejected {
                message: self.scrub(&message),
            },
            ProviderError::RateLimited {
                retry_after,
                message,
            } => ProviderError::RateLimited {
                retry_after,
                message: self.scrub(&message),
            },
            ProviderError::Transient { message } => ProviderError::Transient {
                message: self.scrub(&message),
            },
        }
    }
}

/// Pages to read: `total_pages` when given, else from `total_count` and `per_page`, else one.
fn total_pages(info: &ResultInfo, got: usize) -> u64 {
    if let Some(t) = info.total_pages {
        return t;
    }
    let per_page = info.per_page.or(info.count).unwrap_or(got as u64).max(1);
    info.total_count.map_or(1, |t| t.div_ceil(per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(code: i64, message: &str) -> ApiMessage {
        ApiMessage {
            code,
            message: message.into(),
            error_chain: Vec::new(),
        }
    }

    #[test]
    fn describe_keeps_codes_and_words() {
        let mut outer = msg(1004, "DNS Validation Error");
        outer.error_chain.push(msg(
            9005,
            "Content for A record must be a valid IPv4 address.",
        ));
        let e = ApiError {
            status: 400,
            errors: vec![outer],
            text: String::new(),
        };
        assert_eq!(
            e.describe(),
            "DNS Validation Error (code 1004): Content for A record must be a valid IPv4 address. (code 9005)"
        );
        assert_eq!(e.codes(), [1004, 9005]);
        assert!(e.has_code(&[9005]));
        let html = ApiError {
            status: 404,
            errors: Vec::new(),
            text: "<html>not found</html>".into(),
        };
        assert_eq!(html.describe(), "HTTP 404: <html>not found</html>");
        assert!(!html.enveloped());
    }

    #[test]
    fn pages_from_result_info() {
        let info = |pages, total, per| ResultInfo {
            per_page: per,
            count: None,
            total_count: total,
            total_pages: pages,
        };
        assert_eq!(total_pages(&info(Some(3), None, None), 100), 3);
        assert_eq!(total_pages(&info(None, Some(250), Some(100)), 100), 3);
        assert_eq!(total_pages(&info(None, Some(0), Some(100)), 0), 0);
        assert_eq!(total_pages(&info(None, None, None), 7), 1);
    }

    #[test]
    fn token_is_never_in_debug() {
        let http = Http::new(
            reqwest::Client::new(),
            crate::HttpConfig::default(),
            None,
            std::sync::Arc::default(),
        );
        let base = Url::parse("http://127.0.0.1:1/client/v4").expect("url");
        let c = Client::new(http, base, "s3cr3t-token".into(), "z".into(), "a".into());
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.scrub("bad token s3cr3t-token here"), "bad token *** here");
        let url = c.url(
            &["zones", "a/b", "dns_records"],
            &[("name", "vm.example.com".into())],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/client/v4/zones/a%2Fb/dns_records?name=vm.example.com"
        );
    }
}
