//! The UI over plain HTTP, without a browser: every page and script endpoint needs a session, every POST
//! the session's CSRF token (and a same-origin browser), the cookies' flags, the lock-out after repeated
//! failed logins, the security headers.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE};
use serde_json::Value;
use vmdns::admin::{self, PoolBody, ServiceBody, ZoneBody};
use vmdns::store::{JobKind, LogLevel, NewLogEntry};

use crate::helpers::{
    HttpSession, PASSWORD, TestApp, USER, client, location, login, set_cookie, spawn_app,
    spawn_app_with, try_login,
};

/// Every page of the UI (GET).
const PAGES: &[&str] = &[
    "/",
    "/zones",
    "/zones/new",
    "/zones/1/edit",
    "/pools",
    "/pools/new",
    "/pools/1/edit",
    "/services",
    "/services/new",
    "/services/1",
    "/services/1/edit",
    "/services/1/plan",
    "/jobs/1",
    "/log",
];

/// The endpoints the pages' scripts call (GET).
const SCRIPT_GETS: &[&str] = &["/ui/rdns-zone?prefix=192.0.2.0/24", "/ui/jobs/1/events"];

/// Every state-changing route, with a form that would work given the CSRF token.
const POSTS: &[(&str, &[(&str, &str)])] = &[
    ("/logout", &[]),
    (
        "/zones",
        &[
            ("name", "example.net"),
            ("provider", "powerdns"),
            ("powerdns.server_url", "http://127.0.0.1:1"),
            ("powerdns.api_key", "k"),
        ],
    ),
    (
        "/zones/1",
        &[
            ("name", "example.org"),
            ("provider", "powerdns"),
            ("powerdns.server_url", "http://127.0.0.1:2"),
        ],
    ),
    ("/ui/zones/1/test", &[]),
    ("/zones/1/delete", &[]),
    (
        "/pools",
        &[
            ("name", "p2"),
            ("first_ip", "198.51.100.1"),
            ("last_ip", "198.51.100.9"),
            ("prefix_len", "24"),
        ],
    ),
    (
        "/pools/1",
        &[
            ("name", "renamed"),
            ("first_ip", "192.0.2.1"),
            ("last_ip", "192.0.2.9"),
            ("prefix_len", "24"),
        ],
    ),
    ("/pools/1/delete", &[]),
    (
        "/services",
        &[
            ("name", "vm2"),
            ("domain", "example.com"),
            ("addresses", "192.0.2.20"),
        ],
    ),
    (
        "/services/1",
        &[("name", "renamed"), ("domain", "example.com")],
    ),
    ("/services/1/jobs", &[("action", "set-dns-records")]),
    ("/services/1/delete", &[("force", "1")]),
];

/// One zone, pool, service and job, each with id 1.
async fn seed(app: &TestApp) {
    let settings: BTreeMap<String, Value> = [
        ("server_url", "http://127.0.0.1:1"),
        ("api_key", "zz-secret-zz"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
    .collect();
    admin::create_zone(
        &app.app,
        ZoneBody {
            name: Some("example.com".into()),
            provider: Some("powerdns".into()),
            settings: Some(settings),
        },
    )
    .await
    .expect("zone");
    let pool: PoolBody = serde_json::from_value(serde_json::json!({
        "name": "p1", "first_ip": "192.0.2.1", "last_ip": "192.0.2.9", "prefix_len": 24
    }))
    .expect("pool body");
    admin::create_pool(&app.app, &pool).await.expect("pool");
    let service: ServiceBody = serde_json::from_value(serde_json::json!({
        "name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.10"}]
    }))
    .expect("service body");
    admin::create_service(&app.app, &service)
        .await
        .expect("service");
    vmdns::engine::enqueue(&app.app, 1, JobKind::SetDnsRecords)
        .await
        .expect("job");
}

/// How many of each thing there are: a refused request changes none of it.
async fn census(app: &TestApp) -> (usize, usize, usize, usize, String) {
    let s = &app.app.store;
    (
        s.list_zones().await.expect("zones").len(),
        s.list_pools().await.expect("pools").len(),
        s.list_services().await.expect("services").len(),
        s.list_jobs(None, 100).await.expect("jobs").len(),
        format!("{:?}", s.get_zone(1).await.expect("zone 1")),
    )
}

