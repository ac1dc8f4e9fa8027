//! `spotcheck plans check|list|run|history|schedule`: the plans of the data
//! directory (`<data>/plans/<id>.toml`, see `crate::plans`), run by hand or
//! by their schedules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use crate::cli::adapters::adapter_set;
use crate::config::{DataDir, Identity};
use crate::plans::{shanghai, Plan, PlanBook, PlanRunner, RunSummary, RunnerOptions};
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum PlansCommand {
    /// Check every plan file and list problems with file:line:col.
    Check(BookArgs),
    /// Every plan: id, title, campaign, schedule, its next 3 run times (+08:00), its last run.
    List(BookArgs),
    /// Run a plan now, by hand, and wait for it: crawl, draw, flag.
    Run(RunArgs),
    /// A plan's runs and scheduling decisions.
    History(HistoryArgs),
    /// Run the plans by their schedules, in the foreground (Ctrl-C stops).
    Schedule(ScheduleArgs),
}

/// Where the plans and adapters come from.
#[derive(Debug, Clone, clap::Args)]
pub struct BookArgs {
    /// Extra adapter files (override the built-in ones by name).
    #[arg(long, value_name = "DIR")]
    pub adapters: Option<PathBuf>,
}

/// How plan runs crawl.
#[derive(Debug, Clone, clap::Args)]
pub struct RunnerArgs {
    #[command(flatten)]
    pub book: BookArgs,
    /// Pages in flight per crawl job.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Do not rate-limit (only for servers you run yourself, e.g. the sample marketplace).
    #[arg(long)]
    pub no_politeness: bool,
    /// A platform's search URL for the plans' keywords, `ADAPTER=URL` with `{keyword}` in it (repeatable).
    #[arg(long = "search-url", value_name = "ADAPTER=URL", value_parser = parse_search_url)]
    pub search_urls: Vec<(String, String)>,
    /// Stop each crawl job after this many pages.
    #[arg(long)]
    pub max_pages: Option<u64>,
    /// Past spot-check results CSV (`uscc,company,date,product,result`) for risk weights and repeat offenders.
    #[arg(long, value_name = "CSV")]
    pub history: Option<PathBuf>,
    /// Minutes a run's lease lasts without renewal.
    #[arg(long, default_value_t = 10)]
    pub lease_minutes: i64,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
    #[command(flatten)]
    pub cluster: crate::cli::cluster::ClusterArgs,
}

/// `spotcheck plans run ID`
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    pub id: String,
    /// The draw's seed (64 hex digits or a number) instead of a fresh random
    /// one: the same plan over the same site then draws the same listings.
    #[arg(long)]
    pub seed: Option<crate::sampling::Seed>,
    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// `spotcheck plans history ID`
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    pub id: String,
    /// The scheduler's decisions too (enrolled, started, skipped, finished).
    #[arg(long)]
    pub decisions: bool,
}

/// `spotcheck plans schedule`
#[derive(Debug, Clone, clap::Args)]
pub struct ScheduleArgs {
    /// Seconds between scheduling rounds.
    #[arg(long, default_value_t = 30)]
    pub every: u64,
    #[command(flatten)]
    pub runner: RunnerArgs,
}

fn parse_search_url(s: &str) -> Result<(String, String), String> {
    let (adapter, url) = s.split_once('=').ok_or_else(|| format!("`{s}` is not `ADAPTER=URL`"))?;
    if !url.contains("{keyword}") {
        return Err(format!("search URL `{url}` has no `{{keyword}}`"));
    }
    Ok((adapter.trim().to_string(), url.trim().to_string()))
}

pub async fn run(command: PlansCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    match command {
        PlansCommand::Check(args) => check(&args, data),
        PlansCommand::List(args) => list(&args, data),
        PlansCommand::Run(args) => run_by_hand(&args, data, identity).await,
        PlansCommand::History(args) => history(&args, data),
        PlansCommand::Schedule(args) => schedule(&args, data, identity).await,
    }
}

fn adapter_names(args: &BookArgs) -> anyhow::Result<Vec<String>> {
    Ok(adapter_set(args.adapters.as_deref())?.names())
}

