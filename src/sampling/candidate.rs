//! What can be drawn: a listing (or shop) with its stratum and risk factors.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Listing, Shop};
use crate::rules::{Baselines, CheckHistory};

/// The class of a candidate the catalogue does not classify.
pub const UNCLASSIFIED: &str = "unclassified";

/// One thing that may be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Unique among the candidates: `platform/item_id` or `platform/shop_id`.
    pub key: String,
    pub platform: String,
    /// Catalogue class, or [`UNCLASSIFIED`].
    pub class: String,
    /// The shop: its operator's USCC when known, else `platform/shop_id`.
    pub shop: String,
    #[serde(default)]
    pub risk: RiskFactors,
}

/// What makes a candidate riskier (or safer) than the rest; see [`super::weights`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskFactors {
    /// Failed spot checks (不合格) of the shop's operator on record.
    pub past_failures: u32,
    /// The price is clearly below the class's price level.
    pub clearly_low_price: bool,
    /// The operator failed in at least 2 of the last 3 calendar years (the key list).
    pub key_list: bool,
    /// Calendar years since the last failure (or, without one, since the first
    /// check on record); `None` when the operator was never checked.
    pub years_clean: Option<u32>,
}

/// The reference tables a candidate's risk is read from.
#[derive(Debug, Clone, Copy)]
pub struct RiskTables<'a> {
    pub history: &'a CheckHistory,
    pub baselines: &'a Baselines,
    /// The day the plan is drawn for.
    pub today: NaiveDate,
}

/// A price below this share of its class's median price is clearly low; the
/// median must come from at least [`MIN_BASELINE_SAMPLE`] listings. The same
/// numbers as `rules/price.clearly_low.toml` (policy, not law).
pub const CLEARLY_LOW_RATIO: Decimal = Decimal::from_parts(4, 0, 0, false, 1);
pub const MIN_BASELINE_SAMPLE: usize = 20;

/// The spot-check result that counts as a failure.
const FAILED: &str = "不合格";

impl Candidate {
    /// The candidate of `listing`, sold by `shop` when known.
    pub fn of_listing(listing: &Listing, shop: Option<&Shop>, tables: &RiskTables<'_>) -> Candidate {
        let uscc = shop.and_then(|s| s.uscc.as_deref()).map(str::trim).filter(|u| !u.is_empty());
        let shop_key = match (uscc, shop, &listing.shop) {
            (Some(uscc), _, _) => uscc.to_string(),
            (None, Some(s), _) => s.key(),
            (None, None, Some(r)) => format!("{}/{}", listing.platform, r.shop_id),
            (None, None, None) => format!("{}/?", listing.platform),
        };
        let mut risk = uscc.map_or_else(RiskFactors::default, |u| RiskFactors::of_history(tables, u));
        risk.clearly_low_price = clearly_low(listing, tables.baselines);
        Candidate {
            key: listing.key(),
            platform: listing.platform.clone(),
            class: listing.catalogue_class.clone().unwrap_or_else(|| UNCLASSIFIED.to_string()),
            shop: shop_key,
            risk,
        }
    }
}

impl RiskFactors {
    /// The history part of the risk of the operator with `uscc` on `today`
    /// (`key_list`: failed in at least 2 of the last 3 calendar years).
    pub fn from_history(history: &CheckHistory, uscc: &str, today: NaiveDate) -> RiskFactors {
        RiskFactors::of_history(&RiskTables { history, baselines: &Baselines::default(), today }, uscc)
    }

    /// The history part of the risk of the operator with `uscc`.
    fn of_history(tables: &RiskTables<'_>, uscc: &str) -> RiskFactors {
        let today = tables.today;
        let checks: Vec<(NaiveDate, bool)> = tables
            .history
            .for_uscc(uscc)
            .iter()
            .filter_map(|c| {
                let date = NaiveDate::parse_from_str(c.date.trim(), "%Y-%m-%d").ok()?;
                (date <= today).then(|| (date, c.result.trim() == FAILED))
            })
            .collect();
        let failures: Vec<NaiveDate> = checks.iter().filter(|(_, failed)| *failed).map(|(d, _)| *d).collect();
        let recent: BTreeSet<i32> =
            failures.iter().map(Datelike::year).filter(|y| (today.year() - 2..=today.year()).contains(y)).collect();
        let since = failures.iter().max().or_else(|| checks.iter().map(|(d, _)| d).min());
        RiskFactors {
            past_failures: u32::try_from(failures.len()).unwrap_or(u32::MAX),
            clearly_low_price: false,
            key_list: recent.len() >= 2,
            years_clean: since.map(|d| u32::try_from(today.year() - d.year()).unwrap_or(0)),
        }
    }
}

/// Whether the listing's price is clearly below its class's baseline (keyed as
/// the rule engine keys it: catalogue class, else the platform's category path).
fn clearly_low(listing: &Listing, baselines: &Baselines) -> bool {
    let class = listing.catalogue_class.as_deref().or(listing.category.as_deref());
    let baseline = class.and_then(|c| baselines.by_class.get(c));
    match (listing.price, baseline) {
        (Some(price), Some(b)) => b.sample >= MIN_BASELINE_SAMPLE && price < b.median * CLEARLY_LOW_RATIO,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Baseline, SpotCheck};

    fn check(date: &str, result: &str) -> SpotCheck {
        SpotCheck {
            uscc: "91330100716105852F".into(),
            company: String::new(),
            date: date.into(),
            product: String::new(),
            result: result.into(),
        }
    }

    #[test]
    fn risk_is_read_from_history_and_baselines() {
        let history = CheckHistory::new([
            check("2023-05-02", "不合格"),
            check("2024-06-11", "不合格"),
            check("2025-04-01", "合格"),
            check("2099-01-01", "不合格"),
        ]);
        let mut baselines = Baselines::default();
        let median = Decimal::from(100);
        baselines.by_class.insert("0914".into(), Baseline { median, mad: Decimal::ONE, sample: 30 });
        let today = NaiveDate::from_ymd_opt(2025, 11, 20).unwrap();
        let tables = RiskTables { history: &history, baselines: &baselines, today };
        let shop = Shop {
            platform: "mall".into(),
            shop_id: "7".into(),
            uscc: Some("91330100716105852F".into()),
            ..Shop::default()
        };
        let listing = Listing {
            platform: "mall".into(),
            item_id: "42".into(),
            catalogue_class: Some("0914".into()),
            price: Some(Decimal::from(39)),
            ..Listing::default()
        };
        let c = Candidate::of_listing(&listing, Some(&shop), &tables);
        assert_eq!((c.key.as_str(), c.class.as_str(), c.shop.as_str()), ("mall/42", "0914", "91330100716105852F"));
        let want = RiskFactors { past_failures: 2, clearly_low_price: true, key_list: true, years_clean: Some(1) };
        assert_eq!(c.risk, want, "the future check is ignored");

        let old = CheckHistory::new([check("2019-06-11", "不合格"), check("2021-04-01", "合格")]);
        let tables = RiskTables { history: &old, ..tables };
        let listing = Listing { catalogue_class: None, price: Some(Decimal::from(39)), ..listing };
        let c = Candidate::of_listing(&listing, Some(&shop), &tables);
        assert_eq!(c.class, UNCLASSIFIED);
        let want = RiskFactors { past_failures: 1, clearly_low_price: false, key_list: false, years_clean: Some(6) };
        assert_eq!(c.risk, want);

        let c = Candidate::of_listing(&listing, None, &tables);
        assert_eq!((c.shop.as_str(), c.risk), ("mall/?", RiskFactors::default()));
    }
}
