//! `spotcheck bench peers`: spotcheck's crawler against a Scrapy spider on the
//! sample marketplace, run alternately (A B A B …) at each concurrency level.
//!
//! One marketplace process serves both. A is [`crawl_in_child`] (the same measured
//! crawl as `bench crawl`: fetch, store every raw response and capture record
//! content-addressed and durably, extract, commit in the store); B is
//! `benches/peers/mall_spider.py`, a Scrapy spider with the sample-mall
//! adapter's page kinds, link selectors and fields, politeness off and the
//! same concurrency, writing its items to a JSON-lines feed (what it does and
//! does not do is written at the top of the spider). The spider reports its
//! own pages, seconds, CPU (getrusage) and peak RSS (VmHWM) in one JSON line.
//!
//! Per pair: pages/s of each and their ratio (spotcheck ÷ Scrapy), CPU seconds
//! per 1,000 pages of each and their ratio (Scrapy ÷ spotcheck), peak RSS; per
//! level the median of the pair ratios against the targets (≥ 5× the pages/s,
//! ≤ 1/5 of the CPU per page).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::crawl::{crawl_in_child, BenchRun};
use super::proc::{cpu_secs, MarketProcess};

/// The spider, in the peers directory.
pub const SPIDER: &str = "mall_spider.py";
/// What the spider and the extruct benchmark need.
pub const REQUIREMENTS: &str = "requirements.txt";
/// The targets of issue 9: spotcheck at least this many times Scrapy's pages/s, and at most 1/this of its CPU per page.
pub const TARGET_RATIO: f64 = 5.0;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchPeersArgs {
    /// Pages each crawl fetches (both crawlers).
    #[arg(long, default_value_t = 20_000)]
    pub pages: u64,
    /// Concurrency levels (both crawlers: pages in flight; Scrapy's CONCURRENT_REQUESTS), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub concurrency: Vec<usize>,
    /// A B pairs (spotcheck, then Scrapy) per concurrency level.
    #[arg(long, default_value_t = 3)]
    pub pairs: usize,
    #[command(flatten)]
    pub peer: PythonPeer,
}

/// How a benchmark finds and runs its Python peer, and what it prints.
#[derive(Debug, Clone, clap::Args)]
pub struct PythonPeer {
    /// Where the peers' scripts are [default: `benches/peers` here, else in the source tree].
    #[arg(long)]
    pub peers_dir: Option<PathBuf>,
    /// The Python interpreter that has the peer (Scrapy, extruct).
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print no table or JSON at the end (the suite prints its own); progress still goes to stderr.
    #[arg(skip)]
    pub quiet: bool,
}

impl PythonPeer {
    /// For the suite: found as by default, nothing printed at the end.
    pub fn quiet() -> PythonPeer {
        PythonPeer { peers_dir: None, python: "python3".to_string(), json: false, quiet: true }
    }

    /// Prints the report as JSON or as `table` says, unless quiet.
    pub fn print<T: Serialize>(&self, report: &T, table: impl Fn(&T) -> String) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(report)?);
        } else if !self.quiet {
            print!("{}", table(report));
        }
        Ok(())
    }
}

impl BenchPeersArgs {
    /// The whole suite's run: 10,000 pages, 2 pairs, concurrency 16 and 64
    /// (about 4 minutes on 2 cores, nearly all of it Scrapy's).
    pub fn quick() -> BenchPeersArgs {
        BenchPeersArgs { pages: 10_000, concurrency: vec![16, 64], pairs: 2, peer: PythonPeer::quiet() }
    }
}

/// The JSON line the spider prints at the end.
#[derive(Debug, Clone, Deserialize)]
pub struct SpiderStats {
    pub scrapy: String,
    pub python: String,
    pub concurrency: usize,
    pub pages: u64,
    pub items: u64,
    pub listings: u64,
    pub shops: u64,
    /// Item or shop pages without a required field.
    pub drift: u64,
    pub errors: u64,
    pub finish_reason: Option<String>,
    /// From the spider's opening to the end of the crawl (feed closed).
    pub secs: f64,
    /// CPU over the same span (getrusage, user + system).
    pub cpu_secs: f64,
    /// Also starting Python and importing Scrapy.
    pub cpu_secs_total: f64,
    pub peak_rss_kib: u64,
    pub feed_bytes: u64,
}

