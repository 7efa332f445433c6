//! The DNS side of the scale test: a real PowerDNS with a forward zone and two reverse zones, the
//! services (one IPv4 and one IPv6 address each), and checks of what PowerDNS holds.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use vmdns_core::{DnsName, RecordType, ptr_name};
use vmdns_providers::testing::pdns::PdnsServer;

pub(crate) const FORWARD: &str = "scale.example";
pub(crate) const REVERSE_V4: &str = "77.10.in-addr.arpa";
/// `2001:db8:77::/48`.
pub(crate) const REVERSE_V6: &str = "7.7.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

pub(crate) fn zones() -> [DnsName; 3] {
    [FORWARD, REVERSE_V4, REVERSE_V6].map(|z| DnsName::parse(z).expect("zone name"))
}

/// Service number `n` (from 0): `vm<n>.scale.example` at `10.77.x.y` and `2001:db8:77::<n+1>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vm {
    pub(crate) name: String,
    pub(crate) v4: IpAddr,
    pub(crate) v6: IpAddr,
}

impl Vm {
    pub(crate) fn new(n: u32) -> Self {
        let host = n + 1;
        Self {
            name: format!("vm{n}"),
            v4: IpAddr::from([10, 77, (host >> 8) as u8, (host & 0xff) as u8]),
            v6: format!("2001:db8:77::{host:x}").parse().expect("v6"),
        }
    }

    pub(crate) fn fqdn(&self) -> String {
        format!("{}.{FORWARD}", self.name)
    }
}

/// What one zone holds: (owner name, type) → contents, normalised.
pub(crate) type Contents = BTreeMap<(String, RecordType), Vec<String>>;

/// Every RRset of a zone, read with one API GET.
pub(crate) async fn zone_contents(pdns: &PdnsServer, zone: &str) -> Contents {
    let url = format!("{}/api/v1/servers/localhost/zones/{zone}.", pdns.api_url());
    let body: Value = reqwest::Client::new()
        .get(&url)
        .header("X-API-Key", pdns.api_key())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let mut out = Contents::new();
    for rrset in body["rrsets"].as_array().expect("rrsets") {
        let Ok(rtype) = rrset["type"]
            .as_str()
            .unwrap_or_default()
            .parse::<RecordType>()
        else {
            continue; // SOA, NS
        };
        let name = rrset["name"].as_str().expect("name");
        let name = name.strip_suffix('.').unwrap_or(name).to_string();
        let contents = rrset["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| rtype.normalize_content(r["content"].as_str().expect("content")))
            .collect();
        out.insert((name, rtype), contents);
    }
    out
}

/// Checks that PowerDNS holds exactly the records of `vms`, every RRset with exactly one content:
/// nothing lost, nothing duplicated, nothing extra. A sample is also asked over DNS.
pub(crate) async fn assert_records(pdns: &PdnsServer, vms: &[Vm]) {
    let mut want: BTreeMap<&str, Contents> = BTreeMap::new();
    for vm in vms {
        let fqdn = vm.fqdn();
        let fwd = want.entry(FORWARD).or_default();
        fwd.insert((fqdn.clone(), RecordType::A), vec![vm.v4.to_string()]);
        fwd.insert((fqdn.clone(), RecordType::Aaaa), vec![vm.v6.to_string()]);
        want.entry(REVERSE_V4).or_default().insert(
            (ptr_name(vm.v4).as_str().to_string(), RecordType::Ptr),
            vec![fqdn.clone()],
        );
        want.entry(REVERSE_V6).or_default().insert(
            (ptr_name(vm.v6).as_str().to_string(), RecordType::Ptr),
            vec![fqdn.clone()],
        );
    }
    for (zone, want) in &want {
        let got = zone_contents(pdns, zone).await;
        let missing: Vec<_> = want.iter().filter(|(k, v)| got.get(k) != Some(v)).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{zone}: {} RRsets wrong or missing (first: {:?}, PowerDNS has {:?}), {} extra (first: {:?})",
            missing.len(),
            missing.first(),
            missing.first().and_then(|(k, _)| got.get(k)),
            extra.len(),
            extra.first()
        );
        assert_eq!(got.len(), want.len(), "{zone}");
        let multi: Vec<_> = got.iter().filter(|(_, v)| v.len() != 1).collect();
        assert!(
            multi.is_empty(),
            "{zone}: RRsets with more than one content: {multi:?}"
        );
    }
    // The server answers what its API says, for a sample spread over the set.
    let step = (vms.len() / 8).max(1);
    for vm in vms.iter().step_by(step) {
        let fqdn = DnsName::parse(&vm.fqdn()).expect("fqdn");
        let one = |s: String| BTreeSet::from([s]);
        assert_eq!(
            pdns.query(&fqdn, RecordType::A).await,
            one(vm.v4.to_string())
        );
        assert_eq!(
            pdns.query(&fqdn, RecordType::Aaaa).await,
            one(vm.v6.to_string())
        );
        for ip in [vm.v4, vm.v6] {
            assert_eq!(
                pdns.query(&ptr_name(ip), RecordType::Ptr).await,
                one(vm.fqdn()),
                "PTR of {ip}"
            );
        }
    }
}
