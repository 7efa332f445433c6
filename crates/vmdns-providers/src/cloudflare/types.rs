//! Wire structs of the Cloudflare API v4: the response envelope, zones, token checks, DNS records and the
//! batch body. Shapes follow the official OpenAPI schema (api-schemas, 2024-08) and real answers; every
//! field a real answer may leave out is optional or defaulted.

use serde::{Deserialize, Serialize};

/// `{success, errors, messages, result, result_info}`. `result` stays raw JSON: failures sometimes carry a
/// result of another shape (DELETE answers `{"id": ...}` even on errors), so it is read only on success.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub(crate) success: bool,
    #[serde(default)]
    pub(crate) errors: Vec<ApiMessage>,
    #[serde(default)]
    pub(crate) result: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) result_info: Option<ResultInfo>,
}

/// One entry of `errors` (or `messages`): a numeric code and Cloudflare's words, sometimes with the
/// more precise cause in `error_chain` (`1004 DNS Validation Error` → `9005 Content for A record ...`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ApiMessage {
    #[serde(default)]
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) error_chain: Vec<ApiMessage>,
}

/// Pagination of list answers. The schema of `dns_records` omits `total_pages`; real answers carry it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ResultInfo {
    #[serde(default)]
    pub(crate) per_page: Option<u64>,
    #[serde(default)]
    pub(crate) count: Option<u64>,
    #[serde(default)]
    pub(crate) total_count: Option<u64>,
    #[serde(default)]
    pub(crate) total_pages: Option<u64>,
}

/// `GET /zones/{zone_id}` (the fields vmdns reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Zone {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// `GET /user/tokens/verify` and `GET /accounts/{account_id}/tokens/verify`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenStatus {
    #[serde(default)]
    pub(crate) status: String,
}

/// A DNS record as Cloudflare returns it. `name` is the full name (punycode, no trailing dot); `ttl` 1
/// means "automatic".
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DnsRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default = "auto_ttl")]
    pub(crate) ttl: u32,
}

fn auto_ttl() -> u32 {
    1
}

/// The body of a new record (`POST /dns_records`, batch `posts`) and of a record patch (`PATCH
/// /dns_records/{id}`, batch `patches` with `id`). Patches carry type, name and content too: the schema
/// requires them and Cloudflare accepts them unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RecordBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(rename = "type")]
    pub(crate) rtype: &'static str,
    pub(crate) name: String,
    pub(crate) content: String,
    pub(crate) ttl: u32,
}

/// `{"id": ...}`: batch `deletes` entries, and what a DELETE answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdRef {
    pub(crate) id: String,
}

/// `POST /zones/{zone_id}/dns_records/batch`: executed deletes → patches → puts → posts in one transaction.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct BatchRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) deletes: Vec<IdRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) patches: Vec<RecordBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) posts: Vec<RecordBody>,
}

impl BatchRequest {
    pub(crate) fn len(&self) -> usize {
        self.deletes.len() + self.patches.len() + self.posts.len()
    }
}

/// The batch answer: the records as they are after each operation, in the order sent (only the new
/// records' ids are read).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct BatchResult {
    #[serde(default)]
    pub(crate) posts: Vec<DnsRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_envelope_with_a_result_of_another_shape() {
        let body = r#"{"result":{"id":"abc"},"success":false,"errors":[{"code":81044,"message":"Record does not exist."}],"messages":[]}"#;
        let env: Envelope = serde_json::from_str(body).expect("envelope");
        assert!(!env.success);
        assert_eq!(env.errors[0].code, 81044);
    }

    #[test]
    fn error_chain_is_read() {
        let body = r#"{"success":false,"errors":[{"code":1004,"message":"DNS Validation Error","error_chain":[{"code":9005,"message":"Content for A record must be a valid IPv4 address."}]}],"messages":[],"result":null}"#;
        let env: Envelope = serde_json::from_str(body).expect("envelope");
        assert_eq!(env.errors[0].error_chain[0].code, 9005);
    }

    #[test]
    fn record_without_optional_fields() {
        let r: DnsRecord = serde_json::from_str(
            r#"{"id":"1","name":"vm.example.com","type":"A","content":"192.0.2.1"}"#,
        )
        .expect("record");
        assert_eq!(r.ttl, 1);
    }

    #[test]
    fn batch_body_leaves_out_empty_lists() {
        let req = BatchRequest {
            deletes: vec![IdRef { id: "x".into() }],
            ..BatchRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&req).expect("json"),
            r#"{"deletes":[{"id":"x"}]}"#
        );
        assert_eq!(req.len(), 1);
    }
}
