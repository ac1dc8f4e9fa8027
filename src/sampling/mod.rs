//! "双随机" sampling: which listings (or shops) a spot check looks at, drawn at
//! random with a recorded seed, stratified, optionally weighted by risk, and
//! reproducible by anyone who holds the seed and the candidate list.
//!
//! # Method
//!
//! 1. **Candidates** ([`Candidate`]): a unique key (`platform/item_id` or
//!    `platform/shop_id`), a stratum (catalogue class × platform) and
//!    [`RiskFactors`]. [`Candidate::of_listing`] builds one from a listing, its
//!    shop and the reference tables (spot-check history, price baselines);
//!    [`gather`] does it for a whole crawl.
//! 2. **Weights** ([`Weighting`]): all 1, or risk weights from the constants in
//!    [`weights`] — policy, not law, kept in that one place.
//! 3. **Allocation** ([`Allocation`]): the sample size shared among the strata
//!    in proportion to their populations by the largest-remainder method (every
//!    non-empty stratum gets at least one when the size allows), or explicit
//!    per-stratum quotas. Integer arithmetic only.
//! 4. **Draw** ([`draw`]): in each stratum, weighted sampling without
//!    replacement by Efraimidis and Spirakis, "Weighted random sampling with a
//!    reservoir", *Information Processing Letters* 97(5), 2006: each candidate
//!    gets the key `u^(1/w)` and the largest keys are drawn; we use the
//!    equivalent `−ln(u)/w` and draw the smallest (ties by candidate key). `u`
//!    is not taken from a random stream but from a keyed hash of the seed and
//!    the candidate's key ([`Seed::uniform`]: SHA-256, domain-separated by
//!    [`METHOD`]), so each candidate's chance depends on nothing but the seed,
//!    its key and its weight. This is successive sampling: each next item is
//!    the one drawn with probability proportional to weight among those left,
//!    so for more than one item the inclusion probabilities rise with the
//!    weight but are not exactly proportional to it.
//!
//! # Why
//!
//! - **Reproducible and order-independent**: the same seed and the same set of
//!   candidates give the same draw, byte for byte, whatever order the candidates
//!   were gathered in (a crawl's order is not stable) — no RNG state is threaded
//!   through a loop over the input.
//! - **Auditable**: the [`Draw`] records the plan and seed, the method tag, the
//!   SHA-256 of the sorted candidates with their weights
//!   ([`candidates_digest`]), and per stratum the population, the allocation and
//!   every drawn item's weight and rank key. [`Draw::verify`] redoes the draw
//!   from the candidates and lists every difference; an auditor without this
//!   code can redo it from the formulas documented here.
//! - **Pure**: no I/O, clock or global RNG inside the draw; exporting is
//!   separate ([`Draw::to_csv`], [`Draw::to_json`]).
//!
//! A size larger than the number of candidates is an error, not a silent
//! census: the plan said "draw n", and drawing fewer would make the record lie.
//! A caller that accepts a census asks for every candidate and says so in its
//! own record (a plan run does: `crate::plans::RunSummary::census`).
//! Weights are finite and positive by construction (they come from
//! [`RiskFactors`] through [`Weighting::weight`], never from input).

mod allocate;
mod candidate;
mod draw;
mod export;
mod files;
mod gather;
mod seed;
mod verify;
pub mod weights;

pub use allocate::{proportional, Allocation, Quota, Stratum};
pub use candidate::{Candidate, RiskFactors, RiskTables, CLEARLY_LOW_RATIO, MIN_BASELINE_SAMPLE, UNCLASSIFIED};
pub use draw::{candidates_digest, draw, Draw, DrawnItem, SamplePlan, StratumDraw};
pub use files::{
    read_candidates, read_draw_files, verify_draw_files, write_draw_files, CANDIDATES, DRAW_CSV, DRAW_JSON,
};
pub use gather::gather;
pub use seed::{Seed, METHOD};
pub use verify::Difference;
pub use weights::Weighting;

/// What can go wrong planning, drawing, exporting or verifying a sample.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    #[error("sample size is 0: draw at least one")]
    EmptySample,
    #[error("sample size {size} exceeds the {population} candidates")]
    SizeExceedsPopulation { size: usize, population: usize },
    #[error("candidate `{key}` appears more than once")]
    DuplicateCandidate { key: String },
    #[error("a candidate on `{platform}` has an empty key")]
    EmptyKey { platform: String },
    #[error("quota {quota} for stratum {stratum} exceeds its {population} candidates")]
    QuotaExceedsPopulation { stratum: Stratum, quota: usize, population: usize },
    #[error("stratum {stratum} has more than one quota")]
    DuplicateQuota { stratum: Stratum },
    #[error("quotas sum to {sum}, the sample size is {size}")]
    QuotasDoNotSumToSize { sum: usize, size: usize },
    #[error("seed `{0}` is neither 64 hex digits nor a decimal number")]
    BadSeed(String),
    #[error("the draw does not verify: {}", list(.0))]
    DoesNotVerify(Vec<Difference>),
    #[error("cannot write the draw as csv")]
    Csv(#[from] csv::Error),
    #[error("the csv export is not utf-8")]
    NotUtf8,
    #[error("cannot read or write the draw as json")]
    Json(#[from] serde_json::Error),
    #[error("cannot read or write `{}`", .path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("`{}` line {line}: not a candidate: {detail}", .path.display())]
    BadCandidate { path: std::path::PathBuf, line: usize, detail: String },
}

fn list(diffs: &[Difference]) -> String {
    diffs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
