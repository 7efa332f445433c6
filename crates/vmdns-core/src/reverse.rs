//! Reverse names: the PTR owner name of an address, the way back from an `in-addr.arpa` / `ip6.arpa` name to
//! the address or prefix it covers, and RFC 2317 classless zones.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are IPv4 addresses: their PTR lives in `in-addr.arpa`,
//! where a resolver asking for the IPv4 address looks. (`::ffff:0:0/96` has no reverse tree of its own.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::name::{DnsName, ZoneKind};

/// The canonical form of an address: IPv4-mapped IPv6 becomes IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The PTR owner name of an address.
///
/// ```
/// use vmdns_core::ptr_name;
/// assert_eq!(ptr_name("192.168.130.10".parse().unwrap()).as_str(), "10.130.168.192.in-addr.arpa");
/// ```
pub fn ptr_name(ip: IpAddr) -> DnsName {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            DnsName::from_valid(format!("{d}.{c}.{b}.{a}.in-addr.arpa"))
        }
        IpAddr::V6(v6) => DnsName::from_valid(format!("{}ip6.arpa", nibbles(&v6, 32))),
    }
}

/// The first `count` nibbles of `ip`, reversed, each followed by a dot.
fn nibbles(ip: &Ipv6Addr, count: usize) -> String {
    let hex: Vec<char> = ip
        .octets()
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .take(count)
        .collect();
    let mut out = String::with_capacity(count * 2);
    for c in hex.iter().rev() {
        out.push(*c);
        out.push('.');
    }
    out
}

/// The reverse zone name for an octet- or nibble-aligned network (`/8`, `/16`, `/24`, `/32`; IPv6 `/4n`).
/// `None` when the prefix is not aligned.
pub fn arpa_zone(net: IpNet) -> Option<DnsName> {
    match net.trunc() {
        IpNet::V4(n) => {
            let len = n.prefix_len();
            if len % 8 != 0 {
                return None;
            }
            let octets = n.network().octets();
            let mut labels: Vec<String> = octets[..usize::from(len / 8)]
                .iter()
                .map(u8::to_string)
                .collect();
            labels.reverse();
            labels.push("in-addr.arpa".into());
            Some(DnsName::from_valid(labels.join(".")))
        }
        IpNet::V6(n) => {
            let len = n.prefix_len();
            if len % 4 != 0 {
                return None;
            }
            Some(DnsName::from_valid(format!(
                "{}ip6.arpa",
                nibbles(&n.network(), usize::from(len / 4))
            )))
        }
    }
}

/// Why a name is not a reverse name vmdns understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArpaError {
    #[error("{0} is not under in-addr.arpa or ip6.arpa")]
    NotReverse(String),
    #[error("{name}: label \"{label}\" is not {expected}")]
    BadLabel {
        name: String,
        label: String,
        expected: &'static str,
    },
    #[error("{name}: too many labels for a reverse name")]
    TooLong { name: String },
    #[error("{name}: classless block \"{label}\" is not a CIDR-aligned block of /25 to /32")]
    BadClassless { name: String, label: String },
    #[error("{name}: address is outside its classless block")]
    OutsideBlock { name: String },
}

/// Parses a reverse name back to the network it covers: a full PTR name gives a `/32` or `/128`, a zone
/// name gives its prefix, an RFC 2317 zone (`0/25.2.0.192.in-addr.arpa` or `0-127.2.0.192.in-addr.arpa`)
/// gives its block, and a name inside one (`10.0/25.2.0.192.in-addr.arpa`) gives the address.
pub fn parse_arpa(name: &DnsName) -> Result<IpNet, ArpaError> {
    let s = name.as_str();
    match name.zone_kind() {
        ZoneKind::ReverseV4 => parse_v4(s).map(IpNet::V4),
        ZoneKind::ReverseV6 => parse_v6(s).map(IpNet::V6),
        ZoneKind::Forward => Err(ArpaError::NotReverse(s.to_string())),
    }
}

