//! API tokens: only their SHA-256 is stored; the token is shown once, when created.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StoreError, StoreResult, now_ms};

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Creates a token; returns it with its id. The token is not stored, only its hash.
    pub async fn create_token(&self, name: &str) -> StoreResult<(i64, String)> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("vmdns_{}", hex::encode(bytes));
        let id: i64 = sqlx::query_scalar("INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(hash(&token))
            .bind(now_ms())
            .fetch_one(self.pool())
            .await?;
        Ok((id, token))
    }

    /// The id of the valid (not revoked) token, if it is one.
    pub async fn verify_token(&self, token: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash(token))
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let rows =
            sqlx::query("SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    pub async fn revoke_token(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "token", id });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};

    on_every_engine!(tokens_verify_until_revoked);

    async fn tokens_verify_until_revoked(db: TestDb) {
        let store = db.store;
        let (id, token) = store.create_token("ci").await.expect("create");
        assert!(token.starts_with("vmdns_"));
        assert_eq!(store.verify_token(&token).await.expect("verify"), Some(id));
        assert_eq!(
            store.verify_token("vmdns_nope").await.expect("verify"),
            None
        );
        store.revoke_token(id).await.expect("revoke");
        assert_eq!(store.verify_token(&token).await.expect("verify"), None);
        assert_eq!(store.list_tokens().await.expect("list").len(), 1);
    }
}
