//! Cases: confirmed findings routed to the bureau that owns the shop (属地)
//! and merged into one case per matter (并案), with the enforcement outcome
//! recorded step by step.
//!
//! - [`routing`]: the shop's operating address, else its USCC's area code,
//!   else the default bureau, through `rules/data/routing.toml`.
//! - [`merge`]: which open case a finding joins (same USCC or shop, same
//!   brand + model, within the window).
//! - [`store`]: the trees `cases` and `case_of_finding`; one transaction
//!   per change, each change also a custody event in the ledger.
//!
//! [`Triage`] ties them to the findings: confirming a finding opens or joins a
//! case; a finding already in a case keeps its place (confirm is idempotent).

pub mod merge;
pub mod notify;
pub mod routing;
pub mod store;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use merge::{MergeKeys, MergeReason};
pub use routing::{Basis, Bureau, Routing, RoutingError, RoutingTable};
pub use store::{Assigned, CaseStore};

use crate::findings::{Change, FindingStore, Status, TriageError};
use crate::model::{Listing, Shop};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("case `{0}` not found")]
    NotFound(String),
    #[error("case `{id}` is {from}: it cannot become {to}")]
    Transition { id: String, from: CaseStatus, to: CaseStatus },
    #[error("an outcome of case `{0}` needs a note")]
    NoNote(String),
    #[error("finding `{finding}` is in case `{case}`: record the outcome on the case instead of dismissing it")]
    InCase { finding: String, case: String },
    #[error("case `{0}` changed while this change was being made: run it again")]
    Conflict(String),
    #[error(transparent)]
    Triage(#[from] TriageError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error in the case trees: {0}")]
    Db(#[from] kv::Error),
    #[error(transparent)]
    Ledger(#[from] evidence::ledger::LedgerError),
}

/// A case's place in the enforcement workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Opened from a confirmed finding; not yet filed.
    Opened,
    /// 立案.
    Filed,
    /// 处罚.
    Penalised,
    /// 不予处罚.
    NoPenalty,
    /// 移送公安.
    TransferredToPolice,
    /// 结案 (or 不予立案 when closed from `opened`).
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::Opened,
        CaseStatus::Filed,
        CaseStatus::Penalised,
        CaseStatus::NoPenalty,
        CaseStatus::TransferredToPolice,
        CaseStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Opened => "opened",
            CaseStatus::Filed => "filed",
            CaseStatus::Penalised => "penalised",
            CaseStatus::NoPenalty => "no_penalty",
            CaseStatus::TransferredToPolice => "transferred_to_police",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Opened => "待立案",
            CaseStatus::Filed => "立案",
            CaseStatus::Penalised => "处罚",
            CaseStatus::NoPenalty => "不予处罚",
            CaseStatus::TransferredToPolice => "移送公安",
            CaseStatus::Closed => "结案",
        }
    }

    /// Open cases take new findings.
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::Opened | CaseStatus::Filed)
    }

    /// opened → filed | closed; filed → penalised | no_penalty | transferred_to_police | closed;
    /// the three outcomes → closed; closed is final.
    pub fn can_become(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, to),
            (Opened, Filed | Closed)
                | (Filed, Penalised | NoPenalty | TransferredToPolice | Closed)
                | (Penalised | NoPenalty | TransferredToPolice, Closed)
        )
    }
}

impl std::fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CaseStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<CaseStatus, String> {
        CaseStatus::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = CaseStatus::ALL.iter().map(|c| c.as_str()).collect();
            format!("unknown case status `{s}` ({})", all.join(", "))
        })
    }
}

/// A shop in a case, as stored when its finding joined, with the area derived by routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseShop {
    /// `platform/shop_id`.
    pub key: String,
    /// The latest stored version, `region_code` filled from routing when the page showed none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop: Option<Shop>,
    pub routing: Routing,
}

/// A finding in a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFinding {
    pub id: String,
    pub rule: String,
    /// `platform/item_id`.
    pub listing: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub at: DateTime<Utc>,
}

/// A finding that joined an existing case, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeNote {
    pub finding: String,
    pub reason: MergeReason,
    /// Where the finding's own routing would have sent it (differs from the case's bureau when it came from another shop).
    pub routed_to: Bureau,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Who did what to a case, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub by: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One enforcement matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// `C` + opening date + `-` + 8 hex of SHA-256 of the first finding id: stable and sortable.
    pub id: String,
    pub opened_at: DateTime<Utc>,
    pub status: CaseStatus,
    pub bureau: Bureau,
    /// The routing of the shop whose finding opened the case.
    pub routing: Routing,
    pub shops: Vec<CaseShop>,
    pub usccs: BTreeSet<String>,
    pub products: BTreeSet<String>,
    pub findings: Vec<CaseFinding>,
    pub merges: Vec<MergeNote>,
    pub audit: Vec<AuditEntry>,
}

impl Case {
    /// The id a case opened at `at` by `finding` gets.
    pub fn id_for(finding: &str, at: DateTime<Utc>) -> String {
        let digest = evidence::Digest::of(finding.as_bytes()).to_hex();
        format!("C{}-{}", at.format("%Y%m%d"), &digest[..8])
    }

    /// When the case last took a finding (its opening when it has none).
    pub fn last_finding_at(&self) -> DateTime<Utc> {
        self.findings.iter().map(|f| f.at).max().unwrap_or(self.opened_at)
    }
}

