//! Services (VMs): internal name, main domain, addresses (each with an optional customer-set PTR), TTL.

use std::net::IpAddr;

use sqlx::Row;
use vmdns_core::{AddressSpec, DnsName, VmSpec};

use super::{Store, StoreError, StoreResult, is_unique_violation, now_ms};

/// Whether the service's records should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Active,
    Terminated,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Terminated => "terminated",
        }
    }
}

/// A service as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: i64,
    pub name: String,
    pub domain: DnsName,
    pub ttl: u32,
    pub status: ServiceStatus,
    pub addresses: Vec<AddressSpec>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A service as given, already validated (see the API's parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInput {
    pub name: String,
    pub domain: DnsName,
    pub ttl: u32,
    pub addresses: Vec<AddressSpec>,
}

impl Service {
    /// What the core needs to compute the service's records.
    pub fn vm_spec(&self) -> VmSpec {
        VmSpec {
            name: self.name.clone(),
            domain: self.domain.clone(),
            addresses: self.addresses.clone(),
            ttl: self.ttl,
        }
    }

    /// `<name>.<domain>` (validated when the service was saved).
    pub fn fqdn(&self) -> String {
        self.vm_spec()
            .fqdn()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("{}.{}", self.name, self.domain))
    }
}

const COLS: &str = "id, name, domain, ttl, status, created_at, updated_at";

