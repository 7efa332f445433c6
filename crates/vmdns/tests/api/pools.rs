//! `/pools` and `/rdns-zone`: CRUD, the reverse-zone hint on every answer, validation naming the field.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn pool(name: &str, first: &str, last: &str, gateway: Option<&str>, prefix: Value) -> Value {
    let mut p = json!({"name": name, "first_ip": first, "last_ip": last, "prefix_len": prefix});
    if let Some(g) = gateway {
        p["gateway"] = json!(g);
    }
    p
}

#[tokio::test]
async fn pool_crud_with_reverse_zone_hints() {
    let app = spawn_app().await;
    let v4 = app
        .post(
            "/pools",
            &pool(
                "v4",
                "192.168.130.2",
                "192.168.130.30",
                Some("192.168.130.1"),
                json!(24),
            ),
        )
        .await
        .expect(201);
    let id = v4["id"].as_i64().expect("id");
    assert_eq!(v4["name"], "v4");
    assert_eq!(v4["gateway"], "192.168.130.1");
    assert_eq!(v4["prefix_len"], 24);
    assert_eq!(v4["rdns_zone"]["kind"], "exact");
    assert_eq!(v4["rdns_zone"]["zone"], "130.168.192.in-addr.arpa");
    assert_eq!(v4["rdns_zone"]["summary"], "130.168.192.in-addr.arpa");
    assert_eq!(
        v4["rdns_zone"]["lines"],
        json!(["130.168.192.in-addr.arpa"])
    );

    // IPv6, the prefix given as a string.
    let v6 = app
        .post(
            "/pools",
            &pool("v6", "2001:db8:1::10", "2001:db8:1::ff", None, json!("48")),
        )
        .await
        .expect(201);
    assert_eq!(v6["gateway"], Value::Null);
    assert_eq!(v6["rdns_zone"]["zone"], "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");

    // A /22 spans four /24 zones; a /28 needs a classless delegation.
    let wide = app
        .post(
            "/pools",
            &pool("wide", "10.20.0.1", "10.20.3.254", None, json!(22)),
        )
        .await
        .expect(201);
    assert_eq!(wide["rdns_zone"]["kind"], "spans");
    assert_eq!(wide["rdns_zone"]["count"], 4);
    assert_eq!(
        wide["rdns_zone"]["zones"],
        json!([
            "0.20.10.in-addr.arpa",
            "1.20.10.in-addr.arpa",
            "2.20.10.in-addr.arpa",
            "3.20.10.in-addr.arpa"
        ])
    );
    let small = app
        .post(
            "/pools",
            &pool("small", "192.0.2.17", "192.0.2.30", None, json!(28)),
        )
        .await
        .expect(201);
    assert_eq!(small["rdns_zone"]["kind"], "classless");
    assert_eq!(small["rdns_zone"]["zone"], "16/28.2.0.192.in-addr.arpa");
    assert_eq!(small["rdns_zone"]["parent"], "2.0.192.in-addr.arpa");
    assert_eq!(
        small["rdns_zone"]["cnames"].as_array().map(Vec::len),
        Some(16)
    );

    let list = app.get("/pools").await.expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(4));
    assert_eq!(list[0], v4);
    assert_eq!(app.get(&format!("/pools/{id}")).await.expect(200), v4);

    let updated = app
        .put(
            &format!("/pools/{id}"),
            &pool(
                "v4-renamed",
                "192.168.131.2",
                "192.168.131.9",
                None,
                json!(24),
            ),
        )
        .await
        .expect(200);
    assert_eq!(updated["name"], "v4-renamed");
    assert_eq!(updated["rdns_zone"]["zone"], "131.168.192.in-addr.arpa");

    // Names are unique.
    let field = app
        .post(
            "/pools",
            &pool("v6", "10.0.0.1", "10.0.0.2", None, json!(24)),
        )
        .await
        .expect_error(409);
    assert_eq!(field.as_deref(), Some("name"));

    app.delete(&format!("/pools/{id}")).await.expect(204);
    app.get(&format!("/pools/{id}")).await.expect_error(404);
    app.delete(&format!("/pools/{id}")).await.expect_error(404);
    app.put(
        &format!("/pools/{id}"),
        &pool("x", "10.0.0.1", "10.0.0.2", None, json!(24)),
    )
    .await
    .expect_error(404);
}

