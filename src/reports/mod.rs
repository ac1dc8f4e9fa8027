//! The spot-check result report (抽查结果) and its public version (抽查结果公示).
//!
//! [`build`] counts what was sampled in a [`Scope`] and which of those
//! listings failed. A listing *fails* only when it has a **confirmed**
//! finding of a rule that is not a risk signal ([`RISK_SIGNALS`]); open
//! (unreviewed) and dismissed findings are counted separately in [`Review`]
//! and never make a listing fail. [`PublicReport`] is the
//! public-notice view: a separate type that holds no internal field, so its
//! renderers cannot leak one.
//!
//! Renderers: JSON (serde), CSV ([`csv_rows`]), self-contained HTML with
//! inline SVG bar charts and no scripts ([`html`]).

mod build;
pub mod csv_rows;
pub mod html;
mod public;
mod rate;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use build::{build, uscc_region, ReportError, Scope};
pub use public::{PublicBreakdown, PublicItem, PublicReport};
pub use rate::{percent, percent_text};

/// Rules whose findings are risk signals for directing checks, not a
/// product's non-conformity: a confirmed one never makes a listing fail (it
/// is counted in [`Review::confirmed_risk_signals`]). The rule files say so
/// in their comments; the rule spec has no field for it yet.
pub const RISK_SIGNALS: &[&str] = &["price.clearly_low", "shop.repeat_offender"];

/// The class label of a listing the catalogue does not classify.
pub const UNCLASSIFIED: &str = "未分类";

/// The internal spot-check result report of one scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotCheckReport {
    pub scope: ScopeInfo,
    pub generated_at: DateTime<Utc>,
    /// Listings sampled (distinct `platform/item_id` in the scope).
    pub sampled: u64,
    /// Listings with at least one confirmed finding (of a rule not in [`RISK_SIGNALS`]).
    pub failing: u64,
    /// `failing / sampled` in percent, rounded to one decimal; `None` when nothing was sampled.
    pub failure_rate: Option<Decimal>,
    pub review: Review,
    pub by_class: Vec<Breakdown>,
    pub by_platform: Vec<Breakdown>,
    pub by_rule: Vec<Breakdown>,
    /// Ordered by platform, then item id.
    pub failing_listings: Vec<FailingListing>,
}

/// What the report covered and how its listings were chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeInfo {
    /// `all`, `job`, `plan`, `run` (a plan run's drawn listings) or `campaign`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The capture-time window the listings were taken from (job and plan scopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

/// Triage state of the scope's findings: internal only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Every confirmed finding, risk signals included.
    pub confirmed_findings: u64,
    /// Confirmed findings of [`RISK_SIGNALS`] rules: not failures.
    #[serde(default)]
    pub confirmed_risk_signals: u64,
    pub open_findings: u64,
    pub dismissed_findings: u64,
    /// Listings with an open finding but no confirmed one: not failures (yet).
    pub unreviewed_listings: u64,
}

/// Failures within one class, platform or rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Class code, platform name or rule id.
    pub key: String,
    /// What to show: the same as `key`, or the rule's title.
    pub label: String,
    /// Listings sampled in this group (for a rule: every listing sampled).
    pub sampled: u64,
    pub failing: u64,
    pub rate: Option<Decimal>,
}

/// A listing that failed, with the shop selling it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingListing {
    pub platform: String,
    pub item_id: String,
    pub url: String,
    pub title: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub catalogue_class: String,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
    pub uscc: Option<String>,
    /// The shop's region code, else the division code inside its USCC.
    pub region_code: Option<String>,
    /// The confirmed rules broken, by rule id.
    pub rules: Vec<FailedRule>,
    /// Ids of the confirmed findings.
    pub finding_ids: Vec<String>,
    /// The capture the listing's stored version came from.
    pub capture_id: Option<String>,
}

/// One rule a listing was confirmed to break.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailedRule {
    pub rule: String,
    pub title: String,
}
