//! The command line: one file per command group. Each parses its flags and
//! calls into the pipeline modules. `anyhow` is used here and in main.rs only:
//! the library modules return their own typed errors.

/// `writeln!` to stdout for list commands: a reader that stops early (`| head`)
/// ends the command quietly (`Ok(true)`); other write errors are returned.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(true);
            }
            return Err(e.into());
        }
    }};
}

pub mod adapters;
pub mod bench;
pub mod capture;
pub mod cases;
pub mod cluster;
pub mod crawl;
pub mod demo;
pub mod demo_console;
pub mod demo_live;
pub mod demo_notices;
pub mod evidence;
pub mod findings;
pub mod listings;
pub mod live;
pub mod market;
pub mod network;
pub mod notices;
pub mod plans;
pub mod report;
pub mod rules;
pub mod sampling;
pub mod score;
pub mod serve;
pub mod tokens;
pub mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{DataDir, Identity};

/// spotcheck: online product-quality spot checks — crawl listings, flag red
/// flags, seal evidence, route cases, notify platforms.
#[derive(Debug, Parser)]
#[command(name = "spotcheck", version, about, long_about = None)]
pub struct Cli {
    /// Where spotcheck keeps its database and evidence.
    #[arg(long, global = true, env = "SPOTCHECK_DATA_DIR", default_value = DataDir::DEFAULT)]
    pub data_dir: PathBuf,
    /// This station's id, recorded in captures and signed checkpoints (A-Z a-z 0-9 . _ -).
    #[arg(long, global = true, env = "SPOTCHECK_STATION", default_value = "station-1")]
    pub station: String,
    /// An operator on whose behalf the station works (repeat, or comma-separate in the env var).
    #[arg(long = "operator", global = true, env = "SPOTCHECK_OPERATORS", value_delimiter = ',')]
    pub operators: Vec<String>,
    /// The database's cache in MiB: it bounds the memory the stored data
    /// takes, however much is stored (RELIABILITY.md, "Memory").
    #[arg(long, global = true, env = "SPOTCHECK_DB_CACHE_MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub db_cache_mib: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole loop on the built-in sample marketplace (no network needed).
    Demo(demo::DemoArgs),
    /// Crawl a site with an adapter, or resume the same crawl.
    ///
    /// Only public http(s) addresses are fetched — redirects, robots.txt and
    /// the browser included — so pages cannot steer the crawl into this
    /// machine or its network. A site on loopback or a private network (the
    /// sample marketplace) must be allowed: --allow-host 127.0.0.1:8080 or
    /// SPOTCHECK_ALLOW_HOSTS=127.0.0.1:8080.
    Crawl(crawl::CrawlArgs),
    /// Capture one page now (plain HTTP or --browser) and seal it in the ledger.
    Capture(capture::CaptureArgs),
    /// Extract listings from one saved page or URL with an adapter.
    Extract(adapters::ExtractArgs),
    /// Site adapters.
    #[command(subcommand)]
    Adapters(AdaptersCommand),
    /// Stored listings.
    #[command(subcommand)]
    Listings(ListingsCommand),
    /// The built-in sample marketplace.
    #[command(subcommand)]
    Market(MarketCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Red-flag rules: check, test, evaluate, score against the sample marketplace.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Sealed evidence: the station key, the ledger, bundles and their verification.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Livestream rooms: watch one and seal what it showed.
    #[command(subcommand)]
    Live(live::LiveCommand),
    /// Run the shipped rules over every stored listing and record the findings.
    Flag(findings::FlagArgs),
    /// Triage findings: list, show, confirm (routes and opens or joins a case), dismiss.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// Cases: list, show (routing, merges, audit), record outcomes.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Notices to platforms: issue them from cases, follow them, verify delistings by re-crawl.
    #[command(subcommand)]
    Notices(notices::NoticesCommand),
    /// API tokens of staff and enforcement users (roles), and platforms' API keys.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// "双随机" sampling: draw a stratified, optionally risk-weighted sample with a recorded seed; verify a draw.
    #[command(subcommand)]
    Sample(sampling::SampleCommand),
    /// The spot-check result report (抽查结果) of a job, a plan or everything, or its public version (公示).
    Report(report::ReportArgs),
    /// Spot-check plans (`plans/<id>.toml` in the data directory): check, list, next run times, run now, history.
    #[command(subcommand)]
    Plans(plans::PlansCommand),
    /// Accounts of the web console (staff, enforcement, admin), with passwords.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Serve the API: staff, enforcement and platforms (notices, acknowledgements, dispositions).
    Serve(serve::ServeArgs),
    /// A crawl worker: takes page tasks from NATS JetStream, fetches, extracts
    /// and captures them for the control plane (`crawl`/`plans run`/`serve` with
    /// --nats). Run any number, on any machine (DEPLOY.md).
    Worker(cluster::WorkerArgs),
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// List findings with their triage status, and the false-positive rate per rule.
    List(findings::ListArgs),
    /// One finding, its triage history and its case, as JSON.
    Show(findings::ShowArgs),
    /// Confirm findings: each is routed and opens or joins a case (idempotent).
    Confirm(findings::ConfirmArgs),
    /// Dismiss findings as false positives (a reason is required).
    Dismiss(findings::DismissArgs),
    /// Triage counts and false-positive rate per rule.
    Stats(findings::StatsArgs),
}

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// List cases (optionally of one bureau).
    List(cases::ListArgs),
    /// One case: findings, shops, routing reason, merge log, audit log.
    Show(cases::ShowArgs),
    /// Record an enforcement step: filed, penalised, no_penalty, transferred_to_police, closed.
    Outcome(cases::OutcomeArgs),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files and report every problem with file and line.
    Check(rules::DirArgs),
    /// Run every rule's inline tests.
    Test(rules::DirArgs),
    /// Print the findings for one listing as a JSON array.
    Eval(rules::EvalArgs),
    /// Crawl the sample marketplace and print precision and recall per rule.
    Score(rules::ScoreArgs),
    /// Measure evaluation speed (listings/s on one core).
    Bench(rules::BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// Validate adapter files and report every problem with file and line.
    Check(adapters::CheckArgs),
    /// Score the generic adapter on real pages with ground truth (P/R/F1 per field).
    Score(score::ScoreArgs),
}

#[derive(Debug, Subcommand)]
pub enum ListingsCommand {
    /// Export the latest version of every listing.
    Export(listings::ExportArgs),
}

#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Serve the sample marketplace on loopback.
    Serve(market::MarketServeArgs),
}