/// One Scrapy crawl, as reported beside spotcheck's [`BenchRun`].
#[derive(Debug, Clone, Serialize)]
pub struct ScrapyRun {
    pub concurrency: usize,
    pub pages: u64,
    pub listings: u64,
    pub shops: u64,
    pub errors: u64,
    pub drift: u64,
    pub secs: f64,
    pub pages_per_sec: f64,
    pub cpu_secs: f64,
    pub cpu_secs_per_1000_pages: f64,
    /// CPU including interpreter start-up and imports (not used in the ratios).
    pub cpu_secs_with_startup: f64,
    pub peak_rss_mib: f64,
    pub server_cpu_secs: f64,
    pub feed_mib: f64,
}

impl ScrapyRun {
    fn from_stats(s: &SpiderStats, server_cpu_secs: f64) -> ScrapyRun {
        ScrapyRun {
            concurrency: s.concurrency,
            pages: s.pages,
            listings: s.listings,
            shops: s.shops,
            errors: s.errors,
            drift: s.drift,
            secs: s.secs,
            pages_per_sec: s.pages as f64 / s.secs.max(1e-9),
            cpu_secs: s.cpu_secs,
            cpu_secs_per_1000_pages: s.cpu_secs * 1000.0 / s.pages.max(1) as f64,
            cpu_secs_with_startup: s.cpu_secs_total,
            peak_rss_mib: s.peak_rss_kib as f64 / 1024.0,
            server_cpu_secs,
            feed_mib: s.feed_bytes as f64 / (1024.0 * 1024.0),
        }
    }
}

/// One A B pair.
#[derive(Debug, Serialize)]
pub struct Pair {
    pub pair: usize,
    pub spotcheck: BenchRun,
    pub scrapy: ScrapyRun,
    /// spotcheck's pages/s ÷ Scrapy's.
    pub speed_ratio: f64,
    /// Scrapy's CPU seconds per page ÷ spotcheck's (5 = spotcheck uses 1/5 of the CPU).
    pub cpu_ratio: f64,
}

/// Every pair at one concurrency level and their medians.
#[derive(Debug, Serialize)]
pub struct Level {
    pub concurrency: usize,
    pub pairs: Vec<Pair>,
    pub median_speed_ratio: f64,
    pub median_cpu_ratio: f64,
    pub speed_target_met: bool,
    pub cpu_target_met: bool,
}

#[derive(Debug, Serialize)]
pub struct PeersReport {
    pub pages: u64,
    pub pairs: usize,
    pub scrapy: String,
    pub python: String,
    pub target_ratio: f64,
    /// /proc/loadavg when the benchmark started and ended (the machine's other load).
    pub load_before: String,
    pub load_after: String,
    pub levels: Vec<Level>,
}

