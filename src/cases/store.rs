//! Cases in sled: `cases` (case id → [`Case`] JSON) and `case_of_finding`
//! (finding id → case id, so a finding is in at most one case).
//!
//! Every change is one sled transaction over both trees, preceded by its
//! custody event in the ledger (the same order findings use: a stored change
//! always has its ledger entry; a crash between the two leaves an event
//! without its change, never the reverse).

use chrono::{DateTime, Duration, Utc};
use evidence::custody::CustodyEvent;
use evidence::ledger::Ledger;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{merge, AuditEntry, Case, CaseError, CaseShop, CaseStatus, MergeNote, Subject};
use crate::store::{Store, StoreError};

/// The cases and the finding → case index.
#[derive(Clone)]
pub struct CaseStore {
    cases: sled::Tree,
    by_finding: sled::Tree,
    ledger: Ledger,
}

/// Where a finding went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assigned {
    pub case: String,
    /// A new case was opened for it.
    pub opened: bool,
    /// Why it joined an existing case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<merge::MergeReason>,
    /// It was in the case before this call.
    pub already: bool,
}

fn corrupt(tree: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { tree: tree.into(), key: key.into(), detail: e.to_string() }
}

impl CaseStore {
    pub fn open(store: &Store) -> Result<CaseStore, StoreError> {
        Ok(CaseStore {
            cases: store.db().open_tree("cases")?,
            by_finding: store.db().open_tree("case_of_finding")?,
            ledger: store.ledger().clone(),
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        match self.cases.get(id)? {
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| corrupt("cases", id, e)),
            None => Ok(None),
        }
    }

    /// Every case, in id order (opening date first).
    pub fn all(&self) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        self.cases.iter().map(|kv| {
            let (k, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| corrupt("cases", &String::from_utf8_lossy(&k), e))
        })
    }

    /// The case holding finding `id`, if any.
    pub fn case_of(&self, finding: &str) -> Result<Option<String>, StoreError> {
        Ok(self.by_finding.get(finding)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Opens a case for `subject` or adds it to the open case it merges with.
    pub fn assign(
        &self,
        subject: &Subject,
        by: &str,
        at: DateTime<Utc>,
        window: Duration,
    ) -> Result<Assigned, CaseError> {
        let id = &subject.finding.id;
        if let Some(case) = self.case_of(id)? {
            return Ok(Assigned { case, opened: false, reason: None, already: true });
        }
        let cases: Vec<Case> = self.all().collect::<Result<_, _>>()?;
        let (mut case, reason, event) = match merge::choose(&cases, &subject.keys, at, window) {
            Some((case, reason)) => {
                let mut case = case.clone();
                case.merges.push(MergeNote {
                    finding: id.clone(),
                    reason: reason.clone(),
                    routed_to: subject.routing.bureau.clone(),
                    by: by.to_string(),
                    at,
                });
                case.audit.push(AuditEntry {
                    at,
                    by: by.to_string(),
                    action: "finding joined".into(),
                    detail: format!("{id}: {reason}"),
                });
                let event = format!("finding joined case ({reason})");
                (case, Some(reason), event)
            }
            None => {
                let case = Case {
                    id: Case::id_for(id, at),
                    opened_at: at,
                    status: CaseStatus::Opened,
                    bureau: subject.routing.bureau.clone(),
                    routing: subject.routing.clone(),
                    shops: Vec::new(),
                    usccs: Default::default(),
                    products: Default::default(),
                    findings: Vec::new(),
                    merges: Vec::new(),
                    audit: vec![AuditEntry {
                        at,
                        by: by.to_string(),
                        action: "opened".into(),
                        detail: format!(
                            "from finding {id}; routed to {} by {}: {}",
                            subject.routing.bureau.name, subject.routing.basis, subject.routing.reason
                        ),
                    }],
                };
                let event = format!("case opened for {} ({})", case.bureau.name, subject.routing.basis);
                (case, None, event)
            }
        };
        case.findings.push(subject.finding.clone());
        if let Some(key) = &subject.shop_key {
            if !case.shops.iter().any(|s| &s.key == key) {
                case.shops.push(CaseShop {
                    key: key.clone(),
                    shop: subject.shop.clone(),
                    routing: subject.routing.clone(),
                });
            }
        }
        case.usccs.extend(subject.keys.uscc.iter().cloned());
        case.products.extend(subject.keys.product.iter().cloned());
        let opened = reason.is_none();
        let custody = CustodyEvent {
            at,
            actor: by.to_string(),
            action: event,
            subjects: vec![case.id.clone(), id.clone()],
            detail: format!("bureau {} ({})", case.bureau.name, case.bureau.code),
        };
        self.commit(&case, Some(id), custody)?;
        Ok(Assigned { case: case.id, opened, reason, already: false })
    }

    /// Moves case `id` to `to` with a note, if the workflow allows it.
    pub fn set_outcome(
        &self,
        id: &str,
        to: CaseStatus,
        note: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Case, CaseError> {
        let mut case = self.get(id)?.ok_or_else(|| CaseError::NotFound(id.to_string()))?;
        let note = note.trim();
        if note.is_empty() {
            return Err(CaseError::NoNote(id.to_string()));
        }
        if !case.status.can_become(to) {
            return Err(CaseError::Transition { id: id.to_string(), from: case.status, to });
        }
        let from = case.status;
        case.status = to;
        case.audit.push(AuditEntry {
            at,
            by: by.to_string(),
            action: format!("{from} → {to} ({})", to.label()),
            detail: note.to_string(),
        });
        let custody = CustodyEvent {
            at,
            actor: by.to_string(),
            action: format!("case {to}"),
            subjects: [case.id.clone()].into_iter().chain(case.findings.iter().map(|f| f.id.clone())).collect(),
            detail: format!("{from} → {to} ({}): {note}", to.label()),
        };
        self.commit(&case, None, custody)?;
        Ok(case)
    }

    /// The ledger event, then the case (and the finding's index entry) in one transaction.
    fn commit(&self, case: &Case, finding: Option<&str>, custody: CustodyEvent) -> Result<(), CaseError> {
        let json = serde_json::to_vec(case).map_err(|e| corrupt("cases", &case.id, e))?;
        self.ledger.append(vec![custody.to_entry()])?;
        (&self.cases, &self.by_finding)
            .transaction(|(cases, by_finding)| {
                cases.insert(case.id.as_bytes(), json.as_slice())?;
                if let Some(f) = finding {
                    by_finding.insert(f.as_bytes(), case.id.as_bytes())?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e: TransactionError<StoreError>| CaseError::Store(e.into()))?;
        self.ledger.flush()?;
        Ok(())
    }
}
