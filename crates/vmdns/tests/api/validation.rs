//! What bad requests get: never a 5xx, always `{"error": "...", "field": "..."}` with the right status.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn zone_validation_names_the_field() {
    let app = spawn_app().await;
    let pdns = json!({"server_url": "http://127.0.0.1:8081", "api_key": "k"});
    let zone = |name: &str, provider: &str, settings: Value| json!({"name": name, "provider": provider, "settings": settings});
    let cases = [
        (zone("exa..mple.com", "powerdns", pdns.clone()), "name"),
        (zone("-bad-.example", "powerdns", pdns.clone()), "name"),
        (zone("", "powerdns", pdns.clone()), "name"),
        (json!({"provider": "powerdns", "settings": pdns}), "name"),
        (zone("example.com", "route53", pdns.clone()), "provider"),
        (json!({"name": "example.com", "settings": pdns}), "provider"),
        // Missing and unknown settings for that provider.
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "http://127.0.0.1:8081"}),
            ),
            "settings.api_key",
        ),
        (
            zone("example.com", "powerdns", json!({"api_key": "k"})),
            "settings.server_url",
        ),
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "http://127.0.0.1:8081", "api_key": "k", "api_token": "t"}),
            ),
            "settings.api_token",
        ),
        (
            zone(
                "example.com",
                "cloudflare",
                json!({"zone_id": "z", "api_token": "t"}),
            ),
            "settings.account_id",
        ),
        (
            zone(
                "example.com",
                "hestiacp",
                json!({"server_url": "https://h.example/", "user": "u", "access_key": "a"}),
            ),
            "settings.secret_key",
        ),
        // Bad URLs.
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "ftp://127.0.0.1", "api_key": "k"}),
            ),
            "settings.server_url",
        ),
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "not a url", "api_key": "k"}),
            ),
            "settings.server_url",
        ),
        (
            zone(
                "example.com",
                "cloudflare",
                json!({"account_id": "a", "zone_id": "z", "api_token": "t", "api_url": "cloudflare.com"}),
            ),
            "settings.api_url",
        ),
        // Settings that are not strings, and other details.
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "http://127.0.0.1:8081", "api_key": ["k"]}),
            ),
            "settings.api_key",
        ),
        (
            zone(
                "example.com",
                "powerdns",
                json!({"server_url": "http://127.0.0.1:8081", "api_key": "k", "max_body_bytes": "0"}),
            ),
            "settings.max_body_bytes",
        ),
        (
            zone(
                "130/26.2.0.192.in-addr.arpa",
                "hestiacp",
                json!({"server_url": "https://h.example/", "user": "u", "access_key": "a", "secret_key": "s"}),
            ),
            "name",
        ),
        (
            json!({"name": 7, "provider": "powerdns", "settings": pdns}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let got = app.post("/zones", &body).await.expect_error(422);
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
    assert_eq!(app.get("/zones").await.expect(200), json!([]));

    // The same rules on update.
    let id = app.create_zone("example.com", "powerdns", pdns).await;
    for (body, field) in [
        (json!({"name": "exa..mple"}), "name"),
        (json!({"provider": "bind"}), "provider"),
        (
            json!({"settings": {"server_url": "gopher://x", "api_key": "__KEEP__"}}),
            "settings.server_url",
        ),
        (
            json!({"settings": {"server_url": "http://x", "nope": "1"}}),
            "settings.nope",
        ),
    ] {
        let got = app
            .put(&format!("/zones/{id}"), &body)
            .await
            .expect_error(422);
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
}

#[tokio::test]
async fn malformed_requests() {
    let app = spawn_app().await;

    // Oversized body → 413.
    let big = json!({"name": "x".repeat(300 * 1024), "provider": "powerdns"});
    let r = app
        .raw(
            Method::POST,
            "/zones",
            "application/json",
            serde_json::to_vec(&big).expect("encode"),
        )
        .await;
    r.expect_error(413);

    // Wrong content type → 415.
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let r = app
            .raw(
                Method::POST,
                "/services",
                ct,
                br#"{"name":"vm","domain":"example.com"}"#.to_vec(),
            )
            .await;
        assert_eq!(r.expect_error(415), None, "content type {ct:?}");
    }

    // Invalid JSON → 400.
    for body in [&b"{"[..], b"{\"name\": }", b"not json", b""] {
        let r = app
            .raw(Method::POST, "/pools", "application/json", body.to_vec())
            .await;
        r.expect_error(400);
    }
    // JSON of the wrong shape → 422.
    for body in [
        json!([1, 2]),
        json!("zone"),
        json!({"name": "vm", "domain": "example.com", "color": "red"}),
    ] {
        app.post("/services", &body).await.expect_error(422);
    }

    // Ids that are not ids, routes that do not exist → 404.
    for path in [
        "/zones/abc",
        "/zones/0",
        "/zones/-1",
        "/zones/99999999999999999999999",
        "/pools/1.5",
        "/services/x",
        "/jobs/abc",
        "/jobs/abc/events",
        "/nothing-here",
    ] {
        app.get(path).await.expect_error(404);
    }
    let svc = app
        .create_service("vm", "example.com", &[("192.0.2.1", None)])
        .await;
    app.post(&format!("/services/{svc}/reboot"), &json!({}))
        .await
        .expect_error(404);
    app.post("/services/4242/deploy", &json!({}))
        .await
        .expect_error(404);
    app.get("/services/4242/plan").await.expect_error(404);
    app.get("/services/4242/records").await.expect_error(404);
    app.get("/jobs/4242").await.expect_error(404);
    app.get("/jobs/4242/events").await.expect_error(404);

    // Query strings.
    for (q, field) in [
        ("/log?level=debug", Some("level")),
        ("/log?since=yesterday", Some("since")),
        ("/log?limit=0", Some("limit")),
        ("/log?limit=100000", Some("limit")),
    ] {
        assert_eq!(
            app.get(q).await.expect_error(422),
            field.map(str::to_string),
            "{q}"
        );
    }
    for q in ["/log?service=abc", "/jobs?service=x", "/jobs?limit=many"] {
        app.get(q).await.expect_error(400);
    }
    app.get("/log?since=2020-01-01T00:00:00Z&level=error&limit=5")
        .await
        .expect(200);
    app.get("/log?since=1577836800000").await.expect(200);

    // A flag that is not a boolean is a bad query string.
    app.delete(&format!("/services/{svc}?force=maybe"))
        .await
        .expect_error(400);
    app.delete(&format!("/services/{svc}?force=true"))
        .await
        .expect(204);
}
