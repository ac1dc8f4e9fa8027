//! `spotcheck crawl`: run or resume a crawl job from flags or a plan file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::cli::adapters::{adapter_set, find_adapter};
use crate::config::{DataDir, Identity};
use crate::crawl::{run_job_with_browser, JobReport, RunOptions};
use crate::fetch::Politeness;
use crate::store::JobSpec;

#[derive(Debug, clap::Args)]
pub struct CrawlArgs {
    /// RFC 3161 time-stamping authority for the checkpoint signed at the end of the job.
    #[arg(long, env = "SPOTCHECK_TSA_URL")]
    pub tsa_url: Option<String>,
    /// Site adapter to read pages with (see `spotcheck adapters check`).
    #[arg(long, required_unless_present = "plan")]
    pub adapter: Option<String>,
    /// Where to start (repeatable).
    #[arg(long = "seed-url", value_name = "URL", required_unless_present_any = ["plan", "keywords"])]
    pub seed_urls: Vec<String>,
    /// Search for this keyword and crawl the results (repeatable; needs --search-url).
    #[arg(long = "keyword", value_name = "WORDS", requires = "search_url")]
    pub keywords: Vec<String>,
    /// The platform's search URL, with `{keyword}` where the keyword goes.
    #[arg(long, value_name = "TEMPLATE")]
    pub search_url: Option<String>,
    /// A plan file (TOML) instead of the flags above.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["adapter", "seed_urls", "keywords"])]
    pub plan: Option<PathBuf>,
    /// Stop after this many pages.
    #[arg(long)]
    pub max_pages: Option<u64>,
    /// Follow links at most this many hops from a seed.
    #[arg(long)]
    pub max_depth: Option<u32>,
    /// Fetch only a random sample of this many item pages (of all the list pages show).
    #[arg(long)]
    pub sample: Option<u64>,
    /// Seed of the sample draw (recorded; a random one is chosen if absent).
    #[arg(long, requires = "sample")]
    pub sample_seed: Option<u64>,
    /// Pages in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Tabs of the job's headless Chromium (adapters with `fetch = "browser"`).
    #[arg(long, default_value_t = 2)]
    pub browser_tabs: usize,
    /// Ignore robots.txt, giving the reason to record (e.g. a written authorisation).
    #[arg(long, value_name = "REASON")]
    pub ignore_robots: Option<String>,
    /// Do not rate-limit (only for servers you run yourself, e.g. the sample marketplace).
    #[arg(long)]
    pub no_politeness: bool,
    /// Extra adapter files (override the built-in ones by name).
    #[arg(long, value_name = "DIR")]
    pub adapters: Option<PathBuf>,
    /// Print a machine-readable summary on stdout at the end.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
    #[command(flatten)]
    pub cluster: crate::cli::cluster::ClusterArgs,
}

/// A plan file: the same settings as the flags, kept with the job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub id: Option<String>,
    pub adapter: String,
    #[serde(default)]
    pub seeds: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub search_url: Option<String>,
    pub max_pages: Option<u64>,
    pub max_depth: Option<u32>,
    pub sample: Option<u64>,
    pub sample_seed: Option<u64>,
    pub concurrency: Option<usize>,
    pub robots_override: Option<String>,
    pub politeness: Option<Politeness>,
    /// Hosts allowed although not public (as `--allow-host`): the plan's
    /// author is the operator, never a page.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

impl PlanFile {
    pub fn load(path: &Path) -> anyhow::Result<PlanFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan `{}`", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid plan `{}`", path.display()))
    }
}

pub async fn run(args: CrawlArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<JobReport> {
    let adapters = adapter_set(args.adapters.as_deref())?;
    let mut options = RunOptions {
        concurrency: args.concurrency,
        quiet: args.json,
        fetch: args.network.fetch_config(identity),
        cluster: args.cluster.connect().await?,
        ..RunOptions::default()
    };
    let spec = match &args.plan {
        Some(path) => {
            let plan = PlanFile::load(path)?;
            let allowed = plan
                .allow_hosts
                .iter()
                .map(|h| h.parse::<crate::fetch::HostAllow>())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("invalid plan `{}`", path.display()))?;
            options.fetch.network = options.fetch.network.with(allowed);
            if let Some(c) = plan.concurrency {
                options.concurrency = c;
            }
            options.politeness = plan.politeness;
            JobSpec {
                adapter: plan.adapter,
                seeds: plan.seeds,
                keywords: plan.keywords,
                search_url: plan.search_url,
                max_pages: args.max_pages.or(plan.max_pages),
                max_depth: args.max_depth.or(plan.max_depth),
                sample: args.sample.or(plan.sample),
                sample_seed: args.sample_seed.or(plan.sample_seed),
                robots_override: args.ignore_robots.clone().or(plan.robots_override),
                plan_id: plan.id,
            }
        }
        None => JobSpec {
            adapter: args.adapter.clone().unwrap_or_default(),
            seeds: args.seed_urls.clone(),
            keywords: args.keywords.clone(),
            search_url: args.search_url.clone(),
            max_pages: args.max_pages,
            max_depth: args.max_depth,
            sample: args.sample,
            sample_seed: args.sample_seed,
            robots_override: args.ignore_robots.clone(),
            plan_id: None,
        },
    };
    if args.no_politeness {
        options.politeness = Some(Politeness::unlimited());
    }
    let adapter = find_adapter(&adapters, &spec.adapter)?;
    let store = data.open_store()?;
    let blobs = evidence::BlobStore::open(data.blobs())?;
    let browser = match adapter.fetch {
        crate::adapters::FetchMode::Browser => Some(
            crate::browser::BrowserPool::launch(crate::browser::BrowserConfig {
                tabs: args.browser_tabs,
                network: options.fetch.network.clone(),
                ..Default::default()
            })
            .await?,
        ),
        crate::adapters::FetchMode::Http => None,
    };
    let report = run_job_with_browser(&store, blobs, adapter, spec, &options, browser).await?;
    // Seal what the job captured: a signed checkpoint over the ledger.
    let station = crate::sealing::Station::open(data, &store, identity)?;
    let checkpoint = station.checkpoint_timestamped(args.tsa_url.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
        let size = evidence::checkpoint::Checkpoint::parse(&checkpoint.text).map(|c| c.size).unwrap_or(0);
        println!("  sealed: ledger checkpoint of {size} entries signed by {}", station.key.public().fingerprint());
    }
    Ok(report)
}

pub fn print_report(r: &JobReport) {
    let c = &r.job.counters;
    let state = if r.interrupted {
        "interrupted (run the same command again to resume)"
    } else if r.limited {
        "stopped at the page limit"
    } else {
        "completed"
    };
    println!("job {} {state}", r.job.id);
    println!(
        "  pages {} ({} this run, {:.0}/s), errors {}, robots-disallowed {}",
        c.pages, r.pages_this_run, r.pages_per_sec, c.errors, c.robots_skipped
    );
    println!(
        "  listings {} new, {} changed, {} unchanged; shops {} new, {} changed, {} unchanged",
        c.listings_new, c.listings_changed, c.listings_unchanged, c.shops_new, c.shops_changed, c.shops_unchanged
    );
    if r.job.spec.sample.is_some() {
        println!("  sample: {} drawn of {} candidates, seed {}", c.sampled, c.candidates, r.job.sample_seed);
    }
}
