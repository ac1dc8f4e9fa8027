//! `spotcheck notices issue|list|show|verify`: a case's delisting notices to
//! the platforms, where each stands, and the re-crawl that checks the
//! listings are really gone.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{Duration, Utc};

use crate::cases::notify::{NoticeTerms, Notifier};
use crate::cases::{self, CaseStore};
use crate::config::{DataDir, Identity};
use crate::fetch::{FetchConfig, Fetcher};
use crate::findings::FindingStore;
use crate::notices::{Notice, NoticeStore};
use crate::sealing::Station;
use crate::store::Store;
use crate::verification::{FollowUps, Round, Verifier};

#[derive(Debug, clap::Subcommand)]
pub enum NoticesCommand {
    /// Seal the case's evidence bundle and issue one notice per platform and shop (webhooks go out from `serve`).
    Issue(IssueArgs),
    /// List notices: platform, case, deadline, the platform's answer and our verification.
    List(ListArgs),
    /// One notice as JSON: the notice, the platform's answer, the follow-up and every check.
    Show(ShowArgs),
    /// Re-crawl what is due: reported delistings, passed deadlines, relisting checks; flag overdue notices.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The case whose listings must come down.
    #[arg(long)]
    pub case: String,
    /// Hours the platform has to act.
    #[arg(long, default_value_t = 72)]
    pub deadline_hours: i64,
    /// Print the bundle's report to PDF with Chromium: auto (when found), never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "never"])]
    pub pdf: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    pub case: Option<String>,
    #[arg(long)]
    pub platform: Option<String>,
    /// Only notices flagged overdue.
    #[arg(long)]
    pub overdue: bool,
    /// One JSON object per notice (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Days after a verified removal before the listing is looked at again for relisting.
    #[arg(long, default_value_t = 7)]
    pub relist_after_days: i64,
    /// Keep running: a round every SECS seconds until Ctrl-C (rounds are logged, not printed).
    #[arg(long, value_name = "SECS")]
    pub every: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
}

pub async fn run(command: NoticesCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let store = data.open_store().with_context(|| format!("cannot open the station in `{}`", data.root().display()))?;
    let notices = NoticeStore::open(store.db())?;
    match command {
        NoticesCommand::Issue(args) => issue(&args, &store, &notices, data, identity).await,
        NoticesCommand::List(args) => list(&args, &store, &notices),
        NoticesCommand::Show(args) => show(&args, &store, &notices),
        NoticesCommand::Verify(args) => {
            let fetch = args.network.fetch_config(identity);
            let verifier = verifier(&store, data, identity, fetch, Duration::days(args.relist_after_days))?;
            if let Some(secs) = args.every {
                eprintln!("verifying every {secs} s; Ctrl-C stops");
                tokio::select! {
                    () = verifier.run_every(std::time::Duration::from_secs(secs.max(1))) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                store.flush()?;
                return Ok(true);
            }
            let round = verifier.round(Utc::now()).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&round)?);
            } else {
                print_round(&round);
            }
            Ok(true)
        }
    }
}

/// The verifier over the station's store, fetching with `fetch` through the built-in adapters.
pub fn verifier(
    store: &Store,
    data: &DataDir,
    identity: &Identity,
    fetch: FetchConfig,
    relist_after: Duration,
) -> anyhow::Result<Verifier> {
    let blobs = evidence::BlobStore::open(data.blobs())?;
    Ok(Verifier {
        store: store.clone(),
        notices: NoticeStore::open(store.db())?,
        cases: CaseStore::open(store)?,
        followups: FollowUps::open(store.db())?,
        fetcher: Fetcher::new(fetch, blobs)?,
        adapters: super::adapters::adapter_set(None)?,
        relist_after,
        actor: cases::actor(identity),
    })
}