#[tokio::test]
async fn rdns_zone_hint_alone() {
    let app = spawn_app().await;
    let exact = app.get("/rdns-zone?prefix=192.0.2.77/24").await.expect(200);
    assert_eq!(exact["kind"], "exact");
    assert_eq!(exact["zone"], "2.0.192.in-addr.arpa");
    let v6 = app.get("/rdns-zone?prefix=2001:db8::/32").await.expect(200);
    assert_eq!(v6["zone"], "8.b.d.0.1.0.0.2.ip6.arpa");
    let spans = app.get("/rdns-zone?prefix=10.0.0.0/23").await.expect(200);
    assert_eq!(spans["kind"], "spans");
    assert_eq!(spans["count"], 2);
    let classless = app.get("/rdns-zone?prefix=192.0.2.64/26").await.expect(200);
    assert_eq!(classless["kind"], "classless");
    assert!(
        classless["summary"]
            .as_str()
            .is_some_and(|s| s.contains("64/26.2.0.192.in-addr.arpa")),
        "{classless}"
    );

    for bad in [
        "/rdns-zone",
        "/rdns-zone?prefix=",
        "/rdns-zone?prefix=192.0.2.0",
        "/rdns-zone?prefix=192.0.2.0/33",
        "/rdns-zone?prefix=2001:db8::/129",
        "/rdns-zone?prefix=nope/24",
        "/rdns-zone?prefix=192.0.2.0/-1",
    ] {
        let field = app.get(bad).await.expect_error(422);
        assert_eq!(field.as_deref(), Some("prefix"), "{bad}");
    }
}

#[tokio::test]
async fn pool_validation_names_the_field() {
    let app = spawn_app().await;
    let ok = pool(
        "p",
        "192.0.2.10",
        "192.0.2.20",
        Some("192.0.2.1"),
        json!(24),
    );
    let with = |key: &str, v: Value| {
        let mut p = ok.clone();
        if v.is_null() {
            p.as_object_mut().expect("object").remove(key);
        } else {
            p[key] = v;
        }
        p
    };
    let cases = [
        (with("name", Value::Null), "name"),
        (with("name", json!("  ")), "name"),
        (with("first_ip", json!("300.1.1.1")), "first_ip"),
        (with("first_ip", Value::Null), "first_ip"),
        (with("last_ip", json!("192.0.2")), "last_ip"),
        (with("gateway", json!("nope")), "gateway"),
        // Addresses outside the pool's network.
        (with("gateway", json!("198.51.100.1")), "gateway"),
        (with("last_ip", json!("192.0.3.20")), "last_ip"),
        (with("last_ip", json!("2001:db8::1")), "last_ip"),
        (with("last_ip", json!("192.0.2.5")), "last_ip"),
        // Prefix lengths out of range or not numbers.
        (with("prefix_len", json!(33)), "prefix_len"),
        (with("prefix_len", json!(-1)), "prefix_len"),
        (with("prefix_len", json!("abc")), "prefix_len"),
        (with("prefix_len", json!(24.5)), "prefix_len"),
        (with("prefix_len", Value::Null), "prefix_len"),
        (
            pool("p6", "2001:db8::1", "2001:db8::9", None, json!(129)),
            "prefix_len",
        ),
    ];
    for (body, field) in cases {
        let got = app.post("/pools", &body).await.expect_error(422);
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
    assert_eq!(
        app.get("/pools").await.expect(200),
        json!([]),
        "nothing was stored"
    );
}
