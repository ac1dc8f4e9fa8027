//! The draw: stratify, allocate, then weighted sampling without replacement
//! in each stratum by Efraimidis–Spirakis exponential keys.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::allocate::{Allocation, Stratum};
use super::candidate::Candidate;
use super::seed::{Seed, METHOD};
use super::weights::Weighting;
use super::SamplingError;

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplePlan {
    /// How many to draw in all (1 ..= the number of candidates).
    pub size: usize,
    pub seed: Seed,
    /// Strata are always catalogue class × platform; this shares the size among them.
    #[serde(default)]
    pub allocation: Allocation,
    #[serde(default)]
    pub weighting: Weighting,
}

/// A recorded draw: everything an auditor needs to redo it from the candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    pub plan: SamplePlan,
    /// How the draw was made ([`METHOD`]).
    pub method: String,
    /// The number of candidates.
    pub population: usize,
    /// See [`candidates_digest`].
    pub candidates_digest: String,
    /// Every non-empty stratum, in (class, platform) order.
    pub strata: Vec<StratumDraw>,
    /// The number drawn (= `plan.size`).
    pub total: usize,
}

/// One stratum's part of a draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StratumDraw {
    pub class: String,
    pub platform: String,
    pub population: usize,
    pub allocated: usize,
    /// In draw order: smallest rank key first.
    pub drawn: Vec<DrawnItem>,
}

/// One drawn candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawnItem {
    pub key: String,
    pub shop: String,
    pub weight: f64,
    /// `−ln(u) / weight`, `u` from [`Seed::uniform`]; the smallest are drawn.
    pub rank_key: f64,
}

impl Draw {
    /// The seed as recorded (64 hex digits).
    pub fn seed_hex(&self) -> String {
        self.plan.seed.to_hex()
    }

    /// Every drawn item with its stratum, in stratum then draw order.
    pub fn items(&self) -> impl Iterator<Item = (&StratumDraw, &DrawnItem)> {
        self.strata.iter().flat_map(|s| s.drawn.iter().map(move |item| (s, item)))
    }
}

/// Draws `plan` from `candidates`. The result depends only on the plan and the
/// set of candidates, never on their order; no I/O, no clock, no global RNG.
pub fn draw(plan: &SamplePlan, candidates: &[Candidate]) -> Result<Draw, SamplingError> {
    if plan.size == 0 {
        return Err(SamplingError::EmptySample);
    }
    if plan.size > candidates.len() {
        return Err(SamplingError::SizeExceedsPopulation { size: plan.size, population: candidates.len() });
    }
    let weighted = weigh(plan.weighting, candidates)?;
    let mut by_stratum: BTreeMap<Stratum, Vec<&Weighed<'_>>> = BTreeMap::new();
    for w in &weighted {
        let stratum = Stratum { class: w.candidate.class.clone(), platform: w.candidate.platform.clone() };
        by_stratum.entry(stratum).or_default().push(w);
    }
    let populations = by_stratum.iter().map(|(s, v)| (s.clone(), v.len())).collect();
    let allocation = plan.allocation.allocate(plan.size, &populations)?;
    let strata = by_stratum
        .into_iter()
        .map(|(stratum, members)| {
            let allocated = allocation.get(&stratum).copied().unwrap_or(0);
            let population = members.len();
            let mut ranked: Vec<DrawnItem> = members
                .into_iter()
                .map(|w| DrawnItem {
                    key: w.candidate.key.clone(),
                    shop: w.candidate.shop.clone(),
                    weight: w.weight,
                    rank_key: -plan.seed.uniform(&w.candidate.key).ln() / w.weight,
                })
                .collect();
            ranked.sort_by(|a, b| a.rank_key.total_cmp(&b.rank_key).then_with(|| a.key.cmp(&b.key)));
            ranked.truncate(allocated);
            StratumDraw { class: stratum.class, platform: stratum.platform, population, allocated, drawn: ranked }
        })
        .collect();
    Ok(Draw {
        plan: plan.clone(),
        method: METHOD.to_string(),
        population: candidates.len(),
        candidates_digest: digest(&weighted),
        strata,
        total: plan.size,
    })
}

/// A candidate with its weight.
pub(crate) struct Weighed<'a> {
    pub candidate: &'a Candidate,
    pub weight: f64,
}

/// The candidates sorted by key with their weights; rejects empty and duplicate keys.
fn weigh(weighting: Weighting, candidates: &[Candidate]) -> Result<Vec<Weighed<'_>>, SamplingError> {
    let mut out: Vec<Weighed<'_>> =
        candidates.iter().map(|c| Weighed { candidate: c, weight: weighting.weight(&c.risk) }).collect();
    out.sort_by(|a, b| a.candidate.key.cmp(&b.candidate.key));
    let mut seen = BTreeSet::new();
    for w in &out {
        if w.candidate.key.trim().is_empty() {
            return Err(SamplingError::EmptyKey { platform: w.candidate.platform.clone() });
        }
        if !seen.insert(w.candidate.key.as_str()) {
            return Err(SamplingError::DuplicateCandidate { key: w.candidate.key.clone() });
        }
    }
    Ok(out)
}

/// SHA-256 (hex) over the candidates sorted by key, one JSON array per line:
/// `["<key>","<platform>","<class>",<weight>]\n` (serde_json's formatting, e.g.
/// `1.0`, `0.5`). Anyone with the candidate list and the weights can recompute it.
fn digest(weighted: &[Weighed<'_>]) -> String {
    let mut hash = Sha256::new();
    for w in weighted {
        let c = w.candidate;
        let line = serde_json::json!([c.key, c.platform, c.class, w.weight]);
        hash.update(line.to_string().as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

/// The digest of `candidates` under `weighting`, as [`Draw::candidates_digest`] records it.
pub fn candidates_digest(weighting: Weighting, candidates: &[Candidate]) -> Result<String, SamplingError> {
    Ok(digest(&weigh(weighting, candidates)?))
}
