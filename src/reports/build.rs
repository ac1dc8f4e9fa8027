//! Counting a scope's listings and confirmed findings into a [`SpotCheckReport`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{
    percent, Breakdown, FailedRule, FailingListing, Review, ScopeInfo, SpotCheckReport, RISK_SIGNALS, UNCLASSIFIED,
};
use crate::findings::{FindingStore, Status};
use crate::model::{Listing, Shop};
use crate::rules::reference::Catalogue;
use crate::store::{Store, StoreError};

/// Which listings a report covers.
///
/// The store does not record which job stored which listing, only when each
/// listing version was captured; so a job's listings are those with a
/// version captured while the job ran (from its `created_at` to its
/// `finished_at`, or now if unfinished), reported as the newest such version.
/// A listing a job re-crawled unchanged keeps its earlier version (no new
/// one is stored) and so belongs to the earlier run. Jobs running at the
/// same time share their listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every listing stored.
    All,
    /// The listings captured during one job run.
    Job(String),
    /// The listings captured during any job run of a sampling plan (`plan_id`).
    Plan(String),
    /// The listings drawn in one plan run (its `RunSummary::drawn_keys`), each
    /// as it was when the run ended: only they count as sampled.
    Run(u64),
    /// The listings drawn in the succeeded runs of the plans tagged with this
    /// campaign (e.g. `双11`), each as of the end of the latest run that drew it.
    Campaign(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no job of plan `{0}` is stored")]
    NoJobsForPlan(String),
    #[error("no plan run {0} is recorded")]
    NoSuchRun(u64),
    #[error("no succeeded plan run of campaign `{0}` is recorded")]
    NoRunsForCampaign(String),
    #[error("cannot read the plan runs for the report")]
    Runs(#[from] crate::plans::SummaryError),
    #[error("cannot read the store for the report")]
    Store(#[from] StoreError),
    #[error("cannot write the report as {format}: {detail}")]
    Render { format: &'static str, detail: String },
}

type Window = (DateTime<Utc>, DateTime<Utc>);

/// Which listings, and which version of each, a scope takes.
enum Selection {
    /// The newest version of every listing.
    Latest,
    /// The newest version captured inside the windows.
    Windows(Vec<Window>),
    /// These listing keys, each as of `until` (the newest version captured by then).
    Drawn { keys: BTreeMap<String, DateTime<Utc>> },
}

/// Builds the report of `scope` from the listings and findings stored now.
///
/// Findings count by listing key (`platform/item_id`), whichever capture of
/// the listing they were drawn from. A stored listing without a catalogue
/// class is classified by `catalogue` (as `spotcheck flag` does); classes are
/// shown by their catalogue name (keyed by id).
pub fn build(
    store: &Store,
    findings: &FindingStore,
    scope: &Scope,
    catalogue: &Catalogue,
) -> Result<SpotCheckReport, ReportError> {
    let now = Utc::now();
    let (info, selection) = resolve(store, scope, now)?;
    let mut listings: BTreeMap<String, Listing> = BTreeMap::new();
    for latest in store.latest_listings() {
        let latest = latest?;
        let chosen = match &selection {
            Selection::Latest => Some(latest),
            Selection::Windows(ws) if in_windows(&latest, ws) => Some(latest),
            Selection::Windows(ws) => {
                version_in_windows(store.listing_versions(&latest.platform, &latest.item_id)?, ws)
            }
            Selection::Drawn { keys } => match keys.get(&latest.key()) {
                None => None,
                Some(until) if latest.captured_at.is_none_or(|at| at <= *until) => Some(latest),
                Some(until) => store
                    .listing_versions(&latest.platform, &latest.item_id)?
                    .into_iter()
                    .filter(|v| v.captured_at.is_some_and(|at| at <= *until))
                    .max_by_key(|v| v.captured_at),
            },
        };
        if let Some(mut listing) = chosen {
            if listing.catalogue_class.is_none() {
                listing.catalogue_class =
                    catalogue.classify(&listing).and_then(|i| catalogue.classes.get(i)).map(|c| c.id.clone());
            }
            listings.insert(listing.key(), listing);
        }
    }
    let class_names: BTreeMap<&str, &str> =
        catalogue.classes.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
    let shops: BTreeMap<String, Shop> =
        store.latest_shops().map(|s| s.map(|s| (s.key(), s))).collect::<Result<_, StoreError>>()?;

    let mut review = Review::default();
    let mut confirmed: BTreeMap<String, Vec<(FailedRule, String)>> = BTreeMap::new();
    let mut open_listings = BTreeSet::new();
    let mut rule_titles: BTreeMap<String, String> = BTreeMap::new();
    for record in findings.all() {
        let record = record?;
        if !listings.contains_key(&record.listing) {
            continue;
        }
        rule_titles.entry(record.rule.clone()).or_insert_with(|| record.title.clone());
        match findings.triage(&record.id)?.status {
            Status::Open => {
                review.open_findings += 1;
                open_listings.insert(record.listing.clone());
            }
            Status::Dismissed => review.dismissed_findings += 1,
            Status::Confirmed if RISK_SIGNALS.contains(&record.rule.as_str()) => {
                review.confirmed_findings += 1;
                review.confirmed_risk_signals += 1;
            }
            Status::Confirmed => {
                review.confirmed_findings += 1;
                let rule = FailedRule { rule: record.rule.clone(), title: record.title.clone() };
                confirmed.entry(record.listing.clone()).or_default().push((rule, record.id.clone()));
            }
        }
    }
    review.unreviewed_listings = open_listings.iter().filter(|k| !confirmed.contains_key(*k)).count() as u64;

    let mut failing_listings: Vec<FailingListing> = confirmed
        .iter()
        .filter_map(|(key, hits)| listings.get(key).map(|l| failing_listing(l, hits, &shops)))
        .collect();
    failing_listings.sort_by(|a, b| (&a.platform, &a.item_id).cmp(&(&b.platform, &b.item_id)));
    let sampled = listings.len() as u64;
    let failing = failing_listings.len() as u64;
    Ok(SpotCheckReport {
        scope: info,
        generated_at: now,
        sampled,
        failing,
        failure_rate: percent(failing, sampled),
        review,
        by_class: group(&listings, &confirmed, class_of)
            .into_iter()
            .map(|mut b| {
                if let Some(name) = class_names.get(b.key.as_str()) {
                    b.label = (*name).to_string();
                }
                b
            })
            .collect(),
        by_platform: group(&listings, &confirmed, |l| l.platform.clone()),
        by_rule: by_rule(&failing_listings, &rule_titles, sampled),
        failing_listings,
    })
}

fn resolve(store: &Store, scope: &Scope, now: DateTime<Utc>) -> Result<(ScopeInfo, Selection), ReportError> {
    let window = |job: &crate::store::JobRecord| (job.created_at, job.finished_at.unwrap_or(now));
    let info = |kind: &str, id: Option<String>, from, to| ScopeInfo { kind: kind.into(), id, from, to };
    match scope {
        Scope::All => Ok((info("all", None, None, None), Selection::Latest)),
        Scope::Job(id) => {
            let (from, to) = window(&store.job(id)?);
            Ok((info("job", Some(id.clone()), Some(from), Some(to)), Selection::Windows(vec![(from, to)])))
        }
        Scope::Plan(plan) => {
            let windows: Vec<Window> =
                store.jobs()?.iter().filter(|j| j.spec.plan_id.as_deref() == Some(plan.as_str())).map(window).collect();
            let from = windows.iter().map(|w| w.0).min().ok_or_else(|| ReportError::NoJobsForPlan(plan.clone()))?;
            let to = windows.iter().map(|w| w.1).max();
            Ok((info("plan", Some(plan.clone()), Some(from), to), Selection::Windows(windows)))
        }
        Scope::Run(run_id) => {
            let runs = crate::plans::RunSummaries::open(store.db())?;
            let run = runs.get(*run_id)?.ok_or(ReportError::NoSuchRun(*run_id))?;
            let (from, to, keys) = drawn(&[run], now);
            Ok((info("run", Some(run_id.to_string()), from, to), Selection::Drawn { keys }))
        }
        Scope::Campaign(tag) => {
            let runs = crate::plans::RunSummaries::open(store.db())?;
            let runs: Vec<_> = runs.of_campaign(tag)?.into_iter().filter(|r| r.succeeded()).collect();
            if runs.is_empty() {
                return Err(ReportError::NoRunsForCampaign(tag.clone()));
            }
            let (from, to, keys) = drawn(&runs, now);
            Ok((info("campaign", Some(tag.clone()), from, to), Selection::Drawn { keys }))
        }
    }
}

/// The runs' time span and their drawn keys, each as of the end of the latest run that drew it.
type Drawn = (Option<DateTime<Utc>>, Option<DateTime<Utc>>, BTreeMap<String, DateTime<Utc>>);

fn drawn(runs: &[crate::plans::RunSummary], now: DateTime<Utc>) -> Drawn {
    let mut keys: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for run in runs {
        let until = run.finished_at.unwrap_or(now);
        for key in &run.drawn_keys {
            let at = keys.entry(key.clone()).or_insert(until);
            *at = (*at).max(until);
        }
    }
    let from = runs.iter().map(|r| r.started_at).min();
    let to = runs.iter().map(|r| r.finished_at.unwrap_or(now)).max();
    (from, to, keys)
}

fn in_windows(listing: &Listing, windows: &[Window]) -> bool {
    listing.captured_at.is_some_and(|at| windows.iter().any(|(from, to)| *from <= at && at <= *to))
}

/// The newest of a listing's `versions` captured inside `windows`: what a
/// job saw, even when a later run stored a newer version.
fn version_in_windows(versions: Vec<Listing>, windows: &[Window]) -> Option<Listing> {
    versions.into_iter().filter(|v| in_windows(v, windows)).max_by_key(|v| v.captured_at)
}

fn class_of(listing: &Listing) -> String {
    listing.catalogue_class.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| UNCLASSIFIED.to_string())
}

fn failing_listing(listing: &Listing, hits: &[(FailedRule, String)], shops: &BTreeMap<String, Shop>) -> FailingListing {
    let shop = listing.shop.as_ref().and_then(|s| shops.get(&format!("{}/{}", listing.platform, s.shop_id)));
    let rules: BTreeMap<&str, &str> = hits.iter().map(|(r, _)| (r.rule.as_str(), r.title.as_str())).collect();
    let mut finding_ids: Vec<String> = hits.iter().map(|(_, id)| id.clone()).collect();
    finding_ids.sort();
    FailingListing {
        platform: listing.platform.clone(),
        item_id: listing.item_id.clone(),
        url: listing.url.clone(),
        title: listing.title.clone(),
        brand: listing.brand.clone(),
        model: listing.model.clone(),
        catalogue_class: class_of(listing),
        shop_id: listing.shop.as_ref().map(|s| s.shop_id.clone()),
        shop_name: shop.and_then(|s| s.name.clone()).or_else(|| listing.shop.as_ref().and_then(|s| s.name.clone())),
        uscc: shop.and_then(|s| s.uscc.clone()),
        region_code: shop.and_then(|s| s.region_code.clone().or_else(|| s.uscc.as_deref().and_then(uscc_region))),
        rules: rules.into_iter().map(|(rule, title)| FailedRule { rule: rule.into(), title: title.into() }).collect(),
        finding_ids,
        capture_id: listing.capture_id.clone(),
    }
}

/// Sampled and failing listings per group key.
fn group<T>(
    listings: &BTreeMap<String, Listing>,
    confirmed: &BTreeMap<String, T>,
    key_of: impl Fn(&Listing) -> String,
) -> Vec<Breakdown> {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (key, listing) in listings {
        let row = counts.entry(key_of(listing)).or_default();
        row.0 += 1;
        if confirmed.contains_key(key) {
            row.1 += 1;
        }
    }
    counts
        .into_iter()
        .map(|(key, (sampled, failing))| Breakdown {
            label: key.clone(),
            key,
            sampled,
            failing,
            rate: percent(failing, sampled),
        })
        .collect()
}

/// Failing listings per rule (a listing breaking two rules counts under both).
fn by_rule(failing: &[FailingListing], titles: &BTreeMap<String, String>, sampled: u64) -> Vec<Breakdown> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for listing in failing {
        for rule in &listing.rules {
            *counts.entry(rule.rule.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(rule, n)| Breakdown {
            key: rule.to_string(),
            label: titles.get(rule).cloned().unwrap_or_else(|| rule.to_string()),
            sampled,
            failing: n,
            rate: percent(n, sampled),
        })
        .collect()
}

/// The administrative division code (GB/T 2260) inside an 18-character USCC:
/// its 3rd to 8th characters, when they are digits.
pub fn uscc_region(uscc: &str) -> Option<String> {
    let chars: Vec<char> = uscc.trim().chars().collect();
    let code: String = chars.get(2..8)?.iter().collect();
    (chars.len() == 18 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_sees_the_version_captured_during_its_run() {
        let at = |h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 1, h, 0, 0).single();
        let version =
            |h: u32, title: &str| Listing { captured_at: at(h), title: Some(title.into()), ..Listing::default() };
        let versions = vec![version(1, "v1"), version(3, "v3"), version(5, "v5")];
        let window = |a: u32, b: u32| (at(a).unwrap_or_default(), at(b).unwrap_or_default());
        let seen = |ws: &[Window]| version_in_windows(versions.clone(), ws).and_then(|l| l.title);
        assert_eq!(seen(&[window(2, 4)]).as_deref(), Some("v3"));
        assert_eq!(seen(&[window(0, 4)]).as_deref(), Some("v3"), "the newest inside the run");
        assert_eq!(seen(&[window(0, 2), window(4, 6)]).as_deref(), Some("v5"));
        assert_eq!(seen(&[window(6, 7)]), None);
        let undated = Listing { captured_at: None, ..Listing::default() };
        assert_eq!(version_in_windows(vec![undated], &[window(0, 9)]), None);
    }

    #[test]
    fn region_comes_from_a_well_formed_uscc_only() {
        assert_eq!(uscc_region("91510107017122610L").as_deref(), Some("510107"));
        assert_eq!(uscc_region("9151010701712261"), None);
        assert_eq!(uscc_region("91AB0107017122610L"), None);
        assert_eq!(uscc_region("统一社会信用代码统一社会信用代码统一社"), None);
        assert_eq!(uscc_region(""), None);
    }
}
