//! The ledger of what vmdns wrote (zone, name, type, content, service) and the last outcome per record.
//! vmdns never deletes or overwrites what the ledger does not say it wrote.

use sqlx::Row;
use sqlx::any::AnyRow;
use vmdns_core::{DnsName, RecordType};

use super::{Store, StoreResult, now_ms, placeholders};

/// One content vmdns wrote at one RRset of one zone, for one service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerRow {
    pub zone_id: i64,
    pub name: DnsName,
    pub rtype: RecordType,
    pub content: String,
    pub service_id: i64,
}

/// The last outcome of one record (RRset) of a service in one zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordStatus {
    pub service_id: i64,
    pub zone_id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ok: bool,
    pub message: String,
    pub at: i64,
}

fn ledger_from_row(row: &AnyRow) -> StoreResult<LedgerRow> {
    let name: String = row.try_get("name")?;
    let rtype: String = row.try_get("rtype")?;
    Ok(LedgerRow {
        zone_id: row.try_get("zone_id")?,
        name: DnsName::parse(&name).map_err(anyhow::Error::from)?,
        rtype: rtype.parse().map_err(anyhow::Error::from)?,
        content: row.try_get("content")?,
        service_id: row.try_get("service_id")?,
    })
}

const COLS: &str = "zone_id, name, rtype, content, service_id";
/// Names per IN list (well below SQLite's and PostgreSQL's parameter limits).
const CHUNK: usize = 500;
/// Rows per multi-row INSERT (5 parameters each: far below both engines' parameter limits).
const ROWS_PER_INSERT: usize = 50;

