//! The leak test: zones with known secrets for all three providers (working ones and failing ones),
//! every route exercised (test connection, failing jobs, job events, the log), and none of the secrets
//! may appear in any answer, in the tracing output, in the module log, or in the raw SQLite files.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use vmdns::store::LogFilter;
use vmdns_providers::testing::cloudflare_fake::CloudflareFake;
use vmdns_providers::testing::hestia_fake::{self, HestiaFake};
use vmdns_providers::testing::pdns::PdnsServer;

use crate::helpers::{ROUTES, TestApp, spawn_app};

/// A tracing writer appending to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

/// Runs on a current-thread runtime with a thread-local subscriber, so that every event of the server,
/// the engine and the providers (all tasks of this runtime) lands in the capture, and no other test's.
#[test]
fn no_secret_leaks_anywhere() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace,vmdns_providers::testing=off"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single dispatcher registered, tracing asks the *current thread's* default whether a new
    // callsite is of interest, and caches the answer for every thread: a callsite first hit by another
    // test (no subscriber there) would stay silent here. A second dispatcher makes it ask every one.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(scenario(capture));
}

const WRONG_PDNS_KEY: &str = "LEAK-pdns-wrong-key-4f1c9";
const CLOSED_PDNS_KEY: &str = "LEAK-pdns-closed-key-77aa";
const REPLACED_PDNS_KEY: &str = "LEAK-pdns-replaced-key-9d0e";
const BAD_CF_TOKEN: &str = "LEAKcfBadToken0123456789abcdef";
const SPACED_CF_TOKEN: &str = "LEAK cf token with spaces";
const WRONG_HESTIA_SECRET: &str = "LEAK-hestia-wrong-secret-5b";
const WRONG_HESTIA_PASSWORD: &str = "LEAK-hestia-wrong-password-c3";
/// Sent in requests that are refused (the value itself is what is wrong with them).
const REFUSED_SECRET: &str = "LEAK-refused-ctl";

