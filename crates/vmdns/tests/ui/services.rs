//! Services in the browser, against a real PowerDNS: add a service, preview its plan, "Set DNS records"
//! with the `fwd OK` / `rev OK` lines arriving live (the worker starts only once the log page is open),
//! the status matrix, the module log, terminate with confirmation.

use std::collections::BTreeMap;

use serde_json::Value;
use vmdns::admin::{self, ZoneBody};
use vmdns_providers::testing::pdns::PdnsServer;

use crate::browser::Browser;
use crate::helpers::{n, spawn_app_with};

fn powerdns(name: &str, url: &str, key: &str) -> ZoneBody {
    let settings: BTreeMap<String, Value> = [
        ("server_url".to_string(), Value::String(url.to_string())),
        ("api_key".to_string(), Value::String(key.to_string())),
    ]
    .into_iter()
    .collect();
    ZoneBody {
        name: Some(name.to_string()),
        provider: Some("powerdns".to_string()),
        settings: Some(settings),
    }
}

#[tokio::test]
async fn set_dns_records_shows_its_output_live() {
    let pdns = PdnsServer::start().await;
    pdns.create_zone(&n("example.com")).await;
    pdns.create_zone(&n("2.0.192.in-addr.arpa")).await;
    // No automatic retry of the wrong-key zone's error: the jobs of this test are the ones it starts.
    let mut app = spawn_app_with(|c| c.worker.max_retries = 0).await;
    for (name, key) in [
        ("example.com", pdns.api_key()),
        ("2.0.192.in-addr.arpa", pdns.api_key()),
        // The same forward zone once more, with a wrong key: its errors go to the log, the rest goes on.
        ("example.com", "wrong-key"),
    ] {
        admin::create_zone(&app.app, powerdns(name, &pdns.api_url(), key))
            .await
            .expect("create zone");
    }
    let mut b = Browser::open(&app).await;
    b.forbid(pdns.api_key());
    b.login().await;

    b.goto("/services").await;
    b.find(".empty").await;
    b.submit("a.btn-primary").await;
    b.fill("#name", "vm1").await;
    b.fill("#domain", "example.com").await;
    b.fill("#addresses", "192.0.2.10\n192.0.2.300").await;
    b.submit("main form button[type=submit]").await;
    assert!(b.text("#addresses-error").await.starts_with("line 2:"));
    b.screenshot("service-new-invalid").await;
    b.fill("#addresses", "192.0.2.10").await;
    b.submit("main form button[type=submit]").await;
    assert_eq!(b.path().await, "/services/1");
    b.screenshot("service-new-saved").await;
    assert_eq!(
        b.count("#status-matrix .state-same").await,
        3,
        "nothing written yet"
    );

    // Preview: the plan, nothing changed.
    b.submit("#cmd-preview").await;
    assert_eq!(b.path().await, "/services/1/plan");
    let plan = b.text("main").await;
    assert!(plan.contains("vm1.example.com A"), "{plan}");
    assert!(plan.contains("10.2.0.192.in-addr.arpa PTR"), "{plan}");
    assert_eq!(
        b.count(".error-box").await,
        1,
        "the wrong-key zone says why"
    );
    b.screenshot("service-preview").await;

    // Set DNS records: the log page opens while the job waits for a worker...
    b.goto("/services/1").await;
    b.submit("#cmd-set-dns").await;
    assert_eq!(b.path().await, "/jobs/1");
    assert_eq!(b.text("#job-state").await, "queued");
    assert_eq!(b.count("#job-output .line").await, 0);
    b.screenshot("job-queued").await;

    // ...and the lines arrive live once one runs.
    app.start_worker();
    let out = b
        .wait_text("#job-output", |t| {
            t.contains("fwd OK") && t.contains("rev OK")
        })
        .await;
    assert!(out.contains("fwd OK") && out.contains("rev OK"));
    b.find("#job-output[data-finished]").await;
    let out = b.text("#job-output").await;
    assert!(out.contains("fwd ERR"), "the wrong-key zone's error: {out}");
    assert!(out.contains("summary:"), "{out}");
    assert_eq!(b.text("#job-state").await, "done_with_errors");
    assert!(b.count("#job-output .line.ok").await >= 2);
    assert_eq!(b.count("#job-output .line.err").await, 1);
    b.screenshot("job").await;

    // A finished job's page shows its output without following it.
    b.goto("/jobs/1").await;
    assert_eq!(b.count("#job-output[data-events]").await, 0);
    assert!(b.text("#job-output").await.contains("rev OK"));

    // The status matrix: record × zone.
    b.goto("/services/1").await;
    assert_eq!(b.count("#status-matrix .state-ok").await, 2);
    assert_eq!(b.count("#status-matrix .state-err").await, 1);
    assert!(!b.text("#status-matrix .cell-error").await.is_empty());
    b.screenshot("service").await;

    // Deleting a service that still owns records is refused, with the reason on its page.
    let root = b.find("html").await;
    b.click(".danger-zone button[type=submit]").await;
    b.c.accept_alert().await.expect("accept");
    b.wait_gone(root).await;
    assert!(b.text(".error-box").await.contains("terminate it first"));
    assert_eq!(b.count("#status-matrix").await, 1);

    b.goto("/services/1/edit").await;
    assert_eq!(
        b.find("#addresses")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("192.0.2.10")
    );
    b.screenshot("service-edit").await;

    b.goto("/services").await;
    assert!(b.text("#service-1").await.contains("set dns records #1"));
    assert_eq!(b.text("#service-1 .state").await, "done_with_errors");
    b.screenshot("services").await;

    // The module log: filter by level and zone, each entry's context.
    b.goto("/log").await;
    assert!(b.count("#log tbody tr").await >= 1);
    b.find("#f-level")
        .await
        .select_by_value("error")
        .await
        .expect("level");
    b.find("#f-zone")
        .await
        .select_by_value("3")
        .await
        .expect("zone");
    b.submit(".filters button[type=submit]").await;
    assert_eq!(b.path().await, "/log?service=&zone=3&level=error");
    let rows = b.count("#log tbody tr").await;
    assert!(rows >= 1, "errors of zone 3");
    b.click("#log tbody tr details summary").await;
    let context = b.text("#log tbody tr details dl").await;
    assert!(context.contains("Provider"), "{context}");
    b.screenshot("log").await;
    b.find("#f-zone")
        .await
        .select_by_value("1")
        .await
        .expect("zone");
    b.submit(".filters button[type=submit]").await;
    assert_eq!(b.count("#log tbody tr").await, 0, "zone 1 had no errors");

    // Terminate asks first, then deletes the records.
    b.goto("/services/1").await;
    let root = b.find("html").await;
    b.click("#cmd-terminate").await;
    assert!(
        b.c.get_alert_text()
            .await
            .expect("confirm")
            .contains("vm1.example.com")
    );
    b.c.accept_alert().await.expect("accept");
    b.wait_gone(root).await;
    assert_eq!(b.path().await, "/jobs/2", "no retry job in between");
    let out = b.wait_text("#job-output", |t| t.contains("summary:")).await;
    assert!(out.contains("fwd OK   delete"), "{out}");
    assert!(out.contains("rev OK   delete"), "{out}");
    b.screenshot("job-terminate").await;

    // What does not exist is a plain 404 page.
    b.goto("/services/99").await;
    assert_eq!(b.text("h1").await, "404 Not Found");
    b.screenshot("not-found").await;
    b.check_secrets().await;
    b.close().await;
}