fn parse_v4(s: &str) -> Result<Ipv4Net, ArpaError> {
    let body = s.strip_suffix("in-addr.arpa").unwrap_or("");
    let body = body.strip_suffix('.').unwrap_or(body);
    let mut labels: Vec<&str> = if body.is_empty() {
        vec![]
    } else {
        body.split('.').collect()
    };
    labels.reverse(); // most significant first
    let bad = |label: &str, expected| ArpaError::BadLabel {
        name: s.to_string(),
        label: label.to_string(),
        expected,
    };
    let octet = |label: &str| -> Result<u8, ArpaError> {
        let canonical = !(label.len() > 1 && label.starts_with('0'));
        label
            .parse::<u8>()
            .ok()
            .filter(|_| canonical && label.chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| bad(label, "an octet (0-255)"))
    };
    let classless_at = labels
        .iter()
        .position(|l| l.contains('/') || l.contains('-'));
    match classless_at {
        None => {
            if labels.len() > 4 {
                return Err(ArpaError::TooLong {
                    name: s.to_string(),
                });
            }
            let mut o = [0u8; 4];
            for (i, l) in labels.iter().enumerate() {
                o[i] = octet(l)?;
            }
            let len = u8::try_from(labels.len() * 8).unwrap_or(32);
            Ipv4Net::new(Ipv4Addr::from(o), len).map_err(|_| ArpaError::TooLong {
                name: s.to_string(),
            })
        }
        Some(3) if labels.len() <= 5 => {
            let mut o = [0u8; 4];
            for (i, l) in labels[..3].iter().enumerate() {
                o[i] = octet(l)?;
            }
            let block = classless_block(s, labels[3], o)?;
            match labels.get(4) {
                None => Ok(block),
                Some(host) => {
                    o[3] = octet(host)?;
                    let ip = Ipv4Addr::from(o);
                    if block.contains(&ip) {
                        Ok(Ipv4Net::from(ip))
                    } else {
                        Err(ArpaError::OutsideBlock {
                            name: s.to_string(),
                        })
                    }
                }
            }
        }
        Some(_) => Err(ArpaError::BadClassless {
            name: s.to_string(),
            label: labels[classless_at.unwrap_or(0)].to_string(),
        }),
    }
}

/// `A/B` (first address and prefix length) or `A-B` (first and last address) of an RFC 2317 block.
fn classless_block(name: &str, label: &str, mut o: [u8; 4]) -> Result<Ipv4Net, ArpaError> {
    let err = || ArpaError::BadClassless {
        name: name.to_string(),
        label: label.to_string(),
    };
    let (first, len) = if let Some((a, b)) = label.split_once('/') {
        let first: u8 = a.parse().map_err(|_| err())?;
        let len: u8 = b.parse().map_err(|_| err())?;
        (first, len)
    } else if let Some((a, b)) = label.split_once('-') {
        let first: u8 = a.parse().map_err(|_| err())?;
        let last: u8 = b.parse().map_err(|_| err())?;
        let size = u16::from(last)
            .checked_sub(u16::from(first))
            .ok_or_else(err)?
            + 1;
        if !size.is_power_of_two() {
            return Err(err());
        }
        (
            first,
            32 - u8::try_from(size.trailing_zeros()).map_err(|_| err())?,
        )
    } else {
        return Err(err());
    };
    if !(25..=32).contains(&len) {
        return Err(err());
    }
    o[3] = first;
    let net = Ipv4Net::new(Ipv4Addr::from(o), len).map_err(|_| err())?;
    if net.network() != Ipv4Addr::from(o) {
        return Err(err());
    }
    Ok(net)
}

fn parse_v6(s: &str) -> Result<Ipv6Net, ArpaError> {
    let body = s.strip_suffix("ip6.arpa").unwrap_or("");
    let body = body.strip_suffix('.').unwrap_or(body);
    let mut labels: Vec<&str> = if body.is_empty() {
        vec![]
    } else {
        body.split('.').collect()
    };
    if labels.len() > 32 {
        return Err(ArpaError::TooLong {
            name: s.to_string(),
        });
    }
    labels.reverse();
    let mut value: u128 = 0;
    for (i, l) in labels.iter().enumerate() {
        let mut chars = l.chars();
        let nibble = match (chars.next(), chars.next()) {
            (Some(c), None) => c.to_digit(16),
            _ => None,
        }
        .ok_or_else(|| ArpaError::BadLabel {
            name: s.to_string(),
            label: (*l).to_string(),
            expected: "one hex digit",
        })?;
        value |= u128::from(nibble) << (124 - 4 * i);
    }
    let len = u8::try_from(labels.len() * 4).unwrap_or(128);
    Ipv6Net::new(Ipv6Addr::from(value), len).map_err(|_| ArpaError::TooLong {
        name: s.to_string(),
    })
}

