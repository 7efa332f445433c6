//! Powerdns provider (stub: being written).

use async_trait::async_trait;
use vmdns_core::{Change, DnsName, RrSet};

use crate::{ApplyReport, Provider, ProviderContext, ProviderError, ProviderKind, Settings, SettingsError, ZoneInfo};

#[derive(Debug)]
pub struct PowerDns {
    zone: DnsName,
}

impl PowerDns {
    pub fn new(zone: DnsName, _settings: &Settings, _ctx: &ProviderContext) -> Result<Self, SettingsError> {
        Ok(Self { zone })
    }
}

#[async_trait]
impl Provider for PowerDns {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Powerdns
    }
    fn zone(&self) -> &DnsName {
        &self.zone
    }
    async fn check(&self) -> Result<ZoneInfo, ProviderError> {
        Err(ProviderError::transient("not implemented"))
    }
    async fn rrsets(&self, _names: &[DnsName]) -> Result<Vec<RrSet>, ProviderError> {
        Err(ProviderError::transient("not implemented"))
    }
    async fn apply(&self, _changes: &[Change]) -> Result<ApplyReport, ProviderError> {
        Err(ProviderError::transient("not implemented"))
    }
}