#[tokio::test]
async fn every_page_needs_a_session() {
    let app = spawn_app().await;
    seed(&app).await;
    let c = client();
    for page in PAGES {
        let res = c.get(app.url(page)).send().await.expect("GET");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        let to = location(&res);
        let want = if *page == "/" {
            "/login".to_string()
        } else {
            format!("/login?next={page}")
        };
        assert_eq!(to, want, "{page}");
    }
    for path in SCRIPT_GETS {
        let res = c.get(app.url(path)).send().await.expect("GET");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    for (path, form) in POSTS {
        let res = c.post(app.url(path)).form(form).send().await.expect("POST");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A forged or stale session cookie is no better.
    let res = c
        .get(app.url("/zones"))
        .header(COOKIE, "vmdns_session=0123456789abcdef")
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The login page and the assets need none.
    for path in [
        "/login",
        "/assets/app.css",
        "/assets/app.js",
        "/assets/icon.svg",
        "/favicon.ico",
    ] {
        let res = c.get(app.url(path)).send().await.expect("GET");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(
        c.get(app.url("/assets/../Cargo.toml"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::NOT_FOUND
    );
    // The API keeps its own authentication.
    let res = c.get(app.url("/api/v1/zones")).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // And with a session every page is there.
    let s = login(&app).await;
    for page in PAGES {
        let res = s.get(&app, page).await;
        let status = res.status();
        let want = if *page == "/" {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::OK
        };
        assert_eq!(
            status,
            want,
            "{page}: {}",
            res.text().await.unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn every_post_needs_the_csrf_token() {
    let app = spawn_app().await;
    seed(&app).await;
    let s = login(&app).await;
    let before = census(&app).await;
    for (path, form) in POSTS {
        // No token.
        let res = s.post(&app, path, form, false).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        // Another session's token.
        let mut forged: Vec<(&str, &str)> = form.to_vec();
        forged.push((
            "_csrf",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ));
        let res = s.post(&app, path, &forged, false).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
        // The right token, from another site.
        let mut good: Vec<(&str, &str)> = form.to_vec();
        good.push(("_csrf", s.csrf.as_str()));
        let res = s
            .client
            .post(app.url(path))
            .header(COOKIE, s.cookie_header())
            .header("Origin", "http://evil.example")
            .form(&good)
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} cross-site");
        // The right token in a JSON body is not a form.
        let res = s
            .client
            .post(app.url(path))
            .header(COOKIE, s.cookie_header())
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::json!({"_csrf": s.csrf}).to_string())
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} as JSON");
    }
    assert_eq!(census(&app).await, before, "nothing changed");
    // With the token the same requests work (logout last).
    for (path, form) in POSTS.iter().skip(1) {
        let res = s.post(&app, path, form, true).await;
        let status = res.status();
        assert!(
            status == StatusCode::SEE_OTHER || status == StatusCode::OK,
            "{path}: {status} {}",
            res.text().await.unwrap_or_default()
        );
    }
    let zone = app.app.store.get_zone(2).await.expect("zone 2 added");
    assert_eq!(zone.name.as_str(), "example.net");
    let res = s.post(&app, "/logout", &[], true).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    // The session is over.
    let res = s.get(&app, "/zones").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

fn check_flags(cookie: &str, secure: bool) {
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");
}

async fn login_cookie(app: &TestApp, forwarded_https: bool, secure: bool) -> String {
    let c = client();
    let mut req = c.get(app.url("/login"));
    if forwarded_https {
        req = req.header("X-Forwarded-Proto", "https");
    }
    let page = req.send().await.expect("GET /login");
    let form_cookie = set_cookie(page.headers(), "vmdns_login")
        .expect("form cookie")
        .to_string();
    check_flags(&form_cookie, secure);
    let value = form_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let csrf = crate::helpers::csrf_of(&page.text().await.expect("page"));
    let mut req = c
        .post(app.url("/login"))
        .header(COOKIE, format!("vmdns_login={value}"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", USER),
            ("password", PASSWORD),
        ]);
    if forwarded_https {
        req = req.header("X-Forwarded-Proto", "https");
    }
    let res = req.send().await.expect("POST /login");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    set_cookie(res.headers(), "vmdns_session")
        .expect("session cookie")
        .to_string()
}

#[tokio::test]
async fn session_cookie_flags() {
    // Plain HTTP: no Secure flag (the browser would drop the cookie).
    let app = spawn_app().await;
    let cookie = login_cookie(&app, false, false).await;
    check_flags(&cookie, false);
    // X-Forwarded-Proto from an untrusted client changes nothing.
    let cookie = login_cookie(&app, true, false).await;
    check_flags(&cookie, false);
    // Behind a trusted TLS proxy: Secure.
    let app =
        spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")]).await;
    let cookie = login_cookie(&app, true, true).await;
    check_flags(&cookie, true);
}

#[tokio::test]
async fn login_form_needs_its_own_token() {
    let app = spawn_app().await;
    let res = client()
        .post(app.url("/login"))
        .form(&[("username", USER), ("password", PASSWORD), ("_csrf", "x")])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(res.headers(), "vmdns_session").is_none());
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_account() {
    let app = spawn_app().await;
    for i in 1..=4 {
        let res = try_login(&app, USER, "wrong password")
            .await
            .err()
            .expect("refused");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = try_login(&app, USER, "wrong password")
        .await
        .err()
        .expect("refused");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text()
            .await
            .expect("page")
            .contains("Too many failed logins")
    );
    // Even the right password waits for the lock-out to end.
    let res = try_login(&app, USER, PASSWORD)
        .await
        .err()
        .expect("still locked");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Unknown users get the same answer as wrong passwords.
    let res = try_login(&app, "nobody", "whatever1")
        .await
        .err()
        .expect("refused");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_carry_security_headers_and_script_endpoints_answer_json() {
    let app = spawn_app().await;
    seed(&app).await;
    let s: HttpSession = login(&app).await;
    let res = s.get(&app, "/zones").await;
    let csp = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(
        res.headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    let html = res.text().await.expect("html");
    assert!(!html.contains("zz-secret-zz"));

    let hint: Value = s
        .get(&app, "/ui/rdns-zone?prefix=192.168.130.2/24")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(hint["lines"][0], "130.168.192.in-addr.arpa");
    let res = s.get(&app, "/ui/rdns-zone?prefix=192.168.130.2/33").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["field"], "prefix");

    let res = s.post(&app, "/ui/zones/1/test", &[], true).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["ok"], false, "nothing listens on port 1");
    assert!(!body["message"].as_str().unwrap_or_default().is_empty());
    assert!(!body.to_string().contains("zz-secret-zz"));
}

#[tokio::test]
async fn module_log_pages_and_filters() {
    let app = spawn_app().await;
    seed(&app).await;
    for i in 0..60 {
        app.app
            .store
            .log(NewLogEntry {
                level: Some(if i % 2 == 0 {
                    LogLevel::Error
                } else {
                    LogLevel::Info
                }),
                message: format!("entry {i}"),
                service_id: Some(1),
                zone_id: Some(1),
                zone_name: Some("example.com".into()),
                detail: Some(format!("<b>detail {i}</b>")),
                ..NewLogEntry::default()
            })
            .await
            .expect("log");
    }
    let s = login(&app).await;
    let html = s.get(&app, "/log").await.text().await.expect("html");
    assert!(html.contains("entry 59"));
    assert!(!html.contains("entry 9<"), "only the newest 50 on page 1");
    assert!(
        html.contains("&#60;b&#62;detail 59&#60;/b&#62;"),
        "context, escaped"
    );
    let next = html
        .split("href=\"/log?")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .replace("&#38;", "&");
    let older = s
        .get(&app, &format!("/log?{next}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(older.contains("entry 9<") && older.contains("entry 0<"));
    assert!(!older.contains("entry 10<"));
    let errors = s
        .get(&app, "/log?level=error&service=1")
        .await
        .text()
        .await
        .expect("html");
    assert!(errors.contains("entry 58") && !errors.contains("entry 59"));
}

#[tokio::test]
async fn cli_user_add_then_login() {
    let app = spawn_app().await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vmdns"))
            .arg("--data-dir")
            .arg(app.data_dir())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run vmdns");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write the password");
        child.wait_with_output().expect("vmdns output")
    };
    let out = run(
        &["user", "add", "operator", "--password-stdin"],
        "s3cret pass\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Too short, taken, or no terminal to prompt on: exit 2 (bad input) or 1.
    let out = run(&["user", "add", "other", "--password-stdin"], "short\n");
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &["user", "add", "operator", "--password-stdin"],
        "another pass\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = run(&["user", "add", "third"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    // Only a hash is stored.
    for entry in std::fs::read_dir(app.data_dir()).expect("data dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(!bytes.windows(11).any(|w| w == b"s3cret pass"));
    }

    assert!(try_login(&app, "operator", "s3cret pass").await.is_ok());
    assert!(try_login(&app, "operator", "another pass").await.is_err());
}
