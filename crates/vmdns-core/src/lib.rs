//! Pure DNS logic for vmdns: no I/O, no async, no clocks.
//!
//! # Layout
//! - [`name`]: [`DnsName`], the one validated spelling of a DNS name, and label-boundary zone matching.
//! - [`reverse`]: PTR owner names for addresses and the way back (`in-addr.arpa` / `ip6.arpa` → address or prefix),
//!   RFC 2317 classless zones.
//! - [`pool`]: the reverse zone an IP pool needs (exact, spans several, or classless delegation).
//! - [`rrset`]: record types, whole RRsets and the changes applied to them.
//! - [`records`]: the records a VM should have and the zones each one goes to.
//! - [`plan`]: desired + current + ownership → the changes to make, under a policy.

pub mod name;
pub mod plan;
pub mod pool;
pub mod records;
pub mod reverse;
pub mod rrset;

pub use name::{DnsName, NameError, ZoneKind};
pub use plan::{Action, Plan, PlannedChange, Policy, plan};
pub use pool::{ReverseZoneHint, reverse_zone};
pub use records::{AddressSpec, RecordError, VmSpec, assign_to_zones, desired_rrsets};
pub use reverse::{ArpaError, owner_in_zone, parse_arpa, ptr_name};
pub use rrset::{Change, RecordType, RrKey, RrSet};
