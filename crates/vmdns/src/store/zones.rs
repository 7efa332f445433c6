//! DNS zones: name, provider and settings (secrets sealed at rest).

use sqlx::Row;
use sqlx::any::AnyRow;
use vmdns_core::DnsName;
use vmdns_providers::{ProviderKind, Settings};

use super::{Store, StoreError, StoreResult, now_ms};
use crate::secrets;

/// A configured zone, settings in full (secrets opened): never send this to a client as is; use
/// [`Zone::masked_settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: i64,
    pub name: DnsName,
    pub provider: ProviderKind,
    pub settings: Settings,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Zone {
    /// Settings as reads show them: secrets replaced by `__KEEP__`.
    pub fn masked_settings(&self) -> Settings {
        secrets::mask(self.provider, &self.settings)
    }
}

const COLS: &str = "id, name, provider, settings, secrets, created_at, updated_at";

impl Store {
    fn zone_from_row(&self, row: &AnyRow) -> StoreResult<Zone> {
        let name: String = row.try_get("name")?;
        let provider: String = row.try_get("provider")?;
        let plain: String = row.try_get("settings")?;
        let sealed: String = row.try_get("secrets")?;
        let mut settings: Settings = serde_json::from_str(&plain).map_err(anyhow::Error::from)?;
        settings.extend(self.cipher.open(&sealed)?);
        Ok(Zone {
            id: row.try_get("id")?,
            name: DnsName::parse(&name).map_err(anyhow::Error::from)?,
            provider: provider.parse().map_err(anyhow::Error::from)?,
            settings,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    fn seal_settings(
        &self,
        provider: ProviderKind,
        settings: &Settings,
    ) -> StoreResult<(String, String)> {
        let (plain, secret) = secrets::split(provider, settings);
        Ok((
            serde_json::to_string(&plain).map_err(anyhow::Error::from)?,
            self.cipher.seal(&secret)?,
        ))
    }

    /// Adds a zone. The same name may exist several times (several providers or servers).
    pub async fn create_zone(
        &self,
        name: &DnsName,
        provider: ProviderKind,
        settings: &Settings,
    ) -> StoreResult<Zone> {
        let (plain, sealed) = self.seal_settings(provider, settings)?;
        let now = now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO zones (name, provider, settings, secrets, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLS}"
        ))
        .bind(name.as_str())
        .bind(provider.as_str())
        .bind(plain)
        .bind(sealed)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        self.zone_from_row(&row)
    }

    /// Replaces a zone's name, provider and settings (the caller merged `__KEEP__` secrets already).
    pub async fn update_zone(
        &self,
        id: i64,
        name: &DnsName,
        provider: ProviderKind,
        settings: &Settings,
    ) -> StoreResult<Zone> {
        let (plain, sealed) = self.seal_settings(provider, settings)?;
        let row = sqlx::query(&format!(
            "UPDATE zones SET name = $1, provider = $2, settings = $3, secrets = $4, updated_at = $5 WHERE id = $6 RETURNING {COLS}"
        ))
        .bind(name.as_str())
        .bind(provider.as_str())
        .bind(plain)
        .bind(sealed)
        .bind(now_ms())
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound { what: "zone", id })?;
        self.zone_from_row(&row)
    }

    pub async fn get_zone(&self, id: i64) -> StoreResult<Zone> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM zones WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound { what: "zone", id })?;
        self.zone_from_row(&row)
    }

    pub async fn list_zones(&self) -> StoreResult<Vec<Zone>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM zones ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| self.zone_from_row(r)).collect()
    }

    /// Deletes a zone and vmdns's memory of what it wrote there (the records themselves stay).
    pub async fn delete_zone(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "zone", id });
        }
        sqlx::query("DELETE FROM ledger WHERE zone_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM record_status WHERE zone_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(
        zone_crud_and_secrets_sealed,
        update_and_delete_forget_the_zone
    );

    async fn zone_crud_and_secrets_sealed(db: TestDb) {
        let store = db.store;
        let name = DnsName::parse("example.com").expect("name");
        let settings: Settings = [
            ("server_url", "http://127.0.0.1:1"),
            ("api_key", "zz-secret-zz"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let z = store
            .create_zone(&name, ProviderKind::Powerdns, &settings)
            .await
            .expect("create");
        assert_eq!(z.settings, settings);
        assert_eq!(
            z.masked_settings().get("api_key").map(String::as_str),
            Some("__KEEP__")
        );
        let twin = store
            .create_zone(&name, ProviderKind::Powerdns, &settings)
            .await
            .expect("same name twice");
        assert_ne!(twin.id, z.id);
        assert_eq!(store.list_zones().await.expect("list").len(), 2);
        let got = store.get_zone(z.id).await.expect("get");
        assert_eq!(got, z);
        store.delete_zone(twin.id).await.expect("delete");
        assert!(matches!(
            store.get_zone(twin.id).await,
            Err(StoreError::NotFound { .. })
        ));
        // The raw database never holds the secret: not in any column, not in any file.
        let raw: Vec<String> = sqlx::query_scalar("SELECT settings || secrets FROM zones")
            .fetch_all(store.pool())
            .await
            .expect("raw");
        assert_eq!(raw.len(), 1);
        assert!(raw.iter().all(|r| !r.contains("zz-secret-zz")), "{raw:?}");
        store.close().await;
        if let Some(dir) = db.sqlite_dir {
            for entry in std::fs::read_dir(dir).expect("dir") {
                let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
                assert!(!bytes.windows(12).any(|w| w == b"zz-secret-zz"));
            }
        }
    }

    async fn update_and_delete_forget_the_zone(db: TestDb) {
        let store = db.store;
        let name = DnsName::parse("2.0.192.in-addr.arpa").expect("name");
        let settings: Settings = [("server_url", "http://a"), ("api_key", "k1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let z = store
            .create_zone(&name, ProviderKind::Powerdns, &settings)
            .await
            .expect("create");
        let mut changed = settings.clone();
        changed.insert("api_key".into(), "k2".into());
        let u = store
            .update_zone(z.id, &name, ProviderKind::Powerdns, &changed)
            .await
            .expect("update");
        assert_eq!(u.settings, changed);
        assert!(u.updated_at >= z.updated_at);
        assert!(matches!(
            store
                .update_zone(z.id + 100, &name, ProviderKind::Powerdns, &changed)
                .await,
            Err(StoreError::NotFound { .. })
        ));
        store
            .ledger_add(&[super::super::LedgerRow {
                zone_id: z.id,
                name: DnsName::parse("1.2.0.192.in-addr.arpa").expect("name"),
                rtype: vmdns_core::RecordType::Ptr,
                content: "vm.example.com.".into(),
                service_id: 1,
            }])
            .await
            .expect("ledger");
        store.delete_zone(z.id).await.expect("delete");
        assert!(store.ledger_of_zone(z.id).await.expect("ledger").is_empty());
        assert!(matches!(
            store.delete_zone(z.id).await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
