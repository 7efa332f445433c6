//! [`DnsName`]: a validated, lower-case DNS name without the trailing dot, and label-boundary zone matching.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Longest name in presentation form without the trailing dot (255 octets on the wire).
pub const MAX_NAME: usize = 253;

/// A DNS name in one spelling: ASCII (Unicode labels converted to punycode), lower case, no trailing dot.
///
/// ```
/// use vmdns_core::DnsName;
/// let n = DnsName::parse("VM-1.PuqCloud.com.").unwrap();
/// assert_eq!(n.as_str(), "vm-1.puqcloud.com");
/// assert!(n.is_within(&DnsName::parse("puqcloud.com").unwrap()));
/// assert!(!n.is_within(&DnsName::parse("cloud.com").unwrap()));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

/// Why a string is not a valid DNS name. Every variant names the offending label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("label {index} is empty (two dots in a row, or a leading dot)")]
    EmptyLabel { index: usize },
    #[error("label \"{label}\" is {len} octets long; at most 63 are allowed")]
    LabelTooLong { label: String, len: usize },
    #[error("name is {len} octets long; at most 253 are allowed")]
    NameTooLong { len: usize },
    #[error("label \"{label}\" contains {ch:?}, which is not allowed in a DNS name")]
    BadChar { label: String, ch: char },
    #[error("label \"{label}\" must not start or end with a hyphen")]
    HyphenAtEdge { label: String },
    #[error("label \"{label}\" is not a valid internationalised (IDNA) label")]
    Idna { label: String },
}

/// What a zone is, from its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// A regular domain: holds A and AAAA records.
    Forward,
    /// Under `in-addr.arpa`: holds PTR records for IPv4.
    ReverseV4,
    /// Under `ip6.arpa`: holds PTR records for IPv6.
    ReverseV6,
}

impl DnsName {
    /// Parses a name given with or without the trailing dot, in any case, with Unicode labels allowed.
    ///
    /// Allowed in a label: letters, digits, `-` (not first or last) and `_` (service labels such as
    /// `_dmarc`). Under `in-addr.arpa`, `/` is allowed too, for RFC 2317 classless zones
    /// (`0/25.2.0.192.in-addr.arpa`).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        let s = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let lower = s.to_lowercase();
        let under_in_addr = lower == "in-addr.arpa" || lower.ends_with(".in-addr.arpa");
        let mut labels: Vec<String> = Vec::new();
        for (i, raw) in s.split('.').enumerate() {
            if raw.is_empty() {
                return Err(NameError::EmptyLabel { index: i + 1 });
            }
            let label = if raw.is_ascii() {
                raw.to_ascii_lowercase()
            } else {
                let ascii = idna::domain_to_ascii_strict(raw).map_err(|_| NameError::Idna {
                    label: raw.to_string(),
                })?;
                if ascii.is_empty() || ascii.contains('.') {
                    return Err(NameError::Idna {
                        label: raw.to_string(),
                    });
                }
                ascii
            };
            check_label(&label, under_in_addr)?;
            labels.push(label);
        }
        let name = labels.join(".");
        if name.len() > MAX_NAME {
            return Err(NameError::NameTooLong { len: name.len() });
        }
        Ok(Self(name))
    }

    /// The name without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with the trailing dot, as PowerDNS and zone files want it.
    pub fn to_fqdn(&self) -> String {
        format!("{}.", self.0)
    }

    /// The labels, leftmost first.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.')
    }

    /// Number of labels.
    pub fn label_count(&self) -> usize {
        self.0.split('.').count()
    }

    /// True when `self` is `zone` itself or lies below it, matched on label boundaries:
    /// `vm.puqcloud.com` is within `puqcloud.com`, never within `cloud.com`.
    pub fn is_within(&self, zone: &DnsName) -> bool {
        self.0 == zone.0
            || (self.0.len() > zone.0.len()
                && self.0.ends_with(zone.0.as_str())
                && self.0.as_bytes()[self.0.len() - zone.0.len() - 1] == b'.')
    }

    /// The name relative to `zone` (`@` for the apex), for providers that want relative names.
    /// `None` when the name is not within the zone.
    pub fn relative_to(&self, zone: &DnsName) -> Option<String> {
        if self == zone {
            Some("@".to_string())
        } else if self.is_within(zone) {
            Some(self.0[..self.0.len() - zone.0.len() - 1].to_string())
        } else {
            None
        }
    }

    /// Builds `relative.zone` (`@` or empty means the apex).
    pub fn from_relative(relative: &str, zone: &DnsName) -> Result<Self, NameError> {
        let r = relative.trim();
        if r.is_empty() || r == "@" {
            return Ok(zone.clone());
        }
        if let Some(abs) = r.strip_suffix('.') {
            return Self::parse(abs);
        }
        Self::parse(&format!("{r}.{}", zone.0))
    }

    /// Prepends one label (already validated or not: it is validated here).
    pub fn prepend(&self, label: &str) -> Result<Self, NameError> {
        Self::parse(&format!("{label}.{}", self.0))
    }

    /// Forward or reverse, from the name alone.
    pub fn zone_kind(&self) -> ZoneKind {
        if self.0 == "in-addr.arpa" || self.0.ends_with(".in-addr.arpa") {
            ZoneKind::ReverseV4
        } else if self.0 == "ip6.arpa" || self.0.ends_with(".ip6.arpa") {
            ZoneKind::ReverseV6
        } else {
            ZoneKind::Forward
        }
    }

    /// Builds a name from labels that are known to be valid (used by the reverse-name code).
    pub(crate) fn from_valid(s: String) -> Self {
        debug_assert!(Self::parse(&s).is_ok(), "from_valid on invalid name {s}");
        Self(s)
    }
}