pub async fn run(args: BenchPeersArgs) -> anyhow::Result<PeersReport> {
    if args.pairs == 0 || args.concurrency.is_empty() || args.pages == 0 {
        bail!("nothing to measure: give --pages, --pairs and --concurrency above zero");
    }
    let dir = peers_dir(args.peer.peers_dir.as_deref(), SPIDER)?;
    let spider = dir.join(SPIDER);
    let (scrapy, python) = check_python(&args.peer.python, &dir).await?;
    let load_before = loadavg();
    // As `bench crawl`: room for `pages` pages of one platform.
    let market = MarketProcess::start(args.pages * 2 + 1000)?;
    let server_pid = market.child.id().to_string();
    let mut levels = Vec::new();
    for &concurrency in &args.concurrency {
        let mut pairs = Vec::new();
        for pair in 1..=args.pairs {
            let a = crawl_in_child(&market, "sample-mall", args.pages, concurrency).await?;
            eprintln!(
                "c{concurrency} pair {pair}/{}: spotcheck {} pages in {:.1}s = {:.0} pages/s, {:.2} CPU-s/1000 pages",
                args.pairs, a.pages, a.secs, a.pages_per_sec, a.crawler_cpu_secs_per_1000_pages
            );
            let server0 = cpu_secs(&server_pid);
            let spider_args = [
                format!("{}/mall/", market.url),
                "--pages".to_string(),
                args.pages.to_string(),
                "--concurrency".to_string(),
                concurrency.to_string(),
            ];
            let stats: SpiderStats = run_script(&args.peer.python, &spider, &spider_args).await?;
            let b = ScrapyRun::from_stats(&stats, cpu_secs(&server_pid) - server0);
            eprintln!(
                "c{concurrency} pair {pair}/{}: Scrapy    {} pages in {:.1}s = {:.0} pages/s, {:.2} CPU-s/1000 pages",
                args.pairs, b.pages, b.secs, b.pages_per_sec, b.cpu_secs_per_1000_pages
            );
            if b.pages < args.pages || a.pages < args.pages {
                eprintln!(
                    "  (a crawl stopped short of {} pages: the ratios are per page, still comparable)",
                    args.pages
                );
            }
            let speed_ratio = a.pages_per_sec / b.pages_per_sec.max(1e-9);
            let cpu_ratio = b.cpu_secs_per_1000_pages / a.crawler_cpu_secs_per_1000_pages.max(1e-9);
            pairs.push(Pair { pair, spotcheck: a, scrapy: b, speed_ratio, cpu_ratio });
        }
        let median_speed_ratio = median(&pairs.iter().map(|p| p.speed_ratio).collect::<Vec<_>>());
        let median_cpu_ratio = median(&pairs.iter().map(|p| p.cpu_ratio).collect::<Vec<_>>());
        levels.push(Level {
            concurrency,
            pairs,
            median_speed_ratio,
            median_cpu_ratio,
            speed_target_met: median_speed_ratio >= TARGET_RATIO,
            cpu_target_met: median_cpu_ratio >= TARGET_RATIO,
        });
    }
    drop(market);
    let report = PeersReport {
        pages: args.pages,
        pairs: args.pairs,
        scrapy,
        python,
        target_ratio: TARGET_RATIO,
        load_before,
        load_after: loadavg(),
        levels,
    };
    args.peer.print(&report, table)?;
    Ok(report)
}

/// The report as a Markdown table, one row per pair, then the medians.
pub fn table(r: &PeersReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "spotcheck (A) against Scrapy {} on Python {} (B), {} pages per crawl, run A B A B …; load {} → {}\n",
        r.scrapy, r.python, r.pages, r.load_before, r.load_after
    );
    let _ = writeln!(
        out,
        "| concurrency | pair | spotcheck pages/s | Scrapy pages/s | ratio | spotcheck CPU-s/1000 pages | Scrapy CPU-s/1000 pages | CPU ratio | spotcheck peak RSS | Scrapy peak RSS |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for level in &r.levels {
        for p in &level.pairs {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.1}× | {:.2} | {:.2} | {:.1}× | {:.0} MiB | {:.0} MiB |",
                level.concurrency,
                p.pair,
                p.spotcheck.pages_per_sec,
                p.scrapy.pages_per_sec,
                p.speed_ratio,
                p.spotcheck.crawler_cpu_secs_per_1000_pages,
                p.scrapy.cpu_secs_per_1000_pages,
                p.cpu_ratio,
                p.spotcheck.crawler_peak_rss_mib,
                p.scrapy.peak_rss_mib
            );
        }
    }
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    out.push('\n');
    for level in &r.levels {
        let _ = writeln!(
            out,
            "concurrency {}: median {:.1}× Scrapy's pages/s (target ≥ {}×: {}), median {:.1}× less CPU per page (target ≥ {}×: {})",
            level.concurrency,
            level.median_speed_ratio,
            r.target_ratio,
            met(level.speed_target_met),
            level.median_cpu_ratio,
            r.target_ratio,
            met(level.cpu_target_met)
        );
    }
    let errors: u64 = r.levels.iter().flat_map(|l| &l.pairs).map(|p| p.spotcheck.errors + p.scrapy.errors).sum();
    if errors > 0 {
        let _ = writeln!(out, "({errors} fetch errors in all; see --json)");
    }
    out
}

