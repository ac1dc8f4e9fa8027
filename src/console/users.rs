//! Console accounts: a name, a role (the API's [`Role`]), an enforcement
//! account's bureau, and an Argon2id password hash (PHC string, never the
//! password).
//!
//! Tree (in the store's database): `console_users` name → [`UserRecord`] JSON.
//! Checking a password for a name that does not exist still runs Argon2 over
//! a fixed hash, so the time taken does not tell which names exist.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::Role;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (Argon2 takes any length; a form should not).
pub const MAX_PASSWORD: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("account database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt account record `{key}`: {detail}")]
    Corrupt { key: String, detail: String },
    #[error(
        "account name `{0}` must be 1 to 64 characters of a-z, 0-9, `.`, `_` or `-`, starting with a letter or digit"
    )]
    BadName(String),
    #[error("a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
    BadPassword,
    #[error("account `{0}` already exists")]
    Exists(String),
    #[error("account `{0}` not found")]
    NotFound(String),
    #[error("an enforcement account needs a bureau (its area code, 2 to 12 digits)")]
    NoBureau,
    #[error("bureau code `{0}` must be 2 to 12 ascii digits")]
    BadBureau(String),
    #[error("only an enforcement account is bound to a bureau")]
    BureauNotAllowed,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// What is kept of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// The name shown in the console and recorded as the actor, e.g. `王芳`.
    pub display: String,
    pub role: Role,
    pub bureau: Option<String>,
    /// Argon2id PHC string.
    pub password: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A signed-in person, as the console sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub display: String,
    pub role: Role,
    pub bureau: Option<String>,
}

impl User {
    /// The actor recorded in triage and case audit logs: `王芳 (console:wangfang)`.
    pub fn actor(&self) -> String {
        format!("{} (console:{})", self.display, self.name)
    }
}

impl From<&UserRecord> for User {
    fn from(r: &UserRecord) -> User {
        User { name: r.name.clone(), display: r.display.clone(), role: r.role, bureau: r.bureau.clone() }
    }
}

/// The accounts in the store. Cheap to clone.
#[derive(Clone)]
pub struct ConsoleUsers {
    tree: kv::Tree,
}

fn check_name(name: &str) -> Result<String, UserError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    ok.then(|| name.to_string()).ok_or_else(|| UserError::BadName(name.to_string()))
}

fn check_bureau(role: Role, bureau: Option<&str>) -> Result<Option<String>, UserError> {
    match (role, bureau.map(str::trim).filter(|b| !b.is_empty())) {
        (Role::Enforcement, None) => Err(UserError::NoBureau),
        (Role::Enforcement, Some(code))
            if (2..=12).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Some(code.to_string()))
        }
        (Role::Enforcement, Some(code)) => Err(UserError::BadBureau(code.to_string())),
        (_, Some(_)) => Err(UserError::BureauNotAllowed),
        (_, None) => Ok(None),
    }
}

fn hash(password: &str) -> Result<String, UserError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(UserError::BadPassword);
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// A random password of 16 characters from an alphabet without look-alikes
/// (no 0/O, 1/l/I), for accounts made by a script.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// An Argon2 hash of a random password nobody knows, checked against when a
/// name is unknown (made once per process, with the same parameters).
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash(&generate_password()).unwrap_or_default());

impl ConsoleUsers {
    pub fn open(db: &kv::Db) -> Result<ConsoleUsers, UserError> {
        Ok(ConsoleUsers { tree: db.open_tree("console_users")? })
    }

    /// Makes an account. `display` defaults to the name.
    pub fn add(
        &self,
        name: &str,
        display: Option<&str>,
        role: Role,
        bureau: Option<&str>,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User, UserError> {
        let name = check_name(name)?;
        let bureau = check_bureau(role, bureau)?;
        let display = display.map(str::trim).filter(|d| !d.is_empty() && d.chars().count() <= 64);
        let display = display.filter(|d| !d.chars().any(char::is_control)).unwrap_or(&name).to_string();
        let record = UserRecord {
            name: name.clone(),
            display,
            role,
            bureau,
            password: hash(password)?,
            created_at: now,
            disabled_at: None,
        };
        let json = encode(&record)?;
        if self.tree.compare_and_swap(name.as_bytes(), None::<&[u8]>, Some(json))?.is_err() {
            return Err(UserError::Exists(name));
        }
        self.tree.flush()?;
        Ok(User::from(&record))
    }

    /// Replaces an account's password (and re-enables a disabled account).
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        let mut record = self.record(name)?.ok_or_else(|| UserError::NotFound(name.to_string()))?;
        record.password = hash(password)?;
        record.disabled_at = None;
        self.put(&record)
    }

