//! vmdns, the application: store, engine, HTTP API and UI, command line.
//!
//! # Layout
//! - [`cli`]: the command line (`serve`, `ptr-name`, `rdns-zone`, `records`, admin commands).

pub mod cli;
