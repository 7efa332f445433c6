//! DNS provider clients for vmdns: one small async trait, one folder per provider.
//!
//! # Layout
//! - [`Provider`] (this file): the trait every provider implements: check the zone, read RRsets, apply changes.
//! - [`error`]: [`ProviderError`], the one error type callers act on.
//! - [`settings`]: [`ProviderKind`], the settings each provider takes (which are secret), validation.
//! - [`http`]: the HTTP machinery written once: timeouts, retries with backoff and jitter, `Retry-After`,
//!   a token-bucket rate limiter per account, request counters.
//! - [`powerdns`], [`cloudflare`], [`hestiacp`]: one folder per provider (`mod.rs` = the trait impl,
//!   `client.rs` = raw HTTP, `types.rs` = wire structs).
//! - `testing` (feature `testing`): stateful fakes of Cloudflare and HestiaCP, a real-PowerDNS harness, and
//!   the conformance battery every provider passes.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use vmdns_core::{Change, DnsName, RrSet};

pub mod cloudflare;
pub mod error;
pub mod hestiacp;
pub mod http;
pub mod powerdns;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::ProviderError;
pub use http::{HttpConfig, ProviderStats, RateLimiter};
pub use settings::{ProviderKind, SettingSpec, Settings, SettingsError};

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    /// The zone name as the provider has it (normalised).
    pub name: DnsName,
    /// A short human sentence for the green toast, e.g. `zone example.com found (PowerDNS, Native, serial 3)`.
    pub message: String,
}

/// The outcome of [`Provider::apply`]: one result per change, in the order given.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub outcomes: Vec<Result<(), ProviderError>>,
}

impl ApplyReport {
    pub fn all_ok(n: usize) -> Self {
        Self {
            outcomes: (0..n).map(|_| Ok(())).collect(),
        }
    }

    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_err()).count()
    }
}

/// One configured zone at one provider. Implementations are cheap to share (`Arc<dyn Provider>`).
#[async_trait]
pub trait Provider: Send + Sync + Debug {
    fn kind(&self) -> ProviderKind;

    /// The zone this provider instance writes to.
    fn zone(&self) -> &DnsName;

    /// "Test connection": credentials work, the zone exists and its name matches.
    async fn check(&self) -> Result<ZoneInfo, ProviderError>;

    /// The RRsets (of the types vmdns manages) currently at `names`. Names outside the zone are ignored.
    async fn rrsets(&self, names: &[DnsName]) -> Result<Vec<RrSet>, ProviderError>;

    /// Applies whole-RRset changes in as few requests as the provider allows. A failure of the whole call
    /// (credentials, zone gone, provider down) is `Err`; a failure of single changes is reported per change.
    async fn apply(&self, changes: &[Change]) -> Result<ApplyReport, ProviderError>;
}

/// Shared state for every provider instance of one process: HTTP settings, rate limiters per account and
/// request statistics per provider kind.
#[derive(Debug, Clone, Default)]
pub struct ProviderContext {
    inner: Arc<http::ContextInner>,
}

impl ProviderContext {
    pub fn new(config: HttpConfig) -> Self {
        Self {
            inner: Arc::new(http::ContextInner::new(config)),
        }
    }

    pub fn http_config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Request statistics for one provider kind (requests sent, errors, latency).
    pub fn stats(&self, kind: ProviderKind) -> Arc<ProviderStats> {
        self.inner.stats(kind)
    }

    /// One lock per server that wants its writes one at a time (created on first use): PowerDNS
    /// rectifies a zone on every PATCH, and its SQLite backend answers concurrent writers with 500s.
    pub fn write_lock(&self, server_key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.write_lock(server_key)
    }

    /// The rate limiter shared by every zone of one account (created on first use).
    pub fn limiter(
        &self,
        account_key: &str,
        make: impl FnOnce() -> RateLimiter,
    ) -> Arc<RateLimiter> {
        self.inner.limiter(account_key, make)
    }
}

/// Builds the provider for one configured zone from its settings.
pub fn build(
    kind: ProviderKind,
    zone: DnsName,
    settings: &Settings,
    ctx: &ProviderContext,
) -> Result<Arc<dyn Provider>, SettingsError> {
    settings::validate(kind, settings)?;
    Ok(match kind {
        ProviderKind::Powerdns => Arc::new(powerdns::PowerDns::new(zone, settings, ctx)?),
        ProviderKind::Cloudflare => Arc::new(cloudflare::Cloudflare::new(zone, settings, ctx)?),
        ProviderKind::Hestiacp => Arc::new(hestiacp::Hestia::new(zone, settings, ctx)?),
    })
}
