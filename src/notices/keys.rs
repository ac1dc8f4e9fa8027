//! Platforms and their API keys.
//!
//! The registry is a TOML file the bureau edits (which platforms exist, where
//! their webhooks go, the webhook secrets). API keys live in the store and are
//! stored only as SHA-256 digests: a stolen database does not give access.
//! Several keys can be active for one platform, so a platform rotates by
//! asking for a new key, switching over, then revoking the old one.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::webhook::WebhookSecret;
use super::{b64, corrupt, NoticeError};

/// One platform the bureau sends notices to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub id: String,
    pub name: String,
    /// Where notice events are POSTed; a platform without one polls the API.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// `whsec_<base64>`; required with `webhook_url`.
    #[serde(default)]
    pub webhook_secret: Option<WebhookSecret>,
    /// Overrides the worker's per-request timeout for this platform's webhook
    /// (a slow receiver should not need every platform to wait as long).
    #[serde(default)]
    pub webhook_timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    platform: Vec<Platform>,
}

/// The platforms, by id.
#[derive(Debug, Clone, Default)]
pub struct PlatformRegistry {
    platforms: BTreeMap<String, Platform>,
}

impl PlatformRegistry {
    /// Reads a registry file of `[[platform]]` tables.
    pub fn load(path: &Path) -> Result<PlatformRegistry, NoticeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NoticeError::Config { path: path.display().to_string(), detail: e.to_string() })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses registry text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<PlatformRegistry, NoticeError> {
        let config = |detail: String| NoticeError::Config { path: origin.to_string(), detail };
        let file: RegistryFile = toml::from_str(text).map_err(|e| config(e.to_string()))?;
        let mut platforms = BTreeMap::new();
        for p in file.platform {
            if p.id.is_empty() || p.id.contains('\0') {
                return Err(config(format!("platform id `{}` is empty or has a NUL", p.id)));
            }
            if p.webhook_url.is_some() && p.webhook_secret.is_none() {
                return Err(config(format!("platform `{}` has a webhook_url but no webhook_secret", p.id)));
            }
            let id = p.id.clone();
            if platforms.insert(id.clone(), p).is_some() {
                return Err(config(format!("platform `{id}` is declared twice")));
            }
        }
        Ok(PlatformRegistry { platforms })
    }

    pub fn get(&self, id: &str) -> Option<&Platform> {
        self.platforms.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Platform> {
        self.platforms.values()
    }
}

/// A platform proven by an API key. Only [`ApiKeys::authenticate`] makes one,
/// so the store's platform-facing methods cannot be pointed at another
/// platform's notices by a caller-supplied name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedPlatform {
    id: String,
    key_id: String,
}

impl AuthenticatedPlatform {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key that proved it (for audit logs).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// What is kept of a key: never the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub platform: String,
    /// SHA-256 of the secret, hex.
    pub digest: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// API keys in the store: `api_keys` digest → [`KeyRecord`], `api_key_ids` key id → digest.
#[derive(Clone)]
pub struct ApiKeys {
    by_digest: kv::Tree,
    by_id: kv::Tree,
    registry: PlatformRegistry,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equality that looks at every byte whatever the answer, so timing does not
/// tell an attacker how much of a digest matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ApiKeys {
    pub fn open(db: &kv::Db, registry: PlatformRegistry) -> Result<ApiKeys, NoticeError> {
        Ok(ApiKeys { by_digest: db.open_tree("api_keys")?, by_id: db.open_tree("api_key_ids")?, registry })
    }

    /// Makes a new key for `platform`: `(key_id, secret)`. The secret
    /// (`sk_<platform>_<base64url of 32 random bytes>`) is returned once and
    /// never stored.
    pub fn issue_key(&self, platform: &str, now: DateTime<Utc>) -> Result<(String, String), NoticeError> {
        if self.registry.get(platform).is_none() {
            return Err(NoticeError::UnknownPlatform(platform.to_string()));
        }
        let secret = format!("sk_{platform}_{}", b64::encode_url(&rand::random::<[u8; 32]>()));
        let key_id = format!("key_{}", hex::encode(rand::random::<[u8; 8]>()));
        let d = digest(&secret);
        let record = KeyRecord {
            key_id: key_id.clone(),
            platform: platform.to_string(),
            digest: hex::encode(d),
            created_at: now,
            revoked_at: None,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| NoticeError::Encode { what: format!("api key `{key_id}`"), detail: e.to_string() })?;
        self.by_digest.insert(d, json)?;
        self.by_id.insert(key_id.as_bytes(), d)?;
        self.by_digest.flush()?;
        Ok((key_id, secret))
    }

    /// Revokes a key; the secret stops working at once.
    pub fn revoke(&self, key_id: &str, now: DateTime<Utc>) -> Result<(), NoticeError> {
        let d = self.by_id.get(key_id.as_bytes())?.ok_or_else(|| NoticeError::KeyNotFound(key_id.to_string()))?;
        let raw = self.by_digest.get(&d)?.ok_or_else(|| NoticeError::KeyNotFound(key_id.to_string()))?;
        let mut record: KeyRecord =
            serde_json::from_slice(&raw).map_err(|e| corrupt("api_keys", key_id.as_bytes(), e))?;
        record.revoked_at.get_or_insert(now);
        let json = serde_json::to_vec(&record)
            .map_err(|e| NoticeError::Encode { what: format!("api key `{key_id}`"), detail: e.to_string() })?;
        self.by_digest.insert(&d, json)?;
        self.by_digest.flush()?;
        Ok(())
    }

    /// A key's record by its id, revoked or not.
    pub fn get(&self, key_id: &str) -> Result<Option<KeyRecord>, NoticeError> {
        let Some(d) = self.by_id.get(key_id.as_bytes())? else { return Ok(None) };
        let Some(raw) = self.by_digest.get(&d)? else { return Ok(None) };
        serde_json::from_slice(&raw).map(Some).map_err(|e| corrupt("api_keys", key_id.as_bytes(), e))
    }

    /// The registry the keys are checked against.
    pub fn registry(&self) -> &PlatformRegistry {
        &self.registry
    }

    /// The keys of a platform, revoked ones included.
    pub fn keys(&self, platform: &str) -> Result<Vec<KeyRecord>, NoticeError> {
        let mut out = Vec::new();
        for item in self.by_digest.iter() {
            let (k, v) = item?;
            let record: KeyRecord = serde_json::from_slice(&v).map_err(|e| corrupt("api_keys", &k, e))?;
            if record.platform == platform {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The platform a secret belongs to, if the key exists, is not revoked and
    /// its platform is still registered. The lookup is by digest (the secret
    /// itself is never compared byte by byte) and the digests are compared in
    /// constant time.
    pub fn authenticate(&self, secret: &str) -> Result<Option<AuthenticatedPlatform>, NoticeError> {
        let d = digest(secret);
        let Some(raw) = self.by_digest.get(d)? else { return Ok(None) };
        let record: KeyRecord = serde_json::from_slice(&raw).map_err(|e| corrupt("api_keys", &d, e))?;
        let stored = hex::decode(&record.digest).map_err(|e| corrupt("api_keys", &d, e))?;
        if !constant_time_eq(&stored, &d)
            || record.revoked_at.is_some()
            || self.registry.get(&record.platform).is_none()
        {
            return Ok(None);
        }
        Ok(Some(AuthenticatedPlatform { id: record.platform, key_id: record.key_id }))
    }
}
