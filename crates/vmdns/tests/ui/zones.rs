//! DNS Zones in the browser, against a real PowerDNS: add, Test connection (green), edit without
//! retyping the key (still green), a wrong key (red, with the server's words), delete with confirmation;
//! never a secret in any page; a `<script>` zone name refused and shown escaped.

use vmdns::admin;
use vmdns_providers::testing::pdns::PdnsServer;

use crate::browser::Browser;
use crate::helpers::{n, spawn_app};

const PLACEHOLDER: &str = "(unchanged — enter new to replace)";

#[tokio::test]
async fn powerdns_zone_add_test_edit_and_wrong_key() {
    let pdns = PdnsServer::start().await;
    pdns.create_zone(&n("example.com")).await;
    let app = spawn_app().await;
    let key = pdns.api_key().to_string();
    let wrong_key = "wrong-key-0123456789abcdef";
    let mut b = Browser::open(&app).await;
    b.forbid(&key);
    b.forbid(wrong_key);
    b.login().await;

    b.goto("/zones").await;
    b.find(".empty").await;
    b.screenshot("zones-empty").await;

    // "+ Add DNS Zone": the fields follow the provider type.
    b.submit("a.btn-primary").await;
    assert_eq!(b.path().await, "/zones/new");
    let pdns_fields = b.find("fieldset[data-provider=powerdns]").await;
    assert!(pdns_fields.is_displayed().await.expect("displayed"));
    assert!(
        !b.find("#cloudflare-account_id")
            .await
            .is_displayed()
            .await
            .expect("hidden")
    );
    b.find("#provider")
        .await
        .select_by_value("cloudflare")
        .await
        .expect("select");
    assert!(
        b.find("#cloudflare-account_id")
            .await
            .is_displayed()
            .await
            .expect("shown")
    );
    assert!(!pdns_fields.is_displayed().await.expect("hidden"));
    assert_eq!(
        b.text("label[for=cloudflare-api_token]").await,
        "API Token *"
    );
    b.screenshot("zone-new-cloudflare").await;
    b.find("#provider")
        .await
        .select_by_value("hestiacp")
        .await
        .expect("select");
    assert!(
        b.find("#hestiacp-admin_user")
            .await
            .is_displayed()
            .await
            .expect("shown")
    );
    b.find("#provider")
        .await
        .select_by_value("powerdns")
        .await
        .expect("select");
    assert!(
        b.find("#powerdns-api_key")
            .await
            .is_displayed()
            .await
            .expect("shown")
    );

    // A missing URL is shown next to its field; the typed key is not sent back.
    b.fill("#name", "example.com.").await;
    b.fill("#powerdns-server_url", "not a url").await;
    b.fill("#powerdns-api_key", &key).await;
    b.submit("form[data-zone-form] button[type=submit]").await;
    let err = b.text("#powerdns-server_url-error").await;
    assert!(!err.is_empty(), "an error next to the server URL");
    assert_eq!(
        b.find("#powerdns-server_url")
            .await
            .attr("aria-invalid")
            .await
            .expect("attr")
            .as_deref(),
        Some("true")
    );
    let key_input = b.find("#powerdns-api_key").await;
    assert_eq!(
        key_input.prop("value").await.expect("value").as_deref(),
        Some("")
    );
    b.screenshot("zone-new-invalid").await;

    b.fill("#powerdns-server_url", &pdns.api_url()).await;
    b.fill("#powerdns-api_key", &key).await;
    b.submit("form[data-zone-form] button[type=submit]").await;
    assert_eq!(b.path().await, "/zones?notice=zone-created&id=1");
    assert_eq!(b.text("#zone-1 .zone-name").await, "example.com");
    assert_eq!(b.text("#zone-1 .badge").await, "PowerDNS");

    // Test connection: a green toast with the provider's words.
    let zone = app.app.store.get_zone(1).await.expect("zone 1");
    let (ok, message) = admin::test_zone(&app.app, &zone).await;
    assert!(ok, "the zone works: {message}");
    b.click("#zone-1 [data-test-url]").await;
    let toast = b.wait_text(".toast", |t| !t.is_empty()).await;
    assert_eq!(b.count(".toast.toast-ok").await, 1, "green toast: {toast}");
    assert!(toast.contains(&message), "{toast:?} says {message:?}");
    b.screenshot("zones").await;
    b.click(".toast-close").await;

    // Edit: the key is never filled in; saving with it empty keeps it.
    b.goto("/zones/1/edit").await;
    let key_input = b.find("#powerdns-api_key").await;
    assert_eq!(
        key_input.prop("value").await.expect("value").as_deref(),
        Some("")
    );
    assert_eq!(
        key_input
            .attr("placeholder")
            .await
            .expect("attr")
            .as_deref(),
        Some(PLACEHOLDER)
    );
    assert_eq!(
        b.find("#powerdns-server_url")
            .await
            .prop("value")
            .await
            .expect("value"),
        Some(pdns.api_url())
    );
    // The stored key need not be typed again; the URL is still required.
    assert_eq!(
        key_input.prop("required").await.expect("prop").as_deref(),
        Some("false")
    );
    assert_eq!(
        b.find("#powerdns-server_url")
            .await
            .prop("required")
            .await
            .expect("prop")
            .as_deref(),
        Some("true")
    );
    b.screenshot("zone-edit").await;
    b.submit("form[data-zone-form] button[type=submit]").await;
    assert_eq!(b.path().await, "/zones?notice=zone-saved&id=1");
    assert_eq!(
        app.app
            .store
            .get_zone(1)
            .await
            .expect("zone")
            .settings
            .get("api_key"),
        Some(&key),
        "the stored key was kept"
    );
    b.click("#zone-1 [data-test-url]").await;
    let toast = b.wait_text(".toast", |t| !t.is_empty()).await;
    assert_eq!(b.count(".toast.toast-ok").await, 1, "still green: {toast}");
    b.click(".toast-close").await;

    // A wrong key: the red toast carries the server's message.
    b.goto("/zones/1/edit").await;
    b.fill("#powerdns-api_key", wrong_key).await;
    b.submit("form[data-zone-form] button[type=submit]").await;
    let zone = app.app.store.get_zone(1).await.expect("zone 1");
    assert_eq!(
        zone.settings.get("api_key").map(String::as_str),
        Some(wrong_key)
    );
    let (ok, message) = admin::test_zone(&app.app, &zone).await;
    assert!(!ok, "a wrong key fails");
    b.click("#zone-1 [data-test-url]").await;
    let toast = b.wait_text(".toast", |t| !t.is_empty()).await;
    assert_eq!(b.count(".toast.toast-err").await, 1, "red toast: {toast}");
    assert!(toast.contains(&message), "{toast:?} says {message:?}");
    b.screenshot("zones-test-failed").await;
    b.check_secrets().await;

    // Delete asks first: dismissing keeps the zone, accepting deletes it.
    b.goto("/zones").await;
    b.click("#zone-1 .btn-danger").await;
    let question = b.c.get_alert_text().await.expect("a confirmation");
    assert!(question.contains("example.com"), "{question}");
    b.c.dismiss_alert().await.expect("dismiss");
    assert_eq!(b.count("#zone-1").await, 1);
    let root = b.find("html").await;
    b.click("#zone-1 .btn-danger").await;
    b.c.accept_alert().await.expect("accept");
    b.wait_gone(root).await;
    assert_eq!(b.path().await, "/zones?notice=zone-deleted&id=1");
    assert_eq!(b.count("#zone-1").await, 0);
    b.close().await;
}

