//! `spotcheck rules check|test|eval|score|bench`.
//!
//! - `check [DIR]`: load every rule file, print every problem as `file:line:col: message`;
//! - `test [DIR]`: run every rule's inline `[[tests]]`;
//! - `eval LISTING.json|-`: the findings for one listing as a JSON array;
//! - `score`: crawl the sample marketplace like `spotcheck demo` and print
//!   precision and recall per rule against its ground truth;
//! - `bench`: evaluation speed of the full rule set on one core.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::market::{Market, MarketConfig};
use crate::model::{Listing, Shop};
use crate::rules::score::{self, ScoreReport};
use crate::rules::workload::Workload;
use crate::rules::{CheckHistory, EvalInput, ObservedPrice, Registry, RuleSet, SpotCheck, Tables};
use crate::store::Store;

/// `spotcheck rules check [DIR]` / `spotcheck rules test [DIR]`
#[derive(Debug, Clone, clap::Args)]
pub struct DirArgs {
    /// Directory of rule files (`*.toml`, data in `DIR/data/`); without it, the built-in rules.
    pub dir: Option<PathBuf>,
}

/// `spotcheck rules eval LISTING.json|-`
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// A listing as `spotcheck extract` prints it (its `shop` may carry the shop's licence fields,
    /// and a top-level `history` may hold `checks` and `prices`), or `{"listing": …, "shop": …,
    /// "history": …}`; `-` reads stdin.
    pub input: String,
    /// Rule directory (default: the built-in rules).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Certificate registry CSV (`number,holder,product,models,status,expiry`).
    #[arg(long, value_name = "CSV")]
    pub registry: Option<PathBuf>,
    /// Past spot-check results CSV (`uscc,company,date,product,result`).
    #[arg(long, value_name = "CSV")]
    pub history: Option<PathBuf>,
    /// Listings (JSON Lines, one listing per line) to build price baselines from.
    #[arg(long, value_name = "JSONL")]
    pub comparables: Option<PathBuf>,
    /// Evaluation date `YYYY-MM-DD` (default: the listing's capture date, else today).
    #[arg(long)]
    pub today: Option<NaiveDate>,
}

/// `spotcheck rules score`
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    #[arg(long, default_value_t = 2000)]
    pub listings: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Rule directory (default: the built-in rules).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `spotcheck rules bench`
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Listings of the sample marketplace to evaluate (generated in memory, no crawl).
    #[arg(long, default_value_t = 100_000)]
    pub listings: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Passes over the listings.
    #[arg(long, default_value_t = 3)]
    pub passes: u32,
}

fn load(dir: Option<&Path>) -> anyhow::Result<RuleSet> {
    Ok(match dir {
        Some(d) => {
            if !d.is_dir() {
                bail!("rule directory `{}` does not exist", d.display());
            }
            RuleSet::load_dir(d)?
        }
        None => RuleSet::builtin()?,
    })
}

/// Loads the set, printing the problems of skipped files on stderr.
fn load_reporting(dir: Option<&Path>) -> anyhow::Result<RuleSet> {
    let set = load(dir)?;
    for p in &set.problems {
        eprintln!("warning: skipped: {p}");
    }
    Ok(set)
}

/// `rules check`: true when every file loaded.
pub fn check(args: &DirArgs) -> anyhow::Result<bool> {
    let set = load(args.dir.as_deref())?;
    for p in &set.problems {
        println!("{p}");
    }
    for r in &set.rules {
        println!(
            "ok  {} v{} [{:?}, {:?}] {} ({} tests)",
            r.id,
            r.version,
            r.severity,
            r.status,
            r.title,
            r.tests.len()
        );
    }
    println!("{} rules loaded, {} problems", set.rules.len(), set.problems.len());
    Ok(set.problems.is_empty())
}

