//! One plan file → a validated [`Plan`], or every problem it has with file:line:col.

use std::path::{Path, PathBuf};

use toml::de::DeValue;
use toml::Spanned;
use url::Url;

use super::cron::Cron;
use super::schedule::Schedule;
use super::spec::{PlanSpec, PolitenessSpec, SampleSpec};
use crate::diagnostics::{Diagnostics, Problem};
use crate::sampling::{Allocation, SamplePlan, Seed, Weighting};

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub title: String,
    pub classes: Vec<String>,
    pub platforms: Vec<String>,
    pub keywords: Vec<String>,
    pub seed_urls: Vec<Url>,
    pub sample_size: usize,
    pub weighting: Weighting,
    pub campaign: Option<String>,
    pub schedule: Schedule,
    pub missed: MissedPolicy,
    pub politeness: PolitenessOverride,
    /// Hosts the plan's crawls may reach although not public (see [`crate::fetch::NetworkPolicy`]).
    pub allow_hosts: Vec<crate::fetch::HostAllow>,
    pub file: PathBuf,
}

impl Plan {
    /// The sample draw of one run: the plan's size and weighting, proportional
    /// allocation over class × platform, and the run's (recorded) seed.
    pub fn sample_plan(&self, seed: Seed) -> SamplePlan {
        SamplePlan { size: self.sample_size, seed, allocation: Allocation::default(), weighting: self.weighting }
    }
}

/// What happens to runs that fell due while the scheduler was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// One run now stands for all of them.
    RunOnce,
    /// They are recorded as skipped; the plan waits for its next time.
    Skip,
}

/// Per-host politeness the plan sets instead of the adapter's (`None`: keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolitenessOverride {
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
}

/// Parse and validate one plan file; `adapters` are the known adapter names.
pub fn compile(file: &Path, src: &str, adapters: &[&str]) -> Result<Plan, Vec<Problem>> {
    let mut d = Diagnostics::new(file, src);
    let Some(root) = d.parse() else {
        return Err(d.problems);
    };
    let span = root.span();
    let mut table = root.into_inner();
    let sample = table.remove("sample");
    let politeness = table.remove("politeness");
    let spec: Option<PlanSpec> = d.de(Spanned::new(span.clone(), DeValue::Table(table)));
    let sample = match sample {
        Some(value) => d.de::<SampleSpec>(value).map(|s| check_sample(&mut d, &s)),
        None => {
            d.at(span.start..span.start, "missing `[sample]` (`size`, and `weighting` = `off` or `risk`)");
            None
        }
    };
    let politeness = match politeness {
        Some(value) => d.de::<PolitenessSpec>(value).map(|p| check_politeness(&mut d, &p)),
        None => Some(PolitenessOverride::default()),
    };
    let plan = spec.map(|spec| check(&mut d, spec, adapters));
    match (plan, sample, politeness) {
        (Some(mut plan), Some((sample_size, weighting)), Some(politeness)) if d.problems.is_empty() => {
            plan.sample_size = sample_size;
            plan.weighting = weighting;
            plan.politeness = politeness;
            Ok(plan)
        }
        _ => Err(d.problems),
    }
}

