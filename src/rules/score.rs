//! Precision and recall per rule of the whole pipeline against the sample
//! marketplace's ground truth ([`Market::truth`]).
//!
//! The caller crawls the marketplace and hands over what the store holds; this
//! module imports the marketplace's exported registry and history through the
//! same CSV importers a bureau would use, builds the price baselines from the
//! stored listings, evaluates every stored listing with its shop, and compares
//! the rule ids found with the ids the truth lists. Nothing is taken from the
//! truth but the expected rule ids: the 7-day price history a "was" price is
//! checked against is the one the adapters extracted from the item pages
//! ([`Listing::price_history`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use url::Url;

use crate::market::{Market, REFERENCE_DATE};
use crate::model::{Listing, Shop};

use super::{CheckHistory, EvalInput, Registry, RuleSet, RulesError, Tables};

/// One rule's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RuleScore {
    pub rule: String,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    pub listings_in_truth: u64,
    pub listings_evaluated: u64,
    pub findings: u64,
    pub registry_rows: usize,
    pub history_rows: usize,
    pub rules: Vec<RuleScore>,
    /// A few wrong calls per rule, `rule: listing (false positive|missed)`.
    pub examples: Vec<String>,
    /// Every finding, for the stages after scoring (sealing).
    #[serde(skip)]
    pub found: Vec<super::Finding>,
}

impl ScoreReport {
    /// The lowest precision or recall over all rules.
    pub fn worst(&self) -> f64 {
        self.rules.iter().flat_map(|r| [r.precision, r.recall]).fold(1.0, f64::min)
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

/// The marketplace's "today" ([`REFERENCE_DATE`]).
pub fn market_today(set: &RuleSet) -> NaiveDate {
    NaiveDate::parse_from_str(REFERENCE_DATE, "%Y-%m-%d").unwrap_or(set.reference_date)
}

/// The tables a bureau would import for `market`: its registry and history
/// exports read back through the CSV importers, and baselines over `listings`.
pub fn market_tables(set: &RuleSet, market: &Market, listings: &[Listing]) -> Result<Tables, RulesError> {
    let mut csv = Vec::new();
    market.write_registry(&mut csv).map_err(|e| RulesError::Data(format!("registry export: {e}")))?;
    let registry = Registry::from_csv(csv.as_slice())?;
    csv.clear();
    market.write_history(&mut csv).map_err(|e| RulesError::Data(format!("history export: {e}")))?;
    let history = CheckHistory::from_csv(csv.as_slice())?;
    Ok(Tables { registry: Some(registry), history: Some(history), baselines: set.baselines(listings) })
}

/// Scores `set` over the stored `listings` and `shops` of a crawl of `market` served at `base`.
pub fn score(
    set: &RuleSet,
    market: &Market,
    base: &Url,
    listings: &[Listing],
    shops: &[Shop],
) -> Result<ScoreReport, RulesError> {
    let tables = market_tables(set, market, listings)?;
    let registry_rows = tables.registry.as_ref().map_or(0, Registry::len);
    let history_rows = tables.history.as_ref().map_or(0, CheckHistory::len);
    let today = market_today(set);
    let by_key: HashMap<String, &Listing> = listings.iter().map(|l| (l.key(), l)).collect();
    let shop_by_key: HashMap<(&str, &str), &Shop> =
        shops.iter().map(|s| ((s.platform.as_str(), s.shop_id.as_str()), s)).collect();

    let mut counts: BTreeMap<String, [u64; 3]> = set.rules.iter().map(|r| (r.id.clone(), [0; 3])).collect();
    for id in crate::market::PLANTED_RULES {
        counts.entry((*id).to_string()).or_default();
    }
    let mut examples: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut total, mut evaluated, mut findings) = (0u64, 0u64, 0u64);
    let mut all_found = Vec::new();
    for truth in market.truth(base) {
        total += 1;
        let expected: BTreeSet<&str> = truth.violations.iter().map(String::as_str).collect();
        let found: Vec<super::Finding> = match by_key.get(&truth.listing.key()) {
            None => Vec::new(),
            Some(listing) => {
                evaluated += 1;
                let shop = listing
                    .shop
                    .as_ref()
                    .and_then(|r| shop_by_key.get(&(listing.platform.as_str(), r.shop_id.as_str())));
                let input =
                    EvalInput { listing, shop: shop.copied(), checks: None, prices: &[], tables: &tables, today };
                set.evaluate(&input)
            }
        };
        findings += found.len() as u64;
        let got: BTreeSet<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        all_found.extend(found.iter().cloned());
        for (rule, c) in counts.iter_mut() {
            let (e, g) = (expected.contains(rule.as_str()), got.contains(rule.as_str()));
            let slot = match (e, g) {
                (true, true) => 0,
                (false, true) => 1,
                (true, false) => 2,
                (false, false) => continue,
            };
            c[slot] += 1;
            if slot > 0 {
                let list = examples.entry(rule.clone()).or_default();
                if list.len() < 3 {
                    let what = if slot == 1 { "false positive" } else { "missed" };
                    list.push(format!(
                        "{rule}: {} {what} ({})",
                        truth.listing.key(),
                        truth.listing.title.clone().unwrap_or_default()
                    ));
                }
            }
        }
    }
    let rules = counts
        .into_iter()
        .map(|(rule, [tp, fp, fn_])| RuleScore {
            rule,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
        })
        .collect();
    Ok(ScoreReport {
        listings_in_truth: total,
        listings_evaluated: evaluated,
        findings,
        registry_rows,
        history_rows,
        rules,
        examples: examples.into_values().flatten().collect(),
        found: all_found,
    })
}
