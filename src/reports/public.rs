//! The public-notice version (抽查结果公示): the report's numbers and failing
//! products, without any internal field (finding or capture ids, rule ids,
//! item URLs, region codes, triage counts, job or plan ids).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Breakdown, FailingListing, SpotCheckReport};

/// The result conclusion shown for every listed product.
pub const FAILED: &str = "不合格";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicReport {
    pub generated_at: DateTime<Utc>,
    pub sampled: u64,
    pub failing: u64,
    pub failure_rate: Option<Decimal>,
    pub by_class: Vec<PublicBreakdown>,
    pub by_platform: Vec<PublicBreakdown>,
    pub by_rule: Vec<PublicBreakdown>,
    pub items: Vec<PublicItem>,
}

/// A group's counts under its shown label only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicBreakdown {
    pub label: String,
    pub sampled: u64,
    pub failing: u64,
    pub rate: Option<Decimal>,
}

/// One failing product as a 公示 lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicItem {
    pub product: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub shop: Option<String>,
    pub uscc: Option<String>,
    pub platform: String,
    /// The titles of the failed items (the rules broken).
    pub failed_items: Vec<String>,
    pub result: String,
}

impl From<&Breakdown> for PublicBreakdown {
    fn from(b: &Breakdown) -> PublicBreakdown {
        PublicBreakdown { label: b.label.clone(), sampled: b.sampled, failing: b.failing, rate: b.rate }
    }
}

impl From<&FailingListing> for PublicItem {
    fn from(l: &FailingListing) -> PublicItem {
        PublicItem {
            product: l.title.clone().unwrap_or_default(),
            brand: l.brand.clone(),
            model: l.model.clone(),
            shop: l.shop_name.clone(),
            uscc: l.uscc.clone(),
            platform: l.platform.clone(),
            failed_items: l.rules.iter().map(|r| r.title.clone()).collect(),
            result: FAILED.to_string(),
        }
    }
}

impl From<&SpotCheckReport> for PublicReport {
    fn from(r: &SpotCheckReport) -> PublicReport {
        let groups = |g: &[Breakdown]| g.iter().map(PublicBreakdown::from).collect();
        PublicReport {
            generated_at: r.generated_at,
            sampled: r.sampled,
            failing: r.failing,
            failure_rate: r.failure_rate,
            by_class: groups(&r.by_class),
            by_platform: groups(&r.by_platform),
            by_rule: groups(&r.by_rule),
            items: r.failing_listings.iter().map(PublicItem::from).collect(),
        }
    }
}
