//! HestiaCP wire formats: the JSON that `v-list-dns-*` prints and the exit codes every `v-*` command ends with.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One record as `v-list-dns-records USER DOMAIN json` prints it (keyed by ID; every value is a string).
/// Fields vmdns does not read are left out; missing ones default to empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListedRecord {
    /// Relative to the domain, `@` = apex (an absolute name ends with a dot).
    #[serde(rename = "RECORD")]
    pub(crate) record: String,
    #[serde(rename = "TYPE")]
    pub(crate) rtype: String,
    #[serde(rename = "VALUE")]
    pub(crate) value: String,
    #[serde(rename = "ID")]
    pub(crate) id: String,
    #[serde(rename = "SUSPENDED")]
    pub(crate) suspended: String,
    #[serde(rename = "TTL")]
    pub(crate) ttl: String,
}

/// `v-list-dns-records ... json`: record ID → record. An empty domain prints `{}` (or nothing at all).
pub(crate) type RecordList = BTreeMap<String, ListedRecord>;

/// `v-list-dns-domain USER DOMAIN json`: `{"example.com": {"IP": .., "TTL": .., "SERIAL": .., ...}}`.
pub(crate) type DomainList = BTreeMap<String, DomainInfo>;

/// The fields of a DNS domain that "Test connection" reports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DomainInfo {
    #[serde(rename = "SERIAL")]
    pub(crate) serial: String,
    #[serde(rename = "SUSPENDED")]
    pub(crate) suspended: String,
}

/// Record TTL when Hestia does not say (older versions have no `TTL` field): Hestia's default.
pub(crate) const DEFAULT_TTL: u32 = 14400;

/// Hestia's exit codes (`func/main.sh`), by number. Note Hestia's own spelling `E_FORBIDEN`.
const EXIT_NAMES: [&str; 21] = [
    "OK",
    "E_ARGS",
    "E_INVALID",
    "E_NOTEXIST",
    "E_EXISTS",
    "E_SUSPENDED",
    "E_UNSUSPENDED",
    "E_INUSE",
    "E_LIMIT",
    "E_PASSWORD",
    "E_FORBIDEN",
    "E_DISABLED",
    "E_PARSING",
    "E_DISK",
    "E_LA",
    "E_CONNECT",
    "E_FTP",
    "E_DB",
    "E_RRD",
    "E_UPDATE",
    "E_RESTART",
];

pub(crate) const E_INVALID: u16 = 2;
pub(crate) const E_NOTEXIST: u16 = 3;
pub(crate) const E_EXISTS: u16 = 4;
pub(crate) const E_PASSWORD: u16 = 9;
pub(crate) const E_FORBIDEN: u16 = 10;

/// `E_INVALID (2)`; codes Hestia does not name read `exit code 127`.
pub(crate) fn exit_name(code: u16) -> String {
    match EXIT_NAMES.get(usize::from(code)) {
        Some(name) => format!("{name} ({code})"),
        None => format!("exit code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_names() {
        let cases = [
            (2, "E_INVALID (2)"),
            (3, "E_NOTEXIST (3)"),
            (10, "E_FORBIDEN (10)"),
            (20, "E_RESTART (20)"),
            (127, "exit code 127"),
        ];
        for (code, want) in cases {
            assert_eq!(exit_name(code), want);
        }
    }

    #[test]
    fn record_list_parses_hestia_json() {
        let json = r#"{"1":{"RECORD":"@","TYPE":"NS","PRIORITY":"","VALUE":"ns1.example.com.","ID":"1","SUSPENDED":"no",
            "TIME":"12:00:00","DATE":"2026-01-01","TTL":"14400"},"2":{"RECORD":"vm","TYPE":"A","VALUE":"192.0.2.1","ID":"2"}}"#;
        let list: RecordList = serde_json::from_str(json).expect("parses");
        assert_eq!(list.len(), 2);
        assert_eq!(list["1"].value, "ns1.example.com.");
        assert_eq!(list["2"].ttl, "");
        assert_eq!(list["2"].suspended, "");
    }
}
