//! `spotcheck bench crawl`: pages/s, CPU and peak memory of a crawl of the
//! sample marketplace with politeness off.
//!
//! The marketplace runs as a separate process (this same binary, `market
//! serve`), so the figures for the crawler are its own: CPU seconds and peak
//! RSS come from /proc for each process separately.

use std::time::Instant;

use serde::Serialize;

use crate::cli::adapters::{adapter_set, find_adapter};
use crate::config::DataDir;
use crate::crawl::{run_job, RunOptions};
use crate::fetch::Politeness;
use crate::store::{JobSpec, Store};

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
}

#[derive(Debug, Serialize)]
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
    pub store_mib_on_disk: f64,
}

pub async fn crawl(args: BenchCrawlArgs) -> anyhow::Result<Vec<BenchRun>> {
    let adapters = adapter_set(None)?;
    let adapter = find_adapter(&adapters, &args.adapter)?;
    // Each listing is one item page; list and shop pages add ~10%, so this
    // many listings leave room for `pages` pages on one platform.
    let listings = args.pages * 2 + 1000;
    let market = MarketProcess::start(listings)?;
    let entry = match args.adapter.as_str() {
        "sample-duo" => format!("{}/duo/", market.url),
        _ => format!("{}/mall/", market.url),
    };
    let mut runs = Vec::new();
    for &concurrency in &args.concurrency {
        let dir = tempfile::tempdir()?;
        let data = DataDir::new(dir.path());
        let store = Store::open(&data.db())?;
        let blobs = evidence::BlobStore::open(data.blobs())?;
        let spec = JobSpec {
            adapter: args.adapter.clone(),
            seeds: vec![entry.clone()],
            max_pages: Some(args.pages),
            max_depth: None,
            sample: None,
            sample_seed: None,
            robots_override: None,
            plan_id: Some(format!("bench-c{concurrency}")),
            ..JobSpec::default()
        };
        let options = RunOptions {
            concurrency,
            politeness: Some(Politeness::unlimited()),
            quiet: args.json,
            ..RunOptions::default()
        };
        reset_peak_rss();
        let (cpu0, server0) = (cpu_secs("self"), cpu_secs(&market.child.id().to_string()));
        let t = Instant::now();
        let report = run_job(&store, blobs, adapter.clone(), spec, &options).await?;
        store.flush()?;
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs("self") - cpu0;
        let c = &report.job.counters;
        let run = BenchRun {
            concurrency,
            pages: c.pages,
            listings: c.listings(),
            errors: c.errors,
            secs,
            pages_per_sec: c.pages as f64 / secs,
            crawler_cpu_secs: cpu,
            crawler_cpu_secs_per_1000_pages: cpu * 1000.0 / c.pages.max(1) as f64,
            crawler_peak_rss_mib: peak_rss_kib() as f64 / 1024.0,
            server_cpu_secs: cpu_secs(&market.child.id().to_string()) - server0,
            store_mib_on_disk: dir_size(dir.path()) as f64 / (1024.0 * 1024.0),
        };
        if !args.json {
            println!(
                "concurrency {:>3}: {} pages in {:.1}s = {:.0} pages/s; crawler {:.2} CPU-s/1000 pages, peak RSS {:.0} MiB; server {:.1} CPU-s; store {:.0} MiB; {} errors",
                run.concurrency, run.pages, run.secs, run.pages_per_sec, run.crawler_cpu_secs_per_1000_pages,
                run.crawler_peak_rss_mib, run.server_cpu_secs, run.store_mib_on_disk, run.errors
            );
        }
        runs.push(run);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    }
    Ok(runs)
}

