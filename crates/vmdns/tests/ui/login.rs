//! Logging in and out in the browser.

use fantoccini::key::Key;

use crate::browser::Browser;
use crate::helpers::{USER, spawn_app};

#[tokio::test]
async fn login_wrong_password_and_logout() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;

    // A page without a session goes to the login page, and back after login.
    b.goto("/services").await;
    assert_eq!(b.path().await, "/login?next=/services");
    b.find("#username").await;
    b.screenshot("login").await;

    b.fill("#username", USER).await;
    b.fill("#password", "not the password").await;
    b.submit("button[type=submit]").await;
    let error = b.text("#login-error").await;
    assert_eq!(error, "Wrong user name or password.");
    // The user name stays, the password does not.
    let user = b.find("#username").await;
    assert_eq!(
        user.prop("value").await.expect("value").as_deref(),
        Some(USER)
    );
    let pw = b.find("#password").await;
    assert_eq!(pw.prop("value").await.expect("value").as_deref(), Some(""));
    b.screenshot("login-error").await;

    b.fill("#password", crate::helpers::PASSWORD).await;
    b.submit("button[type=submit]").await;
    assert_eq!(b.path().await, "/services");
    assert_eq!(b.text(".who .user").await, USER);
    assert_eq!(b.text("h1").await, "Services");

    // Keyboard: the skip link is the first thing Tab reaches; then the navigation, in order.
    b.goto("/services").await;
    b.press(Key::Tab.into()).await;
    assert_eq!(b.focused().await, "Skip to content");
    b.press(Key::Tab.into()).await;
    b.press(Key::Tab.into()).await;
    assert_eq!(b.focused().await, "DNS Zones");
    b.press(Key::Enter.into()).await;
    b.wait_text("h1", |t| t == "DNS Zones").await;

    b.submit(".who button[type=submit]").await;
    assert_eq!(b.path().await, "/login");
    b.goto("/zones").await;
    assert_eq!(b.path().await, "/login?next=/zones");
    b.close().await;
}
