//! Candidates from stored (or generated) listings and shops, with the
//! reference tables the risk factors are read from.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;

use super::candidate::{Candidate, RiskTables};
use crate::model::{Listing, Shop};
use crate::rules::{CheckHistory, RuleSet};

/// One candidate per listing, in listing order: a listing without a catalogue
/// class is classified by `rules`' catalogue; its shop is found by platform and
/// shop id; price baselines are those of `listings` themselves (as `spotcheck
/// flag` builds them); risk comes from `history` as of `today`.
pub fn gather(
    listings: &[Listing],
    shops: &[Shop],
    rules: &RuleSet,
    history: &CheckHistory,
    today: NaiveDate,
) -> Vec<Candidate> {
    let catalogue = &rules.reference.catalogue;
    let classified: Vec<Cow<'_, Listing>> = listings
        .iter()
        .map(|l| match (&l.catalogue_class, catalogue.classify(l).and_then(|i| catalogue.classes.get(i))) {
            (None, Some(class)) => Cow::Owned(Listing { catalogue_class: Some(class.id.clone()), ..l.clone() }),
            _ => Cow::Borrowed(l),
        })
        .collect();
    let by_id: HashMap<(&str, &str), &Shop> =
        shops.iter().map(|s| ((s.platform.as_str(), s.shop_id.as_str()), s)).collect();
    let baselines = rules.baselines(classified.iter().map(|l| l.as_ref()));
    let tables = RiskTables { history, baselines: &baselines, today };
    classified
        .iter()
        .map(|l| {
            let shop = l.shop.as_ref().and_then(|r| by_id.get(&(l.platform.as_str(), r.shop_id.as_str())).copied());
            Candidate::of_listing(l, shop, &tables)
        })
        .collect()
}
