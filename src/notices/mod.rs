//! Notices to platforms (issue 7): what the bureau tells an e-commerce
//! platform to take down, and how the platform answers.
//!
//! The parts are kept apart so each can be checked alone:
//! - [`store`]: notices, dispositions and idempotent writes in trees of the
//!   store's database, with cursor paging per platform;
//! - [`keys`]: the platform registry (a TOML file) and API keys (hashed at rest,
//!   several active for rotation, revocable);
//! - [`webhook`]: Standard Webhooks signatures (sign and verify);
//! - [`outbox`]: notice events persisted in the same transaction as the notice
//!   and delivered at least once by a worker that survives restarts.
//!
//! A platform only ever sees its own notices: the store's platform-facing
//! methods take an [`keys::AuthenticatedPlatform`], which only
//! [`keys::ApiKeys::authenticate`] can make.

pub mod b64;
pub mod keys;
pub mod outbox;
pub mod store;
pub mod webhook;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use keys::{ApiKeys, AuthenticatedPlatform, Platform, PlatformRegistry};
pub use outbox::{DeliveryConfig, Outbox, OutboxEvent, OutboxWorker};
pub use store::{Cursor, NoticeStatus, NoticeStore, WireNotice};

/// Everything that can go wrong with notices, keys, signatures and delivery.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("notice database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt record under key `{key}` in tree `{tree}`: {detail}")]
    Corrupt { tree: String, key: String, detail: String },
    #[error("notice `{0}` not found for this platform")]
    NotFound(String),
    #[error("idempotency key `{key}` of platform `{platform}` was already used with a different request")]
    IdempotencyConflict { platform: String, key: String },
    #[error("bad cursor `{0}`")]
    BadCursor(String),
    #[error("cannot read platform config `{path}`: {detail}")]
    Config { path: String, detail: String },
    #[error("unknown platform `{0}`")]
    UnknownPlatform(String),
    #[error("api key `{0}` not found")]
    KeyNotFound(String),
    #[error("bad webhook secret: {0}")]
    BadSecret(String),
    #[error("webhook rejected: {0}")]
    Webhook(String),
    #[error("cannot encode `{what}`: {detail}")]
    Encode { what: String, detail: String },
}

impl From<kv::transaction::TransactionError<NoticeError>> for NoticeError {
    fn from(e: kv::transaction::TransactionError<NoticeError>) -> NoticeError {
        match e {
            kv::transaction::TransactionError::Abort(e) => e,
            kv::transaction::TransactionError::Storage(e) => NoticeError::Db(e),
        }
    }
}

pub(crate) fn corrupt(tree: &str, key: &[u8], detail: impl std::fmt::Display) -> NoticeError {
    NoticeError::Corrupt {
        tree: tree.into(),
        key: String::from_utf8_lossy(key).into_owned(),
        detail: detail.to_string(),
    }
}

/// The shop a notice is about, as the business licence names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeShop {
    pub name: String,
    /// 统一社会信用代码 (unified social credit code), when known.
    pub uscc: Option<String>,
}

/// One listing to take down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeListing {
    pub url: String,
    pub item_id: String,
}

/// One finding behind the notice: the rule that flagged it and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFinding {
    pub rule_id: String,
    pub message: String,
}

/// What the case worker decides to send; [`NoticeStore::issue`] adds the id
/// and the creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDraft {
    pub case_id: String,
    pub platform: String,
    pub listings: Vec<NoticeListing>,
    pub shop: NoticeShop,
    pub findings: Vec<NoticeFinding>,
    pub legal_basis: String,
    /// The issuing authority (the bureau).
    pub authority: String,
    pub deadline: DateTime<Utc>,
    /// How the platform or the merchant can contest the notice.
    pub contest: String,
    /// SHA-256 (hex) of the case's evidence bundle, so the platform can check
    /// the bundle it is given is the one the notice rests on.
    pub evidence_sha256: String,
}

/// A notice as issued: the draft plus a stable id and its creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// `N` + `YYYYMMDD` + 12 hex of SHA-256 over the draft: the same draft on
    /// the same day is the same notice (issuing is idempotent).
    pub id: String,
    #[serde(flatten)]
    pub draft: NoticeDraft,
    pub created_at: DateTime<Utc>,
}

/// What a platform did about a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "disposition", rename_all = "snake_case")]
pub enum Disposition {
    Delisted,
    PartiallyDelisted,
    Rejected,
    Disputed { reason: String },
}