/// The directory with `script`: `--peers-dir`, else `benches/peers` under the
/// current directory, else in the source tree this binary was built from.
pub fn peers_dir(given: Option<&Path>, script: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        if !dir.join(script).is_file() {
            bail!("`{}` has no {script}", dir.display());
        }
        return Ok(dir.to_path_buf());
    }
    let candidates = [PathBuf::from("benches/peers"), Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers")];
    candidates.iter().find(|d| d.join(script).is_file()).cloned().with_context(|| {
        format!(
            "cannot find {script} in `{}` or `{}`; give --peers-dir",
            candidates[0].display(),
            candidates[1].display()
        )
    })
}

/// The hint every missing-Python error carries.
pub fn install_hint(dir: &Path) -> String {
    format!("install the peers with `pip install -r {}`", dir.join(REQUIREMENTS).display())
}

/// Checks that `python` runs and imports `module`; returns what the snippet printed.
pub async fn check_module(python: &str, dir: &Path, snippet: &str) -> anyhow::Result<String> {
    let output =
        tokio::process::Command::new(python).args(["-c", snippet]).stdin(Stdio::null()).output().await.map_err(
            |e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow::anyhow!("`{python}` is not installed: {}", install_hint(dir)),
                _ => anyhow::anyhow!("cannot run `{python}`: {e}"),
            },
        )?;
    if !output.status.success() {
        bail!("`{python}` cannot import the peer ({}): {}", tail(&output.stderr), install_hint(dir));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Scrapy's and Python's versions, or an error that says how to install them.
async fn check_python(python: &str, dir: &Path) -> anyhow::Result<(String, String)> {
    let out =
        check_module(python, dir, "import sys, scrapy; print(scrapy.__version__, sys.version.split()[0])").await?;
    let mut words = out.split_whitespace();
    Ok((words.next().unwrap_or("?").to_string(), words.next().unwrap_or("?").to_string()))
}

/// Runs `python script args…` and reads the JSON line it prints last.
pub async fn run_script<T: DeserializeOwned>(python: &str, script: &Path, args: &[String]) -> anyhow::Result<T> {
    let name = script.file_name().map_or_else(|| script.display().to_string(), |n| n.to_string_lossy().to_string());
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run `{python} {}`", script.display()))?;
    if !output.status.success() {
        bail!("{name} failed ({}): {}", output.status, tail(&output.stderr));
    }
    last_json_line(&String::from_utf8_lossy(&output.stdout))
        .with_context(|| format!("{name}'s output (stderr: {})", tail(&output.stderr)))
}

/// The last line of a peer's stdout that is a JSON object, read as `T`.
pub fn last_json_line<T: DeserializeOwned>(stdout: &str) -> anyhow::Result<T> {
    let line = stdout.lines().rev().map(str::trim).find(|l| l.starts_with('{')).context("no result line")?;
    serde_json::from_str(line).with_context(|| format!("the result line is not what was expected: `{line}`"))
}

/// The last few lines of a child's stderr, for an error message.
pub fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        "no message".to_string()
    } else {
        tail
    }
}