async fn scenario(capture: Capture) {
    let server = &PdnsServer::start().await;
    let cf = CloudflareFake::start().await;
    let hestia = HestiaFake::start().await.expect("the HestiaCP fake starts");
    let app = spawn_app().await;
    let cf_zone = cf.create_zone("leak.test", "acc1");
    let cf_rev = cf.create_zone("0.60.10.in-addr.arpa", "acc1");
    hestia
        .add_domain("alice", "leak.test")
        .expect("fake domain");
    server.create_zone(&crate::helpers::n("leak.test")).await;
    server
        .create_zone(&crate::helpers::n("0.60.10.in-addr.arpa"))
        .await;

    let secrets: Vec<String> = vec![
        server.api_key().to_string(),
        WRONG_PDNS_KEY.into(),
        CLOSED_PDNS_KEY.into(),
        REPLACED_PDNS_KEY.into(),
        cf_zone.token.clone(),
        cf_rev.token.clone(),
        BAD_CF_TOKEN.into(),
        SPACED_CF_TOKEN.into(),
        hestia_fake::SECRET_KEY.into(),
        hestia_fake::ADMIN_PASSWORD.into(),
        WRONG_HESTIA_SECRET.into(),
        WRONG_HESTIA_PASSWORD.into(),
        REFUSED_SECRET.into(),
    ];
    for s in &secrets {
        assert!(s.len() >= 16, "{s:?} is too short to search for safely");
    }

    // Zones: working and failing ones for every provider.
    let pdns = |key: &str, url: String| json!({"server_url": url, "api_key": key});
    let cf_settings = |zone_id: &str, token: &str| json!({"account_id": "acc1", "zone_id": zone_id, "api_token": token, "api_url": cf.url()});
    let mut hestia_wrong = hestia.access_key_settings("alice");
    hestia_wrong.insert("secret_key".into(), WRONG_HESTIA_SECRET.into());
    let mut hestia_wrong_pw = hestia.legacy_settings("alice");
    hestia_wrong_pw.insert("admin_password".into(), WRONG_HESTIA_PASSWORD.into());
    let zones: Vec<(&str, &str, Value)> = vec![
        (
            "leak.test",
            "powerdns",
            pdns(server.api_key(), server.api_url()),
        ),
        (
            "0.60.10.in-addr.arpa",
            "powerdns",
            pdns(server.api_key(), server.api_url()),
        ),
        (
            "leak.test",
            "powerdns",
            pdns(WRONG_PDNS_KEY, server.api_url()),
        ),
        (
            "leak.test",
            "powerdns",
            pdns(CLOSED_PDNS_KEY, "http://127.0.0.1:1".into()),
        ),
        (
            "leak.test",
            "cloudflare",
            cf_settings(&cf_zone.id, &cf_zone.token),
        ),
        (
            "0.60.10.in-addr.arpa",
            "cloudflare",
            cf_settings(&cf_rev.id, &cf_rev.token),
        ),
        (
            "leak.test",
            "cloudflare",
            cf_settings(&cf_zone.id, BAD_CF_TOKEN),
        ),
        (
            "leak.test",
            "cloudflare",
            cf_settings(&cf_zone.id, SPACED_CF_TOKEN),
        ),
        (
            "leak.test",
            "hestiacp",
            serde_json::to_value(hestia.access_key_settings("alice")).expect("json"),
        ),
        (
            "leak.test",
            "hestiacp",
            serde_json::to_value(hestia.legacy_settings("alice")).expect("json"),
        ),
        (
            "leak.test",
            "hestiacp",
            serde_json::to_value(&hestia_wrong).expect("json"),
        ),
        (
            "leak.test",
            "hestiacp",
            serde_json::to_value(&hestia_wrong_pw).expect("json"),
        ),
    ];
    let mut ids = Vec::new();
    for (name, provider, settings) in zones {
        ids.push(app.create_zone(name, provider, settings).await);
    }

    // Refused zones: the secret is what is wrong, and must not be echoed.
    for settings in [
        json!({"server_url": server.api_url(), "api_key": format!("{REFUSED_SECRET}\u{7}x")}),
        json!({"server_url": "ftp://x", "api_key": REFUSED_SECRET}),
        json!({"api_key": REFUSED_SECRET}),
        json!({"server_url": server.api_url(), "api_key": REFUSED_SECRET, "api_token": REFUSED_SECRET}),
    ] {
        app.post(
            "/zones",
            &json!({"name": "leak.test", "provider": "powerdns", "settings": settings}),
        )
        .await
        .expect_error(422);
    }

    // Read, test and update every zone; updates send back what was read (__KEEP__), one replaces a key.
    let mut red = 0;
    for id in &ids {
        let shown = app.get(&format!("/zones/{id}")).await.expect(200);
        let t = app
            .post(&format!("/zones/{id}/test"), &json!({}))
            .await
            .expect(200);
        if t["ok"] == false {
            red += 1;
        }
        app.put(
            &format!("/zones/{id}"),
            &json!({"name": shown["name"], "provider": shown["provider"], "settings": shown["settings"]}),
        )
        .await
        .expect(200);
        app.call(Method::PATCH, &format!("/zones/{id}"), Some(&json!({})))
            .await
            .expect(200);
    }
    assert_eq!(red, 6, "the failing zones fail their test");
    app.put(
        &format!("/zones/{}", ids[2]),
        &json!({"settings": {"server_url": server.api_url(), "api_key": REPLACED_PDNS_KEY}}),
    )
    .await
    .expect(200);
    app.get("/zones").await.expect(200);

    // Pools, services, every lifecycle job (with failing zones among the working ones).
    app.post(
        "/pools",
        &json!({"name": "leak", "first_ip": "10.60.0.2", "last_ip": "10.60.0.200", "prefix_len": 24}),
    )
    .await
    .expect(201);
    app.get("/pools").await.expect(200);
    app.get("/pools/1").await.expect(200);
    app.get("/rdns-zone?prefix=10.60.0.0/24").await.expect(200);
    let svc = app
        .create_service(
            "vm",
            "leak.test",
            &[
                ("10.60.0.5", None),
                ("2001:db8:60::5", Some("mail.leak.test")),
            ],
        )
        .await;
    let mut jobs = Vec::new();
    for action in ["deploy", "set-dns-records", "change-package", "terminate"] {
        app.get(&format!("/services/{svc}/plan")).await.expect(200);
        let job = app.run(svc, action).await;
        // Terminate has nothing to do in the zones that never worked.
        let want = if action == "terminate" {
            "done"
        } else {
            "done_with_errors"
        };
        assert_eq!(job["state"], want, "{action}: {job:#}");
        jobs.push(job["id"].as_i64().expect("id"));
        app.get(&format!("/services/{svc}/records"))
            .await
            .expect(200);
    }
    app.put(
        &format!("/services/{svc}"),
        &crate::helpers::service_body("vm", "leak.test", &[("10.60.0.6", None)]),
    )
    .await
    .expect(200);
    app.get("/services").await.expect(200);
    app.get(&format!("/services/{svc}")).await.expect(200);

    // Jobs, their events, the log, and every other route.
    app.get("/jobs").await.expect(200);
    app.get(&format!("/jobs?service={svc}&limit=100"))
        .await
        .expect(200);
    for id in &jobs {
        app.job(*id).await;
        events(&app, *id).await;
    }
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/log?limit=3&before={b}"),
            None => "/log?limit=3".to_string(),
        };
        let page = app.get(&path).await.expect(200);
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    for level in ["info", "warn", "error"] {
        app.get(&format!("/log?level={level}")).await.expect(200);
    }
    for id in &ids {
        app.get(&format!("/log?zone={id}")).await.expect(200);
    }
    for (method, template) in ROUTES {
        if *method == "GET" {
            let path = template.replace("{id}", "1");
            app.get(&path).await;
        }
    }
    for path in ["/dns.php", "/metrics", "/healthz"] {
        app.read(app.client.get(app.url(path)).send().await.expect("answer"))
            .await;
    }
    // And the deletes.
    app.delete("/pools/1").await.expect(204);
    app.delete(&format!("/services/{svc}?force=true"))
        .await
        .expect(204);
    for id in &ids {
        app.delete(&format!("/zones/{id}")).await.expect(204);
    }

    // Something was captured, and the failing paths ran.
    let logged = capture.text();
    for want in ["DNS operation failed", "job finished", "zone created"] {
        assert!(
            logged.contains(want),
            "the capture lacks {want:?}: {} bytes\n{}",
            logged.len(),
            &logged[..logged.len().min(3000)]
        );
    }
    let entries = app
        .app
        .store
        .read_log(&LogFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("module log");
    assert!(entries.iter().any(|e| e.level == "error"));
    let module_log = serde_json::to_string(&entries).expect("log as JSON");
    let answers = app
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(answers.iter().any(|a| a.contains("__KEEP__")));

    let mut places: Vec<(String, Vec<u8>)> = answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| (format!("answer #{i}"), a.into_bytes()))
        .collect();
    places.push(("tracing output".into(), logged.into_bytes()));
    places.push(("module log".into(), module_log.into_bytes()));
    places.extend(database_files(&app, "while open"));
    app.app.store.close().await;
    places.extend(database_files(&app, "after close"));

    for (place, bytes) in &places {
        for s in &secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "secret {s:?} found in {place}"
            );
        }
    }
}

/// Every file of the data dir but the master key: the database, its WAL and shared memory.
fn database_files(app: &TestApp, when: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == "master.key") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a data file");
        out.push((format!("{} ({when})", path.display()), bytes));
    }
    assert!(
        out.iter().any(|(p, _)| p.contains("vmdns.db ")),
        "the database file was not found: {:?}",
        out.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    out
}

async fn events(app: &TestApp, id: i64) {
    let resp = app
        .client
        .get(app.api(&format!("/jobs/{id}/events")))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("events");
    let reply = app.read(resp).await;
    assert!(reply.text.contains("event: end"), "{}", reply.text);
}
