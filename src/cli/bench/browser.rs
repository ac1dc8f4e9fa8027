//! `spotcheck bench browser`: how many browser captures a station makes per
//! minute, and what each tab costs in memory, for pool sizes 1, 2, 4 ….
//!
//! Each capture is the full evidence path: render a script-only item page of
//! the sample marketplace (served in-process on loopback), wait for its
//! title, take the DOM, full-page PNG, MHTML and network log, and seal them
//! into a scratch blob store. Memory is summed over Chromium's whole process
//! tree (browser, renderers, GPU/utility), sampled while the pages run, as
//! RSS (shared libraries counted once per process: an upper bound) and as
//! PSS (shared pages split among their sharers: what the tree really costs);
//! the peaks divided by the tabs are the figures per tab.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use url::Url;

use crate::browser::{process_tree, pss_bytes, rss_bytes, BrowserConfig, BrowserPool};
use crate::fetch::{FetchConfig, FetchContext};
use crate::market::{Market, MarketConfig};

#[derive(Debug, clap::Args)]
pub struct BenchBrowserArgs {
    /// Pages to capture per pool size.
    #[arg(long, default_value_t = 40)]
    pub pages: usize,
    /// Pool sizes (tabs) to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    pub tabs: Vec<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print nothing: the caller (the suite) reports the figures.
    #[arg(skip)]
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
pub struct BrowserBenchRun {
    pub tabs: usize,
    pub pages: usize,
    pub errors: u64,
    pub secs: f64,
    pub captures_per_min: f64,
    pub peak_rss_mib: f64,
    pub rss_mib_per_tab: f64,
    pub peak_pss_mib: f64,
    pub pss_mib_per_tab: f64,
    pub chromium_processes: usize,
    pub bytes_sealed_per_page: u64,
}

pub async fn run(args: BenchBrowserArgs) -> anyhow::Result<Vec<BrowserBenchRun>> {
    let market = Arc::new(Market::new(MarketConfig { seed: 7, listings: 2_000, count_hits: false }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind a loopback port")?;
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    let app = Arc::clone(&market).router();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let urls: Vec<Url> = market
        .truth(&base)
        .filter(|t| t.listing.platform == "sample-mall")
        .map(|t| base.join(&format!("/mall/js/item/{}", t.listing.item_id)))
        .take(args.pages)
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!urls.is_empty(), "the sample marketplace has no mall items");

    let mut runs = Vec::new();
    for &tabs in &args.tabs {
        runs.push(measure(tabs.max(1), &urls).await?);
    }
    server.abort();
    if args.quiet {
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!("browser captures (render + seal) of {} script-only pages, release build", urls.len());
        println!(
            "{:>5} {:>6} {:>6} {:>7} {:>12} {:>9} {:>8} {:>9} {:>8} {:>6} {:>9}",
            "tabs",
            "pages",
            "errors",
            "secs",
            "captures/min",
            "RSS MiB",
            "RSS/tab",
            "PSS MiB",
            "PSS/tab",
            "procs",
            "KiB/page"
        );
        for r in &runs {
            println!(
                "{:>5} {:>6} {:>6} {:>7.1} {:>12.0} {:>9.0} {:>8.0} {:>9.0} {:>8.0} {:>6} {:>9.0}",
                r.tabs,
                r.pages,
                r.errors,
                r.secs,
                r.captures_per_min,
                r.peak_rss_mib,
                r.rss_mib_per_tab,
                r.peak_pss_mib,
                r.pss_mib_per_tab,
                r.chromium_processes,
                r.bytes_sealed_per_page as f64 / 1024.0
            );
        }
    }
    Ok(runs)
}

async fn measure(tabs: usize, urls: &[Url]) -> anyhow::Result<BrowserBenchRun> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let blobs = evidence::BlobStore::open(scratch.path().join("blobs"))?.with_fsync(false);
    // The benchmark's own marketplace, allowed explicitly.
    let network = urls.first().map(crate::cli::network::NetworkArgs::only).unwrap_or_default();
    let pool = BrowserPool::launch(BrowserConfig { tabs, ..network.browser_config() }).await?;
    // Warm-up: one page per tab opens the tabs (not part of the figure).
    let warm: Vec<_> = urls.iter().cycle().take(tabs).cloned().collect();
    for r in futures::future::join_all(warm.iter().map(|u| pool.render(u, Some("h1.item-title")))).await {
        r?;
    }

    let peak = Arc::new(AtomicU64::new(0));
    let peak_pss = Arc::new(AtomicU64::new(0));
    let procs = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, peak_pss, procs, pid) =
            (Arc::clone(&peak), Arc::clone(&peak_pss), Arc::clone(&procs), pool.browser_pid());
        tokio::spawn(async move {
            let Some(pid) = pid else { return };
            loop {
                let tree = tokio::task::spawn_blocking(move || {
                    let tree = process_tree(pid);
                    let rss = tree.iter().filter_map(|p| rss_bytes(*p)).sum::<u64>();
                    (tree.len(), rss, tree.iter().filter_map(|p| pss_bytes(*p)).sum::<u64>())
                })
                .await
                .unwrap_or((0, 0, 0));
                peak.fetch_max(tree.1, Ordering::Relaxed);
                peak_pss.fetch_max(tree.2, Ordering::Relaxed);
                procs.fetch_max(tree.0 as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let errors = Arc::new(AtomicU64::new(0));
    let sealed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = urls
        .iter()
        .cloned()
        .map(|url| {
            let (pool, blobs, errors, sealed) = (pool.clone(), blobs.clone(), errors.clone(), sealed.clone());
            tokio::spawn(async move {
                let result = match pool.render(&url, Some("h1.item-title")).await {
                    Ok(r) => crate::browser::seal(&r, &blobs, &FetchConfig::default(), &FetchContext::default())
                        .await
                        .map(|(_, record)| {
                            record.artifacts.iter().map(|a| a.bytes).sum::<u64>() + record.response.body_len
                        }),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(bytes) => {
                        sealed.fetch_add(bytes, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a capture task stopped")?;
    }
    let secs = started.elapsed().as_secs_f64();
    sampler.abort();
    blobs.sync()?;
    let peak_mib = peak.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
    let pss_mib = peak_pss.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
    let errors = errors.load(Ordering::Relaxed);
    let ok = (urls.len() as u64).saturating_sub(errors).max(1);
    Ok(BrowserBenchRun {
        tabs,
        pages: urls.len(),
        errors,
        secs,
        captures_per_min: (urls.len() as u64 - errors) as f64 * 60.0 / secs.max(1e-9),
        peak_rss_mib: peak_mib,
        rss_mib_per_tab: peak_mib / tabs as f64,
        peak_pss_mib: pss_mib,
        pss_mib_per_tab: pss_mib / tabs as f64,
        chromium_processes: procs.load(Ordering::Relaxed) as usize,
        bytes_sealed_per_page: sealed.load(Ordering::Relaxed) / ok,
    })
}
