//! Lifecycle jobs end to end against the real PowerDNS, observed through real DNS queries: deploy, change
//! of addresses and names, terminate, refresh without a gap, live output (stored and as server-sent
//! events), the plan preview, customer PTRs, records vmdns does not own, idempotence.
//!
//! Every test starts its own PowerDNS: PowerDNS's SQLite backend answers "database is locked" when
//! several tests write to one server at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use vmdns_core::RecordType;
use vmdns_providers::ProviderKind;
use vmdns_providers::testing::pdns::PdnsServer;

use crate::helpers::{
    SlowProxy, api_addr, assert_output_shape, dig, dig_ptr, lines, n, pdns_direct, pdns_plant,
    service_body, set, spawn_app,
};

#[tokio::test]
async fn deploy_change_terminate_against_powerdns() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    let fwd = app.pdns_zone(server, "lifecycle.test").await;
    app.pdns_zone(server, "0.51.10.in-addr.arpa").await;
    app.pdns_zone(server, "1.5.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
        .await;
    let svc = app
        .create_service(
            "vm1",
            "lifecycle.test",
            &[("10.51.0.10", None), ("2001:db8:51::10", None)],
        )
        .await;

    // Deploy: A, AAAA and both PTRs answer.
    let job = app.run_done(svc, "deploy", Some(server)).await;
    assert_eq!(job["attempts"], 1);
    assert_output_shape(&job);
    assert_eq!(
        dig(server, "vm1.lifecycle.test", RecordType::A).await,
        set(&["10.51.0.10"])
    );
    assert_eq!(
        dig(server, "vm1.lifecycle.test", RecordType::Aaaa).await,
        set(&["2001:db8:51::10"])
    );
    assert_eq!(
        dig_ptr(server, "10.51.0.10").await,
        set(&["vm1.lifecycle.test"])
    );
    assert_eq!(
        dig_ptr(server, "2001:db8:51::10").await,
        set(&["vm1.lifecycle.test"])
    );
    // The record status matrix says so too.
    let records = app
        .get(&format!("/services/{svc}/records"))
        .await
        .expect(200);
    let status = records["status"].as_array().expect("status");
    assert_eq!(status.len(), 4, "{records:#}");
    assert!(status.iter().all(|s| s["ok"] == true), "{records:#}");

    // Change of addresses: PUT the service, then change-package.
    app.put(
        &format!("/services/{svc}"),
        &service_body(
            "vm1",
            "lifecycle.test",
            &[("10.51.0.11", None), ("2001:db8:51::11", None)],
        ),
    )
    .await
    .expect(200);
    // Nothing changes in DNS before the job runs.
    assert_eq!(
        dig(server, "vm1.lifecycle.test", RecordType::A).await,
        set(&["10.51.0.10"])
    );
    let job = app.run_done(svc, "change-package", Some(server)).await;
    assert_output_shape(&job);
    assert_eq!(
        dig(server, "vm1.lifecycle.test", RecordType::A).await,
        set(&["10.51.0.11"])
    );
    assert_eq!(
        dig(server, "vm1.lifecycle.test", RecordType::Aaaa).await,
        set(&["2001:db8:51::11"])
    );
    assert!(dig_ptr(server, "10.51.0.10").await.is_empty(), "old PTR");
    assert!(
        dig_ptr(server, "2001:db8:51::10").await.is_empty(),
        "old PTR"
    );
    assert_eq!(
        dig_ptr(server, "10.51.0.11").await,
        set(&["vm1.lifecycle.test"])
    );
    assert_eq!(
        dig_ptr(server, "2001:db8:51::11").await,
        set(&["vm1.lifecycle.test"])
    );

    // A new name: the old FQDN goes, the PTRs follow.
    app.put(
        &format!("/services/{svc}"),
        &service_body(
            "vm1b",
            "lifecycle.test",
            &[("10.51.0.11", None), ("2001:db8:51::11", None)],
        ),
    )
    .await
    .expect(200);
    app.run_done(svc, "change-package", Some(server)).await;
    assert!(
        dig(server, "vm1.lifecycle.test", RecordType::A)
            .await
            .is_empty()
    );
    assert!(
        dig(server, "vm1.lifecycle.test", RecordType::Aaaa)
            .await
            .is_empty()
    );
    assert_eq!(
        dig(server, "vm1b.lifecycle.test", RecordType::A).await,
        set(&["10.51.0.11"])
    );
    assert_eq!(
        dig_ptr(server, "10.51.0.11").await,
        set(&["vm1b.lifecycle.test"])
    );

    // Terminate: nothing resolves any more.
    let job = app.run_done(svc, "terminate", Some(server)).await;
    assert_output_shape(&job);
    for rtype in [RecordType::A, RecordType::Aaaa] {
        assert!(
            dig(server, "vm1b.lifecycle.test", rtype).await.is_empty(),
            "{rtype}"
        );
    }
    for a in ["10.51.0.11", "2001:db8:51::11"] {
        assert!(dig_ptr(server, a).await.is_empty(), "{a}");
    }
    let shown = app.get(&format!("/services/{svc}")).await.expect(200);
    assert_eq!(shown["status"], "terminated");
    // vmdns owns nothing any more: the service may go without force.
    assert!(
        app.app
            .store
            .ledger_of_zone(fwd)
            .await
            .expect("ledger")
            .is_empty()
    );
    app.delete(&format!("/services/{svc}")).await.expect(204);
    // The zone itself is intact (its SOA and NS are not vmdns's).
    pdns_direct(server, "lifecycle.test")
        .check()
        .await
        .expect("the zone is still there");
}