fn check(args: &BookArgs, data: &DataDir) -> anyhow::Result<bool> {
    let book = PlanBook::open(data);
    let adapters = adapter_set(args.adapters.as_deref())?;
    let names = adapters.names();
    let plans = book.list(&names.iter().map(String::as_str).collect::<Vec<_>>());
    if plans.is_empty() {
        println!("no plan files in `{}`", book.dir().display());
    }
    let mut ok = true;
    for (file, compiled) in plans {
        match compiled {
            Ok(plan) => {
                println!("ok {} ({})", plan.id, file.display());
                // Not a problem of the file: `--search-url` may supply the start.
                if let Err(e) = crate::plans::stages::job_specs(&plan, &adapters, &BTreeMap::new(), None) {
                    println!("  note: {e} (give `--search-url` when running it)");
                }
            }
            Err(problems) => {
                ok = false;
                for p in problems {
                    println!("{p}");
                }
            }
        }
    }
    Ok(ok)
}

fn list(args: &BookArgs, data: &DataDir) -> anyhow::Result<bool> {
    let book = PlanBook::open(data);
    let names = adapter_names(args)?;
    let store = data.open_store()?;
    let summaries = crate::plans::RunSummaries::open(store.db())?;
    let now = Utc::now();
    let mut ok = true;
    for (file, compiled) in book.list(&names.iter().map(String::as_str).collect::<Vec<_>>()) {
        let plan = match compiled {
            Ok(plan) => plan,
            Err(problems) => {
                ok = false;
                println!("{}: {} problems (`spotcheck plans check`)", file.display(), problems.len());
                continue;
            }
        };
        let next: Vec<String> = plan.schedule.next_n(now, 3).into_iter().map(local).collect();
        let last = summaries.of_plan(&plan.id)?.pop();
        println!("{}  {}", plan.id, plan.title);
        println!("  campaign {}", plan.campaign.as_deref().unwrap_or("-"));
        println!(
            "  schedule {}  next {}",
            plan.schedule.as_str(),
            if next.is_empty() { "-".into() } else { next.join(", ") }
        );
        match last {
            Some(run) => println!("  last run {} {} at {}", run.run_id, run.state(), local(run.started_at)),
            None => println!("  last run -"),
        }
    }
    Ok(ok)
}

/// A time on the Shanghai clock, with its offset.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M%:z").to_string()
}

/// The runner `args` describe over `data`, opening its store.
async fn runner(args: &RunnerArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<PlanRunner> {
    runner_on(args, data.open_store()?, data, identity, None).await
}

/// The runner `args` describe over an open `store` of `data` (what `spotcheck serve` runs plans with).
pub async fn runner_on(
    args: &RunnerArgs,
    store: Store,
    data: &DataDir,
    identity: &Identity,
    draw_seed: Option<crate::sampling::Seed>,
) -> anyhow::Result<PlanRunner> {
    let adapters = adapter_set(args.book.adapters.as_deref())?;
    let options = RunnerOptions {
        concurrency: args.concurrency,
        politeness_off: args.no_politeness,
        lease_ttl: chrono::Duration::minutes(args.lease_minutes.max(1)),
        search_urls: args.search_urls.iter().cloned().collect::<BTreeMap<_, _>>(),
        max_pages: args.max_pages,
        history: args.history.clone(),
        network: args.network.policy(),
        cluster: args.cluster.connect().await?,
        draw_seed,
    };
    Ok(PlanRunner::new(store, data.clone(), identity.clone(), adapters, options)?)
}

/// The plan `id` of the runner's book, or an error naming the file and its problems.
fn plan(runner: &PlanRunner, id: &str) -> anyhow::Result<Plan> {
    let book = runner.book();
    let names = runner.adapter_names();
    match book.get(id, &names.iter().map(String::as_str).collect::<Vec<_>>()) {
        Some(Ok(plan)) => Ok(plan),
        Some(Err(problems)) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!("plan `{id}` has problems:\n{}", list.join("\n"))
        }
        None => bail!("no plan `{id}` (no readable `{}`)", book.path(id).display()),
    }
}

