//! Provider instances per configured zone, cached while the zone is unchanged, so that connection pools,
//! rate limiters and provider-side caches (Cloudflare record ids) live across jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vmdns_providers::{Provider, ProviderContext, SettingsError};

use crate::store::Zone;

/// A cached provider and the zone's `updated_at` it was built from.
type Entry = (i64, Arc<dyn Provider>);

#[derive(Debug, Default)]
pub struct ProviderCache {
    map: Mutex<HashMap<i64, Entry>>,
}

impl ProviderCache {
    /// The provider for `zone`, built anew when the zone was updated since it was cached.
    pub fn get(
        &self,
        zone: &Zone,
        ctx: &ProviderContext,
    ) -> Result<Arc<dyn Provider>, SettingsError> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((stamp, p)) = map.get(&zone.id)
            && *stamp == zone.updated_at
        {
            return Ok(p.clone());
        }
        let p = vmdns_providers::build(zone.provider, zone.name.clone(), &zone.settings, ctx)?;
        map.insert(zone.id, (zone.updated_at, p.clone()));
        Ok(p)
    }
}
