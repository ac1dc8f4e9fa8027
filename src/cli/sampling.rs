//! `spotcheck sample draw|verify`: a "双随机" draw over the stored listings (or
//! a candidates file), written as `draw.json`, `draw.csv` and the
//! `candidates.jsonl` it was drawn from, and its verification by anyone
//! holding those files (see `crate::sampling`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};

use crate::config::DataDir;
use crate::model::{Listing, Shop};
use crate::rules::{CheckHistory, RuleSet};
use crate::sampling::{self, Allocation, Candidate, Quota, SamplePlan, Seed, Weighting};

use crate::sampling::{CANDIDATES, DRAW_CSV, DRAW_JSON};

#[derive(Debug, clap::Subcommand)]
pub enum SampleCommand {
    /// Draw a stratified (class × platform), optionally risk-weighted random sample.
    Draw(DrawArgs),
    /// Redo a recorded draw from its candidates and report every difference.
    Verify(VerifyArgs),
}

/// `spotcheck sample draw`
#[derive(Debug, Clone, clap::Args)]
pub struct DrawArgs {
    /// How many to draw in all.
    #[arg(long)]
    pub size: usize,
    /// 64 hex digits or a decimal number (recorded; a random one is chosen if absent).
    #[arg(long)]
    pub seed: Option<String>,
    /// `off`: every candidate alike; `risk`: past failures, clearly-low prices and
    /// key-list shops drawn more often, shops clean for 3 years less often.
    #[arg(long, default_value = "off", value_parser = parse_weighting)]
    pub weighting: Weighting,
    /// An explicit stratum quota `CLASS/PLATFORM=N` (repeat; replaces proportional allocation).
    #[arg(long = "quota", value_parser = parse_quota)]
    pub quotas: Vec<Quota>,
    /// Candidates as JSON Lines (one `Candidate` per line) instead of the stored listings.
    #[arg(long, value_name = "JSONL")]
    pub candidates: Option<PathBuf>,
    /// Past spot-check results CSV (`uscc,company,date,product,result`) for the risk factors.
    #[arg(long, value_name = "CSV")]
    pub history: Option<PathBuf>,
    /// The date the plan is drawn for, `YYYY-MM-DD` (default: today, UTC).
    #[arg(long)]
    pub today: Option<NaiveDate>,
    /// Directory for `draw.json`, `draw.csv` and `candidates.jsonl` (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// `spotcheck sample verify DIR`
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// A directory `sample draw --out` wrote.
    pub dir: PathBuf,
}

fn parse_weighting(s: &str) -> Result<Weighting, String> {
    [Weighting::Off, Weighting::Risk]
        .into_iter()
        .find(|w| w.as_str() == s)
        .ok_or_else(|| format!("weighting `{s}` is neither `off` nor `risk`"))
}

fn parse_quota(s: &str) -> Result<Quota, String> {
    let bad = || format!("quota `{s}` is not `CLASS/PLATFORM=N`");
    let (stratum, count) = s.rsplit_once('=').ok_or_else(bad)?;
    let (class, platform) = stratum.rsplit_once('/').ok_or_else(bad)?;
    let count = count.trim().parse().map_err(|_| bad())?;
    Ok(Quota { class: class.trim().to_string(), platform: platform.trim().to_string(), count })
}

pub fn run(command: SampleCommand, data: &DataDir) -> anyhow::Result<bool> {
    match command {
        SampleCommand::Draw(args) => draw(&args, data),
        SampleCommand::Verify(args) => verify(&args),
    }
}

fn draw(args: &DrawArgs, data: &DataDir) -> anyhow::Result<bool> {
    let seed = match &args.seed {
        Some(s) => s.parse::<Seed>()?,
        None => Seed(rand::random()),
    };
    let candidates = match &args.candidates {
        Some(path) => sampling::read_candidates(path)?,
        None => stored_candidates(args, data)?,
    };
    let allocation =
        if args.quotas.is_empty() { Allocation::Proportional } else { Allocation::Quotas(args.quotas.clone()) };
    let plan = SamplePlan { size: args.size, seed, allocation, weighting: args.weighting };
    let drawn = sampling::draw(&plan, &candidates)?;
    sampling::write_draw_files(&args.out, &candidates, &drawn)?;
    print!("{}", drawn.summary());
    println!("written to `{}` ({DRAW_JSON}, {DRAW_CSV}, {CANDIDATES})", args.out.display());
    Ok(true)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let (recorded, candidates) = sampling::read_draw_files(&args.dir)
        .with_context(|| format!("`{}` holds no readable draw", args.dir.display()))?;
    match recorded.verify(&candidates) {
        Ok(()) => {
            println!(
                "verified: {} of {} candidates, seed {}",
                recorded.total,
                recorded.population,
                recorded.seed_hex()
            );
            Ok(true)
        }
        Err(sampling::SamplingError::DoesNotVerify(diffs)) => {
            println!("does not verify ({} differences):", diffs.len());
            for d in diffs {
                println!("  {d}");
            }
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The latest stored listings and shops as candidates (see [`sampling::gather`]),
/// with risk from `--history`.
fn stored_candidates(args: &DrawArgs, data: &DataDir) -> anyhow::Result<Vec<Candidate>> {
    let store = data.open_store()?;
    let listings: Vec<Listing> = store.latest_listings().collect::<Result<_, _>>()?;
    if listings.is_empty() {
        bail!("no stored listings: crawl first, or give `--candidates`");
    }
    let shops: Vec<Shop> = store.latest_shops().collect::<Result<_, _>>()?;
    let history = match &args.history {
        Some(p) => {
            let file = std::fs::File::open(p).with_context(|| format!("cannot open `{}`", p.display()))?;
            CheckHistory::from_csv(file)?
        }
        None => CheckHistory::default(),
    };
    let today = args.today.unwrap_or_else(|| Utc::now().date_naive());
    Ok(sampling::gather(&listings, &shops, &RuleSet::builtin()?, &history, today))
}
