//! Record types, whole RRsets (name + type + TTL + contents) and the changes applied to them.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::name::DnsName;

/// The record types vmdns manages. Providers ignore every other type when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "PTR")]
    Ptr,
}

impl RecordType {
    pub const ALL: [RecordType; 4] = [Self::A, Self::Aaaa, Self::Cname, Self::Ptr];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Ptr => "PTR",
        }
    }

    /// True when the content is a host name (and so wants a trailing dot at PowerDNS, HestiaCP, zone files).
    pub fn content_is_name(self) -> bool {
        matches!(self, Self::Cname | Self::Ptr)
    }

    /// One spelling for a content value, so that contents compare equal across providers:
    /// addresses in their canonical text form, names lower case without the trailing dot.
    /// Content that does not parse is kept trimmed (the provider will say what is wrong with it).
    pub fn normalize_content(self, content: &str) -> String {
        let c = content.trim();
        match self {
            Self::A => c
                .parse::<Ipv4Addr>()
                .map_or_else(|_| c.to_string(), |ip| ip.to_string()),
            Self::Aaaa => c
                .parse::<Ipv6Addr>()
                .map_or_else(|_| c.to_string(), |ip| ip.to_string()),
            Self::Cname | Self::Ptr => DnsName::parse(c)
                .map(|n| n.as_str().to_string())
                .unwrap_or_else(|_| c.strip_suffix('.').unwrap_or(c).to_ascii_lowercase()),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record type is not one vmdns manages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record type {0:?} is not one of A, AAAA, CNAME, PTR")]
pub struct UnknownType(pub String);

impl FromStr for RecordType {
    type Err = UnknownType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Self::A),
            "AAAA" => Ok(Self::Aaaa),
            "CNAME" => Ok(Self::Cname),
            "PTR" => Ok(Self::Ptr),
            _ => Err(UnknownType(s.to_string())),
        }
    }
}

/// What identifies an RRset: its owner name and type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RrKey {
    pub name: DnsName,
    #[serde(rename = "type")]
    pub rtype: RecordType,
}

impl fmt::Display for RrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// A whole RRset: every record of one name and type. Contents are normalised and sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RrSet {
    pub name: DnsName,
    #[serde(rename = "type")]
    pub rtype: RecordType,
    pub ttl: u32,
    pub records: BTreeSet<String>,
}

impl RrSet {
    /// Builds an RRset, normalising every content value (see [`RecordType::normalize_content`]).
    pub fn new<I, S>(name: DnsName, rtype: RecordType, ttl: u32, records: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let records = records
            .into_iter()
            .map(|c| rtype.normalize_content(c.as_ref()))
            .collect();
        Self {
            name,
            rtype,
            ttl,
            records,
        }
    }

    pub fn key(&self) -> RrKey {
        RrKey {
            name: self.name.clone(),
            rtype: self.rtype,
        }
    }

    /// Contents as a provider that wants absolute names writes them (`vm.example.com.` for PTR/CNAME).
    pub fn contents_absolute(&self) -> impl Iterator<Item = String> + '_ {
        self.records.iter().map(move |c| {
            if self.rtype.content_is_name() && !c.ends_with('.') {
                format!("{c}.")
            } else {
                c.clone()
            }
        })
    }
}

impl fmt::Display for RrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let contents: Vec<&str> = self.records.iter().map(String::as_str).collect();
        write!(
            f,
            "{} {} {} {}",
            self.name,
            self.rtype,
            self.ttl,
            contents.join(",")
        )
    }
}

/// One whole-RRset change, as handed to a provider. Providers translate it to their API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// The RRset does not exist yet.
    Create(RrSet),
    /// The RRset exists as `from` and must become `to` (same name and type), atomically where the
    /// provider can.
    Replace { from: RrSet, to: RrSet },
    /// The RRset, as it was read, goes away.
    Delete(RrSet),
}

impl Change {
    pub fn key(&self) -> RrKey {
        self.target().key()
    }

    /// The RRset the change is about: the new one for create/replace, the old one for delete.
    pub fn target(&self) -> &RrSet {
        match self {
            Self::Create(r) | Self::Delete(r) => r,
            Self::Replace { to, .. } => to,
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Self::Create(_) => "create",
            Self::Replace { .. } => "replace",
            Self::Delete(_) => "delete",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb(), self.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_normalised() {
        let name = DnsName::parse("vm.example.com").expect("valid");
        let cases = [
            (RecordType::A, " 192.0.2.1 ", "192.0.2.1"),
            (RecordType::Aaaa, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            (RecordType::Aaaa, "2001:0db8::0001", "2001:db8::1"),
            (RecordType::Ptr, "VM1.Example.com.", "vm1.example.com"),
            (
                RecordType::Cname,
                "target.example.com",
                "target.example.com",
            ),
            (RecordType::A, "not-an-ip", "not-an-ip"),
        ];
        for (t, input, want) in cases {
            let r = RrSet::new(name.clone(), t, 300, [input]);
            assert_eq!(
                r.records.iter().next().map(String::as_str),
                Some(want),
                "{t} {input}"
            );
        }
    }

    #[test]
    fn absolute_contents_get_a_dot_for_names_only() {
        let name = DnsName::parse("10.2.0.192.in-addr.arpa").expect("valid");
        let ptr = RrSet::new(name.clone(), RecordType::Ptr, 300, ["vm.example.com"]);
        assert_eq!(
            ptr.contents_absolute().collect::<Vec<_>>(),
            ["vm.example.com."]
        );
        let a = RrSet::new(name, RecordType::A, 300, ["192.0.2.1"]);
        assert_eq!(a.contents_absolute().collect::<Vec<_>>(), ["192.0.2.1"]);
    }

    #[test]
    fn record_type_parses_any_case() {
        assert_eq!("aaaa".parse::<RecordType>(), Ok(RecordType::Aaaa));
        assert_eq!("PTR".parse::<RecordType>(), Ok(RecordType::Ptr));
        assert!("MX".parse::<RecordType>().is_err());
    }
}
