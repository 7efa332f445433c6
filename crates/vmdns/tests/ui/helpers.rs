//! What every UI test shares: [`spawn_app`] (a fresh data dir and SQLite store, the server on
//! `127.0.0.1:0`, one account), a worker that a test starts when it wants jobs to run, and a plain HTTP
//! client that logs in like a browser (cookies and CSRF token by hand) for the tests that need no browser.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use vmdns::app::App;
use vmdns::config::Config;
use vmdns::secrets::Cipher;
use vmdns::store::Store;
use vmdns_core::DnsName;
use vmdns_providers::{HttpConfig, ProviderContext};

pub(crate) const USER: &str = "admin";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// HTTP settings that fail fast: tests point providers at wrong keys and closed ports.
fn fast_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(5),
        max_attempts: 2,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(1),
    }
}

pub(crate) fn n(s: &str) -> DnsName {
    DnsName::parse(s).unwrap_or_else(|e| panic!("test name {s:?}: {e}"))
}

/// One running vmdns: its address, its state, its temp dir; the server stops when this is dropped.
pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) app: App,
    dir: TempDir,
    _stop: oneshot::Sender<()>,
    worker_stop: Option<watch::Sender<bool>>,
}

impl TestApp {
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts the job worker (`vmdns::engine::worker::run`), as `vmdns serve` does.
    pub(crate) fn start_worker(&mut self) {
        let (tx, mut rx) = watch::channel(false);
        tokio::spawn(vmdns::engine::worker::run(self.app.clone(), async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        self.worker_stop = Some(tx);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(w) = self.worker_stop.take() {
            let _ = w.send(true);
        }
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub(crate) async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::Builder::new()
        .prefix("vmdns-ui-")
        .tempdir()
        .expect("a temp data dir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        node_name: "ui-test".to_string(),
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
    app.store
        .create_user(USER, PASSWORD)
        .await
        .expect("create the test account");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(vmdns::http::run(listener, app.clone(), async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        app,
        dir,
        _stop: tx,
        worker_stop: None,
    }
}

/// The value of `name` in a `Set-Cookie` header of `headers`, with the header's attributes.
pub(crate) fn set_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// The CSRF token a page carries in `<meta name="csrf-token">` or a hidden `_csrf` input.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf-token\" content=\"")
        .map(|i| i + "name=\"csrf-token\" content=\"".len())
        .or_else(|| {
            html.find("name=\"_csrf\" value=\"")
                .map(|i| i + "name=\"_csrf\" value=\"".len())
        })
        .expect("the page carries a CSRF token");
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// A plain HTTP client that does not follow redirects.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// A logged-in HTTP session without a browser: the session cookie and the page's CSRF token.
pub(crate) struct HttpSession {
    pub(crate) client: reqwest::Client,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// Logs in through the login form; answers the login POST's response when it did not succeed.
pub(crate) async fn try_login(
    app: &TestApp,
    user: &str,
    password: &str,
) -> Result<HttpSession, reqwest::Response> {
    let client = client();
    let page = client
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let login_cookie = set_cookie(page.headers(), "vmdns_login")
        .map(cookie_value)
        .expect("the login page sets its form cookie");
    let csrf = csrf_of(&page.text().await.expect("login page"));
    let res = client
        .post(app.url("/login"))
        .header(COOKIE, format!("vmdns_login={login_cookie}"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("POST /login");
    if res.status() != StatusCode::SEE_OTHER {
        return Err(res);
    }
    let cookie = set_cookie(res.headers(), "vmdns_session")
        .map(cookie_value)
        .expect("a session cookie after login");
    let zones = client
        .get(app.url("/zones"))
        .header(COOKIE, format!("vmdns_session={cookie}"))
        .send()
        .await
        .expect("GET /zones");
    assert_eq!(zones.status(), StatusCode::OK);
    let csrf = csrf_of(&zones.text().await.expect("zones page"));
    Ok(HttpSession {
        client,
        cookie,
        csrf,
    })
}

pub(crate) async fn login(app: &TestApp) -> HttpSession {
    match try_login(app, USER, PASSWORD).await {
        Ok(s) => s,
        Err(res) => panic!("login failed: {}", res.status()),
    }
}

impl HttpSession {
    pub(crate) fn cookie_header(&self) -> String {
        format!("vmdns_session={}", self.cookie)
    }

    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client
            .get(app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POSTs a form; `with_csrf` adds the session's token.
    pub(crate) async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            form.push(("_csrf", self.csrf.as_str()));
        }
        self.client
            .post(app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(&form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }
}

/// Where a redirect points.
pub(crate) fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
