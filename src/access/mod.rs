//! Staff, enforcement and admin access to the API (issue 7): tokens with roles.
//!
//! A token is modelled on a platform's API key ([`crate::notices::ApiKeys`]):
//! the secret (`sct_<base64url of 32 random bytes>`) is shown once and only
//! its SHA-256 is kept, looked up by digest and compared in constant time; a
//! token can be revoked at once. Each token names the person it was issued
//! to and one [`Role`]; an enforcement token is bound to one bureau.
//!
//! Trees (in the store's database): `access_tokens` digest → [`TokenRecord`]
//! JSON, `access_token_ids` token id → digest.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::notices::b64;
use crate::notices::keys::constant_time_eq;

/// Everything that can go wrong with access tokens.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("token database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt token record `{key}`: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("unknown role `{0}` (admin, staff, enforcement)")]
    UnknownRole(String),
    #[error("token name `{0}` must be 1 to 100 characters without control characters")]
    BadName(String),
    #[error("an enforcement token needs `--bureau CODE` (the bureau's area code)")]
    NoBureau,
    #[error("bureau code `{0}` must be 2 to 12 ascii digits")]
    BadBureau(String),
    #[error("only an enforcement token is bound to a bureau, not a `{0}` token")]
    BureauNotAllowed(Role),
    #[error("token `{0}` not found")]
    NotFound(String),
    #[error("cannot encode token `{id}`: {detail}")]
    Encode { id: String, detail: String },
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages platforms' API keys.
    Admin,
    /// Supervision staff (网监): triage findings, read cases and notices.
    Staff,
    /// Enforcement staff (执法稽查) of one bureau: its cases and their outcomes.
    Enforcement,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Staff, Role::Enforcement];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Enforcement => "enforcement",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = AccessError;

    fn from_str(s: &str) -> Result<Role, AccessError> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| AccessError::UnknownRole(s.to_string()))
    }
}

/// What is kept of a token: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token_id: String,
    /// The person it was issued to.
    pub name: String,
    pub role: Role,
    /// The bureau (area code) of an enforcement token.
    pub bureau: Option<String>,
    /// SHA-256 of the secret, hex.
    pub digest: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who is asking, proven by a token. Only [`AccessTokens::authenticate`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub bureau: Option<String>,
}

impl Principal {
    /// The actor recorded in triage and case audit logs: `name (tok_…)`.
    pub fn actor(&self) -> String {
        format!("{} ({})", self.name, self.token_id)
    }
}

/// The tokens in the store.
#[derive(Clone)]
pub struct AccessTokens {
    by_digest: kv::Tree,
    by_id: kv::Tree,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn check_name(name: &str) -> Result<String, AccessError> {
    let name = name.trim();
    let ok = (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    ok.then(|| name.to_string()).ok_or_else(|| AccessError::BadName(name.to_string()))
}

fn check_bureau(role: Role, bureau: Option<&str>) -> Result<Option<String>, AccessError> {
    match (role, bureau.map(str::trim)) {
        (Role::Enforcement, None) => Err(AccessError::NoBureau),
        (Role::Enforcement, Some(code)) => {
            if (2..=12).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
                Ok(Some(code.to_string()))
            } else {
                Err(AccessError::BadBureau(code.to_string()))
            }
        }
        (_, Some(_)) => Err(AccessError::BureauNotAllowed(role)),
        (_, None) => Ok(None),
    }
}

impl AccessTokens {
    pub fn open(db: &kv::Db) -> Result<AccessTokens, AccessError> {
        Ok(AccessTokens { by_digest: db.open_tree("access_tokens")?, by_id: db.open_tree("access_token_ids")? })
    }

    /// Makes a token: its record and the secret, which is returned once and never stored.
    pub fn issue(
        &self,
        role: Role,
        name: &str,
        bureau: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(TokenRecord, String), AccessError> {
        let name = check_name(name)?;
        let bureau = check_bureau(role, bureau)?;
        let secret = format!("sct_{}", b64::encode_url(&rand::random::<[u8; 32]>()));
        let token_id = format!("tok_{}", hex::encode(rand::random::<[u8; 8]>()));
        let d = digest(&secret);
        let record =
            TokenRecord { token_id, name, role, bureau, digest: hex::encode(d), created_at: now, revoked_at: None };
        self.store(&d, &record)?;
        self.by_id.insert(record.token_id.as_bytes(), d)?;
        self.by_id.flush()?;
        Ok((record, secret))
    }

    fn store(&self, d: &[u8], record: &TokenRecord) -> Result<(), AccessError> {
        let json = serde_json::to_vec(record)
            .map_err(|e| AccessError::Encode { id: record.token_id.clone(), detail: e.to_string() })?;
        self.by_digest.insert(d, json)?;
        self.by_digest.flush()?;
        Ok(())
    }

    fn decode(key: &[u8], raw: &[u8]) -> Result<TokenRecord, AccessError> {
        serde_json::from_slice(raw)
            .map_err(|e| AccessError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), detail: e.to_string() })
    }