async fn issue(
    args: &IssueArgs,
    store: &Store,
    notices: &NoticeStore,
    data: &DataDir,
    identity: &Identity,
) -> anyhow::Result<bool> {
    let station = Station::open(data, store, identity)?;
    let notifier = Notifier {
        store,
        station: &station,
        cases: &CaseStore::open(store)?,
        findings: &FindingStore::open(store)?,
        notices,
        actor: cases::actor(identity),
    };
    let terms = NoticeTerms { deadline: Duration::hours(args.deadline_hours.max(1)), ..NoticeTerms::default() };
    let chromium = if args.pdf == "never" { None } else { evidence::report::find_chromium() };
    let issued = notifier.issue_notices(&args.case, &terms, &case_bundle_dir(data), chromium, Utc::now()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&issued)?);
        return Ok(true);
    }
    if let Some(b) = &issued.bundle {
        println!("sealed {} ({} findings, {} captures) to {}", b.id, b.findings, b.captures, b.path.display());
        println!("  {}", b.sha256);
    }
    for n in &issued.notices {
        println!(
            "notice {} to {}: {} listing(s) of {}, deadline {}",
            n.id,
            n.draft.platform,
            n.draft.listings.len(),
            n.draft.shop.name,
            n.draft.deadline.format("%Y-%m-%d %H:%MZ")
        );
    }
    if issued.already > 0 {
        println!("({} notice(s) of the case were issued before)", issued.already);
    }
    Ok(true)
}

/// A notice with where it stands, as listed.
fn row(notice: &Notice, notices: &NoticeStore, followups: &FollowUps) -> anyhow::Result<serde_json::Value> {
    let status = notices.status_any(&notice.id)?;
    let follow = followups.get(notice)?;
    Ok(serde_json::json!({ "notice": notice, "status": status, "follow_up": follow }))
}

fn list(args: &ListArgs, store: &Store, notices: &NoticeStore) -> anyhow::Result<bool> {
    let followups = FollowUps::open(store.db())?;
    let mut shown = 0u64;
    for notice in notices.all() {
        let notice = notice?;
        if args.case.as_ref().is_some_and(|c| *c != notice.draft.case_id)
            || args.platform.as_ref().is_some_and(|p| *p != notice.draft.platform)
        {
            continue;
        }
        let follow = followups.get(&notice)?;
        if args.overdue && follow.overdue_at.is_none() {
            continue;
        }
        shown += 1;
        if args.json {
            out!("{}", row(&notice, notices, &followups)?);
            continue;
        }
        let status = notices.status_any(&notice.id)?;
        let answer = match (&status.disposition, status.acknowledged_at) {
            (Some(d), _) => {
                serde_json::to_value(d)?.get("disposition").and_then(|v| v.as_str()).unwrap_or("?").to_string()
            }
            (None, Some(_)) => "acknowledged".to_string(),
            (None, None) => "-".to_string(),
        };
        let ours = follow.verdict.map_or("-", |v| v.as_str());
        let overdue = if follow.overdue_at.is_some() { "OVERDUE" } else { "" };
        out!(
            "{}  {:<12}  {:<18}  {}  {:<18}  {:<13}  {overdue}",
            notice.id,
            notice.draft.platform,
            notice.draft.case_id,
            notice.draft.deadline.format("%Y-%m-%dT%H:%MZ"),
            answer,
            ours
        );
    }
    if !args.json {
        out!("{shown} notices");
    }
    Ok(true)
}

fn show(args: &ShowArgs, store: &Store, notices: &NoticeStore) -> anyhow::Result<bool> {
    let followups = FollowUps::open(store.db())?;
    let notice = notices.get_any(&args.id)?.with_context(|| format!("notice `{}` not found", args.id))?;
    let mut value = row(&notice, notices, &followups)?;
    value["checks"] = serde_json::to_value(followups.checks(&notice.id)?)?;
    out!("{}", serde_json::to_string_pretty(&value)?);
    Ok(true)
}

/// One line per check, then the totals.
pub fn print_round(round: &Round) {
    for c in &round.checks {
        println!(
            "{}  {:<12}  {:<18}  {} ({})",
            c.notice_id,
            c.platform,
            c.case_id,
            c.verdict.as_str(),
            c.reason.as_str()
        );
        for l in &c.listings {
            println!("    {:<20} {:?}", l.item_id, l.state);
        }
    }
    for id in &round.overdue {
        println!("{id}  flagged overdue");
    }
    for (id, reason) in &round.disputes {
        println!("{id}  disputed: {reason}");
    }
    println!(
        "{} notices: {} checked ({} verified, {} not effective, {} relisted, {} inconclusive), {} overdue, {} disputes recorded",
        round.notices,
        round.checks.len(),
        round.count(crate::verification::Verdict::Verified),
        round.count(crate::verification::Verdict::NotEffective),
        round.count(crate::verification::Verdict::Relisted),
        round.count(crate::verification::Verdict::Inconclusive),
        round.overdue.len(),
        round.disputes.len()
    );
}

/// Where `spotcheck notices issue` puts case bundles.
pub fn case_bundle_dir(data: &DataDir) -> PathBuf {
    data.bundles().join("cases")
}
