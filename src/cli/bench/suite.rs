//! `spotcheck bench all`: every stage, one after the other, then one table —
//! what spotcheck did, what the peer did on the same machine in the same run,
//! the ratio, the target and whether it was met.
//!
//! A stage whose tool is missing (wrk, Chromium, Scrapy) is reported as
//! skipped with the reason, and the others still run. Everything measured
//! is also written as JSON (`--out`), which is what BENCHMARKS.md quotes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::proc::{self, MarketProcess};
use super::{api, browser, crawl, extract, peers, seal};
use crate::cli::rules;

#[derive(Debug, clap::Args)]
pub struct BenchAllArgs {
    /// Pages per crawl run (the figure is 100,000; the whole suite
    /// then takes about 12 minutes on 2 cores).
    #[arg(long, default_value_t = 100_000)]
    pub crawl_pages: u64,
    /// Stages to leave out, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<Stage>,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Crawl,
    Peers,
    Extract,
    Rules,
    Seal,
    Api,
    Browser,
}

const STAGES: [Stage; 7] =
    [Stage::Crawl, Stage::Peers, Stage::Extract, Stage::Rules, Stage::Seal, Stage::Api, Stage::Browser];

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub stage: Stage,
    pub measure: String,
    pub spotcheck: String,
    /// The peer's figure on the same machine in the same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the target was met; `None` when the row has no target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

impl Row {
    fn new(stage: Stage, measure: impl Into<String>, spotcheck: impl Into<String>) -> Row {
        Row {
            stage,
            measure: measure.into(),
            spotcheck: spotcheck.into(),
            peer: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    fn peer(mut self, peer: impl Into<String>, ratio: f64) -> Row {
        self.peer = Some(peer.into());
        self.ratio = Some(format!("{ratio:.2}×"));
        self
    }

    fn target(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = Some(target.into());
        self.met = Some(met);
        self
    }
}

/// A stage that did not run, and why.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub stage: Stage,
    pub reason: String,
}

/// The machine the figures were measured on.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub spotcheck: String,
    pub release_build: bool,
}

#[derive(Debug, Serialize)]
pub struct SuiteReport {
    pub machine: Machine,
    pub started: DateTime<Utc>,
    pub secs: f64,
    pub rows: Vec<Row>,
    pub skipped: Vec<Skipped>,
    /// Each stage's full figures, as its own `spotcheck bench …` prints them with `--json`.
    pub stages: serde_json::Map<String, serde_json::Value>,
}

