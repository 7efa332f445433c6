//! Wire structs of the PowerDNS Authoritative HTTP API (4.7): zones, RRsets, the PATCH body and errors.

use serde::{Deserialize, Serialize};

/// `GET /servers/{server_id}/zones/{zone_id}`. Only the fields vmdns reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Zone {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) serial: Option<u64>,
    /// Absent with `rrsets=false`.
    #[serde(default)]
    pub(crate) rrsets: Vec<RrSet>,
}

/// One RRset as PowerDNS returns it: absolute names with the trailing dot, lower-cased.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RrSet {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    #[serde(default)]
    pub(crate) ttl: u32,
    #[serde(default)]
    pub(crate) records: Vec<Record>,
}

/// One record of an RRset, in answers and in `REPLACE` bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) disabled: bool,
}

/// What a PATCH does to one RRset. PowerDNS 4.7 knows only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ChangeType {
    /// Swaps the whole RRset (`records: []` deletes it).
    Replace,
    /// Removes the RRset; a missing one is fine. Must not carry `ttl`.
    Delete,
}

/// One member of `{"rrsets": [...]}` in a PATCH body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PatchRrSet {
    /// Absolute, with the trailing dot.
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ttl: Option<u32>,
    pub(crate) changetype: ChangeType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) records: Option<Vec<Record>>,
}

/// Every error answer with `Accept: application/json`: `{"error": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_and_delete_serialise_as_powerdns_wants() {
        let replace = PatchRrSet {
            name: "10.2.0.192.in-addr.arpa.".into(),
            rtype: "PTR",
            ttl: Some(300),
            changetype: ChangeType::Replace,
            records: Some(vec![Record {
                content: "vm1.example.com.".into(),
                disabled: false,
            }]),
        };
        assert_eq!(
            serde_json::to_string(&replace).expect("serialise"),
            r#"{"name":"10.2.0.192.in-addr.arpa.","type":"PTR","ttl":300,"changetype":"REPLACE","records":[{"content":"vm1.example.com.","disabled":false}]}"#
        );
        let delete = PatchRrSet {
            name: "vm1.example.com.".into(),
            rtype: "A",
            ttl: None,
            changetype: ChangeType::Delete,
            records: None,
        };
        assert_eq!(
            serde_json::to_string(&delete).expect("serialise"),
            r#"{"name":"vm1.example.com.","type":"A","changetype":"DELETE"}"#
        );
    }

    #[test]
    fn zone_answer_without_rrsets_parses() {
        let z: Zone = serde_json::from_str(
            r#"{"account":"","api_rectify":false,"dnssec":false,"id":"example.com.","kind":"Native",
                "name":"example.com.","serial":2024010101,"url":"/api/v1/servers/localhost/zones/example.com."}"#,
        )
        .expect("parse");
        assert_eq!(z.name, "example.com.");
        assert_eq!(z.kind, "Native");
        assert_eq!(z.serial, Some(2024010101));
        assert!(z.rrsets.is_empty());
    }
}
