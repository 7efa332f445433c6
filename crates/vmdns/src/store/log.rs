//! The module log: every DNS failure with full context (job, service, zone, provider, record, operation,
//! the provider's exact message), and a summary entry per job that had errors.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreResult, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Self::Info),
            "warn" => Some(Self::Warn),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// An entry to write.
#[derive(Debug, Clone, Default)]
pub struct NewLogEntry {
    pub level: Option<LogLevel>,
    pub message: String,
    pub job_id: Option<i64>,
    pub service_id: Option<i64>,
    pub zone_id: Option<i64>,
    pub zone_name: Option<String>,
    pub provider: Option<String>,
    pub record: Option<String>,
    pub operation: Option<String>,
    pub detail: Option<String>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub id: i64,
    pub at: i64,
    pub level: String,
    pub message: String,
    pub job_id: Option<i64>,
    pub service_id: Option<i64>,
    pub zone_id: Option<i64>,
    pub zone_name: Option<String>,
    pub provider: Option<String>,
    pub record: Option<String>,
    pub operation: Option<String>,
    pub detail: Option<String>,
}

/// Which entries to read: newest first, `limit` of them, older than `before_id` when given.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub service_id: Option<i64>,
    pub zone_id: Option<i64>,
    pub level: Option<LogLevel>,
    pub since: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

const COLS: &str = "id, at, level, message, job_id, service_id, zone_id, zone_name, provider, record, operation, detail";

fn entry_from_row(r: &AnyRow) -> StoreResult<LogEntry> {
    Ok(LogEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        level: r.try_get("level")?,
        message: r.try_get("message")?,
        job_id: r.try_get("job_id")?,
        service_id: r.try_get("service_id")?,
        zone_id: r.try_get("zone_id")?,
        zone_name: r.try_get("zone_name")?,
        provider: r.try_get("provider")?,
        record: r.try_get("record")?,
        operation: r.try_get("operation")?,
        detail: r.try_get("detail")?,
    })
}

impl Store {
    pub async fn log(&self, e: NewLogEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO module_log (at, level, message, job_id, service_id, zone_id, zone_name, provider, record, operation, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(now_ms())
        .bind(e.level.unwrap_or(LogLevel::Info).as_str())
        .bind(e.message)
        .bind(e.job_id)
        .bind(e.service_id)
        .bind(e.zone_id)
        .bind(e.zone_name)
        .bind(e.provider)
        .bind(e.record)
        .bind(e.operation)
        .bind(e.detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn read_log(&self, f: &LogFilter) -> StoreResult<Vec<LogEntry>> {
        let mut conds = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        let mut level = None;
        for (col, v) in [
            ("service_id = ", f.service_id),
            ("zone_id = ", f.zone_id),
            ("at >= ", f.since),
            ("id < ", f.before_id),
        ] {
            if let Some(v) = v {
                ints.push(v);
                conds.push(format!("{col}${}", ints.len()));
            }
        }
        if let Some(l) = f.level {
            level = Some(l.as_str());
            conds.push(format!("level = ${}", ints.len() + 1));
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let limit_param = ints.len() + usize::from(level.is_some()) + 1;
        let sql = format!(
            "SELECT {COLS} FROM module_log {where_sql} ORDER BY id DESC LIMIT ${limit_param}"
        );
        let mut q = sqlx::query(&sql);
        for v in ints {
            q = q.bind(v);
        }
        if let Some(l) = level {
            q = q.bind(l);
        }
        let rows = q
            .bind(f.limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(filters_and_pages, every_field_round_trips);

    async fn filters_and_pages(db: TestDb) {
        let store = db.store;
        for i in 0..5 {
            store
                .log(NewLogEntry {
                    level: Some(if i % 2 == 0 {
                        LogLevel::Error
                    } else {
                        LogLevel::Info
                    }),
                    message: format!("m{i}"),
                    service_id: Some(i % 2),
                    ..Default::default()
                })
                .await
                .expect("log");
        }
        let all = store
            .read_log(&LogFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].message, "m4");
        let errors = store
            .read_log(&LogFilter {
                level: Some(LogLevel::Error),
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(errors.len(), 3);
        let svc1 = store
            .read_log(&LogFilter {
                service_id: Some(1),
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(svc1.len(), 2);
        let page2 = store
            .read_log(&LogFilter {
                before_id: Some(all[1].id),
                limit: 2,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(
            page2.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["m2", "m1"]
        );
    }

    async fn every_field_round_trips(db: TestDb) {
        let store = db.store;
        let before = now_ms();
        store
            .log(NewLogEntry {
                level: Some(LogLevel::Warn),
                message: "PTR write failed".into(),
                job_id: Some(11),
                service_id: Some(12),
                zone_id: Some(13),
                zone_name: Some("2.0.192.in-addr.arpa".into()),
                provider: Some("powerdns".into()),
                record: Some("1.2.0.192.in-addr.arpa PTR".into()),
                operation: Some("replace".into()),
                detail: Some("422 Unprocessable Entity: RRset ...".into()),
            })
            .await
            .expect("log");
        store
            .log(NewLogEntry {
                message: "bare".into(),
                ..Default::default()
            })
            .await
            .expect("log");
        let got = store
            .read_log(&LogFilter {
                zone_id: Some(13),
                since: Some(before),
                level: Some(LogLevel::Warn),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!(
            (e.level.as_str(), e.job_id, e.service_id, e.zone_id),
            ("warn", Some(11), Some(12), Some(13))
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("422 Unprocessable Entity: RRset ...")
        );
        assert!(e.at >= before);
        let bare = store
            .read_log(&LogFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(bare[0].message, "bare");
        assert_eq!(bare[0].level, "info");
        assert_eq!((bare[0].job_id, bare[0].zone_name.as_deref()), (None, None));
    }
}
