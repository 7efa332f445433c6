//! IP Pools in the browser: the reverse zone a pool needs, live in the form as the prefix is typed, and
//! on the second line of the list's Addresses column; errors next to their field.

use crate::browser::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn pool_form_shows_the_reverse_zone_live() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.login().await;
    b.goto("/pools").await;
    b.find(".empty").await;
    b.submit("a.btn-primary").await;
    assert_eq!(b.path().await, "/pools/new");

    b.fill("#name", "VLAN 130").await;
    b.fill("#first_ip", "192.168.130.2").await;
    b.fill("#last_ip", "192.168.130.30").await;
    b.fill("#gateway", "192.168.130.1").await;
    // As the prefix is typed: /2 is not a useful pool yet, /24 is.
    b.find("#prefix_len")
        .await
        .send_keys("2")
        .await
        .expect("type");
    b.wait_text("#rdns-hint", |t| t.starts_with("spans ")).await;
    b.find("#prefix_len")
        .await
        .send_keys("4")
        .await
        .expect("type");
    b.wait_text("#rdns-hint", |t| t == "130.168.192.in-addr.arpa")
        .await;
    b.screenshot("pool-new").await;

    // Not octet-aligned: classless delegation.
    b.fill("#prefix_len", "27").await;
    b.wait_text("#rdns-hint", |t| {
        t.starts_with("classless delegation required")
    })
    .await;
    assert!(
        b.count("#rdns-hint-more li").await > 1,
        "the CNAMEs are listed"
    );
    b.fill("#prefix_len", "99").await;
    b.wait_text("#rdns-hint", |t| t.contains("from 0 to 32"))
        .await;
    b.fill("#prefix_len", "24").await;
    b.wait_text("#rdns-hint", |t| t == "130.168.192.in-addr.arpa")
        .await;

    b.submit("form[data-pool-form] button[type=submit]").await;
    assert_eq!(b.path().await, "/pools?notice=pool-created&id=1");
    assert_eq!(
        b.text("#pool-1 .addresses .mono").await,
        "192.168.130.2 – 192.168.130.30 /24"
    );
    assert_eq!(
        b.text("#pool-1 .hint-line .rdns").await,
        "130.168.192.in-addr.arpa"
    );

    // IPv6, and an error next to its field.
    b.goto("/pools/new").await;
    b.fill("#name", "v6").await;
    b.fill("#first_ip", "2001:db8::2").await;
    b.fill("#last_ip", "2001:db8::1:50").await;
    b.fill("#prefix_len", "120").await;
    b.wait_text("#rdns-hint", |t| {
        t == "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    })
    .await;
    b.submit("form[data-pool-form] button[type=submit]").await;
    assert!(b.text("#last_ip-error").await.contains("outside"));
    assert_eq!(
        b.find("#rdns-hint").await.text().await.expect("text"),
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        "the hint is there on a re-shown form too"
    );
    b.screenshot("pool-new-invalid").await;
    b.fill("#last_ip", "2001:db8::50").await;
    b.submit("form[data-pool-form] button[type=submit]").await;
    assert_eq!(b.count("#pool-2").await, 1);
    b.screenshot("pools").await;

    // Edit shows the hint for the stored values.
    b.goto("/pools/2/edit").await;
    assert_eq!(
        b.text("#rdns-hint").await,
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
    b.screenshot("pool-edit").await;
    b.close().await;
}
