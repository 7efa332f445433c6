//! Runtime configuration: where the data lives, where to listen, who may read the legacy endpoint, how
//! the worker behaves. Filled from flags and their `VMDNS_*` environment variables by the CLI.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// How the job worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs of different services run at once, at most this many.
    pub concurrency: usize,
    /// A claimed job belongs to its worker this long; the worker renews it while the job runs.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs (it is also woken when a job is queued here).
    pub poll: Duration,
    /// Automatic retries after a job ended with retryable errors.
    pub max_retries: u32,
    /// First retry delay; doubles per retry.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            max_retries: 5,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
        }
    }
}

/// Everything a vmdns process needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; `None` means SQLite in the data directory.
    pub database_url: Option<String>,
    /// Who may read `/dns.php` and `/metrics` (by client address).
    pub legacy_allow: Vec<IpNet>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub master_key: Option<String>,
    pub worker: WorkerConfig,
    /// This node's name in job leases.
    pub node_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./vmdns-data"),
            database_url: None,
            legacy_allow: vec![
                IpNet::from(IpAddr::from([127, 0, 0, 1])),
                IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
            trusted_proxies: Vec::new(),
            master_key: None,
            worker: WorkerConfig::default(),
            node_name: default_node_name(),
        }
    }
}

impl Config {
    /// The database URL in force: the given one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join("vmdns.db").display()
                )
            })
    }
}

fn default_node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "vmdns".to_string()
    } else {
        host
    };
    format!("{host}:{}", std::process::id())
}
