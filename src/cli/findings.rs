//! `spotcheck flag` and `spotcheck findings list|show|confirm|dismiss|stats`:
//! run the shipped rules over the stored listings, then triage what they
//! found. Confirming a finding routes it and opens or joins a case
//! (`crate::cases`); the actor is the global `--station` / `--operator`.

use std::collections::HashMap;

use anyhow::{bail, Context};
use chrono::Utc;

use crate::cases::{self, merge, Triage};
use crate::config::{DataDir, Identity};
use crate::findings::{FindingStore, Status};
use crate::model::{Listing, Shop};
use crate::rules::{CheckHistory, Registry, RuleSet, Tables};

/// `spotcheck flag`
#[derive(Debug, Clone, clap::Args)]
pub struct FlagArgs {
    /// Only this rule (its id, e.g. `ccc.missing`).
    #[arg(long)]
    pub rule: Option<String>,
    /// Evaluation date `YYYY-MM-DD` for dates and deadlines (default: today, UTC).
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    /// Certificate registry CSV (`number,holder,product,models,status,expiry`), for `ccc.invalid`.
    #[arg(long, value_name = "CSV")]
    pub registry: Option<std::path::PathBuf>,
    /// Past spot-check results CSV (`uscc,company,date,product,result`), for `shop.repeat_offender`.
    #[arg(long, value_name = "CSV")]
    pub history: Option<std::path::PathBuf>,
}

/// `spotcheck findings list`
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    pub status: Option<Status>,
    #[arg(long)]
    pub rule: Option<String>,
    /// One JSON object per finding (JSON Lines) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `spotcheck findings show ID`
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    pub id: String,
}

/// `spotcheck findings confirm ID…`
#[derive(Debug, Clone, clap::Args)]
pub struct ConfirmArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
    #[arg(long, default_value = "")]
    pub note: String,
    /// Findings within this many days of a case's last finding join it (并案).
    #[arg(long, default_value_t = merge::DEFAULT_WINDOW_DAYS)]
    pub window_days: i64,
    /// Routing table (the format of `rules/data/routing.toml`); default: the built-in one.
    #[arg(long, value_name = "TOML")]
    pub routing: Option<std::path::PathBuf>,
}

/// `spotcheck findings dismiss ID… --reason T`
#[derive(Debug, Clone, clap::Args)]
pub struct DismissArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why it is a false positive (required: it is what improves the rule).
    #[arg(long)]
    pub reason: String,
}

/// `spotcheck findings stats`
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    #[arg(long)]
    pub json: bool,
}

/// Runs the shipped rules over the latest stored listings and records the findings.
pub fn flag(args: &FlagArgs, data: &DataDir) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let set = RuleSet::builtin()?;
    if let Some(rule) = &args.rule {
        if !set.rules.iter().any(|r| &r.id == rule) {
            bail!("unknown rule `{rule}`");
        }
    }
    let listings: Vec<Listing> = store.latest_listings().collect::<Result<_, _>>()?;
    let shops: Vec<Shop> = store.latest_shops().collect::<Result<_, _>>()?;
    let today = args.today.unwrap_or_else(|| Utc::now().date_naive());
    let open = |p: &std::path::Path| std::fs::File::open(p).with_context(|| format!("cannot open `{}`", p.display()));
    let mut tables = Tables::default();
    if let Some(p) = &args.registry {
        tables.registry = Some(Registry::from_csv(open(p)?)?);
    }
    if let Some(p) = &args.history {
        tables.history = Some(CheckHistory::from_csv(open(p)?)?);
    }
    let mut found = set.evaluate_all(&listings, &shops, &HashMap::new(), &mut tables, today);
    if let Some(rule) = &args.rule {
        found.retain(|f| &f.rule == rule);
    }
    let recorded = FindingStore::open(&store)?.record(&found)?;
    println!(
        "flagged {} listings: {} findings, {} new, {} already recorded",
        listings.len(),
        found.len(),
        recorded.new,
        recorded.known
    );
    Ok(true)
}

