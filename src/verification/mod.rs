//! Verification: did the platform really take the listings down?
//!
//! A round ([`Verifier::round`]) looks at every notice, decides what it needs
//! ([`due`]), and for those due re-crawls each listing through the platform's
//! adapter ([`classify`]): all gone → **verified**; any still on sale →
//! **not effective** (or **relisted**, when a verified removal came back),
//! escalated on the case with the fresh captures as evidence; anything
//! unreadable → **inconclusive**, tried again next round. Notices past their
//! deadline without a report are flagged **overdue**; disputes are recorded
//! on the case for staff to review.
//!
//! Every re-crawl is evidence like any capture: its blobs are synced, its
//! manifest appended to the ledger with a custody event naming the notice and
//! the verdict, before the follow-up is stored (trees `notice_followup`:
//! notice id → [`FollowUp`], `notice_checks`: notice id `\0` time → [`NoticeCheck`]).

pub mod classify;
pub mod due;

use chrono::{DateTime, Duration, Utc};
use evidence::custody::CustodyEvent;
use evidence::entry::NewEntry;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use url::Url;

pub use classify::{classify, ListingState};
pub use due::{due, Due, Reason};

use crate::adapters::AdapterSet;
use crate::cases::{CaseError, CaseStore};
use crate::fetch::{FetchContext, Fetcher};
use crate::notices::{Notice, NoticeError, NoticeStore};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("database error in the verification trees: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt follow-up of notice `{notice}`: {detail}")]
    Corrupt { notice: String, detail: String },
    #[error(transparent)]
    Ledger(#[from] evidence::ledger::LedgerError),
    #[error("cannot sync the captures of the re-crawl: {0}")]
    Blobs(#[from] evidence::blobs::BlobError),
}

/// Listings of one notice fetched at once.
const LISTINGS_AT_ONCE: usize = 4;

/// The outcome of one check of a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every listing is gone.
    Verified,
    /// A listing is still on sale after the platform reported it delisted or the deadline passed.
    NotEffective,
    /// A listing verified gone is on sale again.
    Relisted,
    /// Some page could not be read; nothing on sale was seen.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::NotEffective => "not_effective",
            Verdict::Relisted => "relisted",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Escalated to the case's bureau.
    pub fn escalates(self) -> bool {
        matches!(self, Verdict::NotEffective | Verdict::Relisted)
    }
}

/// One listing of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingCheck {
    pub url: String,
    pub item_id: String,
    /// The capture of the re-crawl (`None` when the fetch failed before a response).
    pub capture: Option<String>,
    #[serde(flatten)]
    pub state: ListingState,
}

/// One check of one notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeCheck {
    pub notice_id: String,
    pub case_id: String,
    pub platform: String,
    pub at: DateTime<Utc>,
    pub reason: Reason,
    pub verdict: Verdict,
    pub listings: Vec<ListingCheck>,
}

/// Where our follow-up of a notice stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub notice_id: String,
    pub case_id: String,
    /// The latest conclusive verdict.
    pub verdict: Option<Verdict>,
    pub last_check_at: Option<DateTime<Utc>>,
    pub last_conclusive_at: Option<DateTime<Utc>>,
    pub checks: u32,
    pub overdue_at: Option<DateTime<Utc>>,
    pub dispute_recorded_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
}

impl FollowUp {
    pub fn new(notice: &Notice) -> FollowUp {
        FollowUp {
            notice_id: notice.id.clone(),
            case_id: notice.draft.case_id.clone(),
            verdict: None,
            last_check_at: None,
            last_conclusive_at: None,
            checks: 0,
            overdue_at: None,
            dispute_recorded_at: None,
            escalated_at: None,
        }
    }
}

/// The follow-up trees.
#[derive(Clone)]
pub struct FollowUps {
    followups: kv::Tree,
    checks: kv::Tree,
}

impl FollowUps {
    pub fn open(db: &kv::Db) -> Result<FollowUps, VerifyError> {
        Ok(FollowUps { followups: db.open_tree("notice_followup")?, checks: db.open_tree("notice_checks")? })
    }

    /// The follow-up of `notice` (a fresh one when there is none).
    pub fn get(&self, notice: &Notice) -> Result<FollowUp, VerifyError> {
        match self.followups.get(notice.id.as_bytes())? {
            Some(raw) => serde_json::from_slice(&raw)
                .map_err(|e| VerifyError::Corrupt { notice: notice.id.clone(), detail: e.to_string() }),
            None => Ok(FollowUp::new(notice)),
        }
    }