    /// Revokes a token; its secret stops working at once. Revoking twice keeps the first time.
    pub fn revoke(&self, token_id: &str, now: DateTime<Utc>) -> Result<TokenRecord, AccessError> {
        let not_found = || AccessError::NotFound(token_id.to_string());
        let d = self.by_id.get(token_id.as_bytes())?.ok_or_else(not_found)?;
        let raw = self.by_digest.get(&d)?.ok_or_else(not_found)?;
        let mut record = Self::decode(token_id.as_bytes(), &raw)?;
        record.revoked_at.get_or_insert(now);
        self.store(&d, &record)?;
        Ok(record)
    }

    /// Every token, revoked ones included, oldest first.
    pub fn list(&self) -> Result<Vec<TokenRecord>, AccessError> {
        let mut out = Vec::new();
        for item in self.by_digest.iter() {
            let (k, v) = item?;
            out.push(Self::decode(&k, &v)?);
        }
        out.sort_by(|a, b| (a.created_at, &a.token_id).cmp(&(b.created_at, &b.token_id)));
        Ok(out)
    }

    /// Who a secret belongs to, if the token exists and is not revoked.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Principal>, AccessError> {
        let d = digest(secret);
        let Some(raw) = self.by_digest.get(d)? else { return Ok(None) };
        let record = Self::decode(&d, &raw)?;
        let stored = hex::decode(&record.digest)
            .map_err(|e| AccessError::Corrupt { key: record.token_id.clone(), detail: e.to_string() })?;
        if !constant_time_eq(&stored, &d) || record.revoked_at.is_some() {
            return Ok(None);
        }
        Ok(Some(Principal { token_id: record.token_id, name: record.name, role: record.role, bureau: record.bureau }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_token_authenticates_until_revoked_and_only_its_digest_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = kv::open(dir.path()).unwrap();
        let tokens = AccessTokens::open(&db).unwrap();
        let now = Utc::now();
        let (record, secret) = tokens.issue(Role::Enforcement, " 王芳 ", Some("330100"), now).unwrap();
        assert!(secret.starts_with("sct_") && secret.len() > 40);
        let who = tokens.authenticate(&secret).unwrap().unwrap();
        assert_eq!((who.name.as_str(), who.role, who.bureau.as_deref()), ("王芳", Role::Enforcement, Some("330100")));
        assert_eq!(who.actor(), format!("王芳 ({})", record.token_id));
        let listed = tokens.list().unwrap();
        assert_eq!(listed, vec![record.clone()]);
        assert!(!serde_json::to_string(&listed).unwrap().contains(&secret[4..]));
        assert!(tokens.authenticate("sct_guess").unwrap().is_none());
        tokens.revoke(&record.token_id, now).unwrap();
        assert!(tokens.authenticate(&secret).unwrap().is_none());
        assert!(matches!(tokens.revoke("tok_nope", now), Err(AccessError::NotFound(_))));
    }

    #[test]
    fn roles_names_and_bureaus_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = AccessTokens::open(&kv::open(dir.path()).unwrap()).unwrap();
        let now = Utc::now();
        assert!(matches!("root".parse::<Role>(), Err(AccessError::UnknownRole(_))));
        assert!(matches!(tokens.issue(Role::Enforcement, "a", None, now), Err(AccessError::NoBureau)));
        assert!(matches!(tokens.issue(Role::Enforcement, "a", Some("33x"), now), Err(AccessError::BadBureau(_))));
        assert!(matches!(tokens.issue(Role::Staff, "a", Some("3301"), now), Err(AccessError::BureauNotAllowed(_))));
        assert!(matches!(tokens.issue(Role::Staff, "  ", None, now), Err(AccessError::BadName(_))));
        assert!(matches!(tokens.issue(Role::Staff, "a\nb", None, now), Err(AccessError::BadName(_))));
        assert!(tokens.list().unwrap().is_empty(), "nothing stored by a refused issue");
    }
}
