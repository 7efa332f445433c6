//! A real PowerDNS Authoritative server (Debian's `pdns-server` with the sqlite3 backend) on loopback, for
//! tests: its own temp dir, database and free ports, answered through its HTTP API and through real DNS
//! queries (`dig`). The process is killed when the [`PdnsServer`] is dropped, and, for servers that are
//! never dropped (the [`PdnsServer::shared`] one), by a small `sh` watchdog within a second of the test
//! binary's exit.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::OnceCell;
use vmdns_core::{DnsName, RecordType};

use crate::powerdns::zone_id;
use crate::settings::Settings;

const PDNS: &str = "/usr/sbin/pdns_server";
const SCHEMA: &str = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";
const INSTALL_HINT: &str =
    "run scripts/test, which installs pdns-server, pdns-backend-sqlite3, sqlite3 and dnsutils";
/// Tries with fresh ports when another process took one between our probe and the server's bind.
const START_ATTEMPTS: usize = 6;
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Ports handed to a server of this process already: never handed out twice.
static RESERVED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Kills pdns_server (`$2`) and removes its dir (`$3`) once the test process (`$1`) is gone. `Drop` kills
/// the watchdog before it kills and reaps pdns_server, so the watchdog never sees a reused pid.
const WATCHDOG: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.3; done
kill -9 "$2" 2>/dev/null
rm -rf "$3"
"#;

/// One running PowerDNS. See the module docs.
#[derive(Debug)]
pub struct PdnsServer {
    dir: TempDir,
    api_port: u16,
    dns_port: u16,
    api_key: String,
    pdns: Child,
    watchdog: Option<Child>,
}