impl Store {
    async fn load_services(&self, where_sql: &str, id: Option<i64>) -> StoreResult<Vec<Service>> {
        let sql = format!("SELECT {COLS} FROM services {where_sql} ORDER BY id");
        let mut q = sqlx::query(&sql);
        if let Some(id) = id {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let addr_sql = match id {
            Some(_) => {
                "SELECT service_id, ip, ptr FROM service_addresses WHERE service_id = $1 ORDER BY service_id, position"
            }
            None => {
                "SELECT service_id, ip, ptr FROM service_addresses ORDER BY service_id, position"
            }
        };
        let mut aq = sqlx::query(addr_sql);
        if let Some(id) = id {
            aq = aq.bind(id);
        }
        let addr_rows = aq.fetch_all(self.pool()).await?;
        let mut addresses: std::collections::HashMap<i64, Vec<AddressSpec>> =
            std::collections::HashMap::new();
        for r in &addr_rows {
            let ip: String = r.try_get("ip")?;
            let ptr: Option<String> = r.try_get("ptr")?;
            addresses
                .entry(r.try_get("service_id")?)
                .or_default()
                .push(AddressSpec {
                    ip: ip.parse().map_err(anyhow::Error::from)?,
                    ptr: ptr
                        .map(|p| DnsName::parse(&p))
                        .transpose()
                        .map_err(anyhow::Error::from)?,
                });
        }
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let domain: String = row.try_get("domain")?;
                let ttl: i64 = row.try_get("ttl")?;
                let status: String = row.try_get("status")?;
                Ok(Service {
                    id,
                    name: row.try_get("name")?,
                    domain: DnsName::parse(&domain).map_err(anyhow::Error::from)?,
                    ttl: u32::try_from(ttl).map_err(anyhow::Error::from)?,
                    status: if status == "terminated" {
                        ServiceStatus::Terminated
                    } else {
                        ServiceStatus::Active
                    },
                    addresses: addresses.remove(&id).unwrap_or_default(),
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    pub async fn get_service(&self, id: i64) -> StoreResult<Service> {
        self.load_services("WHERE id = $1", Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound {
                what: "service",
                id,
            })
    }

    pub async fn list_services(&self) -> StoreResult<Vec<Service>> {
        self.load_services("", None).await
    }

    /// Addresses taken by another service than `except`: one address belongs to one service only.
    async fn check_addresses_free(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        addresses: &[AddressSpec],
        except: Option<i64>,
    ) -> StoreResult<()> {
        for a in addresses {
            let owner: Option<i64> =
                sqlx::query_scalar("SELECT service_id FROM service_addresses WHERE ip = $1")
                    .bind(a.ip.to_string())
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some(owner) = owner
                && Some(owner) != except
            {
                return Err(StoreError::Conflict {
                    field: "addresses",
                    message: format!("address {} belongs to service {owner} already", a.ip),
                });
            }
        }
        Ok(())
    }

    async fn write_addresses(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
        addresses: &[AddressSpec],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM service_addresses WHERE service_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for (i, a) in addresses.iter().enumerate() {
            sqlx::query("INSERT INTO service_addresses (service_id, position, ip, ptr) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(a.ip.to_string())
                .bind(a.ptr.as_ref().map(|p| p.to_string()))
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict {
                            field: "addresses",
                            message: format!("address {} belongs to another service already", a.ip),
                        }
                    } else {
                        e.into()
                    }
                })?;
        }
        Ok(())
    }

    pub async fn create_service(&self, s: &ServiceInput) -> StoreResult<Service> {
        let mut tx = self.begin().await?;
        self.check_addresses_free(&mut tx, &s.addresses, None)
            .await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO services (name, domain, ttl, status, created_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $4) RETURNING id",
        )
        .bind(s.name.trim())
        .bind(s.domain.as_str())
        .bind(i64::from(s.ttl))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        self.write_addresses(&mut tx, id, &s.addresses).await?;
        tx.commit().await?;
        self.get_service(id).await
    }

    /// Replaces a service's name, domain, TTL and addresses. The DNS follows when a job runs.
    pub async fn update_service(&self, id: i64, s: &ServiceInput) -> StoreResult<Service> {
        let mut tx = self.begin().await?;
        self.check_addresses_free(&mut tx, &s.addresses, Some(id))
            .await?;
        let done = sqlx::query(
            "UPDATE services SET name = $1, domain = $2, ttl = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(s.name.trim())
        .bind(s.domain.as_str())
        .bind(i64::from(s.ttl))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "service",
                id,
            });
        }
        self.write_addresses(&mut tx, id, &s.addresses).await?;
        tx.commit().await?;
        self.get_service(id).await
    }

    pub async fn set_service_status(&self, id: i64, status: ServiceStatus) -> StoreResult<()> {
        sqlx::query("UPDATE services SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes a service. Refused while vmdns still owns records written for it (terminate it first),
    /// unless `force`: then those records stay in DNS, and vmdns's memory of them goes.
    pub async fn delete_service(&self, id: i64, force: bool) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger WHERE service_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if owned > 0 && !force {
            return Err(StoreError::Conflict {
                field: "id",
                message: format!(
                    "service {id} still has {owned} DNS records written by vmdns: terminate it first, or delete with force"
                ),
            });
        }
        let done = sqlx::query("DELETE FROM services WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "service",
                id,
            });
        }
        for sql in [
            "DELETE FROM service_addresses WHERE service_id = $1",
            "DELETE FROM ledger WHERE service_id = $1",
            "DELETE FROM record_status WHERE service_id = $1",
            "UPDATE jobs SET state = 'superseded' WHERE service_id = $1 AND state = 'queued'",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Another active service (not `except`) whose FQDN is `<name>.<domain>`, if any.
    pub async fn service_with_fqdn(
        &self,
        name: &str,
        domain: &DnsName,
        except: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM services WHERE LOWER(name) = $1 AND domain = $2 AND id <> $3 AND status = 'active' ORDER BY id LIMIT 1",
        )
        .bind(name.trim().to_lowercase())
        .bind(domain.as_str())
        .bind(except.unwrap_or(0))
        .fetch_optional(self.pool())
        .await?)
    }

    /// Which service owns `ip`, if any.
    pub async fn service_of_address(&self, ip: IpAddr) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT service_id FROM service_addresses WHERE ip = $1")
                .bind(ip.to_string())
                .fetch_optional(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(
        service_crud_and_address_uniqueness,
        delete_refused_while_records_are_owned,
        writes_from_several_processes_at_once,
    );

    fn input(name: &str, ips: &[&str]) -> ServiceInput {
        ServiceInput {
            name: name.into(),
            domain: DnsName::parse("example.com").expect("domain"),
            ttl: 300,
            addresses: ips
                .iter()
                .map(|ip| AddressSpec {
                    ip: ip.parse().expect("ip"),
                    ptr: None,
                })
                .collect(),
        }
    }

    async fn service_crud_and_address_uniqueness(db: TestDb) {
        let store = db.store;
        let a = store
            .create_service(&input("vm1", &["192.0.2.1", "2001:db8::1"]))
            .await
            .expect("create");
        assert_eq!(a.addresses.len(), 2);
        assert_eq!(a.fqdn(), "vm1.example.com");
        let err = store
            .create_service(&input("vm2", &["192.0.2.1"]))
            .await
            .expect_err("taken");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    field: "addresses",
                    ..
                }
            ),
            "{err}"
        );
        let b = store
            .create_service(&input("vm2", &["192.0.2.2"]))
            .await
            .expect("create");
        let err = store
            .update_service(b.id, &input("vm2", &["192.0.2.1"]))
            .await
            .expect_err("taken");
        assert!(matches!(err, StoreError::Conflict { .. }));
        let a2 = store
            .update_service(a.id, &input("vm1b", &["192.0.2.3"]))
            .await
            .expect("update");
        assert_eq!(a2.name, "vm1b");
        assert_eq!(a2.addresses.len(), 1);
        // The old address is free again.
        store
            .update_service(b.id, &input("vm2", &["192.0.2.1"]))
            .await
            .expect("free now");
        assert_eq!(store.list_services().await.expect("list").len(), 2);
        store.delete_service(a.id, false).await.expect("delete");
        assert!(matches!(
            store.get_service(a.id).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    async fn delete_refused_while_records_are_owned(db: TestDb) {
        let store = db.store;
        let mut spec = input("vm1", &["192.0.2.1", "2001:db8::1"]);
        spec.addresses[0].ptr = Some(DnsName::parse("mail.example.net").expect("ptr"));
        spec.ttl = 3600;
        let s = store.create_service(&spec).await.expect("create");
        assert_eq!(s.ttl, 3600);
        assert_eq!(s.status, ServiceStatus::Active);
        assert_eq!(s.addresses, spec.addresses);
        assert_eq!(
            store
                .service_of_address("2001:db8::1".parse().expect("ip"))
                .await
                .expect("owner"),
            Some(s.id)
        );
        assert_eq!(
            store
                .service_of_address("192.0.2.99".parse().expect("ip"))
                .await
                .expect("owner"),
            None
        );
        store
            .set_service_status(s.id, ServiceStatus::Terminated)
            .await
            .expect("status");
        assert_eq!(
            store.get_service(s.id).await.expect("get").status,
            ServiceStatus::Terminated
        );
        store
            .ledger_add(&[super::super::LedgerRow {
                zone_id: 1,
                name: DnsName::parse("vm1.example.com").expect("name"),
                rtype: vmdns_core::RecordType::A,
                content: "192.0.2.1".into(),
                service_id: s.id,
            }])
            .await
            .expect("ledger");
        let job = store
            .enqueue_job(s.id, super::super::JobKind::Terminate, now_ms() + 60_000, 0)
            .await
            .expect("job");
        let err = store.delete_service(s.id, false).await.expect_err("owned");
        assert!(
            matches!(err, StoreError::Conflict { field: "id", .. }),
            "{err}"
        );
        store.delete_service(s.id, true).await.expect("forced");
        assert!(
            store
                .ledger_of_service(s.id)
                .await
                .expect("ledger")
                .is_empty()
        );
        assert_eq!(
            store.get_job(job.id).await.expect("job").state,
            super::super::JobState::Superseded
        );
        assert_eq!(
            store
                .service_of_address("192.0.2.1".parse().expect("ip"))
                .await
                .expect("owner"),
            None
        );
        assert!(matches!(
            store.delete_service(s.id, true).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    /// Several processes write at once (each transaction reads, then writes): none fails with "database
    /// is locked" on SQLite, and an address still goes to one service only.
    async fn writes_from_several_processes_at_once(db: TestDb) {
        const PROCESSES: u8 = 4;
        const EACH: u8 = 12;
        let mut tasks = tokio::task::JoinSet::new();
        for p in 0..PROCESSES {
            let store = db.open_another().await;
            tasks.spawn(async move {
                for i in 0..EACH {
                    let ip = format!("10.0.{p}.{i}");
                    let s = store
                        .create_service(&input(&format!("vm{p}-{i}"), &[&ip]))
                        .await
                        .unwrap_or_else(|e| panic!("create {ip}: {e}"));
                    store
                        .update_service(s.id, &input(&format!("vm{p}-{i}b"), &[&ip, "192.0.2.77"]))
                        .await
                        .map(|_| ())
                        .or_else(|e| match e {
                            StoreError::Conflict { .. } => Ok(()),
                            e => Err(e),
                        })
                        .unwrap_or_else(|e| panic!("update {ip}: {e}"));
                    if i % 3 == 0 {
                        store
                            .delete_service(s.id, false)
                            .await
                            .unwrap_or_else(|e| panic!("delete {ip}: {e}"));
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("writer");
        }
        let services = db.store.list_services().await.expect("list");
        assert_eq!(services.len(), usize::from(PROCESSES * (EACH - EACH / 3)));
        let holders = services
            .iter()
            .filter(|s| s.addresses.iter().any(|a| a.ip.to_string() == "192.0.2.77"))
            .count();
        assert!(holders <= 1, "192.0.2.77 given to {holders} services");
    }
}