/// `rules test`: true when every inline test passed and every file loaded.
pub fn test(args: &DirArgs) -> anyhow::Result<bool> {
    let set = load_reporting(args.dir.as_deref())?;
    let failures = set.run_tests();
    for f in &failures {
        println!("FAIL {f}");
    }
    println!(
        "{} tests in {} rules: {} passed, {} failed",
        set.test_count(),
        set.rules.len(),
        set.test_count() - failures.len(),
        failures.len()
    );
    Ok(failures.is_empty() && set.problems.is_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HistoryInput {
    checks: Vec<SpotCheck>,
    prices: Vec<ObservedPrice>,
}

/// A listing with what the rules may also need about it.
struct EvalDocument {
    listing: Listing,
    shop: Option<Shop>,
    history: HistoryInput,
}

/// Reads either `{"listing": …, "shop": …, "history": …}` or a bare listing whose
/// `shop` object may carry licence fields (then it is also the shop).
fn parse_document(text: &str) -> anyhow::Result<EvalDocument> {
    let value: serde_json::Value = serde_json::from_str(text).context("the input is not JSON")?;
    let history = match value.get("history") {
        Some(h) => {
            serde_json::from_value(h.clone()).context("bad `history`: want {\"checks\": [...], \"prices\": [...]}")?
        }
        None => HistoryInput::default(),
    };
    if let Some(listing) = value.get("listing") {
        let listing: Listing = serde_json::from_value(listing.clone()).context("bad `listing`")?;
        let shop = match value.get("shop") {
            Some(s) => Some(serde_json::from_value::<Shop>(s.clone()).context("bad `shop`")?),
            None => None,
        };
        return Ok(EvalDocument { listing, shop, history });
    }
    let listing: Listing = serde_json::from_value(value.clone()).context("the input is not a listing")?;
    let shop = match value.get("shop").and_then(|s| s.as_object()) {
        Some(obj) if obj.keys().any(|k| !matches!(k.as_str(), "shop_id" | "name" | "url")) => {
            let mut shop: Shop =
                serde_json::from_value(serde_json::Value::Object(obj.clone())).context("bad `shop`")?;
            if shop.platform.is_empty() {
                shop.platform = listing.platform.clone();
            }
            Some(shop)
        }
        _ => None,
    };
    Ok(EvalDocument { listing, shop, history })
}

/// `rules eval`: prints the findings as a JSON array.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let set = load_reporting(args.rules.as_deref())?;
    let mut text = String::new();
    if args.input == "-" {
        std::io::stdin().read_to_string(&mut text).context("cannot read stdin")?;
    } else {
        text = std::fs::read_to_string(&args.input).with_context(|| format!("cannot read `{}`", args.input))?;
    }
    let doc = parse_document(&text)?;
    let open = |p: &Path| std::fs::File::open(p).with_context(|| format!("cannot open `{}`", p.display()));
    let mut tables = Tables::default();
    if let Some(p) = &args.registry {
        tables.registry = Some(Registry::from_csv(open(p)?)?);
    }
    if let Some(p) = &args.history {
        tables.history = Some(CheckHistory::from_csv(open(p)?)?);
    }
    if let Some(p) = &args.comparables {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))?;
        let listings: Vec<Listing> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| format!("`{}` line {}: not a listing", p.display(), i + 1))
            })
            .collect::<anyhow::Result<_>>()?;
        tables.baselines = set.baselines(&listings);
    }
    let today = args
        .today
        .or_else(|| doc.listing.captured_at.map(|t| t.date_naive()))
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let input = EvalInput {
        listing: &doc.listing,
        shop: doc.shop.as_ref(),
        checks: (!doc.history.checks.is_empty()).then_some(doc.history.checks.as_slice()),
        prices: &doc.history.prices,
        tables: &tables,
        today,
    };
    println!("{}", serde_json::to_string_pretty(&set.evaluate(&input))?);
    Ok(())
}

/// Crawls a fresh sample marketplace with the shipped adapters (as `spotcheck demo`
/// does) into a temporary directory and scores the rules over what was stored.
pub async fn score_run(args: &ScoreArgs) -> anyhow::Result<ScoreReport> {
    let set = load_reporting(args.rules.as_deref())?;
    let market = Arc::new(Market::new(MarketConfig { seed: args.seed, listings: args.listings, count_hits: false }));
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let store = Store::open(&scratch.path().join("db"))?;
    let blobs = evidence::BlobStore::open(scratch.path().join("blobs"))?;
    let (base, server, _) = crate::cli::demo::crawl_market(
        &market,
        &store,
        &blobs,
        args.concurrency,
        true,
        "rules-score",
        &crate::config::Identity::default(),
    )
    .await?;
    server.abort();
    let listings: Vec<Listing> = store.latest_listings().collect::<Result<_, _>>()?;
    let shops: Vec<Shop> = store.latest_shops().collect::<Result<_, _>>()?;
    Ok(score::score(&set, &market, &base, &listings, &shops)?)
}

/// `rules score`: true when every rule reaches 0.95 precision and recall.
pub async fn score(args: &ScoreArgs) -> anyhow::Result<bool> {
    let report = score_run(args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} of {} listings evaluated, {} findings; registry {} rows, history {} rows",
            report.listings_evaluated,
            report.listings_in_truth,
            report.findings,
            report.registry_rows,
            report.history_rows
        );
        println!("{:<28} {:>6} {:>6} {:>6} {:>9} {:>7}", "rule", "tp", "fp", "fn", "precision", "recall");
        for r in &report.rules {
            println!(
                "{:<28} {:>6} {:>6} {:>6} {:>9.3} {:>7.3}",
                r.rule, r.true_positives, r.false_positives, r.false_negatives, r.precision, r.recall
            );
        }
        for e in &report.examples {
            println!("  {e}");
        }
    }
    Ok(report.worst() >= 0.95)
}

/// What `rules bench` measured.
#[derive(Debug, serde::Serialize)]
pub struct RulesBench {
    pub rules: usize,
    pub listings: usize,
    pub passes: u32,
    /// Best pass, one thread.
    pub listings_per_sec: f64,
    pub findings_per_pass: usize,
}

/// `rules bench`: listings/s of the full rule set on one core.
pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let r = bench_run(args)?;
    println!(
        "{} rules over {} listings: {:.0} listings/s on one core (best of {} passes, {} findings per pass)",
        r.rules, r.listings, r.listings_per_sec, r.passes, r.findings_per_pass
    );
    Ok(())
}

/// Evaluates the full built-in rule set over the sample marketplace's
/// listings on this thread, `passes` times; the best pass counts.
pub fn bench_run(args: &BenchArgs) -> anyhow::Result<RulesBench> {
    let workload = Workload::sample_market(args.listings, args.seed)?;
    let inputs = workload.inputs();
    let mut best = f64::MAX;
    let mut findings = 0usize;
    for _ in 0..args.passes.max(1) {
        let started = Instant::now();
        findings = inputs.iter().map(|i| workload.set.evaluate(i).len()).sum();
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(RulesBench {
        rules: workload.set.rules.len(),
        listings: inputs.len(),
        passes: args.passes.max(1),
        listings_per_sec: inputs.len() as f64 / best.max(1e-9),
        findings_per_pass: findings,
    })
}
