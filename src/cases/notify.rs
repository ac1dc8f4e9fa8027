//! What a case sends out: its evidence bundle, sealed on demand, and its
//! delisting notices — one per platform and shop, each carrying the SHA-256
//! of the bundle it rests on, so the platform (and later a court) can check
//! that the bundle it is shown is the one the notice was issued with.
//!
//! Order of work for [`issue_notices`]: seal the bundle (custody entries,
//! checkpoint, file, export entry), record it on the case, issue each notice
//! (the notice and its webhook event in one transaction), record each on the
//! case. A crash in between leaves a sealed bundle without notices, or some
//! notices issued: running it again issues only what is missing (the same
//! draft on the same day is the same notice), over a fresh bundle only when
//! no notice of the case exists yet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use evidence::bundle::BundleSummary;
use evidence::finding::FindingRecord;

use super::{Case, CaseError, CaseStore};
use crate::findings::FindingStore;
use crate::model::Listing;
use crate::notices::{Notice, NoticeDraft, NoticeError, NoticeFinding, NoticeListing, NoticeShop, NoticeStore};
use crate::sealing::{BundleOptions, SealError, Station};
use crate::store::{Store, StoreError};

/// The platform's own duty to act, cited on every notice before the findings' bases.
pub const PLATFORM_DUTY: &str =
    "《中华人民共和国电子商务法》第二十九条（电子商务平台经营者发现平台内的商品信息违法的，\
应当依法采取必要的处置措施，并向有关主管部门报告）";

/// How a notice can be contested.
pub const CONTEST: &str =
    "平台或平台内经营者对本通知有异议的，可在处置期限内通过平台接口提交 disputed 处置并说明理由；\
对行政处理决定不服的，可依法申请行政复议或者提起行政诉讼。";

/// The case audit action that records a sealed bundle; its detail is
/// `"{bundle id} sha256:{hex} {path}"`.
pub const BUNDLE_SEALED: &str = "evidence bundle sealed";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("case `{0}` not found")]
    NoCase(String),
    #[error("case `{0}` has no findings to notify about")]
    NoFindings(String),
    #[error("case `{case}` names listing `{listing}`, which is not in the store")]
    NoListing { case: String, listing: String },
    #[error("case `{case}` is {status}: notices go out only for open cases")]
    Closed { case: String, status: super::CaseStatus },
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error(transparent)]
    Seal(#[from] Box<SealError>),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What every notice of one issuing says besides the findings.
#[derive(Debug, Clone)]
pub struct NoticeTerms {
    /// How long the platform has to act.
    pub deadline: Duration,
    pub platform_duty: String,
    pub contest: String,
}

impl From<SealError> for NotifyError {
    fn from(e: SealError) -> NotifyError {
        NotifyError::Seal(Box::new(e))
    }
}

impl Default for NoticeTerms {
    /// Three days, the platform's duty under 电子商务法 第29条, the usual remedies.
    fn default() -> NoticeTerms {
        NoticeTerms { deadline: Duration::hours(72), platform_duty: PLATFORM_DUTY.into(), contest: CONTEST.into() }
    }
}

/// The stores a case's notices are made from.
pub struct Notifier<'a> {
    pub store: &'a Store,
    pub station: &'a Station,
    pub cases: &'a CaseStore,
    pub findings: &'a FindingStore,
    pub notices: &'a NoticeStore,
    /// Who is acting, as recorded in the case's audit log.
    pub actor: String,
}

/// What [`Notifier::issue_notices`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    pub case: String,
    /// The bundle the notices rest on (`None` when they were all issued before).
    pub bundle: Option<BundleSummary>,
    pub notices: Vec<Notice>,
    /// Notices of the case that existed before this call.
    pub already: usize,
}

