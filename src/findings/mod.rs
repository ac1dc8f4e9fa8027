//! Findings kept: each rule finding gets a stable id, is stored once, and is
//! sealed in the evidence ledger bound to the capture it was drawn from.
//!
//! Re-evaluating the same listing from the same capture with the same rule
//! version gives the same id, so recording is idempotent; a new capture or a
//! new rule version is a new finding.

use evidence::finding::{FindingRecord, Matched};
use evidence::ledger::Ledger;

use crate::rules::Finding;
use crate::store::{Store, StoreError};

/// The findings tree: id → [`FindingRecord`] JSON.
#[derive(Clone)]
pub struct FindingStore {
    tree: sled::Tree,
    ledger: Ledger,
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
        Ok(FindingStore { tree: store.db().open_tree("findings")?, ledger: store.ledger().clone() })
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
        self.ledger.append(fresh.iter().map(FindingRecord::to_entry).collect())?;
        self.ledger.flush()?;
        let mut batch = sled::Batch::default();
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
}