/// A confirmed finding with what routing and merging need.
#[derive(Debug, Clone)]
pub struct Subject {
    pub finding: CaseFinding,
    pub shop_key: Option<String>,
    pub shop: Option<Shop>,
    pub routing: Routing,
    pub keys: MergeKeys,
}

/// The actor string recorded for an identity: the station, for its operators.
pub fn actor(identity: &crate::config::Identity) -> String {
    if identity.operators.is_empty() {
        identity.station.clone()
    } else {
        format!("{} for {}", identity.station, identity.operators.join(", "))
    }
}

/// Triage with its consequences: confirm → route → open or join a case.
pub struct Triage {
    store: Store,
    pub findings: FindingStore,
    pub cases: CaseStore,
    pub table: RoutingTable,
    pub window: Duration,
}

/// What confirming one finding did.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmed {
    pub finding: String,
    pub change: Change,
    pub case: Assigned,
}

impl Triage {
    pub fn open(store: &Store, table: RoutingTable, window: Duration) -> Result<Triage, CaseError> {
        Ok(Triage {
            store: store.clone(),
            findings: FindingStore::open(store)?,
            cases: CaseStore::open(store)?,
            table,
            window,
        })
    }

    /// Triage as the CLI and the API run it: the routing table from `routing`
    /// (the built-in one when `None`) and a merge window of `window_days`.
    pub fn configured(store: &Store, routing: Option<&std::path::Path>, window_days: i64) -> Result<Triage, CaseError> {
        let table = match routing {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| RoutingError::Read { path: path.to_path_buf(), source })?;
                RoutingTable::parse(path, &text)?
            }
            None => RoutingTable::builtin()?,
        };
        Triage::open(store, table, merge::window_days(window_days))
    }

    /// Confirms `id` (idempotent) and puts it into a case unless it is in one.
    pub fn confirm(&self, id: &str, by: &str, note: &str, at: DateTime<Utc>) -> Result<Confirmed, CaseError> {
        let change = self.findings.set_status(id, Status::Confirmed, by, note, at)?;
        let case = match self.cases.case_of(id)? {
            Some(case) => Assigned { case, opened: false, reason: None, already: true },
            None => {
                let subject = self.subject(id, at)?;
                self.cases.assign(&subject, by, at, self.window)?
            }
        };
        Ok(Confirmed { finding: id.to_string(), change, case })
    }

    /// Dismisses `id` with a reason; a finding already in a case stays there.
    pub fn dismiss(&self, id: &str, by: &str, reason: &str, at: DateTime<Utc>) -> Result<Change, CaseError> {
        if let Some(case) = self.cases.case_of(id)? {
            return Err(CaseError::InCase { finding: id.to_string(), case });
        }
        Ok(self.findings.set_status(id, Status::Dismissed, by, reason, at)?)
    }

    /// Looks up the finding's listing and shop as stored and routes the shop.
    pub fn subject(&self, id: &str, at: DateTime<Utc>) -> Result<Subject, CaseError> {
        let record = self.findings.get(id)?.ok_or_else(|| TriageError::NotFound(id.to_string()))?;
        let listing = self.listing(&record.listing)?;
        let shop_key = listing.as_ref().and_then(|l| l.shop.as_ref().map(|s| format!("{}/{}", l.platform, s.shop_id)));
        let shop = match (&listing, listing.as_ref().and_then(|l| l.shop.as_ref())) {
            (Some(l), Some(r)) => self.store.shop_versions(&l.platform, &r.shop_id)?.pop(),
            _ => None,
        };
        let routing = match &shop {
            Some(s) => self.table.route(s),
            None => self.table.route(&Shop::default()),
        };
        let shop = shop.map(|mut s| {
            if s.region_code.is_none() && routing.basis != Basis::Default {
                s.region_code = routing.area_code.clone();
            }
            s
        });
        let product = listing.as_ref().and_then(|l| merge::product_key(l.brand.as_deref(), l.model.as_deref()));
        let uscc = shop.as_ref().and_then(|s| s.uscc.as_deref()).map(str::trim).filter(|u| !u.is_empty());
        Ok(Subject {
            finding: CaseFinding {
                id: record.id.clone(),
                rule: record.rule.clone(),
                listing: record.listing.clone(),
                shop: shop_key.clone(),
                product: product.clone(),
                at,
            },
            keys: MergeKeys { uscc: uscc.map(str::to_uppercase), shop: shop_key.clone(), product },
            shop_key,
            shop,
            routing,
        })
    }

    /// The latest stored version of the listing `platform/item_id`.
    fn listing(&self, key: &str) -> Result<Option<Listing>, StoreError> {
        match key.split_once('/') {
            Some((platform, item)) => Ok(self.store.listing_versions(platform, item)?.pop()),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_allows_only_forward_steps() {
        use CaseStatus::*;
        assert!(Opened.can_become(Filed) && Filed.can_become(Penalised) && Penalised.can_become(Closed));
        assert!(!Opened.can_become(Penalised) && !Closed.can_become(Filed) && !Filed.can_become(Opened));
        for s in CaseStatus::ALL {
            assert_eq!(s.as_str().parse::<CaseStatus>(), Ok(s));
        }
        assert!("done".parse::<CaseStatus>().is_err_and(|e| e.contains("`done`")));
    }
}