    /// The checks of notice `id`, oldest first.
    pub fn checks(&self, id: &str) -> Result<Vec<NoticeCheck>, VerifyError> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        self.checks
            .scan_prefix(prefix)
            .map(|item| {
                let (_, v) = item?;
                serde_json::from_slice(&v)
                    .map_err(|e| VerifyError::Corrupt { notice: id.to_string(), detail: e.to_string() })
            })
            .collect()
    }

    fn put(&self, follow: &FollowUp, check: Option<&NoticeCheck>) -> Result<(), VerifyError> {
        let encode = |v: serde_json::Result<Vec<u8>>| {
            v.map_err(|e| VerifyError::Corrupt { notice: follow.notice_id.clone(), detail: e.to_string() })
        };
        let follow_json = encode(serde_json::to_vec(follow))?;
        let check_row = match check {
            Some(c) => {
                let mut key = c.notice_id.as_bytes().to_vec();
                key.push(0);
                key.extend_from_slice(&c.at.timestamp_nanos_opt().unwrap_or(0).to_be_bytes());
                Some((key, encode(serde_json::to_vec(c))?))
            }
            None => None,
        };
        use kv::Transactional;
        (&self.followups, &self.checks)
            .transaction(|(f, c)| {
                f.insert(follow.notice_id.as_bytes(), follow_json.as_slice())?;
                if let Some((k, v)) = &check_row {
                    c.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<(), kv::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                kv::transaction::TransactionError::Storage(e) => VerifyError::Db(e),
                kv::transaction::TransactionError::Abort(()) => {
                    VerifyError::Db(kv::Error::Unsupported("aborted".into()))
                }
            })
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Round {
    pub at: Option<DateTime<Utc>>,
    pub notices: usize,
    pub checks: Vec<NoticeCheck>,
    /// Notices flagged overdue in this round.
    pub overdue: Vec<String>,
    /// Disputes recorded on their cases in this round: (notice, reason).
    pub disputes: Vec<(String, String)>,
}

impl Round {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }
}

/// The parts a round needs.
pub struct Verifier {
    pub store: Store,
    pub notices: NoticeStore,
    pub cases: CaseStore,
    pub followups: FollowUps,
    pub fetcher: Fetcher,
    pub adapters: AdapterSet,
    /// When a verified removal is looked at again.
    pub relist_after: Duration,
    /// Who is acting, as recorded on cases and in the ledger.
    pub actor: String,
}

impl Verifier {
    /// Runs one round at `now` over every notice.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<Round, VerifyError> {
        let mut round = Round { at: Some(now), ..Round::default() };
        let notices: Vec<Notice> = self.notices.all().collect::<Result<_, _>>()?;
        round.notices = notices.len();
        for notice in notices {
            let status = self.notices.status_any(&notice.id)?;
            let mut follow = self.followups.get(&notice)?;
            let todo = due(&notice, &status, &follow, now, self.relist_after);
            if todo.is_empty() {
                continue;
            }
            if let Some(reason) = &todo.record_dispute {
                let detail = format!("{} ({}): {reason}", notice.id, notice.draft.platform);
                self.cases.record(
                    &notice.draft.case_id,
                    "platform disputes notice",
                    &detail,
                    std::slice::from_ref(&notice.id),
                    &self.actor,
                    now,
                )?;
                follow.dispute_recorded_at = Some(now);
                round.disputes.push((notice.id.clone(), reason.clone()));
            }
            if todo.flag_overdue {
                let detail = format!(
                    "{} ({}): no disposition reported by the deadline {}",
                    notice.id,
                    notice.draft.platform,
                    notice.draft.deadline.to_rfc3339()
                );
                self.cases.record(
                    &notice.draft.case_id,
                    "notice overdue",
                    &detail,
                    std::slice::from_ref(&notice.id),
                    &self.actor,
                    now,
                )?;
                follow.overdue_at = Some(now);
                round.overdue.push(notice.id.clone());
            }
            let check = match todo.recrawl {
                Some(reason) => Some(self.check(&notice, reason, now).await?),
                None => None,
            };
            let check = match check {
                Some((check, manifests)) => {
                    self.seal(&notice, &check, manifests)?;
                    Some(check)
                }
                None => None,
            };
            if let Some(check) = &check {
                follow.checks += 1;
                follow.last_check_at = Some(now);
                if check.verdict != Verdict::Inconclusive {
                    follow.verdict = Some(check.verdict);
                    follow.last_conclusive_at = Some(now);
                }
                if check.verdict.escalates() {
                    follow.escalated_at = Some(now);
                }
            }
            self.followups.put(&follow, check.as_ref())?;
            round.checks.extend(check);
        }
        let db = self.store.db().clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| kv::Error::ReportableBug(format!("the flush stopped: {e}")))??;
        Ok(round)
    }

    /// Re-crawls every listing of `notice`.
    /// Runs a round every `every` until the task is aborted; a failed round
    /// is logged and the next one runs on schedule (a platform that is down
    /// leaves its notices due, not the loop dead).
    pub async fn run_every(self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.round(Utc::now()).await {
                Ok(r) if r.checks.is_empty() && r.overdue.is_empty() && r.disputes.is_empty() => {}
                Ok(r) => tracing::info!(
                    checked = r.checks.len(),
                    verified = r.count(Verdict::Verified),
                    not_effective = r.count(Verdict::NotEffective),
                    relisted = r.count(Verdict::Relisted),
                    overdue = r.overdue.len(),
                    disputes = r.disputes.len(),
                    "verification round"
                ),
                Err(e) => tracing::warn!(error = %e, "verification round failed; the next one runs on schedule"),
            }
        }
    }

    /// Re-crawls every listing of `notice`; returns the check and the
    /// ledger entries of its captures.
    async fn check(
        &self,
        notice: &Notice,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<(NoticeCheck, Vec<NewEntry>), VerifyError> {
        let adapter = self.adapters.get(&notice.draft.platform);
        // A notice's listings are fetched a few at a time (the host's politeness
        // gate still applies), in order, so the check lists them as the notice does.
        let fetches: Vec<_> = notice.draft.listings.iter().map(|l| self.check_listing(adapter.as_deref(), l)).collect();
        let checked: Vec<(ListingCheck, Option<NewEntry>)> =
            futures::stream::iter(fetches).buffered(LISTINGS_AT_ONCE).collect().await;
        let (listings, manifests): (Vec<ListingCheck>, Vec<Option<NewEntry>>) = checked.into_iter().unzip();
        let manifests: Vec<NewEntry> = manifests.into_iter().flatten().collect();
        let on_sale = listings.iter().any(|l| l.state.is_on_sale());
        let verdict = if on_sale {
            if reason == Reason::Relisting {
                Verdict::Relisted
            } else {
                Verdict::NotEffective
            }
        } else if listings.iter().all(|l| l.state.is_gone()) {
            Verdict::Verified
        } else {
            Verdict::Inconclusive
        };
        let check = NoticeCheck {
            notice_id: notice.id.clone(),
            case_id: notice.draft.case_id.clone(),
            platform: notice.draft.platform.clone(),
            at: now,
            reason,
            verdict,
            listings,
        };
        Ok((check, manifests))
    }

    /// Fetches one listing and reads what the page shows; the capture's
    /// ledger entry comes with it when there was a response.
    async fn check_listing(
        &self,
        adapter: Option<&crate::adapters::Adapter>,
        l: &crate::notices::NoticeListing,
    ) -> (ListingCheck, Option<NewEntry>) {
        let (capture, state, manifest) = match Url::parse(&l.url) {
            Err(e) => (None, ListingState::Unclear { why: format!("bad url `{}`: {e}", l.url) }, None),
            Ok(url) => match self.fetcher.fetch(&url, &FetchContext::default()).await {
                Err(e) => (None, ListingState::Unclear { why: e.to_string() }, None),
                Ok(page) => {
                    let text = page.text();
                    let state = classify(adapter, &page.final_url, page.status, &page.body, &text, &l.item_id);
                    let manifest = evidence::CaptureManifest::of(page.capture_id, &page.capture).to_entry();
                    (Some(page.capture_id.to_hex()), state, Some(manifest))
                }
            },
        };
        (ListingCheck { url: l.url.clone(), item_id: l.item_id.clone(), capture, state }, manifest)
    }

    /// The re-crawl's captures and a custody event into the ledger, then the
    /// verdict on the case.
    fn seal(&self, notice: &Notice, check: &NoticeCheck, mut entries: Vec<NewEntry>) -> Result<(), VerifyError> {
        self.fetcher.blobs().sync()?;
        let captures: Vec<String> = check.listings.iter().filter_map(|l| l.capture.clone()).collect();
        let action = match check.verdict {
            Verdict::Verified => "delisting verified",
            Verdict::NotEffective => "delisting not effective",
            Verdict::Relisted => "listing relisted",
            Verdict::Inconclusive => "delisting check inconclusive",
        }
        .to_string();
        let detail = check
            .listings
            .iter()
            .map(|l| match &l.state {
                ListingState::Gone { how } => format!("{} gone ({how})", l.item_id),
                ListingState::OnSale { price, .. } => {
                    format!(
                        "{} still on sale{}",
                        l.item_id,
                        price.as_ref().map(|p| format!(" at ¥{p}")).unwrap_or_default()
                    )
                }
                ListingState::Unclear { why } => format!("{} unclear ({why})", l.item_id),
            })
            .collect::<Vec<_>>()
            .join("; ");
        let detail = format!("{} ({}, {}): {detail}", notice.id, notice.draft.platform, check.reason.as_str());
        let subjects: Vec<String> =
            [notice.id.clone(), notice.draft.case_id.clone()].into_iter().chain(captures.clone()).collect();
        entries.push(
            CustodyEvent {
                at: check.at,
                actor: self.actor.clone(),
                action: action.clone(),
                subjects,
                detail: detail.clone(),
            }
            .to_entry(),
        );
        self.store.ledger().append(entries)?;
        let action = if check.verdict.escalates() { format!("{action} — escalated") } else { action };
        self.cases.record(&notice.draft.case_id, &action, &detail, &captures, &self.actor, check.at)?;
        Ok(())
    }
}