#[tokio::test]
async fn delete_is_refused_while_vmdns_owns_records() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    app.pdns_zone(server, "owned.test").await;
    let svc = app
        .create_service("vm", "owned.test", &[("10.61.0.5", None)])
        .await;
    app.run_done(svc, "deploy", Some(server)).await;
    let field = app
        .delete(&format!("/services/{svc}"))
        .await
        .expect_error(409);
    assert_eq!(field.as_deref(), Some("id"));
    app.delete(&format!("/services/{svc}?force=true"))
        .await
        .expect(204);
    // Forced: the records stay in DNS, vmdns forgets them.
    assert_eq!(
        dig(server, "vm.owned.test", RecordType::A).await,
        set(&["10.61.0.5"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_instant_without_an_a_record_during_refreshes() {
    let shared = Arc::new(PdnsServer::start().await);
    let server = &*shared;
    let app = spawn_app().await;
    // Every write reaches PowerDNS 300 ms after it was sent: a refresh written as "delete, then
    // create" would leave the name without an answer for at least that long.
    let proxy = SlowProxy::start(api_addr(server), Duration::from_millis(300)).await;
    server.create_zone(&n("refresh.test")).await;
    app.create_zone(
        "refresh.test",
        "powerdns",
        json!({"server_url": proxy.url(), "api_key": server.api_key()}),
    )
    .await;
    let svc = app
        .create_service("vm", "refresh.test", &[("10.52.0.10", None)])
        .await;
    app.run_done(svc, "deploy", Some(server)).await;
    assert_eq!(
        dig(server, "vm.refresh.test", RecordType::A).await,
        set(&["10.52.0.10"])
    );

    // Someone asks for the name all the time while the addresses change several times.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let server = shared.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                answers.push(dig(&server, "vm.refresh.test", RecordType::A).await);
            }
            answers
        })
    };
    let steps: [&[&str]; 4] = [
        &["10.52.0.10", "10.52.0.11"],
        &["10.52.0.11"],
        &["10.52.0.12", "10.52.0.13"],
        &["10.52.0.10"],
    ];
    for addresses in steps {
        let addrs: Vec<(&str, Option<&str>)> = addresses.iter().map(|a| (*a, None)).collect();
        app.put(
            &format!("/services/{svc}"),
            &service_body("vm", "refresh.test", &addrs),
        )
        .await
        .expect(200);
        app.run_done(svc, "change-package", Some(server)).await;
        assert_eq!(
            dig(server, "vm.refresh.test", RecordType::A).await,
            set(addresses)
        );
    }
    stop.store(true, Ordering::SeqCst);
    let answers = watcher.await.expect("watcher");
    assert_eq!(proxy.patches(), 5, "one PATCH per job");
    assert!(answers.len() >= 10, "only {} queries ran", answers.len());
    let empty = answers.iter().filter(|a| a.is_empty()).count();
    assert_eq!(
        empty,
        0,
        "{empty} of {} answers had no A record",
        answers.len()
    );
}

