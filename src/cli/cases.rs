//! `spotcheck cases list|show|outcome`: the cases confirmed findings opened,
//! where they were routed and why, what was merged, and the enforcement
//! outcome recorded step by step (each step a custody event in the ledger).

use anyhow::Context;
use chrono::Utc;

use crate::cases::{self, Case, CaseStatus, CaseStore};
use crate::config::{DataDir, Identity};

/// `spotcheck cases list`
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only cases of this bureau (its area-code prefix, or a part of its name).
    #[arg(long)]
    pub bureau: Option<String>,
    #[arg(long)]
    pub status: Option<CaseStatus>,
    /// One JSON object per case (JSON Lines) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `spotcheck cases show ID`
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

/// `spotcheck cases outcome ID --set S --note T`
#[derive(Debug, Clone, clap::Args)]
pub struct OutcomeArgs {
    pub id: String,
    /// filed (立案) | penalised (处罚) | no_penalty (不予处罚) | transferred_to_police (移送公安) | closed (结案).
    #[arg(long = "set")]
    pub status: CaseStatus,
    /// What was decided and on what (document number, reasons).
    #[arg(long)]
    pub note: String,
}

fn open(data: &DataDir) -> anyhow::Result<CaseStore> {
    Ok(CaseStore::open(&data.open_store()?)?)
}

fn matches_bureau(case: &Case, b: &str) -> bool {
    case.bureau.code == b || case.bureau.code.starts_with(b) || case.bureau.name.contains(b)
}

pub fn list(args: &ListArgs, data: &DataDir) -> anyhow::Result<bool> {
    let cases = open(data)?;
    let mut shown = 0u64;
    for case in cases.all() {
        let case = case?;
        if args.bureau.as_deref().is_some_and(|b| !matches_bureau(&case, b))
            || args.status.is_some_and(|s| s != case.status)
        {
            continue;
        }
        shown += 1;
        if args.json {
            out!("{}", serde_json::to_string(&case)?);
        } else {
            out!(
                "{}  {:<22}  {:>3} findings  {:>2} shops  {:<8}  {} ({})",
                case.id,
                case.status.to_string(),
                case.findings.len(),
                case.shops.len(),
                case.routing.basis.to_string(),
                case.bureau.name,
                case.bureau.code
            );
        }
    }
    if !args.json {
        out!("{shown} cases");
    }
    Ok(true)
}

pub fn show(args: &ShowArgs, data: &DataDir) -> anyhow::Result<bool> {
    let cases = open(data)?;
    let case = cases.get(&args.id)?.with_context(|| format!("case `{}` not found", args.id))?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&case)?);
        return Ok(true);
    }
    out!("case     {}  ({} {})", case.id, case.status, case.status.label());
    out!("opened   {}", case.opened_at.to_rfc3339());
    out!("bureau   {} ({})", case.bureau.name, case.bureau.code);
    out!("routing  by {}: {}", case.routing.basis, case.routing.reason);
    out!("shops");
    for s in &case.shops {
        let shop = s.shop.as_ref();
        out!(
            "  {}  {}  USCC {}  {}  area {}  → {} ({})",
            s.key,
            shop.and_then(|x| x.name.as_deref()).unwrap_or("-"),
            shop.and_then(|x| x.uscc.as_deref()).unwrap_or("-"),
            shop.and_then(|x| x.address.as_deref()).unwrap_or("-"),
            shop.and_then(|x| x.region_code.as_deref()).unwrap_or("-"),
            s.routing.bureau.name,
            s.routing.basis
        );
    }
    out!("findings");
    for f in &case.findings {
        out!("  {}  {:<28}  {}  {}", f.id, f.rule, f.listing, f.product.as_deref().unwrap_or("-"));
    }
    out!("merged");
    for m in &case.merges {
        out!("  {}  {}  (own routing: {}) by {} at {}", m.finding, m.reason, m.routed_to.name, m.by, m.at.to_rfc3339());
    }
    out!("audit");
    for a in &case.audit {
        out!("  {}  {}  {}  {}", a.at.to_rfc3339(), a.by, a.action, a.detail);
    }
    Ok(true)
}

pub fn outcome(args: &OutcomeArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let cases = open(data)?;
    let case = cases.set_outcome(&args.id, args.status, &args.note, &cases::actor(identity), Utc::now())?;
    println!("{} is now {} ({})", case.id, case.status, case.status.label());
    Ok(true)
}