impl PdnsServer {
    /// Starts a fresh server on free loopback ports and waits until its API answers.
    ///
    /// # Panics
    /// When `pdns_server`, `sqlite3` or `dig` is missing (run `scripts/test`), or the server does not start.
    pub async fn start() -> PdnsServer {
        preflight();
        let mut last_log = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Self::try_start().await {
                Ok(server) => return server,
                Err(log) => {
                    tracing::debug!(attempt, "pdns_server did not start; trying other ports");
                    last_log = log;
                }
            }
        }
        panic!("pdns_server did not start after {START_ATTEMPTS} attempts; last log:\n{last_log}");
    }

    /// One server for the whole test binary, started on first use. Killed by the watchdog when the binary
    /// exits.
    pub async fn shared() -> &'static PdnsServer {
        static SHARED: OnceCell<PdnsServer> = OnceCell::const_new();
        SHARED.get_or_init(PdnsServer::start).await
    }

    /// The server URL, as the provider's `server_url` setting takes it: `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// The API key of this server (random per server).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Where the server answers DNS queries (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.dns_port))
    }

    /// The server's temp dir (config, database, `pdns.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pdns.log")).unwrap_or_default()
    }

    /// Provider settings for a zone of this server (`server_url`, `api_key`).
    pub fn settings(&self, zone: &DnsName) -> Settings {
        let _ = zone; // PowerDNS addresses zones by name: the settings are the same for every zone.
        [
            ("server_url", self.api_url()),
            ("api_key", self.api_key.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Creates a Native zone with the nameserver `ns1.example.com.`.
    ///
    /// # Panics
    /// When the server does not answer `201 Created`.
    pub async fn create_zone(&self, zone: &DnsName) {
        let body = serde_json::json!({"name": zone.to_fqdn(), "kind": "Native", "nameservers": ["ns1.example.com."]});
        let resp = client()
            .post(format!("{}/api/v1/servers/localhost/zones", self.api_url()))
            .header("X-API-Key", &self.api_key)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create zone {zone}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 201, "create zone {zone}: {text}");
    }

    /// Deletes a zone; a zone that is not there is fine.
    ///
    /// # Panics
    /// When the server answers anything but `204` or `404`.
    pub async fn delete_zone(&self, zone: &DnsName) {
        let resp = client()
            .delete(format!(
                "{}/api/v1/servers/localhost/zones/{}",
                self.api_url(),
                zone_id(zone)
            ))
            .header("X-API-Key", &self.api_key)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete zone {zone}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            matches!(status.as_u16(), 204 | 404),
            "delete zone {zone}: {status} {text}"
        );
    }

    /// What the server answers over DNS for `name`/`rtype` (`dig +short`), contents normalised as
    /// [`RecordType::normalize_content`] does. Empty for NXDOMAIN, NODATA and names it is not authoritative for.
    ///
    /// # Panics
    /// When `dig` fails (no answer at all).
    pub async fn query(&self, name: &DnsName, rtype: RecordType) -> BTreeSet<String> {
        let out = tokio::process::Command::new("dig")
            .args(["+short", "+norecurse", "+time=2", "+tries=3"])
            .arg("@127.0.0.1")
            .args(["-p", &self.dns_port.to_string()])
            .args([name.as_str(), rtype.as_str()])
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run dig ({e}); {INSTALL_HINT}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "dig {name} {rtype} failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(|l| rtype.normalize_content(l))
            .collect()
    }

    async fn try_start() -> Result<PdnsServer, String> {
        let (api_port, dns_port) = free_ports();
        let dir = tempfile::Builder::new()
            .prefix("vmdns-pdns-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let api_key = format!("vmdns-test-{:016x}", rand::random::<u64>());
        write_config(dir.path(), api_port, dns_port, &api_key);
        create_schema(&dir.path().join("pdns.sqlite3"));
        let pdns = spawn_pdns(dir.path());
        let watchdog = spawn_watchdog(pdns.id(), dir.path());
        let mut server = PdnsServer {
            dir,
            api_port,
            dns_port,
            api_key,
            pdns,
            watchdog,
        };
        // On failure `server` is dropped: pdns_server and the watchdog are killed, the dir removed.
        match server.wait_ready().await {
            Ok(()) => Ok(server),
            Err(why) => Err(format!("{why}\n{}", server.log())),
        }
    }

    /// Polls the API until it answers with our key. Fails fast when pdns exited (DNS port taken) or its
    /// webserver could not bind (it keeps running without it), or another server answers on our port.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let url = format!("{}/api/v1/servers/localhost", self.api_url());
        loop {
            if let Ok(Some(status)) = self.pdns.try_wait() {
                return Err(format!("pdns_server exited ({status})"));
            }
            if self.log().contains("Listening on HTTP socket failed") {
                return Err("the API port was taken".into());
            }
            let answer = client()
                .get(&url)
                .header("X-API-Key", &self.api_key)
                .header("Accept", "application/json")
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            match answer.map(|r| r.status().as_u16()) {
                Ok(200) => return Ok(()),
                Ok(401) => return Err("another server answers on the API port".into()),
                Ok(_) | Err(_) => {}
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("the API did not answer within {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PdnsServer {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = self.pdns.kill();
        let _ = self.pdns.wait();
    }
}

/// A client per call: the shared server outlives the runtime of the test that started it, and pooled
/// connections are bound to a runtime.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn preflight() {
    if !Path::new(PDNS).exists() {
        panic!("{PDNS} not found: PowerDNS is not installed; {INSTALL_HINT}");
    }
    if !Path::new(SCHEMA).exists() {
        panic!("{SCHEMA} not found: pdns-backend-sqlite3 is not installed; {INSTALL_HINT}");
    }
    for tool in ["sqlite3", "dig"] {
        let found = Command::new(tool)
            .arg(if tool == "dig" { "-v" } else { "-version" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            panic!("{tool} not found; {INSTALL_HINT}");
        }
    }
}

/// An API port and a DNS port (free for both UDP and TCP) that no server of this process got before.
fn free_ports() -> (u16, u16) {
    let mut reserved = RESERVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let reserved = reserved.get_or_insert_with(HashSet::new);
    let mut take = |pick: &dyn Fn() -> Option<u16>| -> u16 {
        for _ in 0..100 {
            if let Some(port) = pick().filter(|p| !reserved.contains(p)) {
                reserved.insert(port);
                return port;
            }
        }
        panic!("cannot find a free loopback port");
    };
    let api = take(&|| {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        l.local_addr().ok().map(|a| a.port())
    });
    let dns = take(&|| {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        let port = udp.local_addr().ok()?.port();
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok()?;
        Some(port)
    });
    (api, dns)
}

/// `pdns.conf` as `reference/peers.md` gives it: loopback only, no security poll, 16 MB bodies.
fn write_config(dir: &Path, api_port: u16, dns_port: u16, api_key: &str) {
    let d = dir.display();
    let conf = format!(
        "launch=gsqlite3\n\
         gsqlite3-database={d}/pdns.sqlite3\n\
         local-address=127.0.0.1\n\
         local-port={dns_port}\n\
         socket-dir={d}\n\
         daemon=no\n\
         guardian=no\n\
         disable-syslog=yes\n\
         api=yes\n\
         api-key={api_key}\n\
         webserver=yes\n\
         webserver-address=127.0.0.1\n\
         webserver-port={api_port}\n\
         webserver-allow-from=127.0.0.1\n\
         security-poll-suffix=\n\
         webserver-max-bodysize=16\n"
    );
    std::fs::write(dir.join("pdns.conf"), conf)
        .unwrap_or_else(|e| panic!("cannot write pdns.conf: {e}"));
}

fn create_schema(db: &Path) {
    let schema =
        File::open(SCHEMA).unwrap_or_else(|e| panic!("cannot read {SCHEMA}: {e}; {INSTALL_HINT}"));
    let out = Command::new("sqlite3")
        .arg(db)
        .stdin(schema)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sqlite3 ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "sqlite3 could not create the PowerDNS schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spawn_pdns(dir: &Path) -> Child {
    let log = File::create(dir.join("pdns.log"))
        .unwrap_or_else(|e| panic!("cannot create pdns.log: {e}"));
    let log2 = log
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot open pdns.log twice: {e}"));
    Command::new(PDNS)
        .arg(format!("--config-dir={}", dir.display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PDNS} ({e}); {INSTALL_HINT}"))
}

/// `None` when `sh` cannot run: then only `Drop` stops the server.
fn spawn_watchdog(pdns_pid: u32, dir: &Path) -> Option<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("pdns-watchdog")
        .arg(std::process::id().to_string())
        .arg(pdns_pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_never_handed_out_twice() {
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let (a, d) = free_ports();
            assert!(seen.insert(a) && seen.insert(d), "{a} {d}");
        }
    }

    #[test]
    fn config_has_the_settings_peers_md_asks_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), 18081, 15300, "k");
        let conf = std::fs::read_to_string(dir.path().join("pdns.conf")).expect("read");
        for line in [
            "security-poll-suffix=\n",
            "webserver-max-bodysize=16\n",
            "local-address=127.0.0.1\n",
            "webserver-address=127.0.0.1\n",
            "local-port=15300\n",
            "webserver-port=18081\n",
        ] {
            assert!(conf.contains(line), "{line:?} missing from\n{conf}");
        }
    }

    #[tokio::test]
    async fn starts_answers_and_is_gone_after_drop() {
        let server = PdnsServer::start().await;
        let zone = DnsName::parse("harness.example").expect("name");
        server.create_zone(&zone).await;
        let ns = server.query(&zone, RecordType::A).await;
        assert!(ns.is_empty(), "{ns:?}");
        let dir = server.dir().to_path_buf();
        let api = server.api_url();
        drop(server);
        assert!(!dir.exists(), "temp dir left behind");
        let gone = client()
            .get(format!("{api}/api/v1/servers/localhost"))
            .send()
            .await;
        assert!(gone.is_err(), "server still answers after drop");
    }
}
