//! `/services`: CRUD, one address per service (409), the desired records, validation naming the field.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{service_body, spawn_app};

#[tokio::test]
async fn service_crud() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/services",
            &json!({
                "name": "vm1",
                "domain": "Example.COM.",
                "addresses": [{"ip": "192.0.2.10"}, {"ip": "2001:DB8:0::10", "ptr": "Mail.Customer.Example."}],
                "ttl": 600
            }),
        )
        .await
        .expect(201);
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["name"], "vm1");
    assert_eq!(created["domain"], "example.com");
    assert_eq!(created["fqdn"], "vm1.example.com");
    assert_eq!(created["ttl"], 600);
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["addresses"],
        json!([{"ip": "192.0.2.10", "ptr": null}, {"ip": "2001:db8::10", "ptr": "mail.customer.example"}])
    );
    // The TTL defaults; "ttl" may be a string.
    let other = app
        .post(
            "/services",
            &json!({"name": "vm2", "domain": "example.com", "ttl": "120"}),
        )
        .await
        .expect(201);
    assert_eq!(other["ttl"], 120);
    let third = app
        .post("/services", &service_body("vm3", "example.com", &[]))
        .await
        .expect(201);
    assert_eq!(third["ttl"], 300);
    assert_eq!(third["addresses"], json!([]));

    let list = app.get("/services").await.expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert_eq!(list[0], created);
    assert_eq!(
        app.get(&format!("/services/{id}")).await.expect(200),
        created
    );

    // An address belongs to one service only.
    let other_id = other["id"].as_i64().expect("id");
    let field = app
        .post(
            "/services",
            &service_body("vm4", "example.com", &[("192.0.2.10", None)]),
        )
        .await
        .expect_error(409);
    assert_eq!(field.as_deref(), Some("addresses"));
    let reply = app
        .put(
            &format!("/services/{other_id}"),
            &service_body("vm2", "example.com", &[("2001:db8::10", None)]),
        )
        .await;
    assert_eq!(reply.expect_error(409).as_deref(), Some("addresses"));
    assert!(reply.text.contains("2001:db8::10"), "{}", reply.text);
    // The same address written differently is the same address.
    app.post(
        "/services",
        &service_body("vm5", "example.com", &[("2001:0db8:0000::0010", None)]),
    )
    .await
    .expect_error(409);

    // Update: new name and addresses; the old address is free again.
    let updated = app
        .put(
            &format!("/services/{id}"),
            &service_body(
                "vm1b",
                "example.org",
                &[("192.0.2.11", Some("host.example.net"))],
            ),
        )
        .await
        .expect(200);
    assert_eq!(updated["fqdn"], "vm1b.example.org");
    assert_eq!(
        updated["addresses"],
        json!([{"ip": "192.0.2.11", "ptr": "host.example.net"}])
    );
    assert_eq!(updated["created_at"], created["created_at"]);
    app.call(
        Method::PATCH,
        &format!("/services/{other_id}"),
        Some(&service_body("vm2", "example.com", &[("192.0.2.10", None)])),
    )
    .await
    .expect(200);
    // Keeping its own address is no conflict.
    app.put(
        &format!("/services/{other_id}"),
        &service_body(
            "vm2",
            "example.com",
            &[("192.0.2.10", None), ("192.0.2.12", None)],
        ),
    )
    .await
    .expect(200);

    app.delete(&format!("/services/{id}")).await.expect(204);
    app.get(&format!("/services/{id}")).await.expect_error(404);
    app.delete(&format!("/services/{id}"))
        .await
        .expect_error(404);
    app.put(
        &format!("/services/{id}"),
        &service_body("vm1", "example.com", &[]),
    )
    .await
    .expect_error(404);
    // Its address is free.
    app.post(
        "/services",
        &service_body("vm6", "example.com", &[("192.0.2.11", None)]),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn records_shows_what_each_zone_should_hold() {
    let app = spawn_app().await;
    let svc = app
        .create_service(
            "vm",
            "records.example",
            &[
                ("192.0.2.5", None),
                ("2001:db8::5", Some("mail.example.net")),
            ],
        )
        .await;
    let none = app
        .get(&format!("/services/{svc}/records"))
        .await
        .expect(200);
    assert_eq!(none, json!({"desired": [], "status": []}));

    let settings = json!({"server_url": "http://127.0.0.1:1", "api_key": "k"});
    let fwd = app
        .create_zone("records.example", "powerdns", settings.clone())
        .await;
    let rev = app
        .create_zone("2.0.192.in-addr.arpa", "powerdns", settings.clone())
        .await;
    app.create_zone("unrelated.example", "powerdns", settings)
        .await;
    let got = app
        .get(&format!("/services/{svc}/records"))
        .await
        .expect(200);
    assert_eq!(
        got["desired"],
        json!([
            {"zone_id": fwd, "zone": "records.example", "provider": "powerdns", "name": "vm.records.example",
             "type": "A", "ttl": 300, "content": ["192.0.2.5"]},
            {"zone_id": fwd, "zone": "records.example", "provider": "powerdns", "name": "vm.records.example",
             "type": "AAAA", "ttl": 300, "content": ["2001:db8::5"]},
            {"zone_id": rev, "zone": "2.0.192.in-addr.arpa", "provider": "powerdns", "name": "5.2.0.192.in-addr.arpa",
             "type": "PTR", "ttl": 300, "content": ["vm.records.example"]},
        ])
    );
}

#[tokio::test]
async fn service_validation_names_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"domain": "example.com"}), "name"),
        (json!({"name": "vm 1", "domain": "example.com"}), "name"),
        (json!({"name": "vm1"}), "domain"),
        (json!({"name": "vm1", "domain": "exa..mple"}), "domain"),
        (
            json!({"name": "vm1", "domain": "2.0.192.in-addr.arpa"}),
            "domain",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "ttl": 0}),
            "ttl",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "ttl": 604801}),
            "ttl",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "ttl": "soon"}),
            "ttl",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "999.1.1.1"}]}),
            "addresses[0].ip",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1"}, {"ip": "nope"}]}),
            "addresses[1].ip",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ptr": "x.example"}]}),
            "addresses[0].ip",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "0.0.0.0"}]}),
            "addresses[0].ip",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.1"}]}),
            "addresses[1].ip",
        ),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": "192.0.2.1", "ptr": "<b>"}]}),
            "addresses[0].ptr",
        ),
        // Wrong JSON types name the field too.
        (json!({"name": 5, "domain": "example.com"}), "name"),
        (
            json!({"name": "vm1", "domain": "example.com", "addresses": [{"ip": 1}]}),
            "addresses[0].ip",
        ),
    ];
    for (body, field) in cases {
        let got = app.post("/services", &body).await.expect_error(422);
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
    assert_eq!(app.get("/services").await.expect(200), json!([]));
}

#[tokio::test]
async fn two_active_services_cannot_share_an_fqdn() {
    let app = spawn_app().await;
    let first = app
        .post("/services", &service_body("vm1", "example.com", &[]))
        .await
        .expect(201);
    let field = app
        .post("/services", &service_body("VM1", "example.com.", &[]))
        .await
        .expect_error(409);
    assert_eq!(field.as_deref(), Some("name"));
    let second = app
        .post("/services", &service_body("vm2", "example.com", &[]))
        .await
        .expect(201);
    let id2 = second["id"].as_i64().expect("id");
    app.put(
        &format!("/services/{id2}"),
        &service_body("vm1", "example.com", &[]),
    )
    .await
    .expect_error(409);
    // Its own name is no conflict, and a terminated service frees the name.
    let id1 = first["id"].as_i64().expect("id");
    app.put(
        &format!("/services/{id1}"),
        &service_body("vm1", "example.com", &[]),
    )
    .await
    .expect(200);
    app.post(
        &format!("/services/{id1}/terminate"),
        &serde_json::json!({}),
    )
    .await
    .expect(202);
    app.put(
        &format!("/services/{id2}"),
        &service_body("vm1", "example.com", &[]),
    )
    .await
    .expect(200);
}