impl Store {
    /// Every ledger row of a zone at the given names (any service).
    pub async fn ledger_at(&self, zone_id: i64, names: &[DnsName]) -> StoreResult<Vec<LedgerRow>> {
        let mut out = Vec::new();
        for chunk in names.chunks(CHUNK) {
            let sql = format!(
                "SELECT {COLS} FROM ledger WHERE zone_id = $1 AND name IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(zone_id);
            for n in chunk {
                q = q.bind(n.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(ledger_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Every ledger row of a service (all zones).
    pub async fn ledger_of_service(&self, service_id: i64) -> StoreResult<Vec<LedgerRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM ledger WHERE service_id = $1 ORDER BY zone_id, name, rtype, content"
        ))
        .bind(service_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(ledger_from_row).collect()
    }

    /// Every ledger row of a zone.
    pub async fn ledger_of_zone(&self, zone_id: i64) -> StoreResult<Vec<LedgerRow>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM ledger WHERE zone_id = $1"))
            .bind(zone_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(ledger_from_row).collect()
    }

    /// Records contents vmdns is about to write (written before the write, so a crash never leaves a
    /// record vmdns wrote but does not know it owns).
    pub async fn ledger_add(&self, rows: &[LedgerRow]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values = (0..chunk.len())
                .map(|i| format!("({})", placeholders(5 * i + 1, 5)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO ledger ({COLS}) VALUES {values} ON CONFLICT (zone_id, name, rtype, content, service_id) DO NOTHING"
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.zone_id)
                    .bind(r.name.as_str())
                    .bind(r.rtype.as_str())
                    .bind(&r.content)
                    .bind(r.service_id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets contents vmdns no longer owns (deleted, or taken over by another service).
    pub async fn ledger_remove(&self, rows: &[LedgerRow]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for r in rows {
            sqlx::query("DELETE FROM ledger WHERE zone_id = $1 AND name = $2 AND rtype = $3 AND content = $4 AND service_id = $5")
                .bind(r.zone_id)
                .bind(r.name.as_str())
                .bind(r.rtype.as_str())
                .bind(&r.content)
                .bind(r.service_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets the last outcome of records (one row per service, zone, name and type).
    pub async fn set_record_status(&self, statuses: &[RecordStatus]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for s in statuses {
            sqlx::query(
                "INSERT INTO record_status (service_id, zone_id, name, rtype, ok, message, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (service_id, zone_id, name, rtype) DO UPDATE SET ok = excluded.ok, message = excluded.message, at = excluded.at",
            )
            .bind(s.service_id)
            .bind(s.zone_id)
            .bind(&s.name)
            .bind(&s.rtype)
            .bind(i64::from(s.ok))
            .bind(&s.message)
            .bind(if s.at == 0 { now_ms() } else { s.at })
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Drops status rows of records the service no longer has.
    pub async fn clear_record_status(&self, service_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM record_status WHERE service_id = $1")
            .bind(service_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn record_status(&self, service_id: i64) -> StoreResult<Vec<RecordStatus>> {
        let rows = sqlx::query(
            "SELECT service_id, zone_id, name, rtype, ok, message, at FROM record_status WHERE service_id = $1 ORDER BY name, rtype, zone_id",
        )
        .bind(service_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let ok: i64 = r.try_get("ok")?;
                Ok(RecordStatus {
                    service_id: r.try_get("service_id")?,
                    zone_id: r.try_get("zone_id")?,
                    name: r.try_get("name")?,
                    rtype: r.try_get("rtype")?,
                    ok: ok != 0,
                    message: r.try_get("message")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(
        ledger_add_is_idempotent_and_remove_forgets,
        ledger_at_many_names,
        record_status_upserts_and_clears,
    );

    async fn ledger_add_is_idempotent_and_remove_forgets(db: TestDb) {
        let store = db.store;
        let row = LedgerRow {
            zone_id: 1,
            name: DnsName::parse("vm.example.com").expect("name"),
            rtype: RecordType::A,
            content: "192.0.2.1".into(),
            service_id: 9,
        };
        store
            .ledger_add(&[row.clone(), row.clone()])
            .await
            .expect("add");
        store
            .ledger_add(std::slice::from_ref(&row))
            .await
            .expect("add again");
        assert_eq!(
            store
                .ledger_at(1, std::slice::from_ref(&row.name))
                .await
                .expect("at"),
            vec![row.clone()]
        );
        assert_eq!(store.ledger_of_service(9).await.expect("svc").len(), 1);
        store
            .ledger_remove(std::slice::from_ref(&row))
            .await
            .expect("remove");
        assert!(store.ledger_of_zone(1).await.expect("zone").is_empty());
    }

    /// More names than one IN list takes.
    async fn ledger_at_many_names(db: TestDb) {
        let store = db.store;
        let rows: Vec<LedgerRow> = (0..1200)
            .map(|i| LedgerRow {
                zone_id: 3,
                name: DnsName::parse(&format!("vm{i}.example.com")).expect("name"),
                rtype: RecordType::Aaaa,
                content: format!("2001:db8::{i:x}"),
                service_id: i64::from(i % 7),
            })
            .collect();
        store.ledger_add(&rows).await.expect("add");
        let names: Vec<DnsName> = rows.iter().map(|r| r.name.clone()).collect();
        let mut got = store.ledger_at(3, &names).await.expect("at");
        got.sort();
        let mut want = rows.clone();
        want.sort();
        assert_eq!(got, want);
        assert!(store.ledger_at(4, &names).await.expect("at").is_empty());
        assert_eq!(store.ledger_of_zone(3).await.expect("zone").len(), 1200);
        let of_service = store.ledger_of_service(0).await.expect("svc");
        assert_eq!(of_service.len(), 172);
        assert!(of_service.iter().all(|r| r.service_id == 0));
    }

    async fn record_status_upserts_and_clears(db: TestDb) {
        let store = db.store;
        let status = |name: &str, ok: bool, message: &str| RecordStatus {
            service_id: 4,
            zone_id: 2,
            name: name.into(),
            rtype: "PTR".into(),
            ok,
            message: message.into(),
            at: 0,
        };
        store
            .set_record_status(&[
                status("b.example", false, "timeout"),
                status("a.example", true, ""),
            ])
            .await
            .expect("set");
        store
            .set_record_status(&[status("b.example", true, "written")])
            .await
            .expect("upsert");
        let got = store.record_status(4).await.expect("read");
        assert_eq!(
            got.iter()
                .map(|s| (s.name.as_str(), s.ok, s.message.as_str()))
                .collect::<Vec<_>>(),
            [("a.example", true, ""), ("b.example", true, "written")]
        );
        assert!(got.iter().all(|s| s.at > 0));
        store.clear_record_status(4).await.expect("clear");
        assert!(store.record_status(4).await.expect("read").is_empty());
    }
}
