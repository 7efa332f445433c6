//! A real browser for the tests: Debian's headless Chromium driven over WebDriver (fantoccini) through one
//! `chromedriver` per test binary, on a free loopback port. Each test gets its own browser session with a
//! fresh profile directory.
//!
//! `chromedriver` runs in its own process group; a small `sh` watchdog kills that group (the driver and
//! every browser it started) within a second of the test binary's exit, also when a test panicked before
//! closing its browser.
//!
//! [`Browser`] also keeps the secrets a test must never see: every page it lands on is checked against
//! them, and it saves a screenshot of each page a test names under `target/ui-screenshots/`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{PASSWORD, TestApp, USER};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "run scripts/test, which installs chromium and chromium-driver";
/// How long a test waits for something to appear on a page.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

const WATCHDOG: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.3; done
kill -TERM -"$2" 2>/dev/null
sleep 0.5
kill -KILL -"$2" 2>/dev/null
"#;

struct Driver {
    port: u16,
    _child: Child,
    _watchdog: Child,
    _log_dir: TempDir,
}

static DRIVER: OnceLock<Mutex<Option<Driver>>> = OnceLock::new();

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_driver() -> Driver {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: {INSTALL_HINT}"
        );
    }
    let log_dir = tempfile::Builder::new()
        .prefix("vmdns-chromedriver-")
        .tempdir()
        .expect("a temp dir for chromedriver's log");
    for _ in 0..5 {
        let port = free_port();
        let log = std::fs::File::create(log_dir.path().join("chromedriver.log"))
            .expect("chromedriver log file");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e} ({INSTALL_HINT})"));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the chromedriver watchdog");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Driver {
                    port,
                    _child: child,
                    _watchdog: watchdog,
                    _log_dir: log_dir,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Another process took the port, or the driver died: kill what we started and try again.
        let mut child = child;
        let mut watchdog = watchdog;
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(format!("-{}", child.id()))
            .status();
        let _ = child.wait();
        let _ = watchdog.kill();
        let _ = watchdog.wait();
    }
    let log = std::fs::read_to_string(log_dir.path().join("chromedriver.log")).unwrap_or_default();
    panic!("chromedriver did not start; its log:\n{log}");
}

fn driver_port() -> u16 {
    let cell = DRIVER.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    guard.get_or_insert_with(start_driver).port
}

/// Where screenshots go: `target/ui-screenshots/` of the workspace.
pub(crate) fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp
        .parent()
        .map_or_else(|| tmp.join("ui-screenshots"), |t| t.join("ui-screenshots"));
    std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
    dir
}

/// One browser session on one app.
pub(crate) struct Browser {
    pub(crate) c: Client,
    base: String,
    secrets: Vec<String>,
    _profile: TempDir,
}

impl Browser {
    /// A fresh headless Chromium (new profile) pointed at `app`.
    pub(crate) async fn open(app: &TestApp) -> Browser {
        let port = driver_port();
        let profile = tempfile::Builder::new()
            .prefix("vmdns-chromium-")
            .tempdir()
            .expect("a temp profile dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--no-first-run".to_string(),
            "--disable-quic".to_string(),
            "--window-size=1440,900".to_string(),
            "--lang=en-US".to_string(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps: serde_json::Map<String, Value> = json!({
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        })
        .as_object()
        .cloned()
        .expect("an object");
        let c = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        Browser {
            c,
            base: format!("http://{}", app.addr),
            secrets: Vec::new(),
            _profile: profile,
        }
    }

    /// A secret no page may ever contain (checked on every page this browser lands on).
    pub(crate) fn forbid(&mut self, secret: &str) {
        self.secrets.push(secret.to_string());
    }

    /// Checks the current page's source against the secrets.
    pub(crate) async fn check_secrets(&self) {
        let source = self.c.source().await.expect("page source");
        for s in &self.secrets {
            assert!(
                !source.contains(s.as_str()),
                "a secret is in the page source of {}",
                self.path().await
            );
        }
    }

    pub(crate) async fn path(&self) -> String {
        let url = self.c.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub(crate) async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
        self.check_secrets().await;
    }

    pub(crate) async fn find(&self, css: &str) -> Element {
        match self
            .c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    pub(crate) async fn count(&self, css: &str) -> usize {
        self.c
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Replaces an input's value by typing.
    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.expect("clear input");
        if !value.is_empty() {
            e.send_keys(value).await.expect("type into input");
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks a submit button and waits for the next page, then checks it for secrets.
    pub(crate) async fn submit(&self, css: &str) {
        let before = self
            .c
            .find(Locator::Css("html"))
            .await
            .expect("the page's root");
        self.click(css).await;
        self.wait_gone(before).await;
        self.check_secrets().await;
    }

    /// Waits until `old` (an element of the previous page) is gone: the next page loaded.
    pub(crate) async fn wait_gone(&self, old: Element) {
        let deadline = Instant::now() + WAIT;
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "the page did not change");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // And the new one is there.
        self.find("body").await;
    }

    /// Waits until the text of `css` satisfies `ok`; answers that text.
    pub(crate) async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed what was expected; last text: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses one key (a character or a [`fantoccini::key::Key`]) wherever the focus is.
    pub(crate) async fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.c.perform_actions(keys).await.expect("press a key");
        self.c.release_actions().await.expect("release keys");
    }

    /// The id (or text) of the element that has the focus.
    pub(crate) async fn focused(&self) -> String {
        let e = self.c.active_element().await.expect("active element");
        match e.attr("id").await.ok().flatten().filter(|i| !i.is_empty()) {
            Some(id) => format!("#{id}"),
            None => e.text().await.unwrap_or_default(),
        }
    }

    /// Saves a screenshot as `target/ui-screenshots/NAME.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
            .expect("write the screenshot");
    }

    /// Logs in through the login page.
    pub(crate) async fn login(&self) {
        self.goto("/login").await;
        self.fill("#username", USER).await;
        self.fill("#password", PASSWORD).await;
        self.submit("button[type=submit]").await;
        assert_eq!(self.text(".who .user").await, USER);
    }

    pub(crate) async fn close(self) {
        let _ = self.c.close().await;
    }
}
