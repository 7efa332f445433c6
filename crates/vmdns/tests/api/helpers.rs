//! What every API test shares: [`spawn_app`] (a fresh data dir and SQLite store, the server on
//! `127.0.0.1:0`, an API token, a client), request helpers that keep every answer for the leak test,
//! `drain()` to run the job queue instead of sleeping, and the pieces end-to-end tests need (PowerDNS
//! zones, direct PowerDNS writes, a slow TCP proxy, the route list).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use vmdns::app::App;
use vmdns::config::Config;
use vmdns::secrets::Cipher;
use vmdns::store::Store;
use vmdns_core::{Change, DnsName, RecordType, RrSet};
use vmdns_providers::testing::pdns::PdnsServer;
use vmdns_providers::{HttpConfig, Provider, ProviderContext, ProviderKind};

/// Every `/api/v1` route as `http/api/mod.rs` declares it (method, path template). The 401 test and the
/// OpenAPI test iterate over this list; `{action}` is spelled out per action.
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("GET", "/zones"),
    ("POST", "/zones"),
    ("GET", "/zones/{id}"),
    ("PUT", "/zones/{id}"),
    ("PATCH", "/zones/{id}"),
    ("DELETE", "/zones/{id}"),
    ("POST", "/zones/{id}/test"),
    ("GET", "/pools"),
    ("POST", "/pools"),
    ("GET", "/pools/{id}"),
    ("PUT", "/pools/{id}"),
    ("DELETE", "/pools/{id}"),
    ("GET", "/rdns-zone"),
    ("GET", "/services"),
    ("POST", "/services"),
    ("GET", "/services/{id}"),
    ("PUT", "/services/{id}"),
    ("PATCH", "/services/{id}"),
    ("DELETE", "/services/{id}"),
    ("GET", "/services/{id}/records"),
    ("GET", "/services/{id}/plan"),
    ("POST", "/services/{id}/deploy"),
    ("POST", "/services/{id}/change-package"),
    ("POST", "/services/{id}/terminate"),
    ("POST", "/services/{id}/set-dns-records"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{id}"),
    ("GET", "/jobs/{id}/events"),
    ("GET", "/log"),
    ("GET", "/openapi.json"),
];

/// HTTP settings that fail fast: tests point providers at closed ports and faulty fakes.
pub(crate) fn fast_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(5),
        max_attempts: 2,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(1),
    }
}

/// A DNS name the test knows to be valid.
pub(crate) fn n(s: &str) -> DnsName {
    DnsName::parse(s).unwrap_or_else(|e| panic!("test name {s:?}: {e}"))
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("test address {s:?}: {e}"))
}

/// One answer of the server, body read.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {} {}", self.status, self.text))
    }

    /// The JSON body, after checking the status.
    pub(crate) fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// An API error: checks the status and the `{"error", "field"}` shape; returns the field.
    pub(crate) fn expect_error(&self, status: u16) -> Option<String> {
        let body = self.expect(status);
        let obj = body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not an object: {}", self.text));
        assert!(
            obj.get("error")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty()),
            "error body without an error message: {}",
            self.text
        );
        assert!(
            obj.keys().all(|k| k == "error" || k == "field"),
            "error body with other keys: {}",
            self.text
        );
        obj.get("field").and_then(Value::as_str).map(str::to_string)
    }
}