/// Parses a server-sent-events body into `(event, id, data)`.
fn sse_events(body: &str) -> Vec<(String, Option<String>, String)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut event = None;
            let mut id = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            event.map(|e| (e, id, data.join("\n")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_output_events_and_plan_preview() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    let fwd = app.pdns_zone(server, "output.test").await;
    let rev = app.pdns_zone(server, "0.53.10.in-addr.arpa").await;
    let svc = app
        .create_service("vm", "output.test", &[("10.53.0.10", None)])
        .await;

    // The preview shows what a resync would do, and does none of it.
    let plan = app.get(&format!("/services/{svc}/plan")).await.expect(200);
    assert_eq!(plan["service_id"], svc);
    let zones = plan["zones"].as_array().expect("zones");
    assert_eq!(zones.len(), 2, "{plan:#}");
    assert_eq!(zones[0]["zone_id"], fwd);
    assert_eq!(zones[0]["zone"], "output.test");
    assert_eq!(zones[0]["provider"], "powerdns");
    assert_eq!(zones[0]["error"], Value::Null);
    assert_eq!(zones[0]["items"][0]["action"], "apply");
    assert_eq!(zones[0]["items"][0]["change"]["op"], "create");
    assert_eq!(zones[0]["items"][0]["key"]["name"], "vm.output.test");
    assert_eq!(zones[1]["zone_id"], rev);
    assert_eq!(zones[1]["items"][0]["change"]["op"], "create");
    assert!(
        dig(server, "vm.output.test", RecordType::A)
            .await
            .is_empty()
    );
    assert!(dig_ptr(server, "10.53.0.10").await.is_empty());
    assert_eq!(app.get("/jobs").await.expect(200), json!([]));

    // Follow the job live: subscribe before any worker runs it.
    let job_id = app.enqueue(svc, "deploy").await;
    let queued = app.job(job_id).await;
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["kind"], "deploy");
    // The answer's head arrives once the stream is open, before any line: then the worker runs.
    let resp = app
        .client
        .get(app.api(&format!("/jobs/{job_id}/events")))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("events answer");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let events = tokio::spawn(async move { resp.text().await.expect("events body") });
    app.drain().await;
    let job = app.job(job_id).await;
    assert_eq!(job["state"], "done", "{job:#}");
    assert_output_shape(&job);
    let out = lines(&job);
    let fwd_line = format!(
        "fwd OK   create vm.output.test A 10.53.0.10 in output.test (powerdns zone #{fwd})"
    );
    let rev_line = format!(
        "rev OK   create 10.0.53.10.in-addr.arpa PTR vm.output.test in 0.53.10.in-addr.arpa (powerdns zone #{rev})"
    );
    assert!(out.contains(&fwd_line), "{out:#?}");
    assert!(out.contains(&rev_line), "{out:#?}");
    assert_eq!(
        out.last().map(String::as_str),
        Some("summary: 2 ok (0 unchanged), 0 errors in 2 zones")
    );
    assert_eq!(
        job["summary"],
        "summary: 2 ok (0 unchanged), 0 errors in 2 zones"
    );
    for t in ["created_at", "run_after", "started_at", "finished_at"] {
        assert!(job[t].is_string(), "{t}: {job:#}");
    }

    let body = tokio::time::timeout(Duration::from_secs(20), events)
        .await
        .expect("the event stream ends after the job")
        .expect("events task");
    assert!(
        ct.is_some_and(|c| c.starts_with("text/event-stream")),
        "{body}"
    );
    let events = sse_events(&body);
    let (last, rest) = events.split_last().expect("events");
    assert_eq!(
        (last.0.as_str(), last.2.as_str()),
        ("end", "done"),
        "{body}"
    );
    let streamed: Vec<String> = rest
        .iter()
        .filter(|e| e.0 == "line")
        .map(|e| e.2.clone())
        .collect();
    assert_eq!(streamed, out, "{body}");
    let ids: Vec<String> = rest.iter().filter_map(|e| e.1.clone()).collect();
    let want: Vec<String> = (1..=out.len()).map(|i| i.to_string()).collect();
    assert_eq!(ids, want);

    // A finished job's stream replays it; Last-Event-ID resumes after a line.
    let reply = app
        .read(
            app.client
                .get(app.api(&format!("/jobs/{job_id}/events")))
                .bearer_auth(&app.token)
                .header("last-event-id", "2")
                .send()
                .await
                .expect("events"),
        )
        .await;
    let resumed: Vec<String> = sse_events(&reply.text)
        .into_iter()
        .filter(|e| e.0 == "line")
        .map(|e| e.2)
        .collect();
    assert_eq!(resumed, out[2..].to_vec());

    // Listing.
    let listed = app.get(&format!("/jobs?service={svc}")).await.expect(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], job_id);
    assert_eq!(listed[0]["state"], "done");
    assert!(listed[0].get("output").is_none(), "lists carry no output");
    assert_eq!(app.get("/jobs?service=4242").await.expect(200), json!([]));

    // After the deploy the preview shows nothing to do; after a change it shows the change, unapplied.
    let plan = app.get(&format!("/services/{svc}/plan")).await.expect(200);
    for z in plan["zones"].as_array().expect("zones") {
        for item in z["items"].as_array().expect("items") {
            assert_eq!(item["action"], "unchanged", "{plan:#}");
        }
    }
    app.put(
        &format!("/services/{svc}"),
        &service_body("vm", "output.test", &[("10.53.0.11", None)]),
    )
    .await
    .expect(200);
    let plan = app.get(&format!("/services/{svc}/plan")).await.expect(200);
    let ops: Vec<(String, String)> = plan["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .flat_map(|z| z["items"].as_array().cloned().unwrap_or_default())
        .map(|i| {
            (
                i["key"]["name"].as_str().unwrap_or_default().to_string(),
                i["change"]["op"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            ("vm.output.test".to_string(), "replace".to_string()),
            ("10.0.53.10.in-addr.arpa".to_string(), "delete".to_string()),
            ("11.0.53.10.in-addr.arpa".to_string(), "create".to_string()),
        ],
        "{plan:#}"
    );
    assert_eq!(
        dig(server, "vm.output.test", RecordType::A).await,
        set(&["10.53.0.10"])
    );
    assert_eq!(
        app.get("/jobs").await.expect(200).as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn customer_ptr_is_kept_through_every_job() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    app.pdns_zone(server, "custptr.test").await;
    app.pdns_zone(server, "0.56.10.in-addr.arpa").await;
    let addrs = [
        ("10.56.0.5", Some("mail.customer.example")),
        ("10.56.0.6", None),
    ];
    let svc = app.create_service("vm", "custptr.test", &addrs).await;
    app.run_done(svc, "deploy", Some(server)).await;
    assert_eq!(
        dig_ptr(server, "10.56.0.5").await,
        set(&["mail.customer.example"])
    );
    assert_eq!(
        dig_ptr(server, "10.56.0.6").await,
        set(&["vm.custptr.test"])
    );

    let job = app.run_done(svc, "set-dns-records", Some(server)).await;
    let out = lines(&job);
    assert!(
        out.iter().any(|l| l
            .starts_with("rev OK   unchanged 5.0.56.10.in-addr.arpa PTR mail.customer.example")),
        "{out:#?}"
    );
    assert_eq!(
        dig_ptr(server, "10.56.0.5").await,
        set(&["mail.customer.example"])
    );

    // A change of package (here: a new name) keeps it too.
    app.put(
        &format!("/services/{svc}"),
        &service_body("vm2", "custptr.test", &addrs),
    )
    .await
    .expect(200);
    app.run_done(svc, "change-package", Some(server)).await;
    assert_eq!(
        dig_ptr(server, "10.56.0.5").await,
        set(&["mail.customer.example"])
    );
    assert_eq!(
        dig_ptr(server, "10.56.0.6").await,
        set(&["vm2.custptr.test"])
    );
    app.run_done(svc, "set-dns-records", Some(server)).await;
    assert_eq!(
        dig_ptr(server, "10.56.0.5").await,
        set(&["mail.customer.example"])
    );
}

#[tokio::test]
async fn records_vmdns_does_not_own_are_left_untouched() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    let fwd = app.pdns_zone(server, "foreign.test").await;
    app.pdns_zone(server, "0.57.10.in-addr.arpa").await;
    // Someone else's records, written straight to PowerDNS.
    pdns_plant(
        server,
        "foreign.test",
        "vm.foreign.test",
        RecordType::A,
        "203.0.113.7",
    )
    .await;
    pdns_plant(
        server,
        "foreign.test",
        "other.foreign.test",
        RecordType::A,
        "203.0.113.8",
    )
    .await;
    pdns_plant(
        server,
        "0.57.10.in-addr.arpa",
        "6.0.57.10.in-addr.arpa",
        RecordType::Ptr,
        "customer-own.example",
    )
    .await;

    let svc = app
        .create_service(
            "vm",
            "foreign.test",
            &[("10.57.0.5", None), ("10.57.0.6", None)],
        )
        .await;
    let job = app.run(svc, "deploy").await;
    assert_eq!(job["state"], "done_with_errors", "{job:#}");
    assert_output_shape(&job);
    let out = lines(&job);
    let conflict = format!(
        "fwd ERR  vm.foreign.test A holds 203.0.113.7 not written by vmdns: left untouched in foreign.test (powerdns zone #{fwd})"
    );
    assert!(out.contains(&conflict), "{out:#?}");
    assert!(
        out.iter().any(|l| l.starts_with(
            "rev ERR  6.0.57.10.in-addr.arpa PTR holds customer-own.example not written by vmdns"
        )),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|l| l.starts_with("rev OK   create 5.0.57.10.in-addr.arpa PTR vm.foreign.test")),
        "{out:#?}"
    );
    assert_eq!(
        dig(server, "vm.foreign.test", RecordType::A).await,
        set(&["203.0.113.7"])
    );
    assert_eq!(
        dig(server, "other.foreign.test", RecordType::A).await,
        set(&["203.0.113.8"])
    );
    assert_eq!(
        dig_ptr(server, "10.57.0.6").await,
        set(&["customer-own.example"])
    );
    // A conflict is logged with its context, and not retried by itself (a person has to look).
    let log = app
        .get(&format!("/log?service={svc}&zone={fwd}&level=error"))
        .await
        .expect(200);
    let entry = &log["entries"][0];
    assert_eq!(entry["operation"], "conflict", "{log:#}");
    assert_eq!(entry["zone_name"], "foreign.test");
    assert!(
        entry["message"]
            .as_str()
            .is_some_and(|m| m.contains("203.0.113.7")),
        "{log:#}"
    );
    let jobs = app.get(&format!("/jobs?service={svc}")).await.expect(200);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs:#}");

    // A resync repairs nothing it does not own, and says so again.
    let job = app.run(svc, "set-dns-records").await;
    assert_eq!(job["state"], "done_with_errors");
    assert!(lines(&job).contains(&conflict));
    assert_eq!(
        dig(server, "vm.foreign.test", RecordType::A).await,
        set(&["203.0.113.7"])
    );
    assert_eq!(
        dig(server, "other.foreign.test", RecordType::A).await,
        set(&["203.0.113.8"])
    );
    // Terminate removes only what vmdns wrote.
    app.run_done(svc, "terminate", Some(server)).await;
    assert!(dig_ptr(server, "10.57.0.5").await.is_empty());
    assert_eq!(
        dig(server, "vm.foreign.test", RecordType::A).await,
        set(&["203.0.113.7"])
    );
    assert_eq!(
        dig(server, "other.foreign.test", RecordType::A).await,
        set(&["203.0.113.8"])
    );
    assert_eq!(
        dig_ptr(server, "10.57.0.6").await,
        set(&["customer-own.example"])
    );
}

#[tokio::test]
async fn terminate_removes_a_ptr_only_while_it_points_at_what_vmdns_wrote() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    app.pdns_zone(server, "moved.test").await;
    app.pdns_zone(server, "0.63.10.in-addr.arpa").await;
    let a = app
        .create_service(
            "vm-a",
            "moved.test",
            &[("10.63.0.5", None), ("10.63.0.6", None)],
        )
        .await;
    app.run_done(a, "deploy", Some(server)).await;

    // 10.63.0.5 moves to another service before vm-a's job runs; vm-b is deployed first.
    app.put(
        &format!("/services/{a}"),
        &service_body("vm-a", "moved.test", &[("10.63.0.6", None)]),
    )
    .await
    .expect(200);
    let b = app
        .create_service("vm-b", "moved.test", &[("10.63.0.5", None)])
        .await;
    app.run_done(b, "deploy", Some(server)).await;
    assert_eq!(
        dig_ptr(server, "10.63.0.5").await,
        set(&["vm-b.moved.test"])
    );
    // Someone points vm-a's other PTR elsewhere by hand.
    pdns_direct(server, "0.63.10.in-addr.arpa")
        .apply(&[vmdns_core::Change::Replace {
            from: vmdns_core::RrSet::new(
                vmdns_core::ptr_name(crate::helpers::ip("10.63.0.6")),
                RecordType::Ptr,
                300,
                ["vm-a.moved.test"],
            ),
            to: vmdns_core::RrSet::new(
                vmdns_core::ptr_name(crate::helpers::ip("10.63.0.6")),
                RecordType::Ptr,
                300,
                ["elsewhere.example"],
            ),
        }])
        .await
        .expect("PowerDNS takes the PATCH");

    // Terminating vm-a touches neither.
    let job = app.run_done(a, "terminate", Some(server)).await;
    let out = lines(&job);
    assert!(
        out.iter().any(|l| l.starts_with(
            "rev OK   left alone 6.0.63.10.in-addr.arpa PTR elsewhere.example: it points elsewhere now"
        )),
        "{out:#?}"
    );
    assert!(
        dig(server, "vm-a.moved.test", RecordType::A)
            .await
            .is_empty()
    );
    assert_eq!(
        dig_ptr(server, "10.63.0.5").await,
        set(&["vm-b.moved.test"])
    );
    assert_eq!(
        dig_ptr(server, "10.63.0.6").await,
        set(&["elsewhere.example"])
    );
    assert_eq!(
        dig(server, "vm-b.moved.test", RecordType::A).await,
        set(&["10.63.0.5"])
    );
}