/// True for an RFC 2317 classless zone name (`0/25.2.0.192.in-addr.arpa`).
pub fn is_classless_zone(zone: &DnsName) -> bool {
    zone.zone_kind() == ZoneKind::ReverseV4
        && zone
            .labels()
            .next()
            .is_some_and(|l| l.contains('/') || l.contains('-'))
}

/// Where the PTR of `ip` lives inside `zone`, or `None` when the zone does not cover the address.
///
/// For ordinary reverse zones that is the full PTR name when it lies within the zone (label boundaries, any
/// delegation level). For an RFC 2317 classless zone covering the address it is `<last octet>.<zone>`
/// (`10.0/25.2.0.192.in-addr.arpa`), the target of the parent's CNAME.
pub fn owner_in_zone(ip: IpAddr, zone: &DnsName) -> Option<DnsName> {
    let ip = canonical_ip(ip);
    if is_classless_zone(zone) {
        let IpAddr::V4(v4) = ip else { return None };
        let Ok(IpNet::V4(block)) = parse_arpa(zone) else {
            return None;
        };
        if !block.contains(&v4) {
            return None;
        }
        return Some(DnsName::from_valid(format!("{}.{}", v4.octets()[3], zone)));
    }
    let name = ptr_name(ip);
    name.is_within(zone).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid test name")
    }

    #[test]
    fn ptr_names() {
        let cases = [
            ("192.168.130.10", "10.130.168.192.in-addr.arpa"),
            ("26.3.0.103", "103.0.3.26.in-addr.arpa"),
            ("0.0.0.0", "0.0.0.0.in-addr.arpa"),
            ("255.255.255.255", "255.255.255.255.in-addr.arpa"),
            ("::ffff:192.0.2.1", "1.2.0.192.in-addr.arpa"),
            (
                "2001:db8::2",
                "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            ),
            (
                "2001:DB8:ABCD:12::1",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa",
            ),
            (
                "::1",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
            ),
        ];
        for (ip, want) in cases {
            assert_eq!(ptr_name(ip.parse().expect("ip")).as_str(), want, "{ip}");
        }
    }

    #[test]
    fn arpa_back_to_networks() {
        let cases = [
            ("10.130.168.192.in-addr.arpa", "192.168.130.10/32"),
            ("130.168.192.in-addr.arpa", "192.168.130.0/24"),
            ("168.192.in-addr.arpa", "192.168.0.0/16"),
            ("192.in-addr.arpa", "192.0.0.0/8"),
            ("in-addr.arpa", "0.0.0.0/0"),
            ("0/25.2.0.192.in-addr.arpa", "192.0.2.0/25"),
            ("128/26.2.0.192.in-addr.arpa", "192.0.2.128/26"),
            ("0-127.2.0.192.in-addr.arpa", "192.0.2.0/25"),
            ("16/28.130.168.192.in-addr.arpa", "192.168.130.16/28"),
            ("20.16/28.130.168.192.in-addr.arpa", "192.168.130.20/32"),
            ("8.b.d.0.1.0.0.2.ip6.arpa", "2001:db8::/32"),
            (
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                "2001:db8::/120",
            ),
            ("ip6.arpa", "::/0"),
        ];
        for (name, want) in cases {
            let got = parse_arpa(&n(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, want.parse::<IpNet>().expect("net"), "{name}");
        }
    }

    #[test]
    fn arpa_rejects() {
        let cases = [
            ("example.com", "not under in-addr.arpa"),
            (
                "256.1.168.192.in-addr.arpa",
                "label \"256\" is not an octet",
            ),
            ("01.1.168.192.in-addr.arpa", "label \"01\""),
            ("1.2.3.4.5.in-addr.arpa", "too many labels"),
            ("0/24.2.0.192.in-addr.arpa", "not a CIDR-aligned block"),
            ("5/25.2.0.192.in-addr.arpa", "not a CIDR-aligned block"),
            ("0-100.2.0.192.in-addr.arpa", "not a CIDR-aligned block"),
            ("0/25.0.192.in-addr.arpa", "not a CIDR-aligned block"),
            (
                "200.0/25.2.0.192.in-addr.arpa",
                "outside its classless block",
            ),
            ("g.8.b.d.0.1.0.0.2.ip6.arpa", "not one hex digit"),
            ("ab.ip6.arpa", "not one hex digit"),
        ];
        for (name, want) in cases {
            let err = parse_arpa(&n(name)).expect_err(name).to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn owners_in_zones() {
        let ip: IpAddr = "192.0.2.10".parse().expect("ip");
        let cases = [
            ("2.0.192.in-addr.arpa", Some("10.2.0.192.in-addr.arpa")),
            ("0.192.in-addr.arpa", Some("10.2.0.192.in-addr.arpa")),
            ("192.in-addr.arpa", Some("10.2.0.192.in-addr.arpa")),
            ("10.2.0.192.in-addr.arpa", Some("10.2.0.192.in-addr.arpa")),
            (
                "0/25.2.0.192.in-addr.arpa",
                Some("10.0/25.2.0.192.in-addr.arpa"),
            ),
            (
                "0-127.2.0.192.in-addr.arpa",
                Some("10.0-127.2.0.192.in-addr.arpa"),
            ),
            ("128/25.2.0.192.in-addr.arpa", None),
            ("3.0.192.in-addr.arpa", None),
            ("92.in-addr.arpa", None),
            ("example.com", None),
            ("8.b.d.0.1.0.0.2.ip6.arpa", None),
        ];
        for (zone, want) in cases {
            assert_eq!(
                owner_in_zone(ip, &n(zone)).as_ref().map(DnsName::as_str),
                want,
                "{zone}"
            );
        }
        let v6: IpAddr = "2001:db8::2".parse().expect("ip");
        assert!(owner_in_zone(v6, &n("8.b.d.0.1.0.0.2.ip6.arpa")).is_some());
        assert!(owner_in_zone(v6, &n("9.b.d.0.1.0.0.2.ip6.arpa")).is_none());
        let mapped: IpAddr = "::ffff:192.0.2.10".parse().expect("ip");
        assert!(owner_in_zone(mapped, &n("2.0.192.in-addr.arpa")).is_some());
    }

    proptest! {
        #[test]
        fn ptr_name_round_trips_v4(bits in any::<u32>()) {
            let ip = Ipv4Addr::from(bits);
            let back = parse_arpa(&ptr_name(IpAddr::V4(ip))).expect("parses");
            prop_assert_eq!(back, IpNet::V4(Ipv4Net::from(ip)));
        }

        #[test]
        fn ptr_name_round_trips_v6(bits in any::<u128>()) {
            let ip = Ipv6Addr::from(bits);
            let back = parse_arpa(&ptr_name(IpAddr::V6(ip))).expect("parses");
            let want = match canonical_ip(IpAddr::V6(ip)) {
                IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
                IpAddr::V6(v6) => IpNet::V6(Ipv6Net::from(v6)),
            };
            prop_assert_eq!(back, want);
        }

        #[test]
        fn aligned_zone_round_trips(bits in any::<u128>(), nib in 0u8..=32) {
            let net = Ipv6Net::new(Ipv6Addr::from(bits), nib * 4).expect("len").trunc();
            let zone = arpa_zone(IpNet::V6(net)).expect("aligned");
            prop_assert_eq!(parse_arpa(&zone).expect("parses"), IpNet::V6(net));
        }

        #[test]
        fn parse_arpa_never_panics(s in "[0-9a-f/\\-]{0,5}(\\.[0-9a-f/\\-]{1,4}){0,34}\\.(in-addr|ip6)\\.arpa") {
            if let Ok(name) = DnsName::parse(&s) {
                let _ = parse_arpa(&name);
                let _ = owner_in_zone("192.0.2.1".parse().expect("ip"), &name);
            }
        }
    }
}
