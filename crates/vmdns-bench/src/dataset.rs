//! The benchmark's services and zones: `vmNNNNN.bench.example` with one IPv4 address in 10.20.0.0/16 and
//! one IPv6 address in 2001:db8:100::/48, so each service has A + AAAA + two PTRs in three zones. The
//! RRsets every contender writes come from `vmdns-core`, so they are the records vmdns itself wants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;
use vmdns::store::ServiceInput;
use vmdns_core::{AddressSpec, DnsName, RrSet, VmSpec};

pub(crate) const DOMAIN: &str = "bench.example";
/// 10.20.0.0/16.
pub(crate) const V4_ZONE: &str = "20.10.in-addr.arpa";
/// 2001:db8:100::/48.
pub(crate) const V6_ZONE: &str = "0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa";
pub(crate) const TTL: u32 = 300;

/// Addresses of changed services start this far into the /16 (and in the next /64 for IPv6).
const CHANGED_OFFSET: u32 = 32_768;

/// The three zones, in the order vmdns has them (forward, IPv4 reverse, IPv6 reverse).
pub(crate) fn zones() -> anyhow::Result<Vec<DnsName>> {
    [DOMAIN, V4_ZONE, V6_ZONE]
        .into_iter()
        .map(|z| DnsName::parse(z).with_context(|| format!("zone {z}")))
        .collect()
}

/// One service of the benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vm {
    pub(crate) name: String,
    pub(crate) v4: Ipv4Addr,
    pub(crate) v6: Ipv6Addr,
}

/// Service number `i` (0-based) named `{prefix}{i+1:05}`; `changed` moves both addresses elsewhere in
/// the same zones.
pub(crate) fn vm(prefix: &str, i: usize, changed: bool) -> Vm {
    let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
    let (v4_base, v6_net) = if changed {
        (CHANGED_OFFSET, 1u128)
    } else {
        (0, 0u128)
    };
    Vm {
        name: format!("{prefix}{:05}", i + 1),
        v4: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 20, 0, 0)) + v4_base + n),
        v6: Ipv6Addr::from(
            u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0))
                + (v6_net << 64)
                + u128::from(n),
        ),
    }
}

/// `n` services; the ones with `i % 10 == 0` changed when `changed_tenth`.
pub(crate) fn vms(prefix: &str, n: usize, changed_tenth: bool) -> Vec<Vm> {
    (0..n)
        .map(|i| vm(prefix, i, changed_tenth && i % 10 == 0))
        .collect()
}

impl Vm {
    pub(crate) fn addresses(&self) -> Vec<AddressSpec> {
        vec![
            AddressSpec {
                ip: IpAddr::V4(self.v4),
                ptr: None,
            },
            AddressSpec {
                ip: IpAddr::V6(self.v6),
                ptr: None,
            },
        ]
    }

    pub(crate) fn input(&self) -> anyhow::Result<ServiceInput> {
        Ok(ServiceInput {
            name: self.name.clone(),
            domain: DnsName::parse(DOMAIN)?,
            ttl: TTL,
            addresses: self.addresses(),
        })
    }

    /// The body of `POST /api/v1/services` and `PUT /api/v1/services/{id}`.
    pub(crate) fn api_body(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "domain": DOMAIN,
            "ttl": TTL,
            "addresses": [{"ip": self.v4.to_string()}, {"ip": self.v6.to_string()}],
        })
    }

    fn spec(&self) -> anyhow::Result<VmSpec> {
        Ok(VmSpec {
            name: self.name.clone(),
            domain: DnsName::parse(DOMAIN)?,
            addresses: self.addresses(),
            ttl: TTL,
        })
    }
}

/// The RRsets of every service, per zone (in the order of [`zones`]), sorted by name and type.
pub(crate) fn rrsets_by_zone(vms: &[Vm]) -> anyhow::Result<Vec<Vec<RrSet>>> {
    let zones = zones()?;
    let mut out: Vec<Vec<RrSet>> = vec![Vec::new(); zones.len()];
    for vm in vms {
        let assigned = vmdns_core::assign_to_zones(&vm.spec()?, &zones)?;
        for (i, rrsets) in assigned.into_iter().enumerate() {
            out[i].extend(rrsets);
        }
    }
    for rrsets in &mut out {
        rrsets.sort();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_four_rrsets_in_three_zones() {
        let all = rrsets_by_zone(&vms("vm", 25, false)).expect("rrsets");
        let counts: Vec<usize> = all.iter().map(Vec::len).collect();
        assert_eq!(counts, vec![50, 25, 25]);
        let changed = rrsets_by_zone(&vms("vm", 25, true)).expect("rrsets");
        assert_ne!(all, changed);
        assert_eq!(vm("vm", 0, false).v4, Ipv4Addr::new(10, 20, 0, 1));
        assert_eq!(vm("vm", 0, true).v4, Ipv4Addr::new(10, 20, 128, 1));
        assert_eq!(
            vm("vm", 0, true).v6,
            "2001:db8:100:1::1".parse::<Ipv6Addr>().expect("ip")
        );
    }
}
