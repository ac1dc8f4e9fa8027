//! Findings kept: each rule finding gets a stable id, is stored once, and is
//! sealed in the evidence ledger bound to the capture it was drawn from.
//!
//! Re-evaluating the same listing from the same capture with the same rule
//! version gives the same id, so recording is idempotent; a new capture or a
//! new rule version is a new finding.
//!
//! Triage (open → confirmed | dismissed) is kept in its own tree,
//! `finding_status`, because the sealed [`FindingRecord`] must never change:
//! what the rule saw is evidence, what staff decided about it is a later act.
//! Every status change is also a custody event in the ledger, so the decision
//! trail is as tamper-evident as the finding itself.

use chrono::{DateTime, Utc};
use evidence::custody::CustodyEvent;
use evidence::finding::{FindingRecord, Matched};
use evidence::ledger::Ledger;
use serde::{Deserialize, Serialize};

use crate::rules::Finding;
use crate::store::{Store, StoreError};

/// The findings tree: id → [`FindingRecord`] JSON; `finding_status`: id → [`Triage`] JSON.
#[derive(Clone)]
pub struct FindingStore {
    tree: kv::Tree,
    status: kv::Tree,
    ledger: Ledger,
}

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("finding `{0}` not found")]
    NotFound(String),
    #[error("dismissing finding `{0}` needs a reason")]
    NoReason(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] evidence::ledger::LedgerError),
}

/// Where a finding stands in triage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Open,
    Confirmed,
    Dismissed,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Open => "open",
            Status::Confirmed => "confirmed",
            Status::Dismissed => "dismissed",
        })
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "open" => Ok(Status::Open),
            "confirmed" => Ok(Status::Confirmed),
            "dismissed" => Ok(Status::Dismissed),
            other => Err(format!("unknown finding status `{other}` (open, confirmed, dismissed)")),
        }
    }
}

/// One triage decision: who, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: Status,
    pub by: String,
    pub at: DateTime<Utc>,
    /// The dismissal reason or the confirmation note (may be empty for a confirmation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A finding's triage state and every change that led to it (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    pub status: Status,
    #[serde(default)]
    pub history: Vec<StatusChange>,
}

impl Triage {
    pub fn last(&self) -> Option<&StatusChange> {
        self.history.last()
    }
}

/// Triage counts of one rule; `false_positive_rate` = dismissed / (confirmed + dismissed).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleTriage {
    pub rule: String,
    pub open: u64,
    pub confirmed: u64,
    pub dismissed: u64,
    /// `None` until something of the rule was triaged.
    pub false_positive_rate: Option<f64>,
}

/// What [`FindingStore::set_status`] did to one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The status changed (and a custody event was sealed).
    Changed,
    /// It already had that status: nothing written (confirm is idempotent).
    Unchanged,
}

/// What [`FindingStore::record`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recorded {
    pub new: u64,
    pub known: u64,
}

/// The sealed form of a rule finding.
pub fn to_record(f: &Finding) -> FindingRecord {
    FindingRecord {
        id: FindingRecord::id_for(&f.rule, f.version, &f.listing, f.capture_id.as_deref()),
        rule: f.rule.clone(),
        rule_version: f.version,
        severity: format!("{:?}", f.severity).to_lowercase(),
        title: f.title.clone(),
        message: f.message.clone(),
        legal_basis: f.legal_basis.clone(),
        listing: f.listing.clone(),
        capture: f.capture_id.clone(),
        matched: f
            .evidence
            .iter()
            .map(|e| Matched { field: e.field.clone(), text: e.text.clone(), span: e.span, note: e.note.clone() })
            .collect(),
    }
}

impl FindingStore {
    pub fn open(store: &Store) -> Result<FindingStore, StoreError> {
        Ok(FindingStore {
            tree: store.db().open_tree("findings")?,
            status: store.db().open_tree("finding_status")?,
            ledger: store.ledger().clone(),
        })
    }

