//! Which notices need what, now: a pure function of the notice, the
//! platform's answer and our own follow-up, so the rules can be read (and
//! tested) in one place.
//!
//! | platform's answer | when | we |
//! |---|---|---|
//! | `delisted` / `partially_delisted` | not checked since the report | re-crawl (reason `reported`) |
//! | `rejected` | not checked since the report | re-crawl (reason `rejected`) |
//! | `disputed` | not recorded yet | record the dispute on the case; no re-crawl (review by staff) |
//! | none (or only an ack) | deadline passed | flag overdue once; re-crawl once (reason `deadline`) |
//! | any, verified gone | `relist_after` since the last check | re-crawl (reason `relisting`) |
//!
//! An inconclusive check leaves the notice due: it is tried again next round.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{FollowUp, Verdict};
use crate::notices::store::NoticeStatus;
use crate::notices::{Disposition, Notice};

/// Why a listing is re-crawled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The platform reported it delisted.
    Reported,
    /// The platform refused to act.
    Rejected,
    /// The deadline passed without a report.
    Deadline,
    /// A verified removal, looked at again.
    Relisting,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Reported => "reported delisted",
            Reason::Rejected => "rejected",
            Reason::Deadline => "deadline passed",
            Reason::Relisting => "relisting check",
        }
    }
}

/// What a round does with one notice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    pub recrawl: Option<Reason>,
    /// Flag the notice overdue (first time only).
    pub flag_overdue: bool,
    /// Record this dispute reason on the case (first time only).
    pub record_dispute: Option<String>,
}

impl Due {
    pub fn is_empty(&self) -> bool {
        self.recrawl.is_none() && !self.flag_overdue && self.record_dispute.is_none()
    }
}

/// Decides what notice `notice` needs at `now`.
pub fn due(
    notice: &Notice,
    status: &NoticeStatus,
    follow: &FollowUp,
    now: DateTime<Utc>,
    relist_after: Duration,
) -> Due {
    let mut out = Due::default();
    // A conclusive check after the platform's last report answers that report.
    let answered = |since: Option<DateTime<Utc>>| match (follow.last_conclusive_at, since) {
        (Some(checked), Some(since)) => checked >= since,
        (Some(_), None) => true,
        (None, _) => false,
    };
    match &status.disposition {
        Some(Disposition::Delisted | Disposition::PartiallyDelisted) if !answered(status.reported_at) => {
            out.recrawl = Some(Reason::Reported);
        }
        Some(Disposition::Rejected) if !answered(status.reported_at) => out.recrawl = Some(Reason::Rejected),
        Some(Disposition::Disputed { reason })
            if follow.dispute_recorded_at.is_none_or(|at| Some(at) < status.reported_at) =>
        {
            out.record_dispute = Some(reason.clone());
        }
        None if notice.draft.deadline < now => {
            out.flag_overdue = follow.overdue_at.is_none();
            if !answered(Some(notice.draft.deadline)) {
                out.recrawl = Some(Reason::Deadline);
            }
        }
        _ => {}
    }
    if out.recrawl.is_none()
        && follow.verdict == Some(Verdict::Verified)
        && follow.last_conclusive_at.is_some_and(|at| at + relist_after <= now)
    {
        out.recrawl = Some(Reason::Relisting);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::notices::{NoticeDraft, NoticeShop};

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn notice() -> Notice {
        Notice {
            id: "N1".into(),
            draft: NoticeDraft {
                case_id: "C1".into(),
                platform: "p".into(),
                listings: vec![],
                shop: NoticeShop { name: "s".into(), uscc: None },
                findings: vec![],
                legal_basis: String::new(),
                authority: String::new(),
                deadline: t(72),
                contest: String::new(),
                evidence_sha256: String::new(),
            },
            created_at: t(0),
        }
    }

    fn status(d: Option<Disposition>, reported: i64) -> NoticeStatus {
        NoticeStatus {
            notice_id: "N1".into(),
            acknowledged_at: Some(t(0)),
            disposition_at: d.as_ref().map(|_| t(reported)),
            reported_at: d.as_ref().map(|_| t(reported)),
            disposition: d,
        }
    }

    const WEEK: i64 = 24 * 7;

    #[test]
    fn the_table_in_the_module_doc_holds() {
        let n = notice();
        let fresh = FollowUp::new(&n);
        let relist = Duration::hours(WEEK);
        // Delisted: re-crawl once; after a conclusive check, nothing until the relisting check.
        assert_eq!(
            due(&n, &status(Some(Disposition::Delisted), 2), &fresh, t(3), relist).recrawl,
            Some(Reason::Reported)
        );
        let checked = FollowUp { last_conclusive_at: Some(t(3)), verdict: Some(Verdict::Verified), ..fresh.clone() };
        assert!(due(&n, &status(Some(Disposition::Delisted), 2), &checked, t(4), relist).is_empty());
        assert_eq!(
            due(&n, &status(Some(Disposition::Delisted), 2), &checked, t(3 + WEEK), relist).recrawl,
            Some(Reason::Relisting)
        );
        // Disputed: recorded once, never re-crawled.
        let disputed = status(Some(Disposition::Disputed { reason: "证书有效".into() }), 2);
        let d = due(&n, &disputed, &fresh, t(100), relist);
        assert_eq!((d.record_dispute.as_deref(), d.recrawl, d.flag_overdue), (Some("证书有效"), None, false));
        let recorded = FollowUp { dispute_recorded_at: Some(t(3)), ..fresh.clone() };
        assert!(due(&n, &disputed, &recorded, t(100), relist).is_empty());
        // Nothing reported: nothing before the deadline; overdue once and one re-crawl after it.
        assert!(due(&n, &status(None, 0), &fresh, t(71), relist).is_empty());
        let d = due(&n, &status(None, 0), &fresh, t(73), relist);
        assert!(d.flag_overdue && d.recrawl == Some(Reason::Deadline));
        let flagged = FollowUp {
            overdue_at: Some(t(73)),
            last_conclusive_at: Some(t(73)),
            verdict: Some(Verdict::NotEffective),
            ..fresh.clone()
        };
        assert!(due(&n, &status(None, 0), &flagged, t(80), relist).is_empty());
        // An inconclusive check (no conclusive time) leaves it due.
        let unclear = FollowUp { overdue_at: Some(t(73)), ..fresh.clone() };
        assert_eq!(due(&n, &status(None, 0), &unclear, t(80), relist).recrawl, Some(Reason::Deadline));
        // Rejected: re-crawled at once.
        assert_eq!(
            due(&n, &status(Some(Disposition::Rejected), 5), &fresh, t(6), relist).recrawl,
            Some(Reason::Rejected)
        );
        // A new report after a check is answered again.
        assert_eq!(
            due(&n, &status(Some(Disposition::Delisted), 9), &checked, t(10), relist).recrawl,
            Some(Reason::Reported)
        );
    }
}
