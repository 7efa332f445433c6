//! The legacy `dns.php` endpoint (its shape, both paths, no token) and the client allow-list it shares
//! with `/metrics`: the peer address counts, `X-Forwarded-For` only from trusted proxies.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const OLD_PATH: &str = "/modules/servers/puqProxmoxKVM/lib/dns/dns.php";

/// A client whose connections come from `local`.
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .build()
        .expect("a client bound to a loopback address")
}

/// GET `path` (outside `/api/v1`, no token) from `local`, with an optional `X-Forwarded-For`.
async fn get_from(app: &TestApp, local: Ipv4Addr, path: &str, xff: Option<&str>) -> u16 {
    let mut req = client_from(local).get(app.url(path));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let reply = app.read(req.send().await.expect("answer")).await;
    if reply.status.as_u16() == 403 {
        reply.expect_error(403);
    }
    reply.status.as_u16()
}

#[tokio::test]
async fn legacy_endpoint_lists_every_address_of_every_active_service() {
    let app = spawn_app().await;
    app.create_service(
        "vm1",
        "example.com",
        &[
            ("192.0.2.10", None),
            ("2001:db8::10", Some("mail.example.net")),
        ],
    )
    .await;
    let gone = app
        .create_service("vm2", "example.com", &[("192.0.2.20", None)])
        .await;
    app.create_service("vm3", "example.org", &[("192.0.2.30", None)])
        .await;
    // Terminating marks the service at once, before any worker ran.
    app.enqueue(gone, "terminate").await;

    let want = json!([
        {"forward": "vm1.example.com", "ip": "192.0.2.10", "reverse": "vm1.example.com"},
        {"forward": "vm1.example.com", "ip": "2001:db8::10", "reverse": "mail.example.net"},
        {"forward": "vm3.example.org", "ip": "192.0.2.30", "reverse": "vm3.example.org"},
    ]);
    for path in ["/dns.php", OLD_PATH] {
        // No token needed (and none sent).
        let reply = app
            .read(app.client.get(app.url(path)).send().await.expect("answer"))
            .await;
        assert_eq!(reply.expect(200), want, "{path}");
        // A query string as old scripts send it changes nothing.
        let reply = app
            .read(
                app.client
                    .get(app.url(&format!("{path}?action=list")))
                    .send()
                    .await
                    .expect("answer"),
            )
            .await;
        assert_eq!(reply.expect(200), want, "{path}");
    }
}

#[tokio::test]
async fn allow_list_goes_by_the_peer_address() {
    let only_one = "127.0.0.1/32".parse().expect("net");
    let app = spawn_app_with(|c| c.legacy_allow = vec![only_one]).await;
    let (one, two) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
    for path in ["/dns.php", OLD_PATH, "/metrics"] {
        assert_eq!(get_from(&app, one, path, None).await, 200, "{path}");
        // Another loopback address is another client.
        assert_eq!(get_from(&app, two, path, None).await, 403, "{path}");
        // X-Forwarded-For from a peer that is not a trusted proxy is ignored, both ways.
        assert_eq!(
            get_from(&app, two, path, Some("127.0.0.1")).await,
            403,
            "{path}"
        );
        assert_eq!(
            get_from(&app, two, path, Some("198.51.100.1, 127.0.0.1")).await,
            403,
            "{path}"
        );
        assert_eq!(
            get_from(&app, one, path, Some("203.0.113.9")).await,
            200,
            "{path}"
        );
    }
    // The API is not on the allow-list: it wants a token, from anywhere.
    let r = client_from(two)
        .get(app.api("/zones"))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        client_from(one)
            .get(app.api("/zones"))
            .send()
            .await
            .expect("answer")
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_from_trusted_proxies_only() {
    let app = spawn_app_with(|c| {
        c.legacy_allow = vec!["127.0.0.1/32".parse().expect("net")];
        c.trusted_proxies = vec!["127.0.0.2/32".parse().expect("net")];
    })
    .await;
    let proxy = Ipv4Addr::new(127, 0, 0, 2);
    let stranger = Ipv4Addr::new(127, 0, 0, 3);
    assert_eq!(get_from(&app, proxy, "/dns.php", None).await, 403);
    assert_eq!(
        get_from(&app, proxy, "/dns.php", Some("127.0.0.1")).await,
        200
    );
    // The right-most address that is not a trusted proxy is the client.
    assert_eq!(
        get_from(&app, proxy, "/dns.php", Some("127.0.0.1, 127.0.0.2")).await,
        200
    );
    assert_eq!(
        get_from(&app, proxy, "/dns.php", Some("127.0.0.1, 203.0.113.9")).await,
        403
    );
    assert_eq!(
        get_from(&app, proxy, "/dns.php", Some("garbage")).await,
        403
    );
    assert_eq!(
        get_from(&app, stranger, "/dns.php", Some("127.0.0.1")).await,
        403
    );
}

#[tokio::test]
async fn metrics_in_prometheus_format() {
    let app = spawn_app().await;
    let svc = app
        .create_service("vm", "example.com", &[("192.0.2.1", None)])
        .await;
    app.enqueue(svc, "set-dns-records").await;
    app.drain().await;
    let reply = app
        .read(
            app.client
                .get(app.url("/metrics"))
                .send()
                .await
                .expect("answer"),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200);
    assert!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain")),
        "{:?}",
        reply.headers
    );
    for want in [
        "# TYPE vmdns_jobs gauge",
        "vmdns_jobs{kind=\"set_dns_records\",state=\"done\"} 1",
        "vmdns_queue_depth 0",
        "vmdns_jobs_due 0",
        "vmdns_provider_requests_total{provider=\"powerdns\"} 0",
        "vmdns_provider_errors_total{provider=\"cloudflare\"} 0",
        "vmdns_provider_latency_seconds_total{provider=\"hestiacp\"}",
    ] {
        assert!(
            reply.text.contains(want),
            "{want:?} missing from\n{}",
            reply.text
        );
    }
}
