//! The custody log: who did what to the evidence, and when. Each event is a
//! ledger entry; a bundle carries the events of its captures and findings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::{EntryKind, NewEntry};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyEvent {
    pub at: DateTime<Utc>,
    /// Station id, or operator name(s).
    pub actor: String,
    /// `captured`, `sealed`, `exported`, `verified`, `handed-over` …
    pub action: String,
    /// What it was about (capture ids, finding ids, bundle digest) and any note.
    pub subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl CustodyEvent {
    /// The ledger entry for this event (subject: the first subject, if any).
    pub fn to_entry(&self) -> NewEntry {
        NewEntry {
            kind: EntryKind::Custody,
            subject: self.subjects.first().cloned().unwrap_or_default(),
            body: serde_json::to_value(self).unwrap_or_default(),
            also_about: self.subjects.iter().skip(1).cloned().collect(),
        }
    }
}
