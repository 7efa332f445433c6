//! The web admin UI in a real browser (headless Chromium over WebDriver) and over plain HTTP: one test
//! binary, one [`helpers::spawn_app`] per test (port 0, temp data dir, SQLite), a real PowerDNS per test
//! that needs one, one chromedriver for the binary ([`browser`]). Every page a test visits is screenshot
//! into `target/ui-screenshots/`.
//!
//! - `login`: login, logout, wrong password, pages need a session.
//! - `zones`: add a PowerDNS zone and Test it (green toast), edit it without retyping the key (still
//!   green), a wrong key (red toast with the server's words), never a secret in a page; a `<script>`
//!   zone name is refused and shown escaped.
//! - `pools`: the reverse-zone hint, live as the prefix is typed, and in the list.
//! - `services`: "Set DNS records" with its `fwd OK` / `rev OK` lines arriving live, the status matrix,
//!   the preview, the module log.
//! - `http`: without a browser: every route needs a session, every POST its CSRF token, cookie flags,
//!   the lock-out after repeated failed logins.

mod browser;
mod helpers;

mod http;
mod login;
mod pools;
mod services;
mod zones;
