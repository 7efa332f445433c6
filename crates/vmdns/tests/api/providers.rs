//! Several providers at once: the real PowerDNS and the Cloudflare and HestiaCP fakes, each holding a
//! zone of the same name (every matching zone gets the records); one provider down while the others
//! succeed, the failure logged with its context, and the automatic retry once it is back.

use std::time::Duration;

use serde_json::{Value, json};
use vmdns_core::RecordType;
use vmdns_providers::testing::cloudflare_fake::CloudflareFake;
use vmdns_providers::testing::hestia_fake::{self, HestiaFake};
use vmdns_providers::testing::pdns::PdnsServer;

use crate::helpers::{
    TestApp, assert_output_shape, dig, dig_ptr, lines, service_body, set, spawn_app,
    spawn_app_with, wait_until,
};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const USER: &str = "alice";

/// A Cloudflare zone on the fake and the matching vmdns zone; returns `(cloudflare id, vmdns id)`.
async fn cloudflare_zone(app: &TestApp, cf: &CloudflareFake, name: &str) -> (String, i64) {
    let z = cf.create_zone(name, ACCOUNT);
    let id = app
        .create_zone(
            name,
            "cloudflare",
            json!({"account_id": ACCOUNT, "zone_id": z.id, "api_token": z.token, "api_url": cf.url()}),
        )
        .await;
    (z.id, id)
}

/// A HestiaCP domain on the fake (from its default template) and the matching vmdns zone.
async fn hestia_zone(app: &TestApp, h: &HestiaFake, name: &str) -> i64 {
    h.add_domain(USER, name).expect("the fake takes the domain");
    let settings = serde_json::to_value(h.access_key_settings(USER)).expect("settings as JSON");
    app.create_zone(name, "hestiacp", settings).await
}

/// The values HestiaCP holds at `record` (relative to the domain) of `rtype`, duplicates included.
fn hestia_values(h: &HestiaFake, domain: &str, record: &str, rtype: &str) -> Vec<String> {
    h.records(USER, domain)
        .into_iter()
        .filter(|r| r.record == record && r.rtype == rtype)
        .map(|r| r.value)
        .collect()
}

