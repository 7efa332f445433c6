//! `/zones`: CRUD, the `__KEEP__` rules for secrets, and "test connection" against the real PowerDNS.

use serde_json::{Value, json};
use vmdns_providers::testing::pdns::PdnsServer;

use crate::helpers::{TestApp, spawn_app};

const KEEP: &str = "__KEEP__";

async fn stored_settings(app: &TestApp, id: i64) -> vmdns_providers::Settings {
    app.app
        .store
        .get_zone(id)
        .await
        .expect("the zone is stored")
        .settings
}

#[tokio::test]
async fn zone_crud() {
    let app = spawn_app().await;
    assert_eq!(app.get("/zones").await.expect(200), json!([]));

    let created = app
        .post(
            "/zones",
            &json!({
                "name": "Example.COM.",
                "provider": "PowerDNS",
                "settings": {"server_url": "http://127.0.0.1:1", "api_key": "crud-key-1", "server_id": "localhost"}
            }),
        )
        .await
        .expect(201);
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["name"], "example.com", "normalised");
    assert_eq!(created["provider"], "powerdns");
    assert_eq!(
        created["settings"],
        json!({"server_url": "http://127.0.0.1:1", "api_key": KEEP, "server_id": "localhost"})
    );
    for t in ["created_at", "updated_at"] {
        assert!(created[t].as_str().is_some_and(|s| s.contains('T')), "{t}");
    }

    // The same name again: another server of the same provider, and another provider.
    let twin = app
        .create_zone(
            "example.com",
            "powerdns",
            json!({"server_url": "http://127.0.0.1:2", "api_key": "crud-key-2"}),
        )
        .await;
    let hestia = app
        .create_zone(
            "example.com",
            "hestiacp",
            json!({"server_url": "https://hestia.example.com:8083/", "user": "alice",
                   "access_key": "AKEY", "secret_key": "crud-secret"}),
        )
        .await;
    assert!(twin != id && hestia != id && twin != hestia);
    let list = app.get("/zones").await.expect(200);
    let ids: Vec<i64> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|z| z["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![id, twin, hestia]);
    assert_eq!(list[2]["settings"]["secret_key"], KEEP);
    assert_eq!(list[2]["settings"]["access_key"], "AKEY", "not a secret");

    assert_eq!(app.get(&format!("/zones/{id}")).await.expect(200), created);

    // Update: rename, settings as given (the secret kept).
    let updated = app
        .put(
            &format!("/zones/{id}"),
            &json!({"name": "example.net", "settings": {"server_url": "http://127.0.0.1:3"}}),
        )
        .await
        .expect(200);
    assert_eq!(updated["name"], "example.net");
    assert_eq!(
        updated["settings"],
        json!({"server_url": "http://127.0.0.1:3", "api_key": KEEP})
    );
    assert_eq!(updated["created_at"], created["created_at"]);
    // PATCH is the same operation; an empty body changes nothing.
    let same = app
        .call(
            reqwest::Method::PATCH,
            &format!("/zones/{id}"),
            Some(&json!({})),
        )
        .await
        .expect(200);
    assert_eq!(same["name"], "example.net");
    assert_eq!(same["settings"], updated["settings"]);

    app.delete(&format!("/zones/{id}")).await.expect(204);
    assert_eq!(
        app.get(&format!("/zones/{id}")).await.expect_error(404),
        None
    );
    app.delete(&format!("/zones/{id}")).await.expect_error(404);
    app.put(&format!("/zones/{id}"), &json!({"name": "x.example"}))
        .await
        .expect_error(404);
    assert_eq!(
        app.get("/zones").await.expect(200).as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn keep_rules_for_secrets() {
    let app = spawn_app().await;
    let id = app
        .create_zone(
            "keep.example",
            "powerdns",
            json!({"server_url": "http://127.0.0.1:1", "api_key": "keep-secret-1"}),
        )
        .await;
    let path = format!("/zones/{id}");
    let key = |s: vmdns_providers::Settings| s.get("api_key").cloned();

    // Absent, empty, blank and __KEEP__ keep the stored secret.
    for settings in [
        json!({"server_url": "http://127.0.0.1:2"}),
        json!({"server_url": "http://127.0.0.1:2", "api_key": ""}),
        json!({"server_url": "http://127.0.0.1:2", "api_key": "   "}),
        json!({"server_url": "http://127.0.0.1:2", "api_key": null}),
        json!({"server_url": "http://127.0.0.1:2", "api_key": KEEP}),
    ] {
        let reply = app.put(&path, &json!({"settings": settings})).await;
        let body = reply.expect(200);
        assert_eq!(body["settings"]["api_key"], KEEP, "{settings}");
        assert!(!reply.text.contains("keep-secret"), "{}", reply.text);
        assert_eq!(
            key(stored_settings(&app, id).await).as_deref(),
            Some("keep-secret-1"),
            "{settings}"
        );
    }
    // No settings at all: everything kept.
    app.put(&path, &json!({"name": "keep.example"}))
        .await
        .expect(200);
    let stored = stored_settings(&app, id).await;
    assert_eq!(
        stored.get("api_key").map(String::as_str),
        Some("keep-secret-1")
    );
    assert_eq!(
        stored.get("server_url").map(String::as_str),
        Some("http://127.0.0.1:2")
    );

    // Any other value replaces it.
    let reply = app
        .put(
            &path,
            &json!({"settings": {"server_url": "http://127.0.0.1:2", "api_key": "keep-secret-2"}}),
        )
        .await;
    assert_eq!(reply.expect(200)["settings"]["api_key"], KEEP);
    assert!(!reply.text.contains("keep-secret"));
    assert_eq!(
        key(stored_settings(&app, id).await).as_deref(),
        Some("keep-secret-2")
    );

    // Reads never show it.
    for p in [path.as_str(), "/zones"] {
        let r = app.get(p).await;
        assert!(!r.text.contains("keep-secret"), "{p}: {}", r.text);
        assert!(r.text.contains(KEEP), "{p}: {}", r.text);
    }

    // HestiaCP: two secrets, one kept, one replaced, in one update.
    let h = app
        .create_zone(
            "keep.example",
            "hestiacp",
            json!({"server_url": "https://h.example:8083/", "user": "alice",
                   "admin_user": "admin", "admin_password": "keep-admin-pw",
                   "access_key": "AK1", "secret_key": "keep-secret-key"}),
        )
        .await;
    let body = app
        .put(
            &format!("/zones/{h}"),
            &json!({"settings": {"server_url": "https://h.example:8083/", "user": "alice",
                     "admin_user": "admin", "admin_password": KEEP,
                     "access_key": "AK2", "secret_key": "keep-secret-key-2"}}),
        )
        .await
        .expect(200);
    assert_eq!(body["settings"]["admin_password"], KEEP);
    assert_eq!(body["settings"]["secret_key"], KEEP);
    assert_eq!(body["settings"]["access_key"], "AK2");
    let stored = stored_settings(&app, h).await;
    assert_eq!(
        stored.get("admin_password").map(String::as_str),
        Some("keep-admin-pw")
    );
    assert_eq!(
        stored.get("secret_key").map(String::as_str),
        Some("keep-secret-key-2")
    );

    // A new zone has nothing to keep.
    let field = app
        .post(
            "/zones",
            &json!({"name": "new.example", "provider": "powerdns",
                    "settings": {"server_url": "http://127.0.0.1:1", "api_key": KEEP}}),
        )
        .await
        .expect_error(422);
    assert_eq!(field.as_deref(), Some("settings.api_key"));
    // Secrets of another provider are never carried over: switching providers needs the new secrets.
    let field = app
        .put(
            &path,
            &json!({"provider": "cloudflare", "settings": {"account_id": "acc", "zone_id": "zid", "api_token": KEEP}}),
        )
        .await
        .expect_error(422);
    assert_eq!(field.as_deref(), Some("settings.api_token"));
    let field = app
        .put(&path, &json!({"provider": "cloudflare"}))
        .await
        .expect_error(422);
    assert_eq!(field.as_deref(), Some("settings"));
    assert_eq!(
        key(stored_settings(&app, id).await).as_deref(),
        Some("keep-secret-2"),
        "a refused update changes nothing"
    );
}

/// PowerDNS's own error text for a request with a wrong key.
async fn powerdns_words_for_a_wrong_key(server: &PdnsServer) -> String {
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/servers/localhost/zones",
            server.api_url()
        ))
        .header("X-API-Key", "not-the-key")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("PowerDNS answers");
    assert_eq!(resp.status().as_u16(), 401);
    let text = resp.text().await.expect("body");
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text)
}

