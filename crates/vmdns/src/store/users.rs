//! Web UI accounts and their sessions: passwords hashed with argon2id, failed logins counted and answered
//! with a growing lock-out, sessions kept by the SHA-256 of their cookie (the cookie itself is never
//! stored), each with its own CSRF token.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult, is_unique_violation, now_ms};

/// Failed logins in a row before the account is locked for a while.
pub(crate) const MAX_FAILED_LOGINS: i64 = 5;
/// The first lock-out; it doubles with every further failure, up to [`MAX_LOCKOUT_MS`].
pub(crate) const FIRST_LOCKOUT_MS: i64 = 30_000;
pub(crate) const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// How long a session lasts from login.
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;

/// An account as listed (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

/// A live session: who it belongs to and the CSRF token its forms carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    pub user_name: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// What a login attempt comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok(User),
    /// Unknown user or wrong password (the two are not told apart).
    BadCredentials,
    /// Too many failures in a row: no password is checked until `until` (Unix ms).
    LockedOut {
        until: i64,
    },
}

/// How long an account is locked after `failed` failures in a row, if at all.
pub(crate) fn lockout_ms(failed: i64) -> Option<i64> {
    if failed < MAX_FAILED_LOGINS {
        return None;
    }
    let doublings = u32::try_from((failed - MAX_FAILED_LOGINS).min(20)).unwrap_or(20);
    Some(
        FIRST_LOCKOUT_MS
            .saturating_mul(1_i64 << doublings)
            .min(MAX_LOCKOUT_MS),
    )
}

/// A user name: 1 to 64 characters, no spaces or control characters.
pub fn check_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

/// A password: at least 8 characters (at most 1024).
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        return Err("must be at least 8 characters".into());
    }
    if n > 1024 {
        return Err("must be at most 1024 characters".into());
    }
    Ok(())
}

