//! `spotcheck report`: the spot-check result report (抽查结果) of one job, one
//! sampling plan, one plan run or campaign (the listings drawn) or everything
//! stored, or its public version (抽查结果公示), as HTML, JSON or CSV, to stdout
//! or a file.

use anyhow::Context;

use crate::config::DataDir;
use crate::findings::FindingStore;
use crate::reports::{self, csv_rows, html, PublicReport, Scope};
use crate::rules::RuleSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Json,
    Csv,
}

/// `spotcheck report`
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Only the listings captured during this job run.
    #[arg(long, conflicts_with_all = ["plan", "run", "campaign"])]
    pub job: Option<String>,
    /// Only the listings captured during the job runs of this sampling plan id.
    #[arg(long, conflicts_with_all = ["run", "campaign"])]
    pub plan: Option<String>,
    /// Only the listings drawn in this plan run (`spotcheck plans history ID` lists them).
    #[arg(long, conflicts_with = "campaign")]
    pub run: Option<u64>,
    /// Only the listings drawn in the runs of plans with this campaign tag (e.g. `双11`).
    #[arg(long)]
    pub campaign: Option<String>,
    /// The public-notice version (抽查结果公示): no finding ids, capture ids, URLs or triage counts.
    #[arg(long)]
    pub public: bool,
    #[arg(long, value_enum, default_value = "html")]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

pub fn run(args: &ReportArgs, data: &DataDir) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let findings = FindingStore::open(&store)?;
    let rules = RuleSet::builtin().context("cannot load the built-in rules for the product catalogue")?;
    let scope = match (&args.job, &args.plan, args.run, &args.campaign) {
        (Some(job), ..) => Scope::Job(job.clone()),
        (None, Some(plan), ..) => Scope::Plan(plan.clone()),
        (None, None, Some(run), _) => Scope::Run(run),
        (None, None, None, Some(tag)) => Scope::Campaign(tag.clone()),
        (None, None, None, None) => Scope::All,
    };
    let report = reports::build(&store, &findings, &scope, &rules.reference.catalogue)?;
    let text = if args.public {
        let public = PublicReport::from(&report);
        match args.format {
            Format::Html => html::render_public(&public),
            Format::Json => serde_json::to_string_pretty(&public)? + "\n",
            Format::Csv => csv_rows::render_public(&public)?,
        }
    } else {
        match args.format {
            Format::Html => html::render(&report),
            Format::Json => serde_json::to_string_pretty(&report)? + "\n",
            Format::Csv => csv_rows::render(&report)?,
        }
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write the report to `{}`", path.display()))?;
            eprintln!("{} listings sampled, {} failing: {}", report.sampled, report.failing, path.display());
        }
        None => {
            use std::io::Write as _;
            if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(true)
}