/// Who runs a plan by hand: the operators, else the station.
fn actor(identity: &Identity) -> String {
    if identity.operators.is_empty() {
        identity.station.clone()
    } else {
        format!("{} ({})", identity.operators.join(", "), identity.station)
    }
}

async fn run_by_hand(args: &RunArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let runner = runner_on(&args.runner, store, data, identity, args.seed).await?;
    let plan = plan(&runner, &args.id)?;
    let ticket = match runner.start_by_hand(&plan, &actor(identity))? {
        Ok(ticket) => ticket,
        Err(lease) => bail!(
            "plan `{}` is running already: run {} held by `{}` until {}",
            plan.id,
            lease.run_id,
            lease.holder,
            local(lease.expires)
        ),
    };
    eprintln!("plan `{}` run {} started", plan.id, ticket.run_id);
    let summary = runner.run_ticket(plan, ticket).await?;
    print_summary(&summary);
    Ok(summary.succeeded())
}

fn print_summary(s: &RunSummary) {
    println!("plan {} run {} {}", s.plan, s.run_id, s.state());
    println!("  started {} by {}", local(s.started_at), s.started_by);
    if let Some(c) = &s.campaign {
        println!("  campaign {c}");
    }
    println!("  jobs {}", if s.jobs.is_empty() { "-".into() } else { s.jobs.join(" ") });
    if let Some(seed) = &s.seed {
        let census = if s.census { " (a census: the sample size is not below the candidates)" } else { "" };
        println!("  drew {} of {} candidates{census}, size {}, seed {seed}", s.drawn, s.candidates, s.sample_size);
    }
    if let Some(dir) = &s.draw_dir {
        for name in [crate::sampling::DRAW_JSON, crate::sampling::DRAW_CSV, crate::sampling::CANDIDATES] {
            println!("  {}", dir.join(name).display());
        }
    }
    if s.seed.is_some() {
        println!("  findings {} new, {} already recorded", s.findings_new, s.findings_known);
    }
    if let Some(e) = &s.error {
        println!("  error: {e}");
    }
}

fn history(args: &HistoryArgs, data: &DataDir) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let runs = crate::plans::RunSummaries::open(store.db())?.of_plan(&args.id)?;
    let scheduler = crate::plans::Scheduler::open(store.db())?;
    let decisions = scheduler.history(&args.id)?;
    if runs.is_empty() && decisions.is_empty() {
        bail!("plan `{}` has no recorded runs or decisions", args.id);
    }
    for s in &runs {
        let finished = s.finished_at.map_or_else(|| "-".into(), local);
        println!(
            "run {}  {}  started {}  finished {}  drawn {}/{}  findings {} new  by {}",
            s.run_id,
            s.state(),
            local(s.started_at),
            finished,
            s.drawn,
            s.candidates,
            s.findings_new,
            s.started_by
        );
        if let Some(e) = &s.error {
            println!("  error: {e}");
        }
    }
    if args.decisions {
        for r in decisions {
            println!("{} {}", local(r.at), serde_json::to_string(&r.event)?);
        }
    }
    Ok(true)
}

async fn schedule(args: &ScheduleArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let runner = runner(&args.runner, data, identity).await?;
    let book = runner.book();
    eprintln!(
        "scheduling the plans in `{}` every {} s as `{}` (Ctrl-C stops)",
        book.dir().display(),
        args.every,
        runner.holder()
    );
    let every = std::time::Duration::from_secs(args.every.max(1));
    tokio::select! {
        () = runner.clone().schedule_loop(book, every) => {}
        stopped = tokio::signal::ctrl_c() => stopped.context("cannot listen for Ctrl-C")?,
    }
    // Ctrl-C interrupts the runs' crawls too: wait for them to record that.
    let going = runner.live();
    if !going.is_empty() {
        eprintln!("waiting for {} plan runs to stop and record how they ended", going.len());
    }
    for run in going {
        if let Some(summary) = runner.wait(run.run_id).await? {
            print_summary(&summary);
        }
    }
    Ok(true)
}