#[tokio::test]
async fn script_in_a_zone_name_is_refused_and_shown_escaped() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.login().await;
    let evil = "<script>alert('zone')</script>.example.com";
    b.goto("/zones/new").await;
    b.fill("#name", evil).await;
    b.fill("#powerdns-server_url", "http://127.0.0.1:1").await;
    b.fill("#powerdns-api_key", "k").await;
    b.submit("form[data-zone-form] button[type=submit]").await;
    // Refused, with the reason next to the field, and the name shown back as text.
    assert!(!b.text("#name-error").await.is_empty());
    assert_eq!(
        b.find("#name")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some(evil)
    );
    assert!(b.c.get_alert_text().await.is_err(), "no script ran");
    assert_eq!(b.count("script").await, 1, "only the page's own script");
    assert!(app.app.store.list_zones().await.expect("zones").is_empty());
    b.screenshot("zone-new-script-name").await;

    // Free-text names (pools) are kept as typed and shown as text.
    let pool = "<script>alert('pool')</script>";
    b.goto("/pools/new").await;
    b.fill("#name", pool).await;
    b.fill("#first_ip", "192.0.2.10").await;
    b.fill("#last_ip", "192.0.2.20").await;
    b.fill("#prefix_len", "24").await;
    b.submit("form[data-pool-form] button[type=submit]").await;
    assert_eq!(b.text("#pool-1 .pool-name").await, pool);
    assert!(b.c.get_alert_text().await.is_err(), "no script ran");
    assert_eq!(b.count("script").await, 1, "only the page's own script");
    let raw = crate::helpers::login(&app).await.get(&app, "/pools").await;
    let html = raw.text().await.expect("html");
    assert!(!html.contains("<script>alert"), "escaped in the HTML");
    assert!(
        html.contains("&#60;script&#62;alert("),
        "escaped in the HTML"
    );
    b.close().await;
}