pub async fn run(args: BenchAllArgs) -> anyhow::Result<SuiteReport> {
    let machine = machine();
    if !machine.release_build {
        eprintln!("warning: this is a debug build; its figures mean nothing (cargo build --release)");
    }
    let started = Utc::now();
    let clock = Instant::now();
    let mut report = SuiteReport {
        machine,
        started,
        secs: 0.0,
        rows: Vec::new(),
        skipped: Vec::new(),
        stages: serde_json::Map::new(),
    };
    let todo: Vec<Stage> = STAGES.into_iter().filter(|s| !args.skip.contains(s)).collect();
    for (n, &stage) in todo.iter().enumerate() {
        let stage_clock = Instant::now();
        eprintln!("[{}/{}] {} …", n + 1, todo.len(), name(stage));
        match run_stage(stage, &args).await {
            Ok((figures, rows)) => {
                report.stages.insert(name(stage).to_string(), figures);
                report.rows.extend(rows);
                eprintln!(
                    "[{}/{}] {} done in {:.0} s",
                    n + 1,
                    todo.len(),
                    name(stage),
                    stage_clock.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("[{}/{}] {} skipped: {e:#}", n + 1, todo.len(), name(stage));
                report.skipped.push(Skipped { stage, reason: format!("{e:#}") });
            }
        }
    }
    report.secs = clock.elapsed().as_secs_f64();
    print_table(&report);
    if let Some(path) = &args.out {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    Ok(report)
}

fn name(stage: Stage) -> &'static str {
    match stage {
        Stage::Crawl => "crawl",
        Stage::Peers => "peers",
        Stage::Extract => "extract",
        Stage::Rules => "rules",
        Stage::Seal => "seal",
        Stage::Api => "api",
        Stage::Browser => "browser",
    }
}

type StageFigures = (serde_json::Value, Vec<Row>);

async fn run_stage(stage: Stage, args: &BenchAllArgs) -> anyhow::Result<StageFigures> {
    match stage {
        Stage::Crawl => crawl_stage(args.crawl_pages).await,
        Stage::Peers => peers_stage().await,
        Stage::Extract => extract_stage().await,
        Stage::Rules => rules_stage().await,
        Stage::Seal => seal_stage().await,
        Stage::Api => api_stage().await,
        Stage::Browser => browser_stage().await,
    }
}

/// The crawl at two concurrency levels, then a tenth of the pages to show how
/// the cost grows with the crawl.
async fn crawl_stage(pages: u64) -> anyhow::Result<StageFigures> {
    let market = MarketProcess::start(pages * 2 + 1000)?;
    // Each crawl in its own process, so each peak RSS is that crawl's own.
    let mut runs = Vec::new();
    for concurrency in [16, 64] {
        runs.push(crawl::crawl_in_child(&market, "sample-mall", pages, concurrency).await?);
    }
    let small = crawl::crawl_in_child(&market, "sample-mall", (pages / 10).max(1000), 64).await?;
    let mut rows = Vec::new();
    for r in &runs {
        let at = format!("{} pages, concurrency {}", thousands(r.pages), r.concurrency);
        rows.push(Row::new(Stage::Crawl, format!("pages/s ({at})"), format!("{:.0}", r.pages_per_sec)));
        rows.push(Row::new(
            Stage::Crawl,
            format!("crawler CPU-s per 1,000 pages ({at})"),
            format!("{:.2}", r.crawler_cpu_secs_per_1000_pages),
        ));
    }
    let big = runs.last().context("no crawl ran")?;
    let growth = big.crawler_peak_rss_mib / small.crawler_peak_rss_mib.max(1.0);
    let per_page = (big.crawler_peak_rss_mib - small.crawler_peak_rss_mib) * 1024.0 * 1024.0
        / big.pages.saturating_sub(small.pages).max(1) as f64;
    rows.push(
        Row::new(
            Stage::Crawl,
            format!("peak RSS, {} → {} pages (concurrency 64)", thousands(small.pages), thousands(big.pages)),
            format!(
                "{:.0} → {:.0} MiB (×{growth:.2}, {per_page:.0} B per added page)",
                small.crawler_peak_rss_mib, big.crawler_peak_rss_mib
            ),
        )
        .target("bounded: RSS grows < 2× for 10× the pages", growth < 2.0),
    );
    rows.push(Row::new(
        Stage::Crawl,
        format!("frontier (seen URLs) and store on disk, {} → {} pages", thousands(small.pages), thousands(big.pages)),
        format!(
            "{} → {} URLs; database {:.0} → {:.0} MiB, captures {:.0} → {:.0} MiB",
            thousands(small.frontier_seen),
            thousands(big.frontier_seen),
            small.db_mib_on_disk,
            big.db_mib_on_disk,
            small.blobs_mib_on_disk,
            big.blobs_mib_on_disk
        ),
    ));
    runs.push(small);
    Ok((serde_json::to_value(&runs)?, rows))
}

async fn peers_stage() -> anyhow::Result<StageFigures> {
    let report = peers::run(peers::BenchPeersArgs::quick()).await?;
    let mut rows = Vec::new();
    for level in &report.levels {
        let median = |f: &dyn Fn(&peers::Pair) -> f64| peers::median(&level.pairs.iter().map(f).collect::<Vec<_>>());
        let at = format!(
            "{} pages, concurrency {}, median of {} A/B pairs",
            thousands(report.pages),
            level.concurrency,
            level.pairs.len()
        );
        rows.push(
            Row::new(
                Stage::Peers,
                format!("pages/s vs Scrapy ({at})"),
                format!("{:.0}", median(&|p| p.spotcheck.pages_per_sec)),
            )
            .peer(format!("{:.0}", median(&|p| p.scrapy.pages_per_sec)), level.median_speed_ratio)
            .target("≥ 5× Scrapy", level.speed_target_met),
        );
        let mut cpu = Row::new(
            Stage::Peers,
            format!("CPU-s per 1,000 pages vs Scrapy ({at})"),
            format!("{:.2}", median(&|p| p.spotcheck.crawler_cpu_secs_per_1000_pages)),
        )
        .peer(format!("{:.2}", median(&|p| p.scrapy.cpu_secs_per_1000_pages)), level.median_cpu_ratio)
        .target("≤ 1/5 of Scrapy's (ratio ≥ 5×)", level.cpu_target_met);
        cpu.ratio = Some(format!("1/{:.2}", level.median_cpu_ratio));
        rows.push(cpu);
        rows.push(
            Row::new(
                Stage::Peers,
                format!("peak RSS vs Scrapy (concurrency {})", level.concurrency),
                format!("{:.0} MiB", median(&|p| p.spotcheck.crawler_peak_rss_mib)),
            )
            .peer(format!("{:.0} MiB", median(&|p| p.scrapy.peak_rss_mib)), {
                median(&|p| p.spotcheck.crawler_peak_rss_mib) / median(&|p| p.scrapy.peak_rss_mib).max(1.0)
            }),
        );
    }
    Ok((serde_json::to_value(&report)?, rows))
}

async fn extract_stage() -> anyhow::Result<StageFigures> {
    let report = extract::run(extract::BenchExtractArgs::quick()).await?;
    // The report's rows, in its order: spotcheck's generic extractor, its parse
    // alone; extruct with four syntaxes, without RDFa, lxml's parse alone.
    let [ours, our_parse, extruct, extruct_no_rdfa, lxml] = &report.rows[..] else {
        anyhow::bail!("bench extract gave {} rows, not 5", report.rows.len());
    };
    let at = format!("{} real pages, {:.0} MiB, one core", report.pages, report.mib);
    let versus = |label: &str, ours: &extract::ExtractRow, theirs: &extract::ExtractRow| {
        Row::new(Stage::Extract, format!("µs per page, {label} ({at})"), format!("{:.0}", ours.us_per_page))
            .peer(format!("{:.0}", theirs.us_per_page), theirs.us_per_page / ours.us_per_page.max(1e-9))
    };
    let rows = vec![
        versus("generic extractor vs extruct (JSON-LD, microdata, RDFa, OpenGraph)", ours, extruct),
        versus("generic extractor vs extruct without RDFa", ours, extruct_no_rdfa),
        versus("HTML parse only, html5ever vs lxml", our_parse, lxml),
    ];
    Ok((serde_json::to_value(&report)?, rows))
}

async fn rules_stage() -> anyhow::Result<StageFigures> {
    let args = rules::BenchArgs { listings: 100_000, seed: 1, passes: 3 };
    let r = tokio::task::spawn_blocking(move || rules::bench_run(&args)).await??;
    let row = Row::new(
        Stage::Rules,
        format!("listings/s on one core ({} rules, {} listings)", r.rules, thousands(r.listings as u64)),
        format!("{:.0}", r.listings_per_sec),
    )
    .target("≥ 200,000", r.listings_per_sec >= 200_000.0);
    Ok((serde_json::to_value(&r)?, vec![row]))
}

async fn seal_stage() -> anyhow::Result<StageFigures> {
    let args =
        seal::BenchSealArgs { hash_mib: 512, captures: 2000, body_kib: 128, per_bundle: 10, json: true, quiet: true };
    let s = seal::run(args).await?;
    let mut rows = Vec::new();
    let hash = Row::new(
        Stage::Seal,
        "SHA-256 MB/s (sha2 crate vs sha256sum, same bytes)",
        format!("{:.0}", s.sha256_mb_per_sec),
    );
    rows.push(match s.sha256sum_mb_per_sec {
        Some(peer) => hash
            .peer(format!("{peer:.0}"), s.sha256_mb_per_sec / peer)
            .target("≥ 0.80× sha256sum", s.sha256_mb_per_sec >= 0.8 * peer),
        None => hash,
    });
    let store = Row::new(
        Stage::Seal,
        "sealing captures: hashed + written + synced, MB/s (vs sha256sum)",
        format!("{:.0}", s.store_mb_per_sec),
    );
    rows.push(match s.sha256sum_mb_per_sec {
        Some(peer) => store
            .peer(format!("{peer:.0}"), s.store_mb_per_sec / peer)
            .target("≥ 0.80× sha256sum", s.store_mb_per_sec >= 0.8 * peer),
        None => store,
    });
    rows.push(Row::new(
        Stage::Seal,
        "bundles sealed per second (WARC + index + report + signed ZIP)",
        format!("{:.0} ({:.0} MB/s)", s.bundles_per_sec, s.bundle_mb_per_sec),
    ));
    rows.push(Row::new(
        Stage::Seal,
        "bundles verified per second",
        format!("{:.0} ({:.0} MB/s)", s.verified_per_sec, s.verify_mb_per_sec),
    ));
    Ok((serde_json::to_value(&s)?, rows))
}

async fn api_stage() -> anyhow::Result<StageFigures> {
    let loads = api::run(api::BenchApiArgs::quick()).await?;
    let rows = loads
        .iter()
        .map(|l| {
            let notices =
                if l.notices_per_sec > 0.0 { format!(", {:.0} notices/s", l.notices_per_sec) } else { String::new() };
            Row::new(
                Stage::Api,
                format!("{} ({} connections)", l.name, l.connections),
                format!("{:.0} req/s{notices}, p50 {:.2} ms, p99 {:.2} ms", l.requests_per_sec, l.p50_ms, l.p99_ms),
            )
            .target(
                "≥ 20,000 req/s, p99 ≤ 10 ms",
                l.requests_per_sec >= 20_000.0 && l.p99_ms <= 10.0 && l.non_2xx == 0 && l.errors == 0,
            )
        })
        .collect();
    Ok((serde_json::to_value(&loads)?, rows))
}

async fn browser_stage() -> anyhow::Result<StageFigures> {
    let runs =
        browser::run(browser::BenchBrowserArgs { pages: 40, tabs: vec![1, 2, 4], json: true, quiet: true }).await?;
    let rows = runs
        .iter()
        .map(|r| {
            Row::new(
                Stage::Browser,
                format!("captures/min and memory, {} tab(s)", r.tabs),
                format!(
                    "{:.0} /min, {:.0} MiB PSS per tab ({:.0} RSS)",
                    r.captures_per_min, r.pss_mib_per_tab, r.rss_mib_per_tab
                ),
            )
        })
        .collect();
    Ok((serde_json::to_value(&runs)?, rows))
}

fn print_table(report: &SuiteReport) {
    let m = &report.machine;
    println!(
        "spotcheck {} on {} ({} cores, {:.0} GiB, Linux {}), {}, {:.0} s",
        m.spotcheck,
        m.cpu,
        m.cores,
        m.memory_gib,
        m.kernel,
        report.started.format("%Y-%m-%d %H:%M UTC"),
        report.secs
    );
    println!();
    println!("| stage | measure | spotcheck | peer | ratio | target | met |");
    println!("|---|---|---:|---:|---:|---|---|");
    for r in &report.rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            name(r.stage),
            r.measure,
            r.spotcheck,
            r.peer.as_deref().unwrap_or(""),
            r.ratio.as_deref().unwrap_or(""),
            r.target.as_deref().unwrap_or(""),
            met
        );
    }
    for s in &report.skipped {
        println!("\nskipped {}: {}", name(s.stage), s.reason);
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib = proc::kib_field("/proc/meminfo", "MemTotal:") as f64;
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: mem_kib / (1024.0 * 1024.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        spotcheck: crate::TOOL.to_string(),
        release_build: !cfg!(debug_assertions),
    }
}

/// 100000 → "100,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn rows_record_ratio_and_verdict() {
        let row = Row::new(Stage::Seal, "m", "500").peer("100", 5.0).target("≥ 0.80×", true);
        assert_eq!(row.ratio.as_deref(), Some("5.00×"));
        assert_eq!(row.met, Some(true));
    }
}