fn triage(data: &DataDir, window_days: i64, routing: Option<&std::path::Path>) -> anyhow::Result<Triage> {
    let store = data.open_store()?;
    Ok(Triage::configured(&store, routing, window_days)?)
}

pub fn list(args: &ListArgs, data: &DataDir) -> anyhow::Result<bool> {
    let t = triage(data, merge::DEFAULT_WINDOW_DAYS, None)?;
    let mut shown = 0u64;
    for record in t.findings.all() {
        let record = record?;
        if args.rule.as_ref().is_some_and(|r| r != &record.rule) {
            continue;
        }
        let state = t.findings.triage(&record.id)?;
        if args.status.is_some_and(|s| s != state.status) {
            continue;
        }
        let case = t.cases.case_of(&record.id)?;
        shown += 1;
        if args.json {
            let line =
                serde_json::json!({ "finding": record, "status": state.status, "triage": state.history, "case": case });
            out!("{line}");
        } else {
            let by = state.last().map(|c| format!("{} {}", c.by, c.at.format("%Y-%m-%dT%H:%MZ"))).unwrap_or_default();
            out!(
                "{}  {:<9}  {:<28}  {:<24}  {:<18}  {}",
                record.id,
                state.status.to_string(),
                record.rule,
                record.listing,
                case.unwrap_or_default(),
                by
            );
        }
    }
    if !args.json {
        out!("{shown} findings");
        return print_stats(&t.findings);
    }
    Ok(true)
}

fn print_stats(findings: &FindingStore) -> anyhow::Result<bool> {
    out!("rule                          open  confirmed  dismissed  false-positive rate");
    for r in findings.rule_stats()? {
        let rate = r.false_positive_rate.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
        out!("{:<28}  {:>5}  {:>9}  {:>9}  {rate}", r.rule, r.open, r.confirmed, r.dismissed);
    }
    Ok(true)
}

pub fn stats(args: &StatsArgs, data: &DataDir) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let findings = FindingStore::open(&store)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&findings.rule_stats()?)?);
    } else {
        return print_stats(&findings);
    }
    Ok(true)
}

pub fn show(args: &ShowArgs, data: &DataDir) -> anyhow::Result<bool> {
    let t = triage(data, merge::DEFAULT_WINDOW_DAYS, None)?;
    let record = t.findings.get(&args.id)?.with_context(|| format!("finding `{}` not found", args.id))?;
    let state = t.findings.triage(&args.id)?;
    let case = t.cases.case_of(&args.id)?;
    let out = serde_json::json!({ "finding": record, "status": state.status, "triage": state.history, "case": case });
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(true)
}

pub fn confirm(args: &ConfirmArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let t = triage(data, args.window_days, args.routing.as_deref())?;
    let by = cases::actor(identity);
    for id in &args.ids {
        let done = t.confirm(id, &by, &args.note, Utc::now())?;
        let what = match (&done.case.reason, done.case.opened, done.case.already) {
            (_, _, true) => "already in case".to_string(),
            (_, true, _) => "opened case".to_string(),
            (Some(reason), _, _) => format!("joined case ({reason})"),
            (None, false, false) => "joined case".to_string(),
        };
        let change = match done.change {
            crate::findings::Change::Changed => "confirmed",
            crate::findings::Change::Unchanged => "was confirmed",
        };
        println!("{id} {change}; {what} {}", done.case.case);
    }
    Ok(true)
}

pub fn dismiss(args: &DismissArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let t = triage(data, merge::DEFAULT_WINDOW_DAYS, None)?;
    let by = cases::actor(identity);
    for id in &args.ids {
        let change = t.dismiss(id, &by, &args.reason, Utc::now())?;
        let what = match change {
            crate::findings::Change::Changed => "dismissed",
            crate::findings::Change::Unchanged => "was dismissed",
        };
        println!("{id} {what}");
    }
    Ok(true)
}
