//! The records a VM should have (`<name>.<domain>` A/AAAA, one PTR per address) and the zones each goes to.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::name::{DnsName, NameError, ZoneKind};
use crate::reverse::{canonical_ip, is_classless_zone, owner_in_zone, ptr_name};
use crate::rrset::{RecordType, RrSet};

/// One address of a VM, with the reverse hostname the customer set for it (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSpec {
    pub ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptr: Option<DnsName>,
}

/// What vmdns knows of a VM for DNS purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// The VM's internal name: the first label(s) of its FQDN.
    pub name: String,
    /// The main domain: `<name>.<domain>` is the FQDN.
    pub domain: DnsName,
    pub addresses: Vec<AddressSpec>,
    pub ttl: u32,
}

/// The VM's name and domain do not make a valid FQDN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {source}")]
pub struct RecordError {
    pub field: &'static str,
    #[source]
    pub source: NameError,
}

impl VmSpec {
    /// `<name>.<domain>`.
    pub fn fqdn(&self) -> Result<DnsName, RecordError> {
        DnsName::parse(self.name.trim())
            .and_then(|n| DnsName::parse(&format!("{n}.{}", self.domain)))
            .map_err(|source| RecordError {
                field: "name",
                source,
            })
    }

    /// Addresses in canonical form (IPv4-mapped IPv6 as IPv4), first occurrence of each kept.
    fn addresses(&self) -> Vec<AddressSpec> {
        let mut seen = std::collections::HashSet::new();
        self.addresses
            .iter()
            .map(|a| AddressSpec {
                ip: canonical_ip(a.ip),
                ptr: a.ptr.clone(),
            })
            .filter(|a| seen.insert(a.ip))
            .collect()
    }

    fn ptr_target(&self, address: &AddressSpec, fqdn: &DnsName) -> DnsName {
        address.ptr.clone().unwrap_or_else(|| fqdn.clone())
    }
}

/// The VM's RRsets independent of zones: A and AAAA at the FQDN (one RRset each, every address in it),
/// and one PTR per address at its `in-addr.arpa` / `ip6.arpa` name, pointing at the customer's reverse
/// hostname when one is set, else at the FQDN.
pub fn desired_rrsets(vm: &VmSpec) -> Result<Vec<RrSet>, RecordError> {
    let fqdn = vm.fqdn()?;
    let addresses = vm.addresses();
    let mut out = forward_rrsets(vm, &fqdn, &addresses);
    for a in &addresses {
        out.push(RrSet::new(
            ptr_name(a.ip),
            RecordType::Ptr,
            vm.ttl,
            [vm.ptr_target(a, &fqdn).as_str()],
        ));
    }
    Ok(out)
}

fn forward_rrsets(vm: &VmSpec, fqdn: &DnsName, addresses: &[AddressSpec]) -> Vec<RrSet> {
    let v4: Vec<String> = addresses
        .iter()
        .filter(|a| a.ip.is_ipv4())
        .map(|a| a.ip.to_string())
        .collect();
    let v6: Vec<String> = addresses
        .iter()
        .filter(|a| a.ip.is_ipv6())
        .map(|a| a.ip.to_string())
        .collect();
    let mut out = Vec::new();
    if !v4.is_empty() {
        out.push(RrSet::new(fqdn.clone(), RecordType::A, vm.ttl, v4));
    }
    if !v6.is_empty() {
        out.push(RrSet::new(fqdn.clone(), RecordType::Aaaa, vm.ttl, v6));
    }
    out
}

