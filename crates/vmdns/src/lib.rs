//! vmdns, the application.
//!
//! # Layout
//! - [`cli`]: the command line (`serve`, `ptr-name`, `rdns-zone`, `records`, ...).

pub mod cli;
