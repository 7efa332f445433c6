//! Secrets at rest: provider secrets are encrypted with XChaCha20-Poly1305 under a master key from
//! `VMDNS_MASTER_KEY` or a key file in the data directory (created on first start, mode 0600).
//!
//! Also the `__KEEP__` rules: reads show [`KEEP`] for a stored secret; an update whose secret field is
//! absent, empty or `__KEEP__` keeps the stored value.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use vmdns_providers::{ProviderKind, Settings};

/// The sentinel shown in place of a stored secret.
pub const KEEP: &str = "__KEEP__";

const KEY_FILE: &str = "master.key";
const AAD: &[u8] = b"vmdns zone secrets v1";
const PREFIX: &str = "v1:";

/// The master key's cipher. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// From 32 key bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// A key given as 64 hex digits or base64 of 32 bytes (`VMDNS_MASTER_KEY`).
    pub fn from_text(text: &str) -> anyhow::Result<Self> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| B64.decode(t).ok().filter(|b| b.len() == 32))
            .context("VMDNS_MASTER_KEY must be 32 bytes as 64 hex digits or base64")?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Self::new(&key))
    }

    /// The key from `env_key` if given, else from `DATA_DIR/master.key`, created (mode 0600) when missing.
    pub fn load(env_key: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(k) = env_key.filter(|k| !k.trim().is_empty()) {
            return Self::from_text(k);
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Self::from_text(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(&path, &hex::encode(key))?;
                tracing::info!(path = %path.display(), "created a new master key");
                Ok(Self::new(&key))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn encrypt(&self, plain: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: AAD,
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    pub fn decrypt(&self, text: &str) -> anyhow::Result<Vec<u8>> {
        let raw = text
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|b| b.len() > 24)
            .context("stored secret is not in the vmdns format")?;
        let (nonce, ct) = raw.split_at(24);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: AAD })
            .map_err(|_| anyhow::anyhow!("cannot decrypt stored secrets: wrong master key?"))
    }

    /// Encrypts the secret settings of `settings` as one JSON object.
    pub fn seal(&self, secrets: &Settings) -> anyhow::Result<String> {
        self.encrypt(&serde_json::to_vec(secrets)?)
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Settings> {
        Ok(serde_json::from_slice(&self.decrypt(sealed)?)?)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("creating {}", path.display()))
}

/// Splits settings into (non-secret, secret) by the provider's setting specs.
pub fn split(kind: ProviderKind, settings: &Settings) -> (Settings, Settings) {
    settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !kind.is_secret(k))
}

/// Settings as every read shows them: each stored secret replaced by [`KEEP`].
pub fn mask(kind: ProviderKind, settings: &Settings) -> Settings {
    settings
        .iter()
        .map(|(k, v)| {
            if kind.is_secret(k) && !v.is_empty() {
                (k.clone(), KEEP.to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// The settings an update leaves: secret fields absent, empty or `__KEEP__` keep the stored value; any
/// other value replaces it. Non-secret fields are taken as given (absent = removed).
pub fn merge_update(kind: ProviderKind, stored: &Settings, update: &Settings) -> Settings {
    let mut out = Settings::new();
    for (k, v) in update {
        let keep = kind.is_secret(k) && (v.trim().is_empty() || v == KEEP);
        if !keep {
            out.insert(k.clone(), v.clone());
        }
    }
    for spec in kind.settings().iter().filter(|s| s.secret) {
        let given = update.get(spec.key).map(String::as_str);
        let keep = matches!(given, None | Some("") | Some(KEEP))
            || given.is_some_and(|v| v.trim().is_empty());
        if keep && let Some(old) = stored.get(spec.key) {
            out.insert(spec.key.to_string(), old.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn seal_and_open() {
        let c = Cipher::new(&[7u8; 32]);
        let sealed = c.seal(&s(&[("api_key", "very-secret")])).expect("seal");
        assert!(!sealed.contains("very-secret"));
        assert_eq!(
            c.open(&sealed).expect("open"),
            s(&[("api_key", "very-secret")])
        );
        let other = Cipher::new(&[8u8; 32]);
        assert!(
            other
                .open(&sealed)
                .expect_err("wrong key")
                .to_string()
                .contains("wrong master key")
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Cipher::load(None, dir.path()).expect("create");
        let b = Cipher::load(None, dir.path()).expect("reuse");
        let sealed = a.encrypt(b"x").expect("enc");
        assert_eq!(b.decrypt(&sealed).expect("dec"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Cipher::load(Some("short"), dir.path()).is_err());
        assert!(Cipher::load(Some(&"ab".repeat(32)), dir.path()).is_ok());
    }

    #[test]
    fn keep_rules() {
        let k = ProviderKind::Powerdns;
        let stored = s(&[("server_url", "http://a"), ("api_key", "old")]);
        assert_eq!(
            mask(k, &stored),
            s(&[("server_url", "http://a"), ("api_key", KEEP)])
        );
        let cases = [
            (s(&[("server_url", "http://b")]), "old"),
            (s(&[("server_url", "http://b"), ("api_key", "")]), "old"),
            (s(&[("server_url", "http://b"), ("api_key", KEEP)]), "old"),
            (s(&[("server_url", "http://b"), ("api_key", "new")]), "new"),
        ];
        for (update, want) in cases {
            let merged = merge_update(k, &stored, &update);
            assert_eq!(
                merged.get("api_key").map(String::as_str),
                Some(want),
                "{update:?}"
            );
            assert_eq!(
                merged.get("server_url").map(String::as_str),
                Some("http://b")
            );
        }
    }
}