impl Notifier<'_> {
    fn case(&self, id: &str) -> Result<Case, NotifyError> {
        self.cases.get(id)?.ok_or_else(|| NotifyError::NoCase(id.to_string()))
    }

    /// Seals the case's findings (their captures and pictures come with them)
    /// into one bundle at `out` and records it on the case.
    pub async fn seal_bundle(&self, case_id: &str, mut options: BundleOptions) -> Result<BundleSummary, NotifyError> {
        let case = self.case(case_id)?;
        let ids: Vec<String> = case.findings.iter().map(|f| f.id.clone()).collect();
        if ids.is_empty() {
            return Err(NotifyError::NoFindings(case.id));
        }
        let records = Station::findings(self.findings, &ids)?;
        options.purpose.get_or_insert_with(|| format!("案件 {} 的证据（{}）", case.id, case.bureau.name));
        let summary = self.station.seal_bundle(self.store, records, Vec::new(), &options).await?;
        let detail = format!("{} {} {}", summary.id, summary.sha256, summary.path.display());
        self.cases.record(
            &case.id,
            BUNDLE_SEALED,
            &detail,
            &[summary.id.clone(), summary.sha256.clone()],
            &self.actor,
            Utc::now(),
        )?;
        Ok(summary)
    }

    /// Issues the case's notices: seals a bundle into `bundle_dir` first
    /// unless notices of the case exist already (then the missing ones reuse
    /// their evidence hash).
    pub async fn issue_notices(
        &self,
        case_id: &str,
        terms: &NoticeTerms,
        bundle_dir: &Path,
        chromium: Option<PathBuf>,
        now: DateTime<Utc>,
    ) -> Result<Issued, NotifyError> {
        let case = self.case(case_id)?;
        if !case.status.is_open() {
            return Err(NotifyError::Closed { case: case.id, status: case.status });
        }
        let existing = self.notices.of_case(&case.id)?;
        let (bundle, evidence_sha256) = match existing.first() {
            Some(n) => (None, n.draft.evidence_sha256.clone()),
            None => {
                let out = bundle_dir.join(format!("{}-{}.wacz", case.id, now.format("%Y%m%dT%H%M%S")));
                let options = BundleOptions {
                    out,
                    title: format!("案件 {} 网络抽查电子证据", case.id),
                    purpose: None,
                    tsa_url: None,
                    chromium,
                };
                let summary = self.seal_bundle(&case.id, options).await?;
                evidence::failpoint("notify-after-bundle");
                let hex = summary.sha256.trim_start_matches("sha256:").to_string();
                (Some(summary), hex)
            }
        };
        let records =
            Station::findings(self.findings, &case.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>())?;
        let mut listings = BTreeMap::new();
        for f in &case.findings {
            let listing = match f.listing.split_once('/') {
                Some((platform, item)) => self.store.listing_versions(platform, item)?.pop(),
                None => None,
            };
            let listing =
                listing.ok_or_else(|| NotifyError::NoListing { case: case.id.clone(), listing: f.listing.clone() })?;
            listings.insert(f.listing.clone(), listing);
        }
        let drafts = draft_notices(&case, &records, &listings, &evidence_sha256, terms, now);
        let before: BTreeSet<String> = existing.iter().map(|n| n.id.clone()).collect();
        let mut notices = Vec::new();
        for draft in drafts {
            // A draft already issued (a rerun after a crash) is found by its content, not re-sent.
            if let Some(n) = existing.iter().find(|n| same_matter(&n.draft, &draft)) {
                notices.push(n.clone());
                continue;
            }
            let notice = self.notices.issue(draft, now)?;
            if !before.contains(&notice.id) {
                let detail = format!(
                    "{} to {}: {} listing(s), deadline {}, evidence sha256:{}",
                    notice.id,
                    notice.draft.platform,
                    notice.draft.listings.len(),
                    notice.draft.deadline.to_rfc3339(),
                    notice.draft.evidence_sha256
                );
                self.cases.record(
                    &case.id,
                    "notice issued",
                    &detail,
                    std::slice::from_ref(&notice.id),
                    &self.actor,
                    now,
                )?;
            }
            notices.push(notice);
        }
        Ok(Issued { case: case.id, bundle, notices, already: existing.len() })
    }
}

/// The same platform, shop and listings: a notice about the same matter.
fn same_matter(a: &NoticeDraft, b: &NoticeDraft) -> bool {
    a.case_id == b.case_id && a.platform == b.platform && a.shop == b.shop && a.listings == b.listings
}

/// One draft per platform and shop of the case (a case merged by product can
/// span shops and platforms; each platform gets only its own listings).
pub fn draft_notices(
    case: &Case,
    findings: &[FindingRecord],
    listings: &BTreeMap<String, Listing>,
    evidence_sha256: &str,
    terms: &NoticeTerms,
    now: DateTime<Utc>,
) -> Vec<NoticeDraft> {
    let by_id: BTreeMap<&str, &FindingRecord> = findings.iter().map(|f| (f.id.as_str(), f)).collect();
    // (platform, shop key) → the case's findings there, in the case's order.
    let mut groups: BTreeMap<(String, String), Vec<&super::CaseFinding>> = BTreeMap::new();
    for f in &case.findings {
        let platform = f.listing.split_once('/').map_or(f.listing.as_str(), |(p, _)| p).to_string();
        groups.entry((platform, f.shop.clone().unwrap_or_default())).or_default().push(f);
    }
    let mut drafts = Vec::with_capacity(groups.len());
    for ((platform, shop_key), members) in groups {
        let case_shop = case.shops.iter().find(|s| s.key == shop_key).and_then(|s| s.shop.as_ref());
        let first_listing = members.iter().find_map(|f| listings.get(&f.listing));
        let shop = NoticeShop {
            name: case_shop
                .and_then(|s| s.name.clone())
                .or_else(|| first_listing.and_then(|l| l.shop.as_ref()).and_then(|r| r.name.clone()))
                .unwrap_or_else(|| shop_key.clone()),
            uscc: case_shop.and_then(|s| s.uscc.clone()),
        };
        let mut seen = BTreeSet::new();
        let notice_listings = members
            .iter()
            .filter(|f| seen.insert(f.listing.clone()))
            .filter_map(|f| listings.get(&f.listing))
            .map(|l| NoticeListing { url: l.url.clone(), item_id: l.item_id.clone() })
            .collect();
        let mut bases = vec![terms.platform_duty.clone()];
        let mut notice_findings = Vec::new();
        for f in &members {
            if let Some(record) = by_id.get(f.id.as_str()) {
                notice_findings.push(NoticeFinding { rule_id: record.rule.clone(), message: record.message.clone() });
                for basis in &record.legal_basis {
                    if !bases.contains(basis) {
                        bases.push(basis.clone());
                    }
                }
            }
        }
        drafts.push(NoticeDraft {
            case_id: case.id.clone(),
            platform,
            listings: notice_listings,
            shop,
            findings: notice_findings,
            legal_basis: bases.join("；"),
            authority: case.bureau.name.clone(),
            deadline: now + terms.deadline,
            contest: terms.contest.clone(),
            evidence_sha256: evidence_sha256.to_string(),
        });
    }
    drafts
}
