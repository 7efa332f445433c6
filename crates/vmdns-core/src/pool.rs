//! The reverse zone an IP pool needs (the IP Pools hint): the exact zone, the zones a too-short prefix
//! spans, or what an RFC 2317 classless delegation needs.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::name::DnsName;
use crate::reverse::{arpa_zone, canonical_ip, ptr_name};

/// At most this many zones are listed for a prefix that spans several; `count` says how many there are.
pub const MAX_LISTED_ZONES: usize = 16;

/// One CNAME the parent zone needs for a classless delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClasslessCname {
    /// In the parent zone: `20.130.168.192.in-addr.arpa`.
    pub name: DnsName,
    /// In the delegated zone: `20.16/28.130.168.192.in-addr.arpa`.
    pub target: DnsName,
}

/// What reverse zone a pool needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReverseZoneHint {
    /// One zone holds every PTR of the pool.
    Exact { zone: DnsName },
    /// The prefix is shorter than the next octet (IPv4) or nibble (IPv6) boundary: the pool's PTRs fall into
    /// `count` zones of `/zone_prefix_len` each; the first [`MAX_LISTED_ZONES`] are listed.
    Spans {
        count: u64,
        zone_prefix_len: u8,
        zones: Vec<DnsName>,
    },
    /// An IPv4 pool longer than /24: its owner must get an RFC 2317 zone delegated from the /24 zone, which
    /// holds one CNAME per address.
    Classless {
        zone: DnsName,
        parent: DnsName,
        cnames: Vec<ClasslessCname>,
    },
}

/// The reverse-zone hint for the pool holding `addr` with `prefix_len`.
///
/// ```
/// use vmdns_core::{reverse_zone, ReverseZoneHint};
/// let hint = reverse_zone("192.168.130.2/24".parse().unwrap());
/// assert_eq!(hint.first_line(), "130.168.192.in-addr.arpa");
/// ```
pub fn reverse_zone(net: IpNet) -> ReverseZoneHint {
    let net = match (net, canonical_ip(net.addr())) {
        // An IPv4-mapped prefix is an IPv4 prefix.
        (IpNet::V6(n), IpAddr::V4(v4)) if n.prefix_len() >= 96 => {
            IpNet::V4(Ipv4Net::new(v4, n.prefix_len() - 96).unwrap_or_else(|_| Ipv4Net::from(v4)))
        }
        _ => net,
    }
    .trunc();
    if let Some(zone) = arpa_zone(net) {
        return ReverseZoneHint::Exact { zone };
    }
    match net {
        IpNet::V4(v4) if v4.prefix_len() > 24 => classless(v4),
        _ => {
            let step: u8 = if matches!(net, IpNet::V4(_)) { 8 } else { 4 };
            let next = (net.prefix_len() / step + 1) * step;
            let count = 1u64 << (next - net.prefix_len());
            let zones = net
                .subnets(next)
                .into_iter()
                .flatten()
                .take(MAX_LISTED_ZONES)
                .filter_map(arpa_zone)
                .collect();
            ReverseZoneHint::Spans {
                count,
                zone_prefix_len: next,
                zones,
            }
        }
    }
}

fn classless(net: Ipv4Net) -> ReverseZoneHint {
    let [a, b, c, d] = net.network().octets();
    let parent = DnsName::from_valid(format!("{c}.{b}.{a}.in-addr.arpa"));
    let zone = DnsName::from_valid(format!("{d}/{}.{parent}", net.prefix_len()));
    let cnames = net
        .hosts_all()
        .map(|ip| ClasslessCname {
            name: ptr_name(IpAddr::V4(ip)),
            target: DnsName::from_valid(format!("{}.{zone}", ip.octets()[3])),
        })
        .collect();
    ReverseZoneHint::Classless {
        zone,
        parent,
        cnames,
    }
}

trait HostsAll {
    fn hosts_all(&self) -> Box<dyn Iterator<Item = Ipv4Addr>>;
}

impl HostsAll for Ipv4Net {
    /// Every address of the block, network and broadcast included: each can carry a PTR.
    fn hosts_all(&self) -> Box<dyn Iterator<Item = Ipv4Addr>> {
        let first = u32::from(self.network());
        let last = u32::from(self.broadcast());
        Box::new((first..=last).map(Ipv4Addr::from))
    }
}

