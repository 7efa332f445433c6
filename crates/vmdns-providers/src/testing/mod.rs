//! Test support (feature `testing`): the conformance battery every provider passes, a harness that runs a
//! real PowerDNS on loopback, and stateful fakes of Cloudflare and HestiaCP with fault injection.

pub mod cloudflare_fake;
pub mod conformance;
pub mod hestia_fake;
pub mod pdns;
