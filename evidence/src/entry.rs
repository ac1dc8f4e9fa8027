//! Ledger entries as they are hashed: the form a verifier reads. The ledger
//! that appends and proves them is [`crate::ledger`] (a station feature).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Digest;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A capture manifest: the capture record's digest and its artifacts.
    Capture,
    /// A finding drawn from a capture.
    Finding,
    /// A bundle (or other export) handed out.
    Export,
    /// Who did what to the evidence (sealed, exported, verified, handed over).
    Custody,
}

/// One ledger entry, as hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 0; also its leaf index in the Merkle tree.
    pub seq: u64,
    /// SHA-256 of the previous entry's bytes (zeros for entry 0).
    pub prev: Digest,
    pub at: DateTime<Utc>,
    pub kind: EntryKind,
    /// What the entry is about: a capture id, finding id, bundle digest …
    pub subject: String,
    pub body: serde_json::Value,
}

/// An entry to append (the ledger fills in position, chain and time).
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub subject: String,
    pub body: serde_json::Value,
    /// Further subjects the entry is about, for [`Ledger::entries_about`]
    /// (indexed only, not part of the entry).
    pub also_about: Vec<String>,
}
