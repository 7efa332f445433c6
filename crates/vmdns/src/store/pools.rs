//! IP pools: a range of addresses with its prefix; every read carries the reverse-zone hint.

use std::net::IpAddr;

use ipnet::IpNet;
use sqlx::Row;
use sqlx::any::AnyRow;
use vmdns_core::{ReverseZoneHint, reverse_zone};

use super::{Store, StoreError, StoreResult, is_unique_violation, now_ms};

/// A pool as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: i64,
    pub name: String,
    pub first_ip: IpAddr,
    pub last_ip: IpAddr,
    pub gateway: Option<IpAddr>,
    pub prefix_len: u8,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A pool as given (validated by [`PoolInput::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInput {
    pub name: String,
    pub first_ip: IpAddr,
    pub last_ip: IpAddr,
    pub gateway: Option<IpAddr>,
    pub prefix_len: u8,
}

/// A field of a pool and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PoolError {
    pub field: &'static str,
    pub reason: String,
}

impl PoolInput {
    pub fn network(&self) -> Result<IpNet, PoolError> {
        let max = if self.first_ip.is_ipv4() { 32 } else { 128 };
        IpNet::new(self.first_ip, self.prefix_len)
            .map(|n| n.trunc())
            .map_err(|_| PoolError {
                field: "prefix_len",
                reason: format!("must be between 0 and {max}"),
            })
    }

    /// Names, families, order, and every address inside the pool's network.
    pub fn validate(&self) -> Result<(), PoolError> {
        let err = |field, reason: String| Err(PoolError { field, reason });
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return err("name", "must be 1 to 100 characters".into());
        }
        let net = self.network()?;
        if self.first_ip.is_ipv4() != self.last_ip.is_ipv4() {
            return err("last_ip", "must be of the same family as first_ip".into());
        }
        if !net.contains(&self.last_ip) {
            return err(
                "last_ip",
                format!("{} is outside the pool's network {net}", self.last_ip),
            );
        }
        if self.first_ip > self.last_ip {
            return err("last_ip", "must not come before first_ip".into());
        }
        if let Some(gw) = self.gateway
            && !net.contains(&gw)
        {
            return err(
                "gateway",
                format!("{gw} is outside the pool's network {net}"),
            );
        }
        Ok(())
    }
}

impl Pool {
    pub fn network(&self) -> IpNet {
        IpNet::new(self.first_ip, self.prefix_len)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(self.first_ip))
    }

    /// The reverse zone the pool needs.
    pub fn hint(&self) -> ReverseZoneHint {
        reverse_zone(self.network())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip >= self.first_ip && ip <= self.last_ip
    }
}

const COLS: &str = "id, name, first_ip, last_ip, gateway, prefix_len, created_at, updated_at";

fn pool_from_row(row: &AnyRow) -> StoreResult<Pool> {
    let ip = |col: &str| -> StoreResult<IpAddr> {
        let s: String = row.try_get(col)?;
        Ok(s.parse().map_err(anyhow::Error::from)?)
    };
    let gateway: Option<String> = row.try_get("gateway")?;
    let prefix: i64 = row.try_get("prefix_len")?;
    Ok(Pool {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        first_ip: ip("first_ip")?,
        last_ip: ip("last_ip")?,
        gateway: gateway
            .map(|g| g.parse())
            .transpose()
            .map_err(anyhow::Error::from)?,
        prefix_len: u8::try_from(prefix).map_err(anyhow::Error::from)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn name_taken(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict {
            field: "name",
            message: "a pool with this name exists already".into(),
        }
    } else {
        e.into()
    }
}

impl Store {
    pub async fn create_pool(&self, p: &PoolInput) -> StoreResult<Pool> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO pools (name, first_ip, last_ip, gateway, prefix_len, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLS}"
        ))
        .bind(p.name.trim())
        .bind(p.first_ip.to_string())
        .bind(p.last_ip.to_string())
        .bind(p.gateway.map(|g| g.to_string()))
        .bind(i64::from(p.prefix_len))
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(name_taken)?;
        pool_from_row(&row)
    }

    pub async fn update_pool(&self, id: i64, p: &PoolInput) -> StoreResult<Pool> {
        let row = sqlx::query(&format!(
            "UPDATE pools SET name = $1, first_ip = $2, last_ip = $3, gateway = $4, prefix_len = $5, updated_at = $6 WHERE id = $7 RETURNING {COLS}"
        ))
        .bind(p.name.trim())
        .bind(p.first_ip.to_string())
        .bind(p.last_ip.to_string())
        .bind(p.gateway.map(|g| g.to_string()))
        .bind(i64::from(p.prefix_len))
        .bind(now_ms())
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(name_taken)?
        .ok_or(StoreError::NotFound { what: "pool", id })?;
        pool_from_row(&row)
    }

    pub async fn get_pool(&self, id: i64) -> StoreResult<Pool> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM pools WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound { what: "pool", id })?;
        pool_from_row(&row)
    }

    pub async fn list_pools(&self) -> StoreResult<Vec<Pool>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM pools ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(pool_from_row).collect()
    }

    pub async fn delete_pool(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM pools WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "pool", id });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(pool_crud_and_unique_names);

    fn input(first: &str, last: &str, gw: Option<&str>, len: u8) -> PoolInput {
        PoolInput {
            name: "p".into(),
            first_ip: first.parse().expect("ip"),
            last_ip: last.parse().expect("ip"),
            gateway: gw.map(|g| g.parse().expect("ip")),
            prefix_len: len,
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            input("192.168.130.2", "192.168.130.30", Some("192.168.130.1"), 24).validate(),
            Ok(())
        );
        let cases = [
            (
                input("192.168.130.2", "192.168.131.30", None, 24),
                "last_ip",
            ),
            (
                input("192.168.130.2", "192.168.130.30", Some("10.0.0.1"), 24),
                "gateway",
            ),
            (
                input("192.168.130.2", "192.168.130.30", None, 33),
                "prefix_len",
            ),
            (input("192.168.130.9", "192.168.130.3", None, 24), "last_ip"),
            (input("192.168.130.2", "2001:db8::1", None, 24), "last_ip"),
        ];
        for (p, field) in cases {
            assert_eq!(p.validate().expect_err(field).field, field);
        }
    }

    async fn pool_crud_and_unique_names(db: TestDb) {
        let store = db.store;
        let v4 = input("192.168.130.2", "192.168.130.30", Some("192.168.130.1"), 24);
        let p = store.create_pool(&v4).await.expect("create");
        assert_eq!(
            (p.first_ip, p.last_ip, p.gateway, p.prefix_len),
            (v4.first_ip, v4.last_ip, v4.gateway, 24)
        );
        assert!(p.contains("192.168.130.9".parse().expect("ip")));
        let err = store.create_pool(&v4).await.expect_err("same name");
        assert!(
            matches!(err, StoreError::Conflict { field: "name", .. }),
            "{err}"
        );
        let mut v6 = input("2001:db8::10", "2001:db8::ff", None, 64);
        v6.name = "v6".into();
        let q = store.create_pool(&v6).await.expect("create v6");
        assert_eq!(q.gateway, None);
        assert_eq!(q.network().to_string(), "2001:db8::/64");
        v6.name = "p".into();
        let err = store.update_pool(q.id, &v6).await.expect_err("taken name");
        assert!(
            matches!(err, StoreError::Conflict { field: "name", .. }),
            "{err}"
        );
        v6.name = "v6b".into();
        v6.prefix_len = 48;
        let q2 = store.update_pool(q.id, &v6).await.expect("update");
        assert_eq!((q2.name.as_str(), q2.prefix_len), ("v6b", 48));
        assert_eq!(store.get_pool(q.id).await.expect("get"), q2);
        assert_eq!(store.list_pools().await.expect("list"), [p.clone(), q2]);
        store.delete_pool(p.id).await.expect("delete");
        assert!(matches!(
            store.delete_pool(p.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.update_pool(p.id, &v4).await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