/// The median (mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPIDER_SOURCE: &str = include_str!("../../../benches/peers/mall_spider.py");
    const ADAPTER: &str = include_str!("../../../site-adapters/sample-mall.toml");

    fn quoted(s: &str) -> String {
        format!("\"{s}\"")
    }

    fn strings(v: &toml::Value) -> Vec<String> {
        match v {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(a) => a.iter().flat_map(strings).collect(),
            _ => Vec::new(),
        }
    }

    /// The spider must crawl and read what the adapter does: every page
    /// pattern, link selector, field (by name, and its selector or spec keys)
    /// and certificate. A change to the adapter that the spider does not
    /// follow fails here, so the comparison cannot drift into unequal work.
    #[test]
    fn the_spider_reads_what_the_sample_mall_adapter_reads() {
        let adapter: toml::Value = toml::from_str(ADAPTER).unwrap();
        let pages = adapter["pages"].as_array().unwrap();
        let mut checked = 0;
        for page in pages {
            let pattern = page["url"].as_str().unwrap();
            assert!(SPIDER_SOURCE.contains(&format!("r\"{pattern}\"")), "page pattern {pattern} missing");
            for link in page.get("links").and_then(|l| l.as_array()).into_iter().flatten() {
                let css = link["css"].as_str().unwrap();
                let kind = link["kind"].as_str().unwrap();
                assert!(
                    SPIDER_SOURCE.contains(&format!("({}, {})", quoted(css), quoted(kind))),
                    "link ({css}, {kind}) missing"
                );
                checked += 1;
            }
            let Some(fields) = page.get("fields").and_then(|f| f.as_table()) else { continue };
            for (name, extractor) in fields {
                assert!(SPIDER_SOURCE.contains(&quoted(name)), "field {name} missing");
                let mut needles = Vec::new();
                if let Some(css) = extractor.get("css") {
                    needles.extend(strings(css));
                }
                if let Some(spec) = extractor.get("spec") {
                    needles.extend(strings(spec));
                }
                if let Some(table) = extractor.get("table") {
                    needles.extend(["rows", "key", "value"].iter().flat_map(|k| strings(&table[*k])));
                }
                if let Some(attr) = extractor.get("attr") {
                    needles.extend(strings(attr));
                }
                for needle in needles {
                    assert!(SPIDER_SOURCE.contains(&quoted(&needle)), "field {name}: {needle} missing");
                }
                if let Some(regex) = extractor.get("regex").and_then(|r| r.as_str()) {
                    assert!(SPIDER_SOURCE.contains(&format!("r\"{regex}\"")), "field {name}: regex {regex} missing");
                }
                checked += 1;
            }
            for cert in page.get("certificates").and_then(|c| c.as_array()).into_iter().flatten() {
                let kind = cert["kind"].as_str().unwrap();
                let keys: Vec<String> = strings(&cert["spec"]).iter().map(|k| quoted(k)).collect();
                assert!(
                    SPIDER_SOURCE.contains(&format!("{}: [{}]", quoted(kind), keys.join(", "))),
                    "certificate {kind} missing"
                );
                checked += 1;
            }
        }
        assert!(checked > 30, "the adapter was not read ({checked} checks)");
    }

    #[test]
    fn the_spiders_stats_line_is_read_after_any_other_output() {
        let out = "some log line\n{\"peer\": \"scrapy\", \"scrapy\": \"2.19.0\", \"python\": \"3.11.7\", \
                   \"concurrency\": 16, \"pages\": 2008, \"items\": 1971, \"listings\": 1654, \"shops\": 317, \
                   \"drift\": 0, \"errors\": 0, \"finish_reason\": \"closespider_pagecount\", \"secs\": 35.5, \
                   \"cpu_secs\": 13.1, \"cpu_secs_total\": 13.9, \"peak_rss_kib\": 112352, \"feed_bytes\": 2618318}\n";
        let s: SpiderStats = last_json_line(out).unwrap();
        assert_eq!((s.pages, s.items, s.concurrency, s.peak_rss_kib), (2008, 1971, 16, 112352));
        let run = ScrapyRun::from_stats(&s, 1.5);
        assert!((run.pages_per_sec - 2008.0 / 35.5).abs() < 1e-9);
        assert!((run.cpu_secs_per_1000_pages - 13.1 * 1000.0 / 2008.0).abs() < 1e-9);
        assert!(last_json_line::<SpiderStats>("Traceback (most recent call last):\n").is_err());
        assert!(last_json_line::<SpiderStats>("{\"pages\": 1}\n").is_err(), "a line without every field is refused");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 2.0]), 2.0);
    }

    #[test]
    fn the_quick_run_is_small() {
        let q = BenchPeersArgs::quick();
        assert!(q.pages <= 20_000 && q.pairs >= 2 && q.concurrency == [16, 64] && q.peer.quiet);
    }
}