/// The RRsets each zone gets, in the order of `zones` (the same zone name may appear several times, for
/// several providers: each gets the records). Forward RRsets go to every forward zone the FQDN is within;
/// each PTR goes to every reverse zone covering its address (any delegation level, label boundaries), with
/// one exception: a zone that is the parent of a configured RFC 2317 classless zone covering the address
/// does not get the PTR, because there the name is the parent's CNAME into the classless zone.
/// Zones that match nothing get an empty list.
pub fn assign_to_zones(vm: &VmSpec, zones: &[DnsName]) -> Result<Vec<Vec<RrSet>>, RecordError> {
    let fqdn = vm.fqdn()?;
    let addresses = vm.addresses();
    let forward = forward_rrsets(vm, &fqdn, &addresses);
    let mut out: Vec<Vec<RrSet>> = vec![Vec::new(); zones.len()];
    for (i, zone) in zones.iter().enumerate() {
        if zone.zone_kind() == ZoneKind::Forward && fqdn.is_within(zone) {
            out[i].extend(forward.iter().cloned());
        }
    }
    for a in &addresses {
        let owners: Vec<Option<DnsName>> = zones.iter().map(|z| owner_in_zone(a.ip, z)).collect();
        let classless_covers = zones
            .iter()
            .zip(&owners)
            .any(|(z, o)| o.is_some() && is_classless_zone(z));
        let target = vm.ptr_target(a, &fqdn);
        for (i, (zone, owner)) in zones.iter().zip(owners).enumerate() {
            let Some(owner) = owner else { continue };
            if classless_covers && !is_classless_zone(zone) {
                continue;
            }
            out[i].push(RrSet::new(
                owner,
                RecordType::Ptr,
                vm.ttl,
                [target.as_str()],
            ));
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

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid test name")
    }

    fn vm(addresses: &[(&str, Option<&str>)]) -> VmSpec {
        VmSpec {
            name: "5551-1776530141".into(),
            domain: n("puqcloud.com"),
            addresses: addresses
                .iter()
                .map(|(ip, ptr)| AddressSpec {
                    ip: ip.parse().expect("ip"),
                    ptr: ptr.map(n),
                })
                .collect(),
            ttl: 300,
        }
    }

    fn lines(assigned: &[Vec<RrSet>], zones: &[DnsName]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, rrsets) in assigned.iter().enumerate() {
            for r in rrsets {
                for c in &r.records {
                    out.push(format!("{} {} {} {}", zones[i], r.name, r.rtype, c));
                }
            }
        }
        out
    }

    #[test]
    fn seed_fqdn() {
        assert_eq!(
            vm(&[]).fqdn().expect("fqdn").as_str(),
            "5551-1776530141.puqcloud.com"
        );
    }

    #[test]
    fn one_a_and_one_aaaa_rrset_with_every_address() {
        let v = vm(&[
            ("192.168.130.10", None),
            ("192.168.130.11", None),
            ("2001:db8::2", None),
        ]);
        let rr = desired_rrsets(&v).expect("records");
        assert_eq!(rr.len(), 5);
        assert_eq!(rr[0].rtype, RecordType::A);
        assert_eq!(rr[0].records.len(), 2);
        assert_eq!(rr[1].rtype, RecordType::Aaaa);
        assert!(rr[2..].iter().all(|r| r.rtype == RecordType::Ptr));
    }

    #[test]
    fn every_matching_zone_gets_the_records() {
        let zones = [
            n("puqcloud.com"),
            n("puqcloud.com"), // same zone on a second provider
            n("puq.com"),
            n("cloud.com"),
            n("130.168.192.in-addr.arpa"),
            n("168.192.in-addr.arpa"),
            n("8.b.d.0.1.0.0.2.ip6.arpa"),
            n("131.168.192.in-addr.arpa"),
        ];
        let v = vm(&[
            ("192.168.130.10", Some("mail.uuq.pl")),
            ("2001:db8::2", None),
        ]);
        let got = assign_to_zones(&v, &zones).expect("assign");
        let fqdn = "5551-1776530141.puqcloud.com";
        let ptr6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        let want = vec![
            format!("puqcloud.com {fqdn} A 192.168.130.10"),
            format!("puqcloud.com {fqdn} AAAA 2001:db8::2"),
            format!("puqcloud.com {fqdn} A 192.168.130.10"),
            format!("puqcloud.com {fqdn} AAAA 2001:db8::2"),
            "130.168.192.in-addr.arpa 10.130.168.192.in-addr.arpa PTR mail.uuq.pl".to_string(),
            "168.192.in-addr.arpa 10.130.168.192.in-addr.arpa PTR mail.uuq.pl".to_string(),
            format!("8.b.d.0.1.0.0.2.ip6.arpa {ptr6} PTR {fqdn}"),
        ];
        assert_eq!(lines(&got, &zones), want);
        assert!(got[2].is_empty() && got[3].is_empty() && got[7].is_empty());
    }

    #[test]
    fn classless_zone_takes_the_ptr_from_its_parent() {
        let zones = [
            n("2.0.192.in-addr.arpa"),
            n("0/25.2.0.192.in-addr.arpa"),
            n("128/25.2.0.192.in-addr.arpa"),
        ];
        let v = vm(&[("192.0.2.10", None), ("192.0.2.200", None)]);
        let got = assign_to_zones(&v, &zones).expect("assign");
        let l = lines(&got, &zones);
        assert_eq!(
            l,
            [
                "0/25.2.0.192.in-addr.arpa 10.0/25.2.0.192.in-addr.arpa PTR 5551-1776530141.puqcloud.com",
                "128/25.2.0.192.in-addr.arpa 200.128/25.2.0.192.in-addr.arpa PTR 5551-1776530141.puqcloud.com",
            ]
        );
        // Without the classless zones the parent gets them.
        let got = assign_to_zones(&v, &zones[..1]).expect("assign");
        assert_eq!(got[0].len(), 2);
    }

    #[test]
    fn mapped_and_duplicate_addresses() {
        let v = vm(&[("::ffff:192.0.2.1", None), ("192.0.2.1", None)]);
        let rr = desired_rrsets(&v).expect("records");
        assert_eq!(rr.len(), 2);
        assert_eq!(rr[0].rtype, RecordType::A);
        assert_eq!(rr[1].name.as_str(), "1.2.0.192.in-addr.arpa");
    }

    #[test]
    fn bad_vm_name_is_named() {
        let mut v = vm(&[]);
        v.name = "bad name".into();
        let err = v.fqdn().expect_err("bad");
        assert_eq!(err.field, "name");
        assert!(err.to_string().contains("bad name"));
    }
}