fn check_label(label: &str, allow_slash: bool) -> Result<(), NameError> {
    if label.len() > MAX_LABEL {
        return Err(NameError::LabelTooLong {
            label: label.to_string(),
            len: label.len(),
        });
    }
    for ch in label.chars() {
        let ok = ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || (allow_slash && ch == '/');
        if !ok {
            return Err(NameError::BadChar {
                label: label.to_string(),
                ch,
            });
        }
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NameError::HyphenAtEdge {
            label: label.to_string(),
        });
    }
    Ok(())
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({})", self.0)
    }
}

impl FromStr for DnsName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for DnsName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for DnsName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DnsName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid test name")
    }

    #[test]
    fn parse_normalises() {
        let cases = [
            ("example.com", "example.com"),
            ("example.com.", "example.com"),
            ("EXAMPLE.Com.", "example.com"),
            ("  vm-1.example.com  ", "vm-1.example.com"),
            (
                "5551-1776530141.puqcloud.com",
                "5551-1776530141.puqcloud.com",
            ),
            ("_dmarc.example.com", "_dmarc.example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("ДОМЕН.рф", "xn--d1acufc.xn--p1ai"),
            ("8.b.d.0.1.0.0.2.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa"),
            ("0/25.2.0.192.in-addr.arpa", "0/25.2.0.192.in-addr.arpa"),
            ("0-127.2.0.192.in-addr.arpa", "0-127.2.0.192.in-addr.arpa"),
            ("com", "com"),
        ];
        for (input, want) in cases {
            assert_eq!(n(input).as_str(), want, "input {input:?}");
        }
    }

    #[test]
    fn parse_rejects_with_the_label_named() {
        let long_label = "a".repeat(64);
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "name is empty"),
            (".".into(), "name is empty"),
            ("a..b".into(), "label 2 is empty"),
            (".a".into(), "label 1 is empty"),
            (format!("{long_label}.com"), "64 octets long"),
            (long_name, "at most 253"),
            ("exa mple.com".into(), "label \"exa mple\" contains ' '"),
            ("<script>.com".into(), "contains '<'"),
            ("a/b.example.com".into(), "contains '/'"),
            (
                "-vm.example.com".into(),
                "label \"-vm\" must not start or end with a hyphen",
            ),
            ("vm-.example.com".into(), "must not start or end"),
            ("a*b.com".into(), "contains '*'"),
        ];
        for (input, want) in cases {
            let err = DnsName::parse(&input).expect_err(&input).to_string();
            assert!(
                err.contains(want),
                "input {input:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn label_of_63_and_name_of_253_are_fine() {
        let l63 = "a".repeat(63);
        assert!(DnsName::parse(&format!("{l63}.com")).is_ok());
        // 4 * 63 + 3 dots = 255 > 253; 3 * 63 + 61 + 3 dots = 253.
        let name = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        assert_eq!(name.len(), 253);
        assert!(DnsName::parse(&name).is_ok());
    }

    #[test]
    fn within_is_on_label_boundaries() {
        let vm = n("vm-123.puqcloud.com");
        let cases = [
            ("puqcloud.com", true),
            ("vm-123.puqcloud.com", true),
            ("com", true),
            ("puq.com", false),
            ("cloud.com", false),
            ("example.com", false),
            ("qcloud.com", false),
            ("m-123.puqcloud.com", false),
            ("x.vm-123.puqcloud.com", false),
        ];
        for (zone, want) in cases {
            assert_eq!(vm.is_within(&n(zone)), want, "zone {zone}");
        }
        let ptr = n("10.1.168.192.in-addr.arpa");
        for zone in [
            "1.168.192.in-addr.arpa",
            "168.192.in-addr.arpa",
            "192.in-addr.arpa",
        ] {
            assert!(ptr.is_within(&n(zone)), "{zone}");
        }
        for zone in [
            "11.168.192.in-addr.arpa",
            "0.1.168.192.in-addr.arpa",
            "92.in-addr.arpa",
        ] {
            assert!(!ptr.is_within(&n(zone)), "{zone}");
        }
    }

    #[test]
    fn relative_names_both_ways() {
        let zone = n("example.com");
        assert_eq!(n("example.com").relative_to(&zone).as_deref(), Some("@"));
        assert_eq!(
            n("vm1.example.com").relative_to(&zone).as_deref(),
            Some("vm1")
        );
        assert_eq!(
            n("a.b.example.com").relative_to(&zone).as_deref(),
            Some("a.b")
        );
        assert_eq!(n("vm1.example.org").relative_to(&zone), None);
        assert_eq!(DnsName::from_relative("@", &zone), Ok(zone.clone()));
        assert_eq!(
            DnsName::from_relative("vm1", &zone),
            Ok(n("vm1.example.com"))
        );
        assert_eq!(
            DnsName::from_relative("other.org.", &zone),
            Ok(n("other.org"))
        );
        let rev = n("130.168.192.in-addr.arpa");
        assert_eq!(
            n("10.130.168.192.in-addr.arpa")
                .relative_to(&rev)
                .as_deref(),
            Some("10")
        );
    }

    #[test]
    fn zone_kind_from_name() {
        assert_eq!(n("example.com").zone_kind(), ZoneKind::Forward);
        assert_eq!(n("arpa").zone_kind(), ZoneKind::Forward);
        assert_eq!(
            n("130.168.192.in-addr.arpa").zone_kind(),
            ZoneKind::ReverseV4
        );
        assert_eq!(
            n("0/25.2.0.192.in-addr.arpa").zone_kind(),
            ZoneKind::ReverseV4
        );
        assert_eq!(
            n("8.b.d.0.1.0.0.2.ip6.arpa").zone_kind(),
            ZoneKind::ReverseV6
        );
        assert_eq!(n("fake-in-addr.arpa").zone_kind(), ZoneKind::Forward);
    }

    #[test]
    fn serde_round_trip_and_rejects_bad() {
        let v: DnsName = serde_json::from_str("\"Example.COM.\"").expect("valid");
        assert_eq!(serde_json::to_string(&v).expect("ser"), "\"example.com\"");
        assert!(serde_json::from_str::<DnsName>("\"a..b\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = DnsName::parse(&s);
        }

        #[test]
        fn parsed_names_are_stable(s in "[a-zA-Z0-9_-]{1,20}(\\.[a-zA-Z0-9-]{1,20}){0,5}\\.?") {
            if let Ok(name) = DnsName::parse(&s) {
                prop_assert_eq!(DnsName::parse(name.as_str()), Ok(name.clone()));
                prop_assert_eq!(DnsName::parse(&name.to_fqdn()), Ok(name));
            }
        }

        #[test]
        fn within_only_on_label_boundary(a in "[a-z]{1,8}", b in "[a-z]{1,8}", tld in "[a-z]{2,4}") {
            let zone = DnsName::parse(&format!("{b}.{tld}")).expect("valid");
            let glued = DnsName::parse(&format!("{a}{b}.{tld}")).expect("valid");
            let below = DnsName::parse(&format!("{a}.{b}.{tld}")).expect("valid");
            prop_assert!(!glued.is_within(&zone));
            prop_assert!(below.is_within(&zone));
            // Within means: a suffix made of whole labels.
            let labels: Vec<&str> = glued.labels().collect();
            let zl: Vec<&str> = zone.labels().collect();
            prop_assert!(labels.len() < zl.len() || labels[labels.len()-zl.len()..] != zl[..]);
        }
    }
}
