//! The serde shape of a plan file (`plans/<id>.toml`). Everything is
//! `deny_unknown_fields`; values that validation may reject carry their span.

use serde::Deserialize;
use toml::Spanned;

/// A plan file as written, but for its `[sample]` and `[politeness]` tables
/// (deserialized on their own so a shape error in one part hides no other).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub id: Spanned<String>,
    /// Chinese title shown to staff.
    pub title: Spanned<String>,
    /// Product classes: CCC catalogue codes or names, or others beyond it.
    #[serde(default)]
    pub classes: Vec<Spanned<String>>,
    /// Adapter names.
    pub platforms: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    #[serde(default)]
    pub seed_urls: Vec<Spanned<String>>,
    /// Campaign tag, e.g. `双11`, `3·15`.
    #[serde(default)]
    pub campaign: Option<Spanned<String>>,
    /// A five-field cron expression on the Asia/Shanghai clock, or `manual`.
    pub schedule: Spanned<String>,
    /// What to do with runs missed while the scheduler was down.
    pub missed: Spanned<String>,
    /// Hosts this plan's crawls may reach although they are not public,
    /// `HOST` or `HOST:PORT` as with `--allow-host` (the plan's author is
    /// the operator; a page can never add one).
    #[serde(default)]
    pub allow_hosts: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSpec {
    pub size: Spanned<i64>,
    /// `off` or `risk` (see [`crate::sampling::Weighting`]).
    #[serde(default)]
    pub weighting: Option<Spanned<String>>,
}

/// Overrides of the adapter's politeness for this plan's jobs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolitenessSpec {
    /// Requests per second per host.
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    /// Requests in flight per host.
    #[serde(default)]
    pub concurrency: Option<Spanned<i64>>,
}