#[tokio::test]
async fn every_matching_zone_of_every_provider_gets_the_records() {
    let server = &PdnsServer::start().await;
    let cf = CloudflareFake::start().await;
    let hestia = HestiaFake::start().await.expect("the HestiaCP fake starts");
    let app = spawn_app().await;

    app.pdns_zone(server, "multi.test").await;
    let (cf_fwd, _) = cloudflare_zone(&app, &cf, "multi.test").await;
    hestia_zone(&app, &hestia, "multi.test").await;
    app.pdns_zone(server, "0.54.10.in-addr.arpa").await;
    let (cf_rev, _) = cloudflare_zone(&app, &cf, "0.54.10.in-addr.arpa").await;
    hestia_zone(&app, &hestia, "0.54.10.in-addr.arpa").await;

    let svc = app
        .create_service(
            "vm",
            "multi.test",
            &[("10.54.0.5", None), ("2001:db8:54::5", None)],
        )
        .await;
    let job = app.run(svc, "deploy").await;
    assert_eq!(job["state"], "done", "{job:#}");
    assert_output_shape(&job);
    let out = lines(&job);
    for provider in ["powerdns", "cloudflare", "hestiacp"] {
        let fwd = out
            .iter()
            .filter(|l| {
                l.starts_with("fwd OK   create") && l.contains(&format!("({provider} zone #"))
            })
            .count();
        let rev = out
            .iter()
            .filter(|l| {
                l.starts_with("rev OK   create") && l.contains(&format!("({provider} zone #"))
            })
            .count();
        assert_eq!((fwd, rev), (2, 1), "{provider}: {out:#?}");
    }
    assert_eq!(
        out.last().map(String::as_str),
        Some("summary: 9 ok (0 unchanged), 0 errors in 6 zones")
    );

    // PowerDNS, over DNS.
    assert_eq!(
        dig(server, "vm.multi.test", RecordType::A).await,
        set(&["10.54.0.5"])
    );
    assert_eq!(
        dig(server, "vm.multi.test", RecordType::Aaaa).await,
        set(&["2001:db8:54::5"])
    );
    assert_eq!(dig_ptr(server, "10.54.0.5").await, set(&["vm.multi.test"]));
    // Cloudflare.
    assert_eq!(
        cf.contents(&cf_fwd, "vm.multi.test", RecordType::A),
        set(&["10.54.0.5"])
    );
    assert_eq!(
        cf.contents(&cf_fwd, "vm.multi.test", RecordType::Aaaa),
        set(&["2001:db8:54::5"])
    );
    assert_eq!(
        cf.contents(&cf_rev, "5.0.54.10.in-addr.arpa", RecordType::Ptr),
        set(&["vm.multi.test"])
    );
    // HestiaCP (names relative to the domain, host names with a dot).
    assert_eq!(
        hestia_values(&hestia, "multi.test", "vm", "A"),
        vec!["10.54.0.5"]
    );
    assert_eq!(
        hestia_values(&hestia, "multi.test", "vm", "AAAA"),
        vec!["2001:db8:54::5"]
    );
    assert_eq!(
        hestia_values(&hestia, "0.54.10.in-addr.arpa", "5", "PTR"),
        vec!["vm.multi.test."]
    );

    // Running again changes nothing anywhere, and duplicates nothing (HestiaCP never deduplicates).
    let restarts = hestia.restarts();
    let cf_requests = cf.requests();
    for _ in 0..2 {
        let job = app.run(svc, "set-dns-records").await;
        assert_eq!(job["state"], "done");
        assert_eq!(
            lines(&job).last().map(String::as_str),
            Some("summary: 9 ok (9 unchanged), 0 errors in 6 zones")
        );
    }
    assert_eq!(hestia.restarts(), restarts, "no write, no DNS restart");
    assert_eq!(hestia_values(&hestia, "multi.test", "vm", "A").len(), 1);
    assert!(
        cf.request_log()[cf_requests..]
            .iter()
            .all(|r| r.method == "GET"),
        "{:#?}",
        &cf.request_log()[cf_requests..]
    );

    // A new address: every provider follows, the old PTR goes everywhere.
    app.put(
        &format!("/services/{svc}"),
        &service_body("vm", "multi.test", &[("10.54.0.6", None)]),
    )
    .await
    .expect(200);
    let job = app.run(svc, "change-package").await;
    assert_eq!(job["state"], "done", "{job:#}");
    assert_eq!(
        dig(server, "vm.multi.test", RecordType::A).await,
        set(&["10.54.0.6"])
    );
    assert!(
        dig(server, "vm.multi.test", RecordType::Aaaa)
            .await
            .is_empty()
    );
    assert!(dig_ptr(server, "10.54.0.5").await.is_empty());
    assert_eq!(dig_ptr(server, "10.54.0.6").await, set(&["vm.multi.test"]));
    assert_eq!(
        cf.contents(&cf_fwd, "vm.multi.test", RecordType::A),
        set(&["10.54.0.6"])
    );
    assert!(
        cf.contents(&cf_fwd, "vm.multi.test", RecordType::Aaaa)
            .is_empty()
    );
    assert!(
        cf.contents(&cf_rev, "5.0.54.10.in-addr.arpa", RecordType::Ptr)
            .is_empty()
    );
    assert_eq!(
        cf.contents(&cf_rev, "6.0.54.10.in-addr.arpa", RecordType::Ptr),
        set(&["vm.multi.test"])
    );
    assert_eq!(
        hestia_values(&hestia, "multi.test", "vm", "A"),
        vec!["10.54.0.6"]
    );
    assert!(hestia_values(&hestia, "multi.test", "vm", "AAAA").is_empty());
    assert!(hestia_values(&hestia, "0.54.10.in-addr.arpa", "5", "PTR").is_empty());
    assert_eq!(
        hestia_values(&hestia, "0.54.10.in-addr.arpa", "6", "PTR"),
        vec!["vm.multi.test."]
    );

    // Terminate: gone everywhere; what the HestiaCP template made stays.
    let job = app.run(svc, "terminate").await;
    assert_eq!(job["state"], "done", "{job:#}");
    assert!(dig(server, "vm.multi.test", RecordType::A).await.is_empty());
    assert!(dig_ptr(server, "10.54.0.6").await.is_empty());
    assert!(
        cf.contents(&cf_fwd, "vm.multi.test", RecordType::A)
            .is_empty()
    );
    assert!(
        cf.contents(&cf_rev, "6.0.54.10.in-addr.arpa", RecordType::Ptr)
            .is_empty()
    );
    assert!(hestia_values(&hestia, "multi.test", "vm", "A").is_empty());
    assert!(hestia_values(&hestia, "0.54.10.in-addr.arpa", "6", "PTR").is_empty());
    assert_eq!(
        hestia_values(&hestia, "multi.test", "@", "A"),
        vec![hestia_fake::TEMPLATE_IP]
    );
    assert_eq!(hestia_values(&hestia, "multi.test", "@", "NS").len(), 2);
}