#[tokio::test]
async fn zone_test_against_the_real_powerdns() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    let good = app.pdns_zone(server, "zonetest.example.test").await;
    let test = |id: i64| {
        let app = &app;
        async move {
            app.post(&format!("/zones/{id}/test"), &json!({}))
                .await
                .expect(200)
        }
    };

    let r = test(good).await;
    assert_eq!(r["ok"], true, "{r}");
    let msg = r["message"].as_str().expect("message");
    assert!(
        msg.contains("zonetest.example.test") && msg.contains("PowerDNS"),
        "{msg}"
    );

    // Wrong key: red, with the server's own words.
    let bad = app
        .create_zone(
            "zonetest.example.test",
            "powerdns",
            json!({"server_url": server.api_url(), "api_key": "not-the-key"}),
        )
        .await;
    let r = test(bad).await;
    assert_eq!(r["ok"], false, "{r}");
    let words = powerdns_words_for_a_wrong_key(server).await;
    let msg = r["message"].as_str().expect("message");
    assert!(msg.contains(&words), "{msg:?} lacks the server's {words:?}");
    assert!(msg.contains("authentication"), "{msg}");
    assert!(!msg.contains("not-the-key"), "{msg}");

    // An update that sends __KEEP__ (the form sends back what it read) keeps the zone green.
    let shown = app.get(&format!("/zones/{good}")).await.expect(200);
    assert_eq!(shown["settings"]["api_key"], KEEP);
    let resent = json!({"name": shown["name"], "provider": shown["provider"], "settings": shown["settings"]});
    app.put(&format!("/zones/{good}"), &resent)
        .await
        .expect(200);
    let r = test(good).await;
    assert_eq!(r["ok"], true, "after a __KEEP__ update: {r}");
    // Also with the URL written differently and the key field left empty.
    app.put(
        &format!("/zones/{good}"),
        &json!({"settings": {"server_url": format!("{}/api/v1/", server.api_url()), "api_key": ""}}),
    )
    .await
    .expect(200);
    assert_eq!(test(good).await["ok"], true);

    // Fixing the bad zone's key turns it green.
    app.put(
        &format!("/zones/{bad}"),
        &json!({"settings": {"server_url": server.api_url(), "api_key": server.api_key()}}),
    )
    .await
    .expect(200);
    assert_eq!(test(bad).await["ok"], true);

    // A zone the server does not have, and a server that is not there.
    let missing = app
        .create_zone(
            "not-there.example.test",
            "powerdns",
            json!({"server_url": server.api_url(), "api_key": server.api_key()}),
        )
        .await;
    let r = test(missing).await;
    assert_eq!(r["ok"], false);
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains("not-there.example.test")),
        "{r}"
    );
    let closed = app
        .create_zone(
            "zonetest.example.test",
            "powerdns",
            json!({"server_url": "http://127.0.0.1:1", "api_key": "k"}),
        )
        .await;
    let r = test(closed).await;
    assert_eq!(r["ok"], false);
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains("unavailable")),
        "{r}"
    );
    app.post("/zones/999/test", &json!({}))
        .await
        .expect_error(404);
}