/// A running vmdns for one test: its own data dir, SQLite store, port and token. The server stops when
/// this is dropped.
pub(crate) struct TestApp {
    pub(crate) app: App,
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
    pub(crate) client: reqwest::Client,
    pub(crate) dir: TempDir,
    /// Every response body this app's helpers received, for the leak test.
    pub(crate) seen: Arc<Mutex<Vec<String>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with a configuration tweak (legacy allow-list, retry delays, ...).
pub(crate) async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::Builder::new()
        .prefix("vmdns-api-")
        .tempdir()
        .expect("a temp data dir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        node_name: "test".to_string(),
        ..Config::default()
    };
    configure(&mut config);
    let listener = TcpListener::bind(config.listen)
        .await
        .expect("bind the test server");
    let addr = listener.local_addr().expect("address of a bound listener");
    config.listen = addr;
    let cipher = Cipher::load(config.master_key.as_deref(), &config.data_dir)
        .expect("a master key in the temp dir");
    let store = Store::open(&config.database_url(), cipher)
        .await
        .expect("a fresh SQLite store");
    let app = App::with_store(store, config, ProviderContext::new(fast_http()));
    let (_, token) = app
        .store
        .create_token("tests")
        .await
        .expect("create an API token");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(vmdns::http::run(listener, app.clone(), async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client");
    TestApp {
        app,
        addr,
        token,
        client,
        dir,
        seen: Arc::default(),
        shutdown: Some(tx),
    }
}

impl TestApp {
    /// `http://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL of an API path (`/zones` → `http://…/api/v1/zones`).
    pub(crate) fn api(&self, path: &str) -> String {
        self.url(&format!("/api/v1{path}"))
    }

    /// Reads an answer and keeps its body for the leak test.
    pub(crate) async fn read(&self, resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("read the response body");
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text.clone());
        Reply {
            status,
            headers,
            text,
        }
    }

    /// An API request with the token.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self
            .client
            .request(method, self.api(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("the test server answers");
        self.read(resp).await
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// A raw API request with the token: any body and content type.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let resp = self
            .client
            .request(method, self.api(path))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("the test server answers");
        self.read(resp).await
    }

    /// Runs every due job to the end (the test's worker), instead of sleeping.
    pub(crate) async fn drain(&self) -> usize {
        vmdns::engine::worker::drain(&self.app, "test", false)
            .await
            .expect("the store works")
    }

    /// Creates a zone through the API; returns its id.
    pub(crate) async fn create_zone(&self, name: &str, provider: &str, settings: Value) -> i64 {
        let body = json!({"name": name, "provider": provider, "settings": settings});
        let zone = self.post("/zones", &body).await.expect(201);
        zone["id"].as_i64().expect("zone id")
    }

    /// Creates `name` on the PowerDNS server and the matching vmdns zone; returns the vmdns zone id.
    pub(crate) async fn pdns_zone(&self, server: &PdnsServer, name: &str) -> i64 {
        server.create_zone(&n(name)).await;
        self.create_zone(
            name,
            "powerdns",
            json!({"server_url": server.api_url(), "api_key": server.api_key()}),
        )
        .await
    }

    /// Creates a service; `addresses` are `(ip, customer ptr)`.
    pub(crate) async fn create_service(
        &self,
        name: &str,
        domain: &str,
        addresses: &[(&str, Option<&str>)],
    ) -> i64 {
        let body = service_body(name, domain, addresses);
        let s = self.post("/services", &body).await.expect(201);
        s["id"].as_i64().expect("service id")
    }

    /// Queues a lifecycle job (202 at once); returns its id.
    pub(crate) async fn enqueue(&self, service: i64, action: &str) -> i64 {
        let r = self
            .post(&format!("/services/{service}/{action}"), &json!({}))
            .await;
        let body = r.expect(202);
        body["job_id"].as_i64().expect("job_id")
    }

    /// Queues a job, drains the queue, and returns the job as the API shows it.
    pub(crate) async fn run(&self, service: i64, action: &str) -> Value {
        let id = self.enqueue(service, action).await;
        self.drain().await;
        self.job(id).await
    }

    /// [`Self::run`], and the job must end `done`; otherwise the panic shows its output and, when given,
    /// the PowerDNS log.
    pub(crate) async fn run_done(
        &self,
        service: i64,
        action: &str,
        pdns: Option<&PdnsServer>,
    ) -> Value {
        let job = self.run(service, action).await;
        if job["state"] != "done" {
            let log = pdns.map(PdnsServer::log).unwrap_or_default();
            panic!(
                "{action} ended {}:\n{}\n{}",
                job["state"],
                lines(&job).join("\n"),
                &log[log.len().saturating_sub(4000)..]
            );
        }
        job
    }

    pub(crate) async fn job(&self, id: i64) -> Value {
        self.get(&format!("/jobs/{id}")).await.expect(200)
    }
}

/// A service body; `addresses` are `(ip, customer ptr)`.
pub(crate) fn service_body(name: &str, domain: &str, addresses: &[(&str, Option<&str>)]) -> Value {
    let addresses: Vec<Value> = addresses
        .iter()
        .map(|(ip, ptr)| match ptr {
            Some(p) => json!({"ip": ip, "ptr": p}),
            None => json!({"ip": ip}),
        })
        .collect();
    json!({"name": name, "domain": domain, "addresses": addresses})
}

/// The output lines of a job as `GET /jobs/{id}` shows them.
pub(crate) fn lines(job: &Value) -> Vec<String> {
    job["output"]
        .as_array()
        .unwrap_or_else(|| panic!("job without output: {job}"))
        .iter()
        .map(|l| l["line"].as_str().expect("line text").to_string())
        .collect()
}

/// Checks the shape of a job's output: a `job …` header, then one `fwd|rev OK|ERR` line per record per
/// zone, and a last `summary: …` line.
pub(crate) fn assert_output_shape(job: &Value) {
    let lines = lines(job);
    assert!(
        lines.first().is_some_and(|l| l.starts_with("job ")),
        "{lines:#?}"
    );
    let last = lines.last().expect("output");
    assert!(last.starts_with("summary: "), "last line: {lines:#?}");
    for l in &lines[1..lines.len() - 1] {
        assert!(
            ["fwd OK ", "fwd ERR ", "rev OK ", "rev ERR ", "retry "]
                .iter()
                .any(|p| l.starts_with(p)),
            "unexpected line {l:?} in {lines:#?}"
        );
    }
}

/// What PowerDNS answers over real DNS.
pub(crate) async fn dig(server: &PdnsServer, name: &str, rtype: RecordType) -> BTreeSet<String> {
    server.query(&n(name), rtype).await
}

/// The PTR answer for an address.
pub(crate) async fn dig_ptr(server: &PdnsServer, address: &str) -> BTreeSet<String> {
    server
        .query(&vmdns_core::ptr_name(ip(address)), RecordType::Ptr)
        .await
}

pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A provider talking to the PowerDNS server directly, bypassing vmdns (to plant records it does not own).
pub(crate) fn pdns_direct(server: &PdnsServer, zone: &str) -> Arc<dyn Provider> {
    vmdns_providers::build(
        ProviderKind::Powerdns,
        n(zone),
        &server.settings(&n(zone)),
        &ProviderContext::new(fast_http()),
    )
    .expect("harness settings are valid")
}

/// Writes an RRset on PowerDNS behind vmdns's back.
pub(crate) async fn pdns_plant(
    server: &PdnsServer,
    zone: &str,
    name: &str,
    rtype: RecordType,
    content: &str,
) {
    let p = pdns_direct(server, zone);
    let report = p
        .apply(&[Change::Create(RrSet::new(n(name), rtype, 300, [content]))])
        .await
        .unwrap_or_else(|e| {
            let log = server.log();
            panic!(
                "PowerDNS refused the PATCH: {e}\n{}",
                &log[log.len().saturating_sub(3000)..]
            )
        });
    assert_eq!(report.failed(), 0, "{report:?}");
}

/// Where the PowerDNS API listens, for a proxy in front of it.
pub(crate) fn api_addr(server: &PdnsServer) -> SocketAddr {
    server
        .api_url()
        .trim_start_matches("http://")
        .parse()
        .expect("the harness URL is http://IP:PORT")
}

/// Polls `check` every 50 ms until it is true, for at most `limit`.
pub(crate) async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP proxy in front of a server that holds every client chunk carrying a `PATCH` request for
/// `delay` before passing it on: a provider whose writes are slow. Counts the PATCHes it saw.
pub(crate) struct SlowProxy {
    pub(crate) addr: SocketAddr,
    pub(crate) patches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlowProxy {
    pub(crate) async fn start(upstream: SocketAddr, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let patches = Arc::new(AtomicUsize::new(0));
        let counter = patches.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if buf[..n].windows(6).any(|w| w == b"PATCH ") {
                                counter.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(delay).await;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Self {
            addr,
            patches,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn patches(&self) -> usize {
        self.patches.load(Ordering::SeqCst)
    }
}