/// An argon2id hash (PHC string) of `password` with a fresh salt.
pub(crate) fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash`.
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, checked for unknown users so that they take as long as known ones.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hash_password(&hex::encode(bytes)).unwrap_or_default()
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("password hashing task failed: {e}")))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

const COLS: &str = "id, name, failed_logins, locked_until, created_at";

fn user_from_row(r: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Adds an account; the password is hashed here (argon2id), never stored as given.
    pub async fn create_user(&self, name: &str, password: &str) -> StoreResult<User> {
        let password = password.to_string();
        let hash = blocking(move || hash_password(&password)).await??;
        let row = sqlx::query(&format!(
            "INSERT INTO users (name, password_hash, failed_logins, created_at) VALUES ($1, $2, 0, $3) RETURNING {COLS}"
        ))
        .bind(name)
        .bind(hash)
        .bind(now_ms())
        .fetch_one(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict {
                    field: "name",
                    message: format!("a user named {name:?} exists already"),
                }
            } else {
                e.into()
            }
        })?;
        user_from_row(&row)
    }

    /// Replaces an account's password, lifts any lock-out and ends its sessions.
    pub async fn set_password(&self, name: &str, password: &str) -> StoreResult<User> {
        let password = password.to_string();
        let hash = blocking(move || hash_password(&password)).await??;
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE name = $2 RETURNING {COLS}"
        ))
        .bind(hash)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("no user named {name:?}")))?;
        let user = user_from_row(&row)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM users ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Checks a login: a locked account is refused without looking at the password; a failure counts
    /// towards the lock-out; a success clears the count.
    pub async fn login(&self, name: &str, password: &str) -> StoreResult<LoginOutcome> {
        self.login_at(name, password, now_ms()).await
    }

    async fn login_at(&self, name: &str, password: &str, now: i64) -> StoreResult<LoginOutcome> {
        let row = sqlx::query(&format!(
            "SELECT {COLS}, password_hash FROM users WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            let password = password.to_string();
            blocking(move || verify_password(dummy_hash(), &password)).await?;
            return Ok(LoginOutcome::BadCredentials);
        };
        let user = user_from_row(&row)?;
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            return Ok(LoginOutcome::LockedOut { until });
        }
        let hash: String = row.try_get("password_hash")?;
        let password = password.to_string();
        if blocking(move || verify_password(&hash, &password)).await? {
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                .bind(user.id)
                .execute(self.pool())
                .await?;
            return Ok(LoginOutcome::Ok(User {
                failed_logins: 0,
                locked_until: None,
                ..user
            }));
        }
        let failed: i64 = sqlx::query_scalar(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
        )
        .bind(user.id)
        .fetch_one(self.pool())
        .await?;
        if let Some(ms) = lockout_ms(failed) {
            let until = now.saturating_add(ms);
            sqlx::query("UPDATE users SET locked_until = $1 WHERE id = $2")
                .bind(until)
                .bind(user.id)
                .execute(self.pool())
                .await?;
            tracing::warn!(user = %user.name, failed, "account locked after failed logins");
            return Ok(LoginOutcome::LockedOut { until });
        }
        Ok(LoginOutcome::BadCredentials)
    }

    /// Starts a session for a user: returns the cookie value (not stored) and the session.
    pub async fn create_session(&self, user: &User) -> StoreResult<(String, Session)> {
        let token = random_token();
        let now = now_ms();
        let session = Session {
            user_id: user.id,
            user_name: user.name.clone(),
            csrf: random_token(),
            expires_at: now.saturating_add(SESSION_TTL_MS),
        };
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(session.user_id)
        .bind(&session.csrf)
        .bind(now)
        .bind(session.expires_at)
        .execute(self.pool())
        .await?;
        Ok((token, session))
    }

    /// The live session a cookie value stands for, if any.
    pub async fn session(&self, token: &str) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT s.user_id, u.name, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Session {
                user_id: r.try_get("user_id")?,
                user_name: r.try_get("name")?,
                csrf: r.try_get("csrf")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session (logout). Ending one that is gone already is fine.
    pub async fn delete_session(&self, token: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(login_locks_out_after_repeated_failures, sessions_by_token);

    #[test]
    fn lockout_grows_and_is_capped() {
        let cases = [
            (0, None),
            (4, None),
            (5, Some(30_000)),
            (6, Some(60_000)),
            (7, Some(120_000)),
            (10, Some(MAX_LOCKOUT_MS)),
            (1_000, Some(MAX_LOCKOUT_MS)),
        ];
        for (failed, want) in cases {
            assert_eq!(lockout_ms(failed), want, "{failed}");
        }
    }

    #[test]
    fn names_and_passwords() {
        assert!(check_user_name("admin").is_ok());
        assert!(check_user_name("").is_err());
        assert!(check_user_name("a b").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
    }

    async fn login_locks_out_after_repeated_failures(db: TestDb) {
        let store = db.store;
        let user = store
            .create_user("admin", "correct horse")
            .await
            .expect("create");
        assert!(matches!(
            store.create_user("admin", "other password").await,
            Err(StoreError::Conflict { field: "name", .. })
        ));
        let now = 1_000_000;
        assert!(matches!(
            store.login_at("admin", "correct horse", now).await,
            Ok(LoginOutcome::Ok(_))
        ));
        assert_eq!(
            store.login_at("nobody", "x", now).await.expect("login"),
            LoginOutcome::BadCredentials
        );
        for _ in 0..MAX_FAILED_LOGINS - 1 {
            assert_eq!(
                store.login_at("admin", "wrong", now).await.expect("login"),
                LoginOutcome::BadCredentials
            );
        }
        let locked = LoginOutcome::LockedOut {
            until: now + FIRST_LOCKOUT_MS,
        };
        assert_eq!(
            store.login_at("admin", "wrong", now).await.expect("login"),
            locked
        );
        // While locked even the right password is refused, and nothing more is counted.
        assert_eq!(
            store
                .login_at("admin", "correct horse", now + 1)
                .await
                .expect("login"),
            locked
        );
        // After the lock-out, one more failure locks again, for longer.
        let later = now + FIRST_LOCKOUT_MS;
        assert_eq!(
            store
                .login_at("admin", "wrong", later)
                .await
                .expect("login"),
            LoginOutcome::LockedOut {
                until: later + 2 * FIRST_LOCKOUT_MS
            }
        );
        let much_later = later + 2 * FIRST_LOCKOUT_MS;
        let LoginOutcome::Ok(back) = store
            .login_at("admin", "correct horse", much_later)
            .await
            .expect("login")
        else {
            panic!("the right password works once the lock-out is over");
        };
        assert_eq!((back.id, back.failed_logins), (user.id, 0));
    }

    async fn sessions_by_token(db: TestDb) {
        let store = db.store;
        let user = store
            .create_user("admin", "correct horse")
            .await
            .expect("create");
        let (token, session) = store.create_session(&user).await.expect("session");
        assert_eq!(session.user_name, "admin");
        assert_eq!(
            store.session(&token).await.expect("read"),
            Some(session.clone())
        );
        assert_eq!(store.session("nope").await.expect("read"), None);
        store.delete_session(&token).await.expect("logout");
        assert_eq!(store.session(&token).await.expect("read"), None);
        let (token, _) = store.create_session(&user).await.expect("session");
        store
            .set_password("admin", "new password!")
            .await
            .expect("passwd");
        assert_eq!(store.session(&token).await.expect("read"), None);
    }
}
