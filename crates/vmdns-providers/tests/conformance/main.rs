//! The conformance battery, run against every provider: a real PowerDNS and the Cloudflare and HestiaCP fakes.

mod cloudflare;
mod hestiacp;
mod powerdns;
