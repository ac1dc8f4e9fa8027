//! A finding as sealed evidence: which rule matched what, in which capture.
//!
//! The rule engine lives in the `spotcheck` crate; this is the form its
//! findings take in the ledger and in bundles, so that a verifier needs
//! nothing from spotcheck to read them.

use serde::{Deserialize, Serialize};

use crate::entry::{EntryKind, NewEntry};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRecord {
    /// Stable id: `f` + 24 hex digits of SHA-256(rule, version, listing, capture).
    pub id: String,
    pub rule: String,
    pub rule_version: u32,
    pub severity: String,
    pub title: String,
    pub message: String,
    /// `law article` of each legal basis.
    pub legal_basis: Vec<String>,
    /// The listing's key (`platform/item_id`).
    pub listing: String,
    /// SHA-256 of the capture record the listing was extracted from.
    pub capture: Option<String>,
    /// Where in the listing the rule matched, and the exact text.
    pub matched: Vec<Matched>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matched {
    /// Field path, e.g. `title`, `specs.认证`, `shop.uscc`.
    pub field: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FindingRecord {
    /// The stable id of a finding of `rule` at `version` on `listing` from `capture`.
    pub fn id_for(rule: &str, version: u32, listing: &str, capture: Option<&str>) -> String {
        let key = format!("{rule}\0{version}\0{listing}\0{}", capture.unwrap_or(""));
        format!("f{}", &crate::Digest::of(key.as_bytes()).to_hex()[..24])
    }

    pub fn to_entry(&self) -> NewEntry {
        NewEntry {
            kind: EntryKind::Finding,
            subject: self.id.clone(),
            body: serde_json::to_value(self).unwrap_or_default(),
            // A capture's findings are found from the capture too.
            also_about: self.capture.iter().cloned().collect(),
        }
    }
}
