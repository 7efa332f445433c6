//! The HTTP machinery every provider shares, written once: a timeout per request, retries of transient
//! failures with exponential backoff and jitter (bounded, honouring `Retry-After`), a token-bucket rate
//! limiter per provider account, and request statistics per provider kind.
//!
//! Providers build requests; [`Http::send`] runs them. It returns every answer that is not a transient
//! failure (2xx, 4xx other than 429) for the provider to interpret, and turns the rest into
//! [`ProviderError`]s. Error texts come from `reqwest::Error::without_url`, so a URL with a key in it
//! never reaches a message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use tokio::time::Instant;

use crate::error::ProviderError;
use crate::settings::ProviderKind;

/// Timeouts and retry bounds.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Per request.
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with full jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error goes back to the caller, whose job is
    /// retried later.
    pub max_retry_after: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_attempts: 4,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Request statistics of one provider kind, for tests, benchmarks and `/metrics`.
#[derive(Debug, Default)]
pub struct ProviderStats {
    requests: AtomicU64,
    errors: AtomicU64,
    latency_micros: AtomicU64,
}

impl ProviderStats {
    /// HTTP requests sent (each retry counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Requests that ended in a transport error, 429 or 5xx.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Total time spent waiting for answers, in seconds.
    pub fn latency_seconds(&self) -> f64 {
        self.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// A token bucket: `capacity` requests at once, refilled at `per_second`. Waits use tokio's clock, so tests
/// run it with paused time.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(capacity: u32, per_second: f64) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_second: per_second.max(1e-6),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// `requests` per `window`, with a burst of a tenth of the window's budget (at least 1).
    pub fn per_window(requests: u32, window: Duration) -> Self {
        let per_second = f64::from(requests) / window.as_secs_f64();
        Self::new((requests / 10).max(1), per_second)
    }

    /// Waits until a token is available and takes it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut st = self
                    .state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                let elapsed = now.saturating_duration_since(st.1).as_secs_f64();
                st.0 = (st.0 + elapsed * self.per_second).min(self.capacity);
                st.1 = now;
                if st.0 >= 1.0 {
                    st.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - st.0) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct ContextInner {
    pub(crate) config: HttpConfig,
    stats: Mutex<HashMap<ProviderKind, Arc<ProviderStats>>>,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ContextInner {
    pub(crate) fn new(config: HttpConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub(crate) fn stats(&self, kind: ProviderKind) -> Arc<ProviderStats> {
        let mut map = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(kind).or_default().clone()
    }

    pub(crate) fn write_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .write_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key.to_string()).or_default().clone()
    }

    pub(crate) fn limiter(
        &self,
        key: &str,
        make: impl FnOnce() -> RateLimiter,
    ) -> Arc<RateLimiter> {
        let mut map = self
            .limiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key.to_string())
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }
}

/// An answer that was not a transient failure: the provider reads it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::transient(format!(
                "malformed answer (HTTP {}): {e}",
                self.status.as_u16()
            ))
        })
    }
}

/// One provider instance's way to send requests.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
    limiter: Option<Arc<RateLimiter>>,
    stats: Arc<ProviderStats>,
}

impl Http {
    pub fn new(
        client: reqwest::Client,
        config: HttpConfig,
        limiter: Option<Arc<RateLimiter>>,
        stats: Arc<ProviderStats>,
    ) -> Self {
        Self {
            client,
            config,
            limiter,
            stats,
        }
    }

    /// A rustls client with the configured timeout.
    pub fn default_client(config: &HttpConfig) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("vmdns/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying transient failures. `build` is called once per attempt.
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let err = match self.send_once(build(&self.client)).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            if attempt >= self.config.max_attempts.max(1) {
                return Err(err);
            }
            let wait = match &err {
                ProviderError::RateLimited {
                    retry_after: Some(d),
                    ..
                } => {
                    if *d > self.config.max_retry_after {
                        return Err(err);
                    }
                    *d
                }
                ProviderError::RateLimited { .. } | ProviderError::Transient { .. } => {
                    self.backoff(attempt)
                }
                _ => return Err(err),
            };
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying provider request");
            tokio::time::sleep(wait).await;
        }
    }

    /// Full jitter: a random wait between zero and `base * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .base_backoff
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let cap = exp.min(self.config.max_backoff);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis.max(1)))
    }

    async fn send_once(&self, req: RequestBuilder) -> Result<Answer, ProviderError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = async {
            let resp = req.send().await.map_err(transport_error)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(transport_error)?.to_vec();
            Ok::<_, ProviderError>(Answer {
                status,
                headers,
                body,
            })
        }
        .await;
        self.stats
            .latency_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(ProviderError::RateLimited {
                retry_after: retry_after(&answer.headers),
                message: short(&answer.text()),
            });
        }
        if answer.status.is_server_error() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            let text = answer.text();
            let detail = if text.is_empty() {
                String::new()
            } else {
                format!(": {}", short(&text))
            };
            return Err(ProviderError::transient(format!(
                "HTTP {}{detail}",
                answer.status.as_u16()
            )));
        }
        Ok(answer)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the providers we talk to).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broken while reading the answer"
    } else {
        "request failed"
    };
    // without_url: a URL may carry a key (HestiaCP hash=..., tests with query tokens).
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    ProviderError::transient(format!("{kind}: {detail}"))
}

/// Keeps long bodies (HTML error pages) out of messages.
pub fn short(s: &str) -> String {
    const MAX: usize = 500;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn token_bucket_spaces_requests_out() {
        let limiter = RateLimiter::new(2, 1.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // Two from the burst, then one per second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(3100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn per_window_budget() {
        // 1200 per 5 minutes = 4/s, burst 120.
        let limiter = RateLimiter::per_window(1200, Duration::from_secs(300));
        let start = Instant::now();
        for _ in 0..124 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(999), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1100), "{elapsed:?}");
    }

    #[test]
    fn one_write_lock_per_server() {
        let ctx = crate::ProviderContext::default();
        let a = ctx.write_lock("powerdns http://a localhost");
        assert!(Arc::ptr_eq(
            &a,
            &ctx.write_lock("powerdns http://a localhost")
        ));
        assert!(!Arc::ptr_eq(
            &a,
            &ctx.write_lock("powerdns http://b localhost")
        ));
    }

    #[test]
    fn retry_after_parses_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "30".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let cfg = HttpConfig::default();
        let http = Http::new(reqwest::Client::new(), cfg.clone(), None, Arc::default());
        for attempt in 1..10 {
            let d = http.backoff(attempt);
            assert!(d <= cfg.max_backoff, "{attempt}: {d:?}");
        }
        assert!(http.backoff(1) <= Duration::from_millis(200));
    }
}