impl ReverseZoneHint {
    /// The first line of `vmdns rdns-zone`: the zone, `spans N reverse zones: …` or
    /// `classless delegation required …`.
    pub fn first_line(&self) -> String {
        match self {
            Self::Exact { zone } => zone.to_string(),
            Self::Spans {
                count,
                zone_prefix_len,
                ..
            } => {
                format!("spans {count} reverse zones: one per /{zone_prefix_len}")
            }
            Self::Classless { zone, parent, .. } => format!(
                "classless delegation required: create {zone} (RFC 2317) and delegate it from {parent}"
            ),
        }
    }

    /// Every line of the hint, for the CLI and the UI: the first line, then the zones or the CNAMEs.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![self.first_line()];
        match self {
            Self::Exact { .. } => {}
            Self::Spans { count, zones, .. } => {
                out.extend(zones.iter().map(ToString::to_string));
                let listed = zones.len() as u64;
                if *count > listed {
                    out.push(format!("… and {} more", count - listed));
                }
            }
            Self::Classless {
                zone,
                parent,
                cnames,
            } => {
                out.push(format!("in {parent}: {zone} NS <your name servers>"));
                out.extend(
                    cnames
                        .iter()
                        .map(|c| format!("in {parent}: {} CNAME {}", c.name, c.target)),
                );
            }
        }
        out
    }

    /// A one-line summary for tables (the IP Pools "Addresses" column).
    pub fn summary(&self) -> String {
        match self {
            Self::Exact { zone } => zone.to_string(),
            Self::Spans { count, zones, .. } => {
                let first = zones.first().map(ToString::to_string).unwrap_or_default();
                let last = zones.last().map(ToString::to_string).unwrap_or_default();
                if *count as usize > zones.len() {
                    format!(
                        "spans {count} reverse zones: {first} … (first {} listed)",
                        zones.len()
                    )
                } else {
                    format!("spans {count} reverse zones: {first} … {last}")
                }
            }
            Self::Classless { zone, parent, .. } => {
                format!("classless delegation required: {zone} delegated from {parent}")
            }
        }
    }

    /// The zones the pool's PTRs go into (listed ones only, for `Spans`).
    pub fn zones(&self) -> Vec<DnsName> {
        match self {
            Self::Exact { zone } | Self::Classless { zone, .. } => vec![zone.clone()],
            Self::Spans { zones, .. } => zones.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reverse::owner_in_zone;
    use proptest::prelude::*;

    fn hint(s: &str) -> ReverseZoneHint {
        reverse_zone(s.parse().expect("net"))
    }

    #[test]
    fn seed_examples() {
        // The two pools of the seed's screenshot.
        assert_eq!(
            hint("192.168.130.2/24").first_line(),
            "130.168.192.in-addr.arpa"
        );
        assert_eq!(
            hint("2001:db8::2/120").first_line(),
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn exact_zones() {
        let cases = [
            ("10.1.2.3/8", "10.in-addr.arpa"),
            ("172.16.5.4/16", "16.172.in-addr.arpa"),
            ("192.0.2.200/24", "2.0.192.in-addr.arpa"),
            ("192.0.2.7/32", "7.2.0.192.in-addr.arpa"),
            ("0.0.0.0/0", "in-addr.arpa"),
            ("2001:db8::/32", "8.b.d.0.1.0.0.2.ip6.arpa"),
            ("2001:db8:abcd::/48", "d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa"),
            ("2001:db8::/36", "0.8.b.d.0.1.0.0.2.ip6.arpa"),
            ("2000::/4", "2.ip6.arpa"),
            ("::ffff:192.0.2.9/120", "2.0.192.in-addr.arpa"),
        ];
        for (net, want) in cases {
            assert_eq!(
                hint(net),
                ReverseZoneHint::Exact {
                    zone: DnsName::parse(want).expect("name")
                },
                "{net}"
            );
        }
    }

    #[test]
    fn spans_list_the_zones() {
        let h = hint("192.168.129.7/22");
        assert_eq!(h.first_line(), "spans 4 reverse zones: one per /24");
        let zones: Vec<String> = h.zones().iter().map(ToString::to_string).collect();
        assert_eq!(
            zones,
            [
                "128.168.192.in-addr.arpa",
                "129.168.192.in-addr.arpa",
                "130.168.192.in-addr.arpa",
                "131.168.192.in-addr.arpa"
            ]
        );
        let h6 = hint("2001:db8:0:4::/62");
        assert!(matches!(
            h6,
            ReverseZoneHint::Spans {
                count: 4,
                zone_prefix_len: 64,
                ..
            }
        ));
        assert_eq!(
            h6.zones()[0].as_str(),
            "4.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(
            h6.zones()[3].as_str(),
            "7.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn long_span_lists_are_capped() {
        let h = hint("10.0.0.0/9");
        let ReverseZoneHint::Spans { count, zones, .. } = &h else {
            panic!("{h:?}")
        };
        assert_eq!(*count, 128);
        assert_eq!(zones.len(), MAX_LISTED_ZONES);
        assert_eq!(h.lines().last().map(String::as_str), Some("… and 112 more"));
    }

    #[test]
    fn classless_gives_rfc2317_details() {
        let h = hint("192.168.130.20/28");
        let ReverseZoneHint::Classless {
            zone,
            parent,
            cnames,
        } = &h
        else {
            panic!("{h:?}")
        };
        assert_eq!(zone.as_str(), "16/28.130.168.192.in-addr.arpa");
        assert_eq!(parent.as_str(), "130.168.192.in-addr.arpa");
        assert_eq!(cnames.len(), 16);
        assert_eq!(cnames[0].name.as_str(), "16.130.168.192.in-addr.arpa");
        assert_eq!(
            cnames[0].target.as_str(),
            "16.16/28.130.168.192.in-addr.arpa"
        );
        assert!(h.first_line().starts_with("classless delegation required"));
        assert_eq!(
            hint("192.0.2.130/25").zones()[0].as_str(),
            "128/25.2.0.192.in-addr.arpa"
        );
        let ReverseZoneHint::Classless { cnames, .. } = hint("192.0.2.1/31") else {
            panic!()
        };
        assert_eq!(cnames.len(), 2);
    }

    proptest! {
        #[test]
        fn every_address_of_a_v4_pool_fits_its_hint(bits in any::<u32>(), len in 0u8..=32, pick in any::<u32>()) {
            let net = Ipv4Net::new(Ipv4Addr::from(bits), len).expect("len").trunc();
            let size = 1u64 << (32 - u32::from(len));
            let ip = Ipv4Addr::from(u32::from(net.network()).wrapping_add((u64::from(pick) % size) as u32));
            let h = reverse_zone(IpNet::V4(net));
            let ip = IpAddr::V4(ip);
            match &h {
                ReverseZoneHint::Exact { zone } | ReverseZoneHint::Classless { zone, .. } => {
                    prop_assert!(owner_in_zone(ip, zone).is_some(), "{ip} not in {zone}");
                }
                ReverseZoneHint::Spans { count, zones, .. } => {
                    let fits = zones.iter().filter(|z| owner_in_zone(ip, z).is_some()).count();
                    if *count as usize <= zones.len() {
                        prop_assert_eq!(fits, 1);
                    } else {
                        prop_assert!(fits <= 1);
                    }
                }
            }
        }

        #[test]
        fn every_address_of_a_v6_pool_fits_its_hint(bits in any::<u128>(), len in 0u8..=128, pick in any::<u128>()) {
            let net = ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(bits), len).expect("len").trunc();
            let offset = if len == 0 { pick } else { pick % (1u128 << (128 - u32::from(len)).min(127)) };
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(net.network()) | offset));
            if matches!(canonical_ip(ip), IpAddr::V4(_)) {
                return Ok(());
            }
            match reverse_zone(IpNet::V6(net)) {
                ReverseZoneHint::Exact { zone } => prop_assert!(owner_in_zone(ip, &zone).is_some()),
                ReverseZoneHint::Spans { zones, count, .. } => {
                    prop_assert!(count <= 8);
                    prop_assert_eq!(zones.iter().filter(|z| owner_in_zone(ip, z).is_some()).count(), 1);
                }
                ReverseZoneHint::Classless { .. } => prop_assert!(false, "no classless in IPv6"),
            }
        }
    }
}