    /// Stores the findings not yet known and seals each in the ledger (one
    /// ledger transaction for the batch, before the findings are stored, so a
    /// stored finding always has its ledger entry).
    pub fn record(&self, findings: &[Finding]) -> Result<Recorded, StoreError> {
        let mut fresh = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut known = 0u64;
        for f in findings {
            let record = to_record(f);
            if self.tree.contains_key(&record.id)? || !seen.insert(record.id.clone()) {
                known += 1;
            } else {
                fresh.push(record);
            }
        }
        // A run killed after sealing but before storing left its findings in
        // the ledger only: store those now, do not seal them a second time.
        let mut unsealed = Vec::new();
        for record in &fresh {
            if !self.sealed(&record.id)? {
                unsealed.push(record.to_entry());
            }
        }
        self.ledger.append(unsealed)?;
        self.ledger.flush()?;
        evidence::failpoint("findings-after-ledger-append");
        let mut batch = kv::Batch::default();
        for record in &fresh {
            let json = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt {
                tree: "findings".into(),
                key: record.id.clone(),
                detail: e.to_string(),
            })?;
            batch.insert(record.id.as_bytes(), json);
        }
        self.tree.apply_batch(batch)?;
        Ok(Recorded { new: fresh.len() as u64, known })
    }

    /// Whether the ledger already holds a finding entry for `id`.
    fn sealed(&self, id: &str) -> Result<bool, StoreError> {
        for seq in self.ledger.entries_about(id)? {
            if self.ledger.entry(seq)?.kind == evidence::ledger::EntryKind::Finding {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn get(&self, id: &str) -> Result<Option<FindingRecord>, StoreError> {
        match self.tree.get(id)? {
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| StoreError::Corrupt {
                tree: "findings".into(),
                key: id.into(),
                detail: e.to_string(),
            }),
            None => Ok(None),
        }
    }

    /// Every finding, in id order.
    pub fn all(&self) -> impl Iterator<Item = Result<FindingRecord, StoreError>> + '_ {
        self.tree.iter().map(|kv| {
            let (k, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                tree: "findings".into(),
                key: String::from_utf8_lossy(&k).into_owned(),
                detail: e.to_string(),
            })
        })
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The triage state of `id` (open when never triaged).
    pub fn triage(&self, id: &str) -> Result<Triage, StoreError> {
        match self.status.get(id)? {
            Some(v) => serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                tree: "finding_status".into(),
                key: id.into(),
                detail: e.to_string(),
            }),
            None => Ok(Triage::default()),
        }
    }

    /// Sets the status of finding `id` as `by` at `at`. Setting the status it
    /// already has writes nothing ([`Change::Unchanged`]); a dismissal needs a
    /// reason. The custody event is appended to the ledger before the status is
    /// stored, so a stored decision always has its ledger entry.
    pub fn set_status(
        &self,
        id: &str,
        status: Status,
        by: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Change, TriageError> {
        let record = self.get(id)?.ok_or_else(|| TriageError::NotFound(id.to_string()))?;
        let reason = reason.trim();
        if status == Status::Dismissed && reason.is_empty() {
            return Err(TriageError::NoReason(id.to_string()));
        }
        let mut triage = self.triage(id)?;
        if triage.status == status {
            return Ok(Change::Unchanged);
        }
        let event = CustodyEvent {
            at,
            actor: by.to_string(),
            action: format!("finding {status}"),
            subjects: [record.id.clone()].into_iter().chain(record.capture.iter().cloned()).collect(),
            detail: format!(
                "rule {} v{} on {}{}",
                record.rule,
                record.rule_version,
                record.listing,
                if reason.is_empty() { String::new() } else { format!(": {reason}") }
            ),
        };
        self.ledger.append(vec![event.to_entry()])?;
        triage.status = status;
        triage.history.push(StatusChange { status, by: by.to_string(), at, reason: reason.to_string() });
        let json = serde_json::to_vec(&triage).map_err(|e| StoreError::Corrupt {
            tree: "finding_status".into(),
            key: id.into(),
            detail: e.to_string(),
        })?;
        self.status.insert(id.as_bytes(), json).map_err(StoreError::from)?;
        self.ledger.flush()?;
        Ok(Change::Changed)
    }

    /// Counts per rule (every rule that has a finding), with the false-positive
    /// rate of what was triaged.
    pub fn rule_stats(&self) -> Result<Vec<RuleTriage>, StoreError> {
        let mut by_rule: std::collections::BTreeMap<String, RuleTriage> = Default::default();
        for record in self.all() {
            let record = record?;
            let status = self.triage(&record.id)?.status;
            let row = by_rule
                .entry(record.rule.clone())
                .or_insert_with(|| RuleTriage { rule: record.rule.clone(), ..RuleTriage::default() });
            match status {
                Status::Open => row.open += 1,
                Status::Confirmed => row.confirmed += 1,
                Status::Dismissed => row.dismissed += 1,
            }
        }
        Ok(by_rule
            .into_values()
            .map(|mut r| {
                let triaged = r.confirmed + r.dismissed;
                r.false_positive_rate = (triaged > 0).then(|| r.dismissed as f64 / triaged as f64);
                r
            })
            .collect())
    }
}
