//! Cases in the store: `cases` (case id → [`Case`] JSON) and `case_of_finding`
//! (finding id → case id, so a finding is in at most one case).
//!
//! Every change is one transaction over both trees, preceded by its
//! custody event in the ledger (the same order findings use: a stored change
//! always has its ledger entry; a crash between the two leaves an event
//! without its change, never the reverse).

use chrono::{DateTime, Duration, Utc};
use evidence::custody::CustodyEvent;
use evidence::ledger::Ledger;
use kv::transaction::{ConflictableTransactionError, TransactionError};
use kv::Transactional;
use serde::Serialize;

use super::{merge, AuditEntry, Case, CaseError, CaseShop, CaseStatus, MergeNote, Subject};
use crate::store::{Store, StoreError};

/// The cases and the finding → case index.
#[derive(Clone)]
pub struct CaseStore {
    cases: kv::Tree,
    by_finding: kv::Tree,
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
        let mut before = None;
        let (mut case, reason, event) = match merge::choose(&cases, &subject.keys, at, window) {
            Some((case, reason)) => {
                before = self.cases.get(&case.id)?;
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
        self.commit(&case, before, Some(id), custody)?;
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
        let before = self.cases.get(id)?;
        let mut case: Case = match &before {
            Some(v) => serde_json::from_slice(v).map_err(|e| corrupt("cases", id, e))?,
            None => return Err(CaseError::NotFound(id.to_string())),
        };
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
        self.commit(&case, before, None, custody)?;
        Ok(case)
    }

    /// Records something done about a case that leaves its status as it is
    /// (an evidence bundle sealed, a notice issued, a delisting checked): an
    /// audit entry, preceded by a custody event naming the case and `subjects`.
    /// A concurrent change is retried on the fresh case a few times.
    pub fn record(
        &self,
        id: &str,
        action: &str,
        detail: &str,
        subjects: &[String],
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Case, CaseError> {
        let mut attempt = 0;
        loop {
            let before = self.cases.get(id)?;
            let mut case: Case = match &before {
                Some(v) => serde_json::from_slice(v).map_err(|e| corrupt("cases", id, e))?,
                None => return Err(CaseError::NotFound(id.to_string())),
            };
            case.audit.push(AuditEntry {
                at,
                by: by.to_string(),
                action: action.to_string(),
                detail: detail.to_string(),
            });
            let custody = CustodyEvent {
                at,
                actor: by.to_string(),
                action: format!("case: {action}"),
                subjects: [case.id.clone()].into_iter().chain(subjects.iter().cloned()).collect(),
                detail: detail.to_string(),
            };
            match self.commit(&case, before, None, custody) {
                Err(CaseError::Conflict(_)) if attempt < 3 => attempt += 1,
                Err(e) => return Err(e),
                Ok(()) => return Ok(case),
            }
        }
    }

    /// The ledger event, then the case (and the finding's index entry) in one
    /// transaction that applies only if the case is still as it was read
    /// (`before`) and the finding is in no case: a concurrent change in the
    /// same process is refused ([`CaseError::Conflict`]) instead of lost. The
    /// same check runs before the ledger append, so only a change that raced
    /// in between can leave its custody event without the change.
    fn commit(
        &self,
        case: &Case,
        before: Option<kv::IVec>,
        finding: Option<&str>,
        custody: CustodyEvent,
    ) -> Result<(), CaseError> {
        let json = serde_json::to_vec(case).map_err(|e| corrupt("cases", &case.id, e))?;
        let unchanged = |now: Option<kv::IVec>, taken: bool| now == before && !taken;
        let taken = match finding {
            Some(f) => self.by_finding.contains_key(f)?,
            None => false,
        };
        if !unchanged(self.cases.get(&case.id)?, taken) {
            return Err(CaseError::Conflict(case.id.clone()));
        }
        self.ledger.append(vec![custody.to_entry()])?;
        let applied = (&self.cases, &self.by_finding)
            .transaction(|(cases, by_finding)| {
                let taken = match finding {
                    Some(f) => by_finding.get(f.as_bytes())?.is_some(),
                    None => false,
                };
                if !unchanged(cases.get(case.id.as_bytes())?, taken) {
                    return Ok(false);
                }
                cases.insert(case.id.as_bytes(), json.as_slice())?;
                if let Some(f) = finding {
                    by_finding.insert(f.as_bytes(), case.id.as_bytes())?;
                }
                Ok::<bool, ConflictableTransactionError<StoreError>>(true)
            })
            .map_err(|e: TransactionError<StoreError>| CaseError::Store(e.into()))?;
        self.ledger.flush()?;
        if !applied {
            return Err(CaseError::Conflict(case.id.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cases::{CaseFinding, MergeKeys, MergeReason, RoutingTable};
    use crate::model::Shop;

    fn subject(id: &str, shop: &str, uscc: &str, product: &str, address: &str, at: DateTime<Utc>) -> Subject {
        let s = Shop {
            platform: "p".into(),
            shop_id: shop.into(),
            uscc: Some(uscc.into()),
            address: Some(address.into()),
            ..Shop::default()
        };
        let routing = RoutingTable::builtin().unwrap().route(&s);
        let key = format!("p/{shop}");
        Subject {
            finding: CaseFinding {
                id: id.into(),
                rule: "r".into(),
                listing: format!("p/{id}"),
                shop: Some(key.clone()),
                product: Some(product.into()),
                at,
            },
            keys: MergeKeys { uscc: Some(uscc.into()), shop: Some(key.clone()), product: Some(product.into()) },
            shop_key: Some(key),
            shop: Some(s),
            routing,
        }
    }

    #[test]
    fn findings_merge_inside_the_window_and_outcomes_follow_the_workflow() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cases = CaseStore::open(&store).unwrap();
        let t0 = Utc::now();
        let w = Duration::days(90);
        let a =
            cases.assign(&subject("f1", "s1", "U1", "b|m1", "广东省深圳市南山区科技园路1号", t0), "x", t0, w).unwrap();
        assert!(a.opened);
        // Same product from another operator, 89 days after the case's last finding: joins.
        let t1 = t0 + Duration::days(89);
        let b = cases.assign(&subject("f2", "s2", "U2", "b|m1", "浙江省杭州市西湖区1号", t1), "x", t1, w).unwrap();
        assert_eq!(
            (b.case.as_str(), b.reason.clone()),
            (a.case.as_str(), Some(MergeReason::SameProduct("b|m1".into())))
        );
        // The window counts from the last finding (t1), so t0 + 170 days still joins ...
        let t2 = t0 + Duration::days(170);
        let c = cases.assign(&subject("f3", "s3", "U1", "b|m9", "北京市朝阳区1号", t2), "x", t2, w).unwrap();
        assert_eq!(c.case, a.case);
        // ... and 91 days after that opens a new case.
        let t3 = t2 + Duration::days(91);
        let d = cases.assign(&subject("f4", "s1", "U1", "b|m1", "广东省深圳市南山区1号", t3), "x", t3, w).unwrap();
        assert!(d.opened && d.case != a.case);
        // Assigning again changes nothing.
        let again = cases.assign(&subject("f4", "s1", "U1", "b|m1", "广东省深圳市南山区1号", t3), "x", t3, w).unwrap();
        assert!(again.already && again.case == d.case);

        let case = cases.get(&a.case).unwrap().unwrap();
        assert_eq!(case.bureau.code, "440305", "the opening shop's bureau");
        assert_eq!(case.shops.len(), 3);
        assert_eq!(case.merges.len(), 2);
        assert!(matches!(cases.set_outcome(&a.case, CaseStatus::Filed, " ", "x", t3), Err(CaseError::NoNote(_))));
        cases.set_outcome(&a.case, CaseStatus::Closed, "no grounds", "x", t3).unwrap();
        // A closed case takes no more findings.
        let t4 = t3 + Duration::days(1);
        let e = cases.assign(&subject("f5", "s1", "U1", "b|m1", "广东省深圳市南山区1号", t4), "x", t4, w).unwrap();
        assert_eq!(e.case, d.case, "joins the open case, not the closed one");
        let err = cases.set_outcome(&a.case, CaseStatus::Filed, "again", "x", t4).unwrap_err().to_string();
        assert!(err.contains(&a.case) && err.contains("closed"), "{err}");
        assert!(cases
            .set_outcome("Cnope", CaseStatus::Filed, "n", "x", t4)
            .unwrap_err()
            .to_string()
            .contains("`Cnope`"));
    }

    #[test]
    fn a_change_based_on_a_stale_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cases = CaseStore::open(&store).unwrap();
        let t0 = Utc::now();
        let a = cases
            .assign(&subject("f1", "s1", "U1", "b|m1", "北京市朝阳区1号", t0), "x", t0, Duration::days(90))
            .unwrap();
        let stale_bytes = cases.cases.get(&a.case).unwrap();
        let stale = cases.get(&a.case).unwrap().unwrap();
        cases.set_outcome(&a.case, CaseStatus::Filed, "filed", "x", t0).unwrap();
        let event = CustodyEvent {
            at: t0,
            actor: "x".into(),
            action: "test".into(),
            subjects: vec![a.case.clone()],
            detail: String::new(),
        };
        let e = cases.commit(&stale, stale_bytes, None, event.clone()).unwrap_err();
        assert!(matches!(e, CaseError::Conflict(ref id) if id == &a.case), "{e}");
        let fresh = cases.cases.get(&a.case).unwrap();
        let e = cases.commit(&stale, fresh, Some("f1"), event).unwrap_err();
        assert!(matches!(e, CaseError::Conflict(_)), "f1 is already in a case: {e}");
        assert_eq!(cases.get(&a.case).unwrap().unwrap().status, CaseStatus::Filed, "nothing lost");
    }
}