#[tokio::test]
async fn one_provider_down_does_not_block_the_others_and_is_retried() {
    let server = &PdnsServer::start().await;
    let cf = CloudflareFake::start().await;
    let hestia = HestiaFake::start().await.expect("the HestiaCP fake starts");
    let retry_in = Duration::from_millis(1500);
    let app = spawn_app_with(|c| c.worker.retry_base = retry_in).await;

    let pdns_zone = app.pdns_zone(server, "down.test").await;
    let (cf_zone, cf_vmdns_zone) = cloudflare_zone(&app, &cf, "down.test").await;
    let hestia_zone_id = hestia_zone(&app, &hestia, "down.test").await;
    // A second PowerDNS zone of the same name whose server is not there (a closed port).
    let closed = app
        .create_zone(
            "down.test",
            "powerdns",
            json!({"server_url": "http://127.0.0.1:1", "api_key": server.api_key()}),
        )
        .await;
    // HestiaCP answers 502 (php-fpm down) until told otherwise.
    hestia.inject_after(0, hestia_fake::Fault::ServerError, usize::MAX);

    let svc = app
        .create_service("vm", "down.test", &[("10.55.0.5", None)])
        .await;
    let job = app.run(svc, "deploy").await;
    let job_id = job["id"].as_i64().expect("id");
    assert_eq!(job["state"], "done_with_errors", "{job:#}");
    assert_output_shape(&job);
    let out = lines(&job);
    let ok_in = |zone: i64| {
        out.iter().any(|l| {
            l.starts_with("fwd OK   create vm.down.test A 10.55.0.5")
                && l.ends_with(&format!("zone #{zone})"))
        })
    };
    assert!(ok_in(pdns_zone), "{out:#?}");
    assert!(ok_in(cf_vmdns_zone), "{out:#?}");
    let err_in = |zone: i64| {
        out.iter()
            .find(|l| {
                l.starts_with("fwd ERR  vm.down.test A 10.55.0.5")
                    && l.contains(&format!("zone #{zone}):"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no ERR line for zone {zone}: {out:#?}"))
    };
    let hestia_err = err_in(hestia_zone_id);
    assert!(hestia_err.contains("(hestiacp zone #"), "{hestia_err}");
    assert!(
        hestia_err.contains("502"),
        "the provider's words: {hestia_err}"
    );
    let closed_err = err_in(closed);
    assert!(closed_err.contains("unavailable"), "{closed_err}");
    assert_eq!(
        out[out.len() - 2],
        "retry 1 of 5 queued as job 2 in 1s",
        "{out:#?}"
    );
    assert_eq!(
        out.last().map(String::as_str),
        Some("summary: 2 ok (0 unchanged), 2 errors in 4 zones")
    );

    // The others did their work.
    assert_eq!(
        dig(server, "vm.down.test", RecordType::A).await,
        set(&["10.55.0.5"])
    );
    assert_eq!(
        cf.contents(&cf_zone, "vm.down.test", RecordType::A),
        set(&["10.55.0.5"])
    );
    assert!(hestia_values(&hestia, "down.test", "vm", "A").is_empty());

    // The module log has each failure with its context, and a summary entry.
    let log = app
        .get(&format!("/log?service={svc}&zone={hestia_zone_id}"))
        .await
        .expect(200);
    let entries = log["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{log:#}");
    let e = &entries[0];
    assert_eq!(e["level"], "error");
    assert_eq!(e["job_id"], job_id);
    assert_eq!(e["service_id"], svc);
    assert_eq!(e["zone_id"], hestia_zone_id);
    assert_eq!(e["zone_name"], "down.test");
    assert_eq!(e["provider"], "hestiacp");
    assert_eq!(e["operation"], "read");
    assert_eq!(e["record"], "1 record(s)");
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("502") && d.contains("transient")),
        "{e:#}"
    );
    assert!(e["time"].is_string());
    let closed_log = app
        .get(&format!("/log?zone={closed}&level=error"))
        .await
        .expect(200);
    assert_eq!(closed_log["entries"][0]["provider"], "powerdns");
    let warn = app
        .get(&format!("/log?service={svc}&level=warn"))
        .await
        .expect(200);
    assert!(
        warn["entries"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("job {job_id}")) && m.contains("2 error(s)")),
        "{warn:#}"
    );
    assert_eq!(
        app.get(&format!("/log?zone={pdns_zone}")).await.expect(200)["entries"],
        json!([]),
        "nothing went wrong in the PowerDNS zone"
    );
    // Paging: one entry per page, newest first, until there are no more.
    let mut seen = Vec::new();
    let mut path = format!("/log?service={svc}&limit=1");
    loop {
        let page = app.get(&path).await.expect(200);
        seen.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["next_before"].as_i64() {
            Some(b) => path = format!("/log?service={svc}&limit=1&before={b}"),
            None => break,
        }
        assert!(seen.len() < 10, "paging does not end");
    }
    let ids: Vec<i64> = seen.iter().filter_map(|e| e["id"].as_i64()).collect();
    assert_eq!(ids.len(), 3, "{seen:#?}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    // The status matrix marks the failed records.
    let records = app
        .get(&format!("/services/{svc}/records"))
        .await
        .expect(200);
    let failed: Vec<&Value> = records["status"]
        .as_array()
        .expect("status")
        .iter()
        .filter(|s| s["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 2, "{records:#}");

    // A retry is queued, later.
    let jobs = app.get(&format!("/jobs?service={svc}")).await.expect(200);
    let retry = &jobs[0];
    assert_eq!(retry["state"], "queued", "{jobs:#}");
    assert_eq!(retry["retry_number"], 1);
    assert_eq!(retry["kind"], "deploy");
    let retry_id = retry["id"].as_i64().expect("id");

    // The providers come back: HestiaCP recovers, the operator fixes the URL (keeping the key).
    hestia.clear_faults();
    app.put(
        &format!("/zones/{closed}"),
        &json!({"settings": {"server_url": server.api_url(), "api_key": "__KEEP__"}}),
    )
    .await
    .expect(200);
    wait_until(Duration::from_secs(15), "the retry to run", || async {
        app.drain().await;
        app.job(retry_id).await["state"] != "queued"
    })
    .await;
    let retried = app.job(retry_id).await;
    assert_eq!(retried["state"], "done", "{retried:#}");
    assert_output_shape(&retried);
    let out = lines(&retried);
    assert!(out[0].contains("automatic retry 1"), "{out:#?}");
    assert_eq!(
        out.last().map(String::as_str),
        Some("summary: 4 ok (3 unchanged), 0 errors in 4 zones")
    );
    assert_eq!(
        hestia_values(&hestia, "down.test", "vm", "A"),
        vec!["10.55.0.5"]
    );
    let records = app
        .get(&format!("/services/{svc}/records"))
        .await
        .expect(200);
    assert!(
        records["status"]
            .as_array()
            .expect("status")
            .iter()
            .all(|s| s["ok"] == true),
        "{records:#}"
    );
    // Nothing else is queued.
    let jobs = app.get(&format!("/jobs?service={svc}")).await.expect(200);
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "{jobs:#}");
    let metrics = app
        .read(
            app.client
                .get(app.url("/metrics"))
                .send()
                .await
                .expect("metrics"),
        )
        .await;
    assert!(
        !metrics
            .text
            .contains("vmdns_provider_errors_total{provider=\"hestiacp\"} 0"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn a_new_job_supersedes_a_queued_retry() {
    let hestia = HestiaFake::start().await.expect("the HestiaCP fake starts");
    let app = spawn_app().await;
    hestia_zone(&app, &hestia, "supersede.test").await;
    hestia.inject_after(0, hestia_fake::Fault::ServerError, usize::MAX);
    let svc = app
        .create_service("vm", "supersede.test", &[("10.62.0.5", None)])
        .await;
    assert_eq!(app.run(svc, "deploy").await["state"], "done_with_errors");
    let jobs = app.get(&format!("/jobs?service={svc}")).await.expect(200);
    let retry = jobs[0]["id"].as_i64().expect("retry id");
    assert_eq!(jobs[0]["state"], "queued");
    hestia.clear_faults();
    // The operator presses "Set DNS records" by hand: it runs now and the queued retry is not needed.
    let job = app.run(svc, "set-dns-records").await;
    assert_eq!(job["state"], "done", "{job:#}");
    assert_eq!(app.job(retry).await["state"], "superseded");
    assert_eq!(
        hestia_values(&hestia, "supersede.test", "vm", "A"),
        vec!["10.62.0.5"]
    );
}