#[tokio::test]
async fn resync_twice_is_idempotent() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    app.pdns_zone(server, "idem.test").await;
    app.pdns_zone(server, "0.58.10.in-addr.arpa").await;
    app.pdns_zone(server, "8.5.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
        .await;
    let svc = app
        .create_service(
            "vm",
            "idem.test",
            &[("10.58.0.5", None), ("2001:db8:58::5", None)],
        )
        .await;
    let stats = app.app.providers.stats(ProviderKind::Powerdns);
    let names_read = 3; // vm.idem.test, and one PTR name per reverse zone

    let before = stats.requests();
    app.run_done(svc, "deploy", Some(server)).await;
    let deploy = stats.requests() - before;
    assert_eq!(deploy, names_read + 3, "reads, then one PATCH per zone");

    for round in 1..=2 {
        let before = stats.requests();
        let job = app.run(svc, "set-dns-records").await;
        let used = stats.requests() - before;
        assert_eq!(job["state"], "done", "{job:#}");
        let out = lines(&job);
        for l in &out[1..out.len() - 1] {
            assert!(l.contains(" unchanged "), "round {round}: {l}");
        }
        assert_eq!(
            out.last().map(String::as_str),
            Some("summary: 4 ok (4 unchanged), 0 errors in 3 zones")
        );
        assert_eq!(used, names_read, "round {round}: reads only, no write");
    }
    assert_eq!(
        dig(server, "vm.idem.test", RecordType::A).await,
        set(&["10.58.0.5"])
    );
    // Exactly one RRset of each type, one record in each.
    let current = pdns_direct(server, "idem.test")
        .rrsets(&[n("vm.idem.test")])
        .await
        .expect("read");
    assert_eq!(current.len(), 2, "{current:?}");
    assert!(current.iter().all(|r| r.records.len() == 1), "{current:?}");
}
