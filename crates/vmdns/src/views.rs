//! The JSON shapes of zones, pools, services and jobs, the same for the API and the CLI's `--json`.
//! Zone settings are always masked here: a secret never leaves through a view.

use serde::Serialize;
use vmdns_core::ReverseZoneHint;
use vmdns_providers::Settings;

use crate::store::{Job, JobOutputLine, Pool, Service, Zone, format_ms};

#[derive(Debug, Serialize)]
pub struct ZoneView {
    pub id: i64,
    pub name: String,
    pub provider: String,
    pub settings: Settings,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Zone> for ZoneView {
    fn from(z: &Zone) -> Self {
        Self {
            id: z.id,
            name: z.name.to_string(),
            provider: z.provider.to_string(),
            settings: z.masked_settings(),
            created_at: format_ms(z.created_at),
            updated_at: format_ms(z.updated_at),
        }
    }
}

/// The reverse-zone hint with its display lines.
#[derive(Debug, Serialize)]
pub struct HintView {
    #[serde(flatten)]
    pub hint: ReverseZoneHint,
    pub summary: String,
    pub lines: Vec<String>,
}

impl From<ReverseZoneHint> for HintView {
    fn from(hint: ReverseZoneHint) -> Self {
        Self {
            summary: hint.summary(),
            lines: hint.lines(),
            hint,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PoolView {
    pub id: i64,
    pub name: String,
    pub first_ip: String,
    pub last_ip: String,
    pub gateway: Option<String>,
    pub prefix_len: u8,
    pub rdns_zone: HintView,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Pool> for PoolView {
    fn from(p: &Pool) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            first_ip: p.first_ip.to_string(),
            last_ip: p.last_ip.to_string(),
            gateway: p.gateway.map(|g| g.to_string()),
            prefix_len: p.prefix_len,
            rdns_zone: p.hint().into(),
            created_at: format_ms(p.created_at),
            updated_at: format_ms(p.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AddressView {
    pub ip: String,
    pub ptr: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServiceView {
    pub id: i64,
    pub name: String,
    pub domain: String,
    pub fqdn: String,
    pub ttl: u32,
    pub status: String,
    pub addresses: Vec<AddressView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Service> for ServiceView {
    fn from(s: &Service) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            domain: s.domain.to_string(),
            fqdn: s.fqdn(),
            ttl: s.ttl,
            status: s.status.as_str().to_string(),
            addresses: s
                .addresses
                .iter()
                .map(|a| AddressView {
                    ip: a.ip.to_string(),
                    ptr: a.ptr.as_ref().map(ToString::to_string),
                })
                .collect(),
            created_at: format_ms(s.created_at),
            updated_at: format_ms(s.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: i64,
    pub service_id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub retry_number: i64,
    pub created_at: String,
    pub run_after: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<JobOutputLine>>,
}

impl JobView {
    pub fn new(j: &Job, output: Option<Vec<JobOutputLine>>) -> Self {
        Self {
            id: j.id,
            service_id: j.service_id,
            kind: j.kind.to_string(),
            state: j.state.as_str().to_string(),
            attempts: j.attempts,
            retry_number: j.retry_number,
            created_at: format_ms(j.created_at),
            run_after: format_ms(j.run_after),
            started_at: j.started_at.map(format_ms),
            finished_at: j.finished_at.map(format_ms),
            summary: j.summary.clone(),
            output,
        }
    }
}
