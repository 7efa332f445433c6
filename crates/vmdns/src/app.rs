//! [`App`]: the state one vmdns process shares between its HTTP server, its worker and its CLI commands.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use vmdns_providers::ProviderContext;

use crate::config::Config;
use crate::engine::providers::ProviderCache;
use crate::secrets::Cipher;
use crate::store::Store;

/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub providers: ProviderContext,
    pub config: Arc<Config>,
    /// Wakes this process's worker when a job is queued here.
    pub job_queued: Arc<Notify>,
    pub provider_cache: Arc<ProviderCache>,
}

impl App {
    /// Opens the data directory (created when missing), the master key and the store.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let cipher = Cipher::load(config.master_key.as_deref(), &config.data_dir)?;
        let store = Store::open(&config.database_url(), cipher).await?;
        Ok(Self::with_store(store, config, ProviderContext::default()))
    }

    pub fn with_store(store: Store, config: Config, providers: ProviderContext) -> Self {
        Self {
            store,
            providers,
            config: Arc::new(config),
            job_queued: Arc::new(Notify::new()),
            provider_cache: Arc::default(),
        }
    }
}
