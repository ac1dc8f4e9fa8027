//! The stages of a plan run as plain functions over the store, without the
//! lease, the summary or the async runtime (those are [`super::runner`]'s):
//! gathering is [`job_specs`] (which crawl jobs the plan makes) and, after the
//! crawl, [`population`] (which listings those jobs captured) and
//! [`candidates`]; drawing is [`draw_sample`] (the recorded draw and its
//! files); flagging is [`flag_drawn`] (the rules over the drawn listings).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;

use super::compile::Plan;
use super::runner::RunnerError;
use crate::adapters::{generic, Adapter, AdapterSet};
use crate::findings::{FindingStore, Recorded};
use crate::model::{Listing, Shop};
use crate::rules::reference::Catalogue;
use crate::rules::{CheckHistory, RuleSet, Tables};
use crate::sampling::{self, Candidate, Draw, Seed};
use crate::store::{JobRecord, JobSpec, Store};

/// One crawl job per platform of the plan: the plan's seed URLs that the
/// platform's adapter reads (its hosts and URL patterns; the `generic`
/// adapter takes the seeds no other platform of the plan claims), and the
/// plan's keywords through the platform's search URL template when one is
/// configured (`search_urls`: adapter name → URL with `{keyword}`).
pub fn job_specs(
    plan: &Plan,
    adapters: &AdapterSet,
    search_urls: &BTreeMap<String, String>,
    max_pages: Option<u64>,
) -> Result<Vec<(Arc<Adapter>, JobSpec)>, RunnerError> {
    let mut chosen = Vec::new();
    for name in &plan.platforms {
        let adapter = adapters
            .get(name)
            .ok_or_else(|| RunnerError::UnknownPlatform { plan: plan.id.clone(), platform: name.clone() })?;
        chosen.push(adapter);
    }
    let claims = |a: &Adapter, url: &url::Url| a.name != generic::NAME && a.page_kind(url).is_some();
    let mut specs = Vec::new();
    for adapter in chosen.iter() {
        let seeds: Vec<String> = plan
            .seed_urls
            .iter()
            .filter(|u| match adapter.name.as_str() {
                generic::NAME => !chosen.iter().any(|other| claims(other, u)),
                _ => claims(adapter, u),
            })
            .map(|u| u.to_string())
            .collect();
        let search_url = search_urls.get(&adapter.name).filter(|_| !plan.keywords.is_empty()).cloned();
        if seeds.is_empty() && search_url.is_none() {
            return Err(RunnerError::NoStart { plan: plan.id.clone(), platform: adapter.name.clone() });
        }
        let spec = JobSpec {
            adapter: adapter.name.clone(),
            seeds,
            keywords: if search_url.is_some() { plan.keywords.clone() } else { Vec::new() },
            search_url,
            max_pages,
            plan_id: Some(plan.id.clone()),
            ..JobSpec::default()
        };
        specs.push((Arc::clone(adapter), spec));
    }
    Ok(specs)
}

/// The listings the finished `jobs` captured, latest version each: a listing
/// of the job's platform whose page the job fetched, or with a version
/// captured while the job ran (items read off list or live pages). A listing
/// re-crawled unchanged stores no new version, so the fetched pages are what
/// make a repeated run see the whole site again.
pub fn population(store: &Store, jobs: &[(String, JobRecord)]) -> Result<Vec<Listing>, RunnerError> {
    let frontiers = jobs
        .iter()
        .map(|(platform, job)| Ok((platform, job, store.frontier(&job.id)?)))
        .collect::<Result<Vec<_>, RunnerError>>()?;
    let mut out = Vec::new();
    for listing in store.latest_listings() {
        let listing = listing?;
        for (platform, job, frontier) in &frontiers {
            if listing.platform != **platform {
                continue;
            }
            let to = job.finished_at.unwrap_or(job.updated_at);
            let in_window = listing.captured_at.is_some_and(|at| job.created_at <= at && at <= to);
            if in_window || frontier.fetched(&listing.url)? {
                out.push(listing);
                break;
            }
        }
    }
    Ok(out)
}

/// The candidates of `listings` (see [`sampling::gather`]), kept to the
/// plan's classes when it names any ([`in_classes`]).
pub fn candidates(
    plan: &Plan,
    listings: &[Listing],
    shops: &[Shop],
    rules: &RuleSet,
    history: &CheckHistory,
    today: NaiveDate,
) -> Vec<Candidate> {
    let mut all = sampling::gather(listings, shops, rules, history, today);
    if !plan.classes.is_empty() {
        all.retain(|c| in_classes(&plan.classes, &c.class, &rules.reference.catalogue));
    }
    all
}

/// Whether a candidate's catalogue class (an id such as `0914`, or
/// `unclassified`) is one the plan names: by id, by catalogue name, or by an
/// entry that starts with the id (`"0901 电玩具"`).
pub fn in_classes(classes: &[String], class: &str, catalogue: &Catalogue) -> bool {
    let name = catalogue.classes.iter().find(|c| c.id == class).map(|c| c.name.as_str());
    classes
        .iter()
        .map(|e| e.trim())
        .any(|entry| entry == class || Some(entry) == name || entry.split_whitespace().next() == Some(class))
}

/// A drawn sample: the draw, and whether it was a census (every candidate drawn).
pub struct Drawn {
    pub draw: Draw,
    pub census: bool,
}

/// Draws the plan's sample from `candidates` under `seed` and writes
/// `draw.json`, `draw.csv` and `candidates.jsonl` into `dir`. A sample size
/// of at least the number of candidates draws them all (a census, so marked).
pub fn draw_sample(plan: &Plan, candidates: &[Candidate], seed: Seed, dir: &Path) -> Result<Drawn, RunnerError> {
    if candidates.is_empty() {
        return Err(RunnerError::NothingToDraw { plan: plan.id.clone() });
    }
    let census = plan.sample_size >= candidates.len();
    let mut sample = plan.sample_plan(seed);
    sample.size = plan.sample_size.min(candidates.len());
    let draw = sampling::draw(&sample, candidates)?;
    sampling::write_draw_files(dir, candidates, &draw)?;
    Ok(Drawn { draw, census })
}

/// Evaluates the rules over the drawn listings and records their findings.
/// Price baselines come from the whole `population`, not the sample.
pub fn flag_drawn(
    store: &Store,
    rules: &RuleSet,
    population: &[Listing],
    shops: &[Shop],
    drawn: &BTreeSet<String>,
    history: Option<CheckHistory>,
    today: NaiveDate,
) -> Result<Recorded, RunnerError> {
    let listings: Vec<Listing> = population.iter().filter(|l| drawn.contains(&l.key())).cloned().collect();
    let mut tables = Tables { baselines: rules.baselines(population), history, ..Tables::default() };
    let found = rules.evaluate_all(&listings, shops, &HashMap::new(), &mut tables, today);
    Ok(FindingStore::open(store)?.record(&found)?)
}