/// Runs one command; `Ok(false)` means it ran but found what should fail the exit status.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    let data = DataDir::new(cli.data_dir).with_db_cache_mib(cli.db_cache_mib);
    let identity = Identity { station: cli.station, operators: cli.operators };
    Ok(match cli.command {
        Command::Demo(args) => demo::run_and_serve(args, &data, &identity).await?.ok,
        Command::Evidence(command) => evidence::run(command, &data, &identity).await?,
        Command::Live(command) => live::run(command, &data, &identity).await?,
        Command::Flag(args) => findings::flag(&args, &data)?,
        Command::Findings(command) => match command {
            FindingsCommand::List(args) => findings::list(&args, &data)?,
            FindingsCommand::Show(args) => findings::show(&args, &data)?,
            FindingsCommand::Confirm(args) => findings::confirm(&args, &data, &identity)?,
            FindingsCommand::Dismiss(args) => findings::dismiss(&args, &data, &identity)?,
            FindingsCommand::Stats(args) => findings::stats(&args, &data)?,
        },
        Command::Cases(command) => match command {
            CasesCommand::List(args) => cases::list(&args, &data)?,
            CasesCommand::Show(args) => cases::show(&args, &data)?,
            CasesCommand::Outcome(args) => cases::outcome(&args, &data, &identity)?,
        },
        Command::Crawl(args) => {
            let report = crawl::run(args, &data, &identity).await?;
            !report.interrupted
        }
        Command::Capture(args) => capture::run(args, &data, &identity).await?,
        Command::Extract(args) => {
            adapters::extract(&args, &data).await?;
            true
        }
        Command::Adapters(AdaptersCommand::Check(args)) => adapters::check(&args)?,
        Command::Adapters(AdaptersCommand::Score(args)) => score::run(args).await?,
        Command::Listings(ListingsCommand::Export(args)) => {
            listings::export(args, &data)?;
            true
        }
        Command::Notices(command) => notices::run(command, &data, &identity).await?,
        Command::Tokens(command) => tokens::run(command, &data, &identity).await?,
        Command::Sample(command) => sampling::run(command, &data)?,
        Command::Report(args) => report::run(&args, &data)?,
        Command::Plans(command) => plans::run(command, &data, &identity).await?,
        Command::Users(command) => users::run(command, &data)?,
        Command::Serve(args) => {
            serve::run(args, &data, &identity).await?;
            true
        }
        Command::Worker(args) => {
            cluster::worker(args).await?;
            true
        }
        Command::Market(MarketCommand::Serve(args)) => {
            market::serve(args).await?;
            true
        }
        Command::Bench(command) => bench::run(command).await?,
        Command::Rules(command) => match command {
            RulesCommand::Check(args) => rules::check(&args)?,
            RulesCommand::Test(args) => rules::test(&args)?,
            RulesCommand::Eval(args) => {
                rules::eval(&args)?;
                true
            }
            RulesCommand::Score(args) => rules::score(&args).await?,
            RulesCommand::Bench(args) => {
                rules::bench(&args)?;
                true
            }
        },
    })
}
