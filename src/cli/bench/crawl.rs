//! `spotcheck bench crawl`: pages/s, CPU and peak memory of a crawl of the
//! sample marketplace with politeness off.
//!
//! The marketplace runs as a separate process (this same binary, `market
//! serve`), so the figures for the crawler are its own: CPU seconds and peak
//! RSS come from /proc for each process separately.

use std::time::Instant;

use anyhow::Context;

use serde::Serialize;

use crate::cli::adapters::{adapter_set, find_adapter};
use crate::config::DataDir;
use crate::crawl::{run_job, RunOptions};
use crate::fetch::Politeness;
use crate::store::JobSpec;

use super::proc::{cpu_secs, dir_size, peak_rss_kib, reset_peak_rss, MarketProcess};

#[derive(Debug, clap::Args)]
pub struct BenchCrawlArgs {
    /// Pages to crawl per run.
    #[arg(long, default_value_t = 100_000)]
    pub pages: u64,
    /// Concurrency levels to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub concurrency: Vec<usize>,
    /// Adapter (and platform) to crawl.
    #[arg(long, default_value = "sample-mall")]
    pub adapter: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How the cost grows with the crawl: one crawl per page count given
    /// here (e.g. `10000,100000,1000000`), at the first `--concurrency`
    /// only; `--pages` is then ignored.
    #[arg(long, value_delimiter = ',')]
    pub scale: Vec<u64>,
    /// Crawl a marketplace already running at this URL instead of starting
    /// one (the suite and the peers benchmark measure each crawl in a fresh
    /// process this way, so one run's heap cannot inflate the next's RSS).
    #[arg(long, requires = "market_pid")]
    pub market_url: Option<String>,
    /// The process id of that marketplace, for its CPU seconds.
    #[arg(long)]
    pub market_pid: Option<u32>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct BenchRun {
    pub concurrency: usize,
    pub pages: u64,
    pub listings: u64,
    pub errors: u64,
    pub secs: f64,
    pub pages_per_sec: f64,
    pub crawler_cpu_secs: f64,
    pub crawler_cpu_secs_per_1000_pages: f64,
    pub crawler_peak_rss_mib: f64,
    pub server_cpu_secs: f64,
    /// The whole data directory: database and blobs.
    pub store_mib_on_disk: f64,
    /// The database alone (listings, frontier, ledger).
    pub db_mib_on_disk: f64,
    /// The captures (raw bodies and capture records).
    pub blobs_mib_on_disk: f64,
    /// Frontier entries still queued when the crawl stopped.
    pub frontier_queued: u64,
    /// URLs in the job's seen-set (every URL ever admitted).
    pub frontier_seen: u64,
}

pub async fn crawl(args: BenchCrawlArgs) -> anyhow::Result<Vec<BenchRun>> {
    // One crawl per concurrency level, or (with --scale) one per page count.
    let plan: Vec<(u64, usize)> = if args.scale.is_empty() {
        args.concurrency.iter().map(|&c| (args.pages, c)).collect()
    } else {
        let concurrency = args.concurrency.first().copied().unwrap_or(64);
        args.scale.iter().map(|&pages| (pages, concurrency)).collect()
    };
    let most = plan.iter().map(|&(pages, _)| pages).max().unwrap_or(args.pages);
    // Each listing is one item page; list and shop pages add ~10%, so this
    // many listings leave room for `most` pages on one platform.
    let started = match &args.market_url {
        Some(_) => None,
        None => Some(MarketProcess::start(most * 2 + 1000)?),
    };
    let (url, pid) = match (&started, &args.market_url, args.market_pid) {
        (Some(m), _, _) => (m.url.clone(), m.child.id()),
        (None, Some(url), Some(pid)) => (url.trim_end_matches('/').to_string(), pid),
        _ => anyhow::bail!("--market-url needs --market-pid"),
    };
    let mut runs = Vec::new();
    for (pages, concurrency) in plan {
        let run = crawl_at(&url, pid, &args.adapter, pages, concurrency, args.json).await?;
        if !args.json {
            println!(
                "concurrency {:>3}: {} pages in {:.1}s = {:.0} pages/s; crawler {:.2} CPU-s/1000 pages, peak RSS {:.0} MiB; server {:.1} CPU-s; store {:.0} MiB (db {:.0}, blobs {:.0}); frontier {} queued, {} seen; {} errors",
                run.concurrency, run.pages, run.secs, run.pages_per_sec, run.crawler_cpu_secs_per_1000_pages,
                run.crawler_peak_rss_mib, run.server_cpu_secs, run.store_mib_on_disk, run.db_mib_on_disk,
                run.blobs_mib_on_disk, run.frontier_queued, run.frontier_seen, run.errors
            );
        }
        runs.push(run);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    }
    Ok(runs)
}

/// One measured crawl in a fresh child process (`spotcheck bench crawl
/// --market-url …`), so its peak RSS is its own and not what earlier runs
/// in this process left on the heap. The suite and the peers benchmark use this.
pub async fn crawl_in_child(
    market: &MarketProcess,
    adapter_name: &str,
    pages: u64,
    concurrency: usize,
) -> anyhow::Result<BenchRun> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let output = tokio::process::Command::new(exe)
        .args(["bench", "crawl", "--json", "--adapter", adapter_name])
        .args(["--market-url", &market.url, "--market-pid", &market.child.id().to_string()])
        .args(["--pages", &pages.to_string(), "--concurrency", &concurrency.to_string()])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot start the crawl benchmark's child process")?;
    if !output.status.success() {
        anyhow::bail!("the crawl benchmark's child failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let runs: Vec<BenchRun> =
        serde_json::from_slice(&output.stdout).context("cannot read the crawl benchmark child's JSON")?;
    runs.into_iter().next().context("the crawl benchmark's child measured nothing")
}

/// One crawl of `pages` pages of a running marketplace into a fresh
/// temporary data directory, measured in this process.
pub async fn crawl_once(
    market: &MarketProcess,
    adapter_name: &str,
    pages: u64,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<BenchRun> {
    crawl_at(&market.url, market.child.id(), adapter_name, pages, concurrency, quiet).await
}

async fn crawl_at(
    market_url: &str,
    market_pid: u32,
    adapter_name: &str,
    pages: u64,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<BenchRun> {
    let adapters = adapter_set(None)?;
    let adapter = find_adapter(&adapters, adapter_name)?;
    let entry = match adapter_name {
        "sample-duo" => format!("{market_url}/duo/"),
        _ => format!("{market_url}/mall/"),
    };
    let dir = tempfile::tempdir()?;
    let data = DataDir::new(dir.path());
    let store = data.open_store()?;
    let blobs = evidence::BlobStore::open(data.blobs())?;
    let spec = JobSpec {
        adapter: adapter_name.to_string(),
        seeds: vec![entry],
        max_pages: Some(pages),
        max_depth: None,
        sample: None,
        sample_seed: None,
        robots_override: None,
        plan_id: Some(format!("bench-c{concurrency}")),
        ..JobSpec::default()
    };
    // The benchmark's own marketplace, allowed explicitly.
    let network = crate::cli::network::NetworkArgs::only(&url::Url::parse(market_url)?);
    let fetch = crate::fetch::FetchConfig { network: network.policy(), ..crate::fetch::FetchConfig::default() };
    let options = RunOptions { concurrency, politeness: Some(Politeness::unlimited()), quiet, fetch, cluster: None };
    let server_pid = market_pid.to_string();
    reset_peak_rss();
    let (cpu0, server0) = (cpu_secs("self"), cpu_secs(&server_pid));
    let t = Instant::now();
    let report = run_job(&store, blobs, adapter.clone(), spec, &options).await?;
    store.flush()?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs("self") - cpu0;
    let peak_rss = peak_rss_kib();
    let server_cpu = cpu_secs(&server_pid) - server0;
    let frontier = store.frontier(&report.job.id)?;
    let c = &report.job.counters;
    let mib = |path: &std::path::Path| dir_size(path) as f64 / (1024.0 * 1024.0);
    Ok(BenchRun {
        concurrency,
        pages: c.pages,
        listings: c.listings(),
        errors: c.errors,
        secs,
        pages_per_sec: c.pages as f64 / secs,
        crawler_cpu_secs: cpu,
        crawler_cpu_secs_per_1000_pages: cpu * 1000.0 / c.pages.max(1) as f64,
        crawler_peak_rss_mib: peak_rss as f64 / 1024.0,
        server_cpu_secs: server_cpu,
        store_mib_on_disk: mib(dir.path()),
        db_mib_on_disk: mib(&data.db()),
        blobs_mib_on_disk: mib(&data.blobs()),
        frontier_queued: frontier.pending_len() as u64,
        frontier_seen: frontier.seen_len() as u64,
    })
}