    /// Disables an account: it can no longer sign in (its sessions end at their next request).
    pub fn disable(&self, name: &str, now: DateTime<Utc>) -> Result<(), UserError> {
        let mut record = self.record(name)?.ok_or_else(|| UserError::NotFound(name.to_string()))?;
        record.disabled_at.get_or_insert(now);
        self.put(&record)
    }

    pub fn list(&self) -> Result<Vec<UserRecord>, UserError> {
        self.tree.iter().map(|kv| kv.map_err(UserError::from).and_then(|(k, v)| decode(&k, &v))).collect()
    }

    /// The account if it exists and is not disabled (sessions re-check this on every request).
    pub fn active(&self, name: &str) -> Result<Option<User>, UserError> {
        Ok(self.record(name)?.filter(|r| r.disabled_at.is_none()).map(|r| User::from(&r)))
    }

    /// The account when `password` is its password and it is not disabled.
    /// Slow on purpose (Argon2); call it off the async runtime.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<User>, UserError> {
        let record = self.record(name)?;
        let phc = record.as_ref().map_or(DECOY.as_str(), |r| r.password.as_str());
        let parsed =
            PasswordHash::new(phc).map_err(|e| UserError::Corrupt { key: name.into(), detail: e.to_string() })?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(record.filter(|r| matches && r.disabled_at.is_none()).map(|r| User::from(&r)))
    }

    fn record(&self, name: &str) -> Result<Option<UserRecord>, UserError> {
        self.tree.get(name.as_bytes())?.map(|v| decode(name.as_bytes(), &v)).transpose()
    }

    fn put(&self, record: &UserRecord) -> Result<(), UserError> {
        self.tree.insert(record.name.as_bytes(), encode(record)?)?;
        self.tree.flush()?;
        Ok(())
    }
}

fn encode(record: &UserRecord) -> Result<Vec<u8>, UserError> {
    serde_json::to_vec(record).map_err(|e| UserError::Corrupt { key: record.name.clone(), detail: e.to_string() })
}

fn decode(key: &[u8], raw: &[u8]) -> Result<UserRecord, UserError> {
    serde_json::from_slice(raw)
        .map_err(|e| UserError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_password_signs_in_until_the_account_is_disabled_and_only_its_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = kv::open(dir.path()).unwrap();
        let users = ConsoleUsers::open(&db).unwrap();
        let now = Utc::now();
        users.add("wangfang", Some("王芳"), Role::Enforcement, Some("330100"), "correct horse", now).unwrap();
        assert!(matches!(
            users.add("wangfang", None, Role::Staff, None, "another one!", now),
            Err(UserError::Exists(_))
        ));
        let who = users.verify("wangfang", "correct horse").unwrap().unwrap();
        assert_eq!(
            (who.display.as_str(), who.role, who.bureau.as_deref()),
            ("王芳", Role::Enforcement, Some("330100"))
        );
        assert_eq!(who.actor(), "王芳 (console:wangfang)");
        assert!(users.verify("wangfang", "wrong horse!").unwrap().is_none());
        assert!(users.verify("nobody", "correct horse").unwrap().is_none());
        let listed = users.list().unwrap();
        assert!(listed[0].password.starts_with("$argon2id$") && !listed[0].password.contains("correct"));
        users.disable("wangfang", now).unwrap();
        assert!(users.verify("wangfang", "correct horse").unwrap().is_none());
        assert!(users.active("wangfang").unwrap().is_none());
        users.set_password("wangfang", "a new password").unwrap();
        assert!(users.verify("wangfang", "a new password").unwrap().is_some());
    }

    #[test]
    fn bad_names_passwords_and_bureaus_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = kv::open(dir.path()).unwrap();
        let users = ConsoleUsers::open(&db).unwrap();
        let now = Utc::now();
        for name in ["", "Upper", "-lead", "a b", "名字", &"x".repeat(65)] {
            assert!(
                matches!(users.add(name, None, Role::Staff, None, "long enough pw", now), Err(UserError::BadName(_))),
                "{name}"
            );
        }
        assert!(matches!(users.add("short", None, Role::Staff, None, "short", now), Err(UserError::BadPassword)));
        assert!(matches!(
            users.add("enf", None, Role::Enforcement, None, "long enough pw", now),
            Err(UserError::NoBureau)
        ));
        assert!(matches!(
            users.add("enf", None, Role::Enforcement, Some("33a"), "long enough pw", now),
            Err(UserError::BadBureau(_))
        ));
        assert!(matches!(
            users.add("st", None, Role::Staff, Some("330100"), "long enough pw", now),
            Err(UserError::BureauNotAllowed)
        ));
        assert_eq!(generate_password().len(), 16);
    }
}
