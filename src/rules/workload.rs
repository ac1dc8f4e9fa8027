//! A rule-evaluation workload: the sample marketplace's listings with their
//! shops and the reference tables a bureau would import, ready to evaluate.
//! `spotcheck rules bench`, `spotcheck bench all` and the criterion
//! benchmark (`benches/pipeline.rs`) measure the same thing through it.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::market::{Market, MarketConfig};
use crate::model::{Listing, Shop};
use crate::rules::score;
use crate::rules::{EvalInput, RuleSet, RulesError, Tables};

pub struct Workload {
    pub set: RuleSet,
    pub listings: Vec<Listing>,
    shops: HashMap<(String, String), Shop>,
    tables: Tables,
    today: NaiveDate,
}

impl Workload {
    /// The built-in rule set over `listings` generated listings of the sample
    /// marketplace with `seed` (in memory; no crawl).
    pub fn sample_market(listings: u64, seed: u64) -> Result<Workload, RulesError> {
        let set = RuleSet::builtin()?;
        let market = Market::new(MarketConfig { seed, listings, count_hits: false });
        let base = url::Url::parse("http://127.0.0.1/").map_err(|e| RulesError::Data(e.to_string()))?;
        let listings: Vec<Listing> = market.truth(&base).map(|t| t.listing).collect();
        let shops = market.shops_truth(&base).map(|s| ((s.platform.clone(), s.shop_id.clone()), s)).collect();
        let tables = score::market_tables(&set, &market, &listings)?;
        let today = score::market_today(&set);
        Ok(Workload { set, listings, shops, tables, today })
    }

    /// One evaluation input per listing, with its shop and the price history
    /// its page shows (`Listing::price_history`).
    pub fn inputs(&self) -> Vec<EvalInput<'_>> {
        self.listings
            .iter()
            .map(|l| EvalInput {
                listing: l,
                shop: l.shop.as_ref().and_then(|r| self.shops.get(&(l.platform.clone(), r.shop_id.clone()))),
                checks: None,
                prices: &[],
                tables: &self.tables,
                today: self.today,
            })
            .collect()
    }
}
