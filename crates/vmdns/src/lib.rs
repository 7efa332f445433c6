//! vmdns, the application: store, engine, HTTP API and UI, command line.
//!
//! # Layout
//! - [`cli`]: the command line (`serve`, `worker`, `cron`, `resync`, admin commands, core commands).
//! - [`config`]: flags and environment → [`config::Config`].
//! - [`app`]: [`app::App`], the state one process shares (store, provider context, worker wake-up).
//! - [`store`]: all state (zones, pools, services, jobs, ledger, module log, tokens) on SQLite or PostgreSQL.
//! - [`secrets`]: the master key, secrets sealed at rest, the `__KEEP__` rules.
//! - [`admin`]: operations on zones, pools and services shared by the API and the CLI (validation).
//! - [`views`]: the JSON shapes of the API and `--json`.
//! - [`engine`]: lifecycle jobs that converge DNS (plan, apply, ledger, retries), the worker, bulk resync.
//! - [`http`]: the HTTP server (API, legacy endpoint, metrics, UI).

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod http;
pub mod secrets;
pub mod store;
pub mod views;