/// Checks everything but `[sample]` and `[politeness]`, which the caller fills in.
fn check(d: &mut Diagnostics<'_>, s: PlanSpec, adapters: &[&str]) -> Plan {
    let id = s.id.get_ref();
    let good_id =
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !good_id {
        d.at(s.id.span(), format!("bad plan id `{id}`: use lowercase letters, digits, `-` and `_`"));
    }
    if s.title.get_ref().trim().is_empty() {
        d.at(s.title.span(), "`title` is empty");
    }
    for class in &s.classes {
        if class.get_ref().trim().is_empty() {
            d.at(class.span(), "empty product class");
        }
    }
    if s.platforms.get_ref().is_empty() {
        d.at(s.platforms.span(), "`platforms` is empty: name at least one adapter");
    }
    for p in s.platforms.get_ref() {
        if !adapters.contains(&p.get_ref().as_str()) {
            d.at(p.span(), format!("unknown platform `{}`: known adapters are {}", p.get_ref(), adapters.join(", ")));
        }
    }
    for k in &s.keywords {
        if k.get_ref().trim().is_empty() {
            d.at(k.span(), "empty keyword");
        }
    }
    let mut seed_urls = Vec::new();
    for u in &s.seed_urls {
        match Url::parse(u.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => seed_urls.push(url),
            Ok(url) => d.at(u.span(), format!("seed URL `{}` is `{}:`, not http or https", u.get_ref(), url.scheme())),
            Err(e) => d.at(u.span(), format!("bad seed URL `{}`: {e}", u.get_ref())),
        }
    }
    let mut allow_hosts = Vec::new();
    for entry in &s.allow_hosts {
        match entry.get_ref().parse::<crate::fetch::HostAllow>() {
            Ok(allowed) => allow_hosts.push(allowed),
            Err(e) => d.at(entry.span(), e.to_string()),
        }
    }
    if s.keywords.is_empty() && s.seed_urls.is_empty() {
        d.at(s.platforms.span(), "a plan needs `keywords` or `seed_urls` (or both)");
    }

    let expr = s.schedule.get_ref().trim();
    let schedule = if expr == "manual" {
        Schedule::Manual
    } else {
        match Cron::parse(expr) {
            Ok(cron) => {
                let schedule = Schedule::Cron { expr: expr.to_string(), cron };
                // Any date pattern that matches at all matches within eight
                // years of a fixed start, so the check does not read the clock.
                if schedule.next_after(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH).is_none() {
                    d.at(s.schedule.span(), format!("cron `{expr}` never matches a date"));
                }
                schedule
            }
            Err(e) => {
                d.at(s.schedule.span(), format!("bad schedule: {e} (or write `manual`)"));
                Schedule::Manual
            }
        }
    };
    let missed = match s.missed.get_ref().as_str() {
        "run_once" => MissedPolicy::RunOnce,
        "skip" => MissedPolicy::Skip,
        other => {
            d.at(s.missed.span(), format!("unknown missed-run policy `{other}`: use `run_once` or `skip`"));
            MissedPolicy::Skip
        }
    };
    if let Some(c) = &s.campaign {
        if c.get_ref().trim().is_empty() {
            d.at(c.span(), "`campaign` is empty: leave it out or name the campaign");
        }
    }

    Plan {
        id: s.id.into_inner(),
        title: s.title.into_inner(),
        classes: s.classes.into_iter().map(Spanned::into_inner).collect(),
        platforms: s.platforms.into_inner().into_iter().map(Spanned::into_inner).collect(),
        keywords: s.keywords.into_iter().map(Spanned::into_inner).collect(),
        seed_urls,
        sample_size: 0,
        weighting: Weighting::Off,
        campaign: s.campaign.map(Spanned::into_inner),
        schedule,
        missed,
        politeness: PolitenessOverride::default(),
        allow_hosts,
        file: d.file().to_path_buf(),
    }
}

fn check_sample(d: &mut Diagnostics<'_>, sample: &SampleSpec) -> (usize, Weighting) {
    let size = *sample.size.get_ref();
    let sample_size = match usize::try_from(size) {
        Ok(n) if n > 0 => n,
        _ => {
            d.at(sample.size.span(), format!("sample size {size}: draw at least one"));
            0
        }
    };
    let weighting = match sample.weighting.as_ref().map(|w| (w.get_ref().as_str(), w.span())) {
        None | Some(("off", _)) => Weighting::Off,
        Some(("risk", _)) => Weighting::Risk,
        Some((other, span)) => {
            d.at(span, format!("unknown weighting `{other}`: use `off` or `risk`"));
            Weighting::Off
        }
    };
    (sample_size, weighting)
}

fn check_politeness(d: &mut Diagnostics<'_>, p: &PolitenessSpec) -> PolitenessOverride {
    let mut politeness = PolitenessOverride::default();
    if let Some(rate) = &p.rate {
        let r = *rate.get_ref();
        if r.is_finite() && r > 0.0 {
            politeness.rate = Some(r);
        } else {
            d.at(rate.span(), format!("politeness rate {r}: use a positive number of requests per second"));
        }
    }
    if let Some(c) = &p.concurrency {
        let n = *c.get_ref();
        match usize::try_from(n) {
            Ok(n) if n > 0 => politeness.concurrency = Some(n),
            _ => d.at(c.span(), format!("politeness concurrency {n}: allow at least one request in flight")),
        }
    }
    politeness
}
