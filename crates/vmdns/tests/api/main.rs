//! The vmdns API, end to end: one test binary, one [`helpers::spawn_app`] per test (port 0, temp data
//! dir, SQLite), the job queue drained instead of slept on, a real PowerDNS (one per test that needs it)
//! and the Cloudflare and HestiaCP fakes for DNS.
//!
//! - `auth`: 401 on every route without a valid token; the OpenAPI document covers every route.
//! - `zones`, `pools`, `services`: CRUD, the `__KEEP__` rules, validation, "test connection".
//! - `validation`: what bad requests get (400, 404, 409, 413, 415, 422 with `field`).
//! - `legacy`: the `dns.php` shape and its client allow-list, `/metrics`.
//! - `leak`: no provider secret in any answer, log line, module log entry or database file.
//! - `lifecycle`: deploy, change-package, terminate, set-dns-records against the real PowerDNS.
//! - `providers`: several providers per zone name, one of them down, retries.
//! - `worker`: a worker process killed mid-job.

mod helpers;

mod auth;
mod leak;
mod legacy;
mod lifecycle;
mod pools;
mod providers;
mod services;
mod validation;
mod worker;
mod zones;
