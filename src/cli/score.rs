//! `spotcheck score [DIR]`: how well the built-in `generic` adapter reads real
//! product pages it has never seen.
//!
//! Runs the adapter over the shared real-page corpus (default
//! `../shared/realpages`: fathom_products, metascraper_*, wdc_lspc_sample_pages)
//! and prints precision, recall, F1 and accuracy per set and field as a
//! Markdown table (how values are judged: `adapters::generic::score`). The
//! exit status fails when the overall price F1 or title accuracy is below
//! the targets.
//!
//! Wiring (in `cli/mod.rs`): `Score(score::ScoreArgs)` in `Command`, and
//! `Command::Score(args) => score::run(args).await?`.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::adapters::generic::score::{load_cases, score};

/// `spotcheck score [DIR]`
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// The real-page corpus (folders with their ground truth).
    #[arg(default_value = "../shared/realpages")]
    pub dir: PathBuf,
    /// Also print every page's verdicts (`ok`, `wrong`, `missed`) and what was found.
    #[arg(long)]
    pub pages: bool,
    /// The overall price F1 below which the command fails.
    #[arg(long, default_value_t = 0.93)]
    pub min_price_f1: f64,
    /// The overall title accuracy below which the command fails.
    #[arg(long, default_value_t = 0.90)]
    pub min_title_accuracy: f64,
}

/// Score the generic adapter; `Ok(false)` when a target is missed.
pub async fn run(args: ScoreArgs) -> anyhow::Result<bool> {
    if !args.dir.is_dir() {
        bail!("real-page directory `{}` does not exist", args.dir.display());
    }
    let dir = args.dir.clone();
    let cases = load_cases(&dir).with_context(|| format!("cannot load the pages under `{}`", dir.display()))?;
    if cases.is_empty() {
        bail!("no scorable pages under `{}`", dir.display());
    }
    let report = tokio::task::spawn_blocking(move || score(&cases)).await.context("the scoring task failed")?;
    println!("{report}");
    if args.pages {
        for p in &report.pages {
            let verdicts: Vec<String> = p.verdicts.iter().map(|(f, v)| format!("{f}:{v}")).collect();
            println!(
                "{}/{} {} title={:?} price={} ({} ms)",
                p.set,
                p.name,
                verdicts.join(" "),
                p.title.as_deref().unwrap_or(""),
                p.price.map_or_else(|| "-".to_string(), |d| d.to_string()),
                p.millis
            );
        }
    }
    let overall = report.overall();
    let price_f1 = overall.get("price").map_or(0.0, |c| c.f1());
    let title_accuracy = overall.get("title").map_or(0.0, |c| c.accuracy());
    let ok = price_f1 >= args.min_price_f1 && title_accuracy >= args.min_title_accuracy;
    println!(
        "price F1 {price_f1:.3} (target {:.2}), title accuracy {title_accuracy:.3} (target {:.2}): {}",
        args.min_price_f1,
        args.min_title_accuracy,
        if ok { "met" } else { "NOT met" }
    );
    Ok(ok)
}
