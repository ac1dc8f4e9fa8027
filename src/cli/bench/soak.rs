//! `spotcheck bench soak`: everything at once for a long while, watching
//! for leaks and errors.
//!
//! Real processes on loopback, as deployed:
//!
//! - `spotcheck serve` on a fresh data directory, its plan schedule running a
//!   plan over the sample marketplace (a child process) every minute: a
//!   crawl, a draw and the rules, inside the server;
//! - a staff driver (this process) confirming the findings the runs record
//!   through the staff API and issuing each case's notices, so the outbox
//!   delivers signed webhooks to a receiver here, which checks every
//!   signature and answers 503 to every tenth attempt (so retries happen);
//! - `wrk` polling the platform API with a platform's key the whole time.
//!
//! Every `--sample-every` seconds the server's RSS, open file descriptors
//! and threads are read from /proc, and the allocator's own figures from the
//! server's log (`spotcheck::memory`). At the end the server is stopped with
//! Ctrl-C, and the run checks that nothing was lost (every issued notice's
//! webhook accepted, no dead letter, the ledger verifies) and that memory
//! shows no growth trend: after the warm-up, the samples are cut into windows
//! of a few plan runs, and the least-squares line through each window's lowest
//! RSS — what the server holds between runs — must not rise by more than a
//! few MiB. A plan run's peak rides on top and is reported beside it.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use super::proc::{dir_size, kib_field, MarketProcess};
use crate::notices::webhook::{self, WebhookSecret};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchSoakArgs {
    /// How long the load runs.
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// wrk connections polling the platform API.
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    /// Seconds between two memory samples.
    #[arg(long, default_value_t = 10)]
    pub sample_every: u64,
    /// Listings of the sample marketplace the plan crawls each minute.
    #[arg(long, default_value_t = 400)]
    pub listings: u64,
    /// Minutes of warm-up left out of the growth trend: long enough for the
    /// database's cache (`--db-cache-mib`) to fill and the allocator's and
    /// thread pools' sizes to settle; more `--listings` get there sooner.
    #[arg(long, default_value_t = 10.0)]
    pub warmup_minutes: f64,
    /// Minutes in one window of the memory trend: a few plan runs, so that
    /// each window's lowest RSS is taken between runs and its highest during one.
    #[arg(long, default_value_t = 3.0)]
    pub window_minutes: f64,
    /// The server's database cache, MiB (`--db-cache-mib` of `serve`). The
    /// stored data grows all the time; memory must level off once this cache
    /// is full. Small, so that happens within the warm-up.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub db_cache_mib: u64,
    /// Write the figures and every sample as JSON.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// One reading of the server process.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub secs: f64,
    pub rss_kib: u64,
    /// The size of the server's database on disk (the store caches `--db-cache-mib` of it).
    pub db_kib: u64,
    pub fds: usize,
    pub threads: u64,
    /// What the server's allocator says the program holds (its latest
    /// `spotcheck::memory` log line; 0 where the allocator gives no figures).
    pub heap_allocated_kib: u64,
    /// What the allocator keeps resident for it, data and its own metadata.
    pub heap_resident_kib: u64,
}

/// What the soak saw.
#[derive(Debug, Default, Serialize)]
pub struct SoakReport {
    pub minutes: f64,
    pub warmup_minutes: f64,
    pub db_cache_mib: u64,
    pub wrk_requests: u64,
    pub wrk_requests_per_sec: f64,
    /// wrk's answers by status.
    pub wrk_statuses: BTreeMap<u16, u64>,
    /// wrk's socket errors (connect, read, write, timeout).
    pub wrk_socket_errors: u64,
    pub wrk_latency_p99_ms: f64,
    pub findings_confirmed: u64,
    pub notices_issued: u64,
    /// Staff API answers other than 2xx or 429, with what they were.
    pub driver_errors: Vec<String>,
    pub driver_rate_limited: u64,
    pub webhook_attempts: u64,
    pub webhooks_refused_on_purpose: u64,
    pub webhook_bad_signatures: u64,
    /// Issued notices whose webhook was never accepted.
    pub notices_undelivered: u64,
    pub plan_runs_finished: u64,
    pub listings_stored: u64,
    pub server_warnings: u64,
    pub server_errors: u64,
    pub ledger_verified: bool,
    pub rss_first_mib: f64,
    pub rss_last_mib: f64,
    pub rss_max_mib: f64,
    pub window_minutes: f64,
    /// The samples after the warm-up, window by window.
    pub windows: Vec<Window>,
    /// The least-squares trend of the windows' lowest RSS over the time after
    /// the warm-up, MiB: the memory the server holds between plan runs. The
    /// verdict's measure.
    pub rss_baseline_trend_mib: f64,
    /// The same over the windows' highest RSS: a plan run's working memory on top.
    pub rss_peak_trend_mib: f64,
    /// The trend over every sample after the warm-up. Noisy: it moves with
    /// whether samples happened to fall inside a plan run.
    pub rss_trend_all_samples_mib: f64,
    /// The trend of the windows' lowest allocated heap: growth the program
    /// itself holds on to, as opposed to memory the allocator keeps.
    pub heap_baseline_trend_mib: f64,
    pub heap_last_mib: f64,
    /// RSS added per MiB the database grew, over the whole run.
    pub rss_per_db_mib: f64,
    pub fds_first: usize,
    pub fds_last: usize,
    pub db_first_mib: f64,
    pub db_last_mib: f64,
    pub samples: Vec<Sample>,
}

impl SoakReport {
    /// The soak's verdict: `Ok` or every reason it failed.
    pub fn verdict(&self) -> Result<(), Vec<String>> {
        let mut failed = Vec::new();
        let other: u64 = self.wrk_statuses.iter().filter(|(s, _)| **s != 200 && **s != 429).map(|(_, n)| n).sum();
        if other > 0 || self.wrk_socket_errors > 0 {
            failed.push(format!(
                "wrk saw {other} answers other than 200/429 and {} socket errors",
                self.wrk_socket_errors
            ));
        }
        if !self.driver_errors.is_empty() {
            failed.push(format!("the staff driver saw {} errors", self.driver_errors.len()));
        }
        if self.notices_undelivered > 0 || self.webhook_bad_signatures > 0 {
            failed.push(format!(
                "{} notices undelivered, {} bad signatures",
                self.notices_undelivered, self.webhook_bad_signatures
            ));
        }
        if self.server_errors > 0 {
            failed.push(format!("the server logged {} errors", self.server_errors));
        }
        if !self.ledger_verified {
            failed.push("the ledger does not verify".into());
        }
        if self.notices_issued == 0 || self.plan_runs_finished == 0 {
            failed.push("the soak did no work (no plan run finished or no notice issued)".into());
        }
        // No growth trend once the database cache is full, although data keeps coming.
        if self.windows.len() < MIN_WINDOWS {
            failed.push(format!(
                "too short to see a trend: {} windows of {} min after the warm-up, {MIN_WINDOWS} needed",
                self.windows.len(),
                self.window_minutes
            ));
        } else if self.rss_baseline_trend_mib > TREND_LIMIT_MIB {
            failed.push(format!(
                "memory between plan runs trends up {:+.1} MiB after the warm-up (limit {TREND_LIMIT_MIB} MiB)",
                self.rss_baseline_trend_mib
            ));
        }
        if self.fds_last > self.fds_first + 64 {
            failed.push(format!("open files grew from {} to {}", self.fds_first, self.fds_last));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    }
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Windows after the warm-up needed to tell a trend from noise.
const MIN_WINDOWS: usize = 3;

/// How far the least-squares trend of RSS may rise after the warm-up: the
/// allocator's and the store's bookkeeping noise, well under one cache's worth.
const TREND_LIMIT_MIB: f64 = 8.0;

const PLATFORMS: [&str; 2] = ["sample-mall", "sample-duo"];

pub async fn run(args: BenchSoakArgs) -> anyhow::Result<SoakReport> {
    super::api::which_wrk()?;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let tmp = tempfile::tempdir().context("cannot make a scratch directory")?;
    let data = tmp.path().join("data");
    let market = MarketProcess::start(args.listings)?;
    let market_host = market.url.trim_start_matches("http://").trim_end_matches('/').to_string();

    let receiver = Receiver::default();
    let hook = receiver.start().await?;
    let platforms = tmp.path().join("platforms.toml");
    let mut registry = String::new();
    for p in PLATFORMS {
        registry += &format!(
            "[[platform]]\nid = \"{p}\"\nname = \"{p}\"\nwebhook_url = \"{hook}/{p}\"\nwebhook_secret = \"{}\"\n\n",
            receiver.secret.to_whsec()
        );
    }
    std::fs::write(&platforms, registry).context("cannot write the platform registry")?;
    std::fs::create_dir_all(data.join("plans"))?;
    std::fs::write(data.join("plans").join("soak.toml"), plan_text(&market.url))?;

    let cli = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&exe).arg("--data-dir").arg(&data).args(args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "`spotcheck {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let secret_line = |out: &str, prefix: &str| out.lines().find(|l| l.starts_with(prefix)).map(str::to_string);
    let staff = secret_line(&cli(&["tokens", "issue", "--role", "staff", "--name", "soak"])?, "sct_")
        .context("no staff token printed")?;
    let platform_arg = platforms.to_string_lossy().into_owned();
    let mall_key =
        secret_line(&cli(&["tokens", "platform-key", "issue", "sample-mall", "--platforms", &platform_arg])?, "sk_")
            .context("no platform key printed")?;

    let log = tmp.path().join("serve.log");
    let (server, base) = start_serve(&exe, &data, args.db_cache_mib, &platforms, &market_host, &log)?;
    let pid = server.0.id().to_string();
    eprintln!("soak: serve {base} (pid {pid}), market {}, {} min", market.url, args.minutes);

    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let started = Instant::now();
    let wrk = start_wrk(tmp.path(), &base, &mall_key, args.connections, duration)?;
    let driver = tokio::spawn(drive(base.clone(), staff.clone(), started + duration));

    let mut report = SoakReport {
        minutes: args.minutes,
        warmup_minutes: args.warmup_minutes,
        window_minutes: args.window_minutes,
        db_cache_mib: args.db_cache_mib,
        ..SoakReport::default()
    };
    let mut every = tokio::time::interval(Duration::from_secs(args.sample_every.max(1)));
    let mut heap = HeapLog::new(log.clone());
    while started.elapsed() < duration {
        every.tick().await;
        let mut sample = sample(&pid, &data.join("db"), started.elapsed().as_secs_f64());
        (sample.heap_allocated_kib, sample.heap_resident_kib) = heap.latest();
        eprintln!(
            "soak: {:>5.0} s  rss {:>6.1} MiB  heap {:>6.1} MiB  db {:>6.1} MiB  fds {:>4}  threads {:>3}  webhooks {}",
            sample.secs,
            sample.rss_kib as f64 / 1024.0,
            sample.heap_allocated_kib as f64 / 1024.0,
            sample.db_kib as f64 / 1024.0,
            sample.fds,
            sample.threads,
            receiver.attempts()
        );
        report.samples.push(sample);
    }
    let wrk_out = tokio::task::spawn_blocking(move || wrk.wait_with_output()).await??;
    read_wrk(&String::from_utf8_lossy(&wrk_out.stdout), &mut report);
    let driven = driver.await?;
    report.findings_confirmed = driven.confirmed;
    report.notices_issued = driven.notice_ids.len() as u64;
    report.driver_errors = driven.errors;
    report.driver_rate_limited = driven.rate_limited;

    // Nothing lost: every issued notice's webhook is accepted (retries included) within two minutes.
    let deadline = Instant::now() + Duration::from_secs(120);
    while receiver.undelivered(&driven.notice_ids) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report.notices_undelivered = receiver.undelivered(&driven.notice_ids);
    (report.webhook_attempts, report.webhooks_refused_on_purpose, report.webhook_bad_signatures) = receiver.counts();

    stop(server)?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    report.server_warnings = text.lines().filter(|l| l.contains(" WARN ")).count() as u64;
    report.server_errors = text.lines().filter(|l| l.contains(" ERROR ")).count() as u64;
    report.ledger_verified = Command::new(&exe)
        .arg("--data-dir")
        .arg(&data)
        .args(["evidence", "ledger", "verify"])
        .stdout(Stdio::null())
        .status()?
        .success();
    let history = cli(&["plans", "history", "soak"]).unwrap_or_default();
    report.plan_runs_finished =
        history.lines().filter(|l| l.starts_with("run ") && !l.contains("finished -")).count() as u64;
    let listings = cli(&["listings", "export", "--format", "jsonl"]).unwrap_or_default();
    report.listings_stored = listings.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    summarise_memory(&mut report, args.warmup_minutes * 60.0, args.window_minutes * 60.0);
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    print(&report);
    drop(market);
    Ok(report)
}

fn plan_text(market: &str) -> String {
    format!(
        "id = \"soak\"\ntitle = \"soak\"\nplatforms = [\"sample-mall\", \"sample-duo\"]\n\
         seed_urls = [\"{market}/mall/\", \"{market}/duo/\"]\nschedule = \"* * * * *\"\nmissed = \"skip\"\n\n\
         [sample]\nsize = 40\nweighting = \"risk\"\n"
    )
}

fn start_serve(
    exe: &Path,
    data: &Path,
    db_cache_mib: u64,
    platforms: &Path,
    market: &str,
    log: &Path,
) -> anyhow::Result<(Process, String)> {
    let mut child = Process(
        Command::new(exe)
            .arg("--data-dir")
            .arg(data)
            .args(["--db-cache-mib", &db_cache_mib.to_string()])
            .args(["serve", "--addr", "127.0.0.1:0", "--platforms"])
            .arg(platforms)
            .args(["--rate", "2000", "--burst", "2000", "--verify-every", "0", "--schedule-every", "5"])
            .args(["--no-politeness", "--webhook-backoff-ms", "200", "--outbox-poll-ms", "50"])
            .env("SPOTCHECK_ALLOW_HOSTS", market)
            .env("SPOTCHECK_LOG", "info,spotcheck::memory=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).context("cannot create the server's log")?)
            .spawn()
            .context("cannot start `spotcheck serve`")?,
    );
    let stdout = child.0.stdout.take().context("no stdout from serve")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(base) = line.trim().strip_prefix("listening on ") else {
        bail!("serve did not say where it listens (got `{}`)", line.trim());
    };
    Ok((child, base.to_string()))
}

/// Ctrl-C, as an operator would; the exit must be clean.
fn stop(mut server: Process) -> anyhow::Result<()> {
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status()?;
    let status = server.0.wait()?;
    anyhow::ensure!(status.success(), "serve exited with {status} on Ctrl-C");
    Ok(())
}

const STATUS_LUA: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do io.write(string.format("status %d %d\n", code, n)) end
  end
  io.write(string.format("p99_us %d\n", latency:percentile(99)))
  io.write(string.format("requests %d\n", summary.requests))
  local e = summary.errors
  io.write(string.format("socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
end
"#;

fn start_wrk(dir: &Path, base: &str, key: &str, connections: u32, duration: Duration) -> anyhow::Result<Child> {
    let script = dir.join("status.lua");
    std::fs::write(&script, STATUS_LUA)?;
    Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string(), "-d", &format!("{}s", duration.as_secs().max(1))])
        .arg("-s")
        .arg(&script)
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .arg(format!("{base}/api/platform/v1/notices"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start wrk")
}

fn read_wrk(out: &str, report: &mut SoakReport) {
    for line in out.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        match fields.first() {
            Some(&"status") => *report.wrk_statuses.entry(num(1) as u16).or_default() += num(2),
            Some(&"p99_us") => report.wrk_latency_p99_ms = num(1) as f64 / 1000.0,
            Some(&"requests") => report.wrk_requests = num(1),
            Some(&"socket_errors") => report.wrk_socket_errors = num(1),
            _ => {}
        }
    }
    report.wrk_requests_per_sec = report.wrk_requests as f64 / (report.minutes * 60.0);
}

fn sample(pid: &str, db: &Path, secs: f64) -> Sample {
    let status = format!("/proc/{pid}/status");
    Sample {
        secs,
        rss_kib: kib_field(&status, "VmRSS:"),
        db_kib: dir_size(db) / 1024,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
        threads: std::fs::read_to_string(&status)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        heap_allocated_kib: 0,
        heap_resident_kib: 0,
    }
}

/// The server's log, read on from where it was last read, for the
/// allocator's figures (`allocated_kib=… resident_kib=…` on `spotcheck::memory`).
struct HeapLog {
    path: PathBuf,
    offset: u64,
    latest: (u64, u64),
}

impl HeapLog {
    fn new(path: PathBuf) -> Self {
        HeapLog { path, offset: 0, latest: (0, 0) }
    }

    /// The newest `(allocated, resident)` KiB the server has logged.
    fn latest(&mut self) -> (u64, u64) {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let Ok(mut file) = std::fs::File::open(&self.path) else { return self.latest };
        let mut new = String::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_string(&mut new).is_err() {
            return self.latest;
        }
        // Only whole lines: a line still being written is read next time.
        let whole = new.rfind('\n').map_or(0, |i| i + 1);
        self.offset += whole as u64;
        for line in new[..whole].lines().filter(|l| l.contains("spotcheck::memory")) {
            let field = |name: &str| {
                line.split_whitespace().find_map(|w| w.strip_prefix(name)).and_then(|v| v.parse::<u64>().ok())
            };
            if let (Some(allocated), Some(resident)) = (field("allocated_kib="), field("resident_kib=")) {
                self.latest = (allocated, resident);
            }
        }
        self.latest
    }
}

fn summarise_memory(report: &mut SoakReport, warmup_secs: f64, window_secs: f64) {
    let mib = |s: &Sample| s.rss_kib as f64 / 1024.0;
    let (Some(first), Some(last)) = (report.samples.first(), report.samples.last()) else { return };
    report.rss_first_mib = mib(first);
    report.rss_last_mib = mib(last);
    report.fds_first = first.fds;
    report.fds_last = last.fds;
    report.db_first_mib = first.db_kib as f64 / 1024.0;
    report.db_last_mib = last.db_kib as f64 / 1024.0;
    report.rss_max_mib = report.samples.iter().map(mib).fold(0.0, f64::max);
    report.heap_last_mib = last.heap_allocated_kib as f64 / 1024.0;
    let steady: Vec<(f64, f64)> =
        report.samples.iter().filter(|s| s.secs >= warmup_secs).map(|s| (s.secs, mib(s))).collect();
    report.rss_trend_all_samples_mib = growth(&steady);
    report.windows = Window::split(&report.samples, warmup_secs, window_secs);
    let over_windows =
        |y: fn(&Window) -> f64| growth(&report.windows.iter().map(|w| (w.mid_secs, y(w))).collect::<Vec<_>>());
    report.rss_baseline_trend_mib = over_windows(|w| w.rss_min_mib);
    report.rss_peak_trend_mib = over_windows(|w| w.rss_max_mib);
    report.heap_baseline_trend_mib = over_windows(|w| w.heap_min_mib);
    let db_growth = report.db_last_mib - report.db_first_mib;
    report.rss_per_db_mib =
        if db_growth > 0.0 { (report.rss_last_mib - report.rss_first_mib) / db_growth } else { 0.0 };
}

/// The samples of one stretch of time after the warm-up, summed up.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub mid_secs: f64,
    pub rss_min_mib: f64,
    pub rss_max_mib: f64,
    pub heap_min_mib: f64,
    pub heap_max_mib: f64,
    /// The database's size at the window's end.
    pub db_mib: f64,
}

impl Window {
    /// Whole windows of `window_secs` from the end of the warm-up on; a
    /// last, partial window is left out.
    fn split(samples: &[Sample], warmup_secs: f64, window_secs: f64) -> Vec<Window> {
        let Some(end) = samples.last().map(|s| s.secs) else { return Vec::new() };
        let window_secs = window_secs.max(1.0);
        let mut windows = Vec::new();
        let mut from = warmup_secs;
        while from + window_secs <= end + 1e-9 {
            let inside: Vec<&Sample> =
                samples.iter().filter(|s| s.secs >= from && s.secs < from + window_secs).collect();
            let span = |f: fn(&Sample) -> f64| {
                inside.iter().map(|s| f(s)).fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)))
            };
            if let Some(last) = inside.last() {
                let (rss_min_mib, rss_max_mib) = span(|s| s.rss_kib as f64 / 1024.0);
                let (heap_min_mib, heap_max_mib) = span(|s| s.heap_allocated_kib as f64 / 1024.0);
                windows.push(Window {
                    mid_secs: from + window_secs / 2.0,
                    rss_min_mib,
                    rss_max_mib,
                    heap_min_mib,
                    heap_max_mib,
                    db_mib: last.db_kib as f64 / 1024.0,
                });
            }
            from += window_secs;
        }
        windows
    }
}

/// How much the least-squares line through `points` rises from the first
/// point's time to the last's.
fn growth(points: &[(f64, f64)]) -> f64 {
    match (points.first(), points.last()) {
        (Some(first), Some(last)) => slope(points) * (last.0 - first.0),
        _ => 0.0,
    }
}

/// Least-squares slope of `y` over `x`; 0 for fewer than two points.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

fn print(r: &SoakReport) {
    let statuses: Vec<String> = r.wrk_statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "| soak ({:.0} min) | figure |", r.minutes);
    let _ = writeln!(out, "|---|---|");
    let rows = [
        (
            "platform API under wrk",
            format!(
                "{} requests, {:.0} req/s, p99 {:.1} ms",
                r.wrk_requests, r.wrk_requests_per_sec, r.wrk_latency_p99_ms
            ),
        ),
        ("answers by status", statuses.join(", ")),
        ("wrk socket errors", r.wrk_socket_errors.to_string()),
        (
            "plan runs finished (crawl, draw, rules)",
            format!("{} ({} listings stored)", r.plan_runs_finished, r.listings_stored),
        ),
        ("findings confirmed / notices issued", format!("{} / {}", r.findings_confirmed, r.notices_issued)),
        ("staff API: errors / 429s", format!("{} / {}", r.driver_errors.len(), r.driver_rate_limited)),
        (
            "webhook attempts (refused on purpose)",
            format!("{} ({})", r.webhook_attempts, r.webhooks_refused_on_purpose),
        ),
        (
            "notices never delivered / bad signatures",
            format!("{} / {}", r.notices_undelivered, r.webhook_bad_signatures),
        ),
        ("server log: warnings / errors", format!("{} / {}", r.server_warnings, r.server_errors)),
        ("ledger verifies", r.ledger_verified.to_string()),
        (
            "RSS first / last / max",
            format!("{:.1} / {:.1} / {:.1} MiB", r.rss_first_mib, r.rss_last_mib, r.rss_max_mib),
        ),
        (
            "RSS between plan runs (lowest of each window) after the warm-up",
            format!(
                "{} over {} windows of {} min after {} min",
                windows_line(r, |w| w.rss_min_mib, r.rss_baseline_trend_mib),
                r.windows.len(),
                r.window_minutes,
                r.warmup_minutes
            ),
        ),
        ("RSS during plan runs (highest of each window)", windows_line(r, |w| w.rss_max_mib, r.rss_peak_trend_mib)),
        ("RSS trend over every sample after the warm-up", format!("{:+.1} MiB", r.rss_trend_all_samples_mib)),
        (
            "heap the program holds, lowest of each window (allocator's figure)",
            format!(
                "{}; {:.1} MiB last",
                windows_line(r, |w| w.heap_min_mib, r.heap_baseline_trend_mib),
                r.heap_last_mib
            ),
        ),
        ("database cache", format!("{} MiB", r.db_cache_mib)),
        ("RSS per MiB of database", format!("{:.1}", r.rss_per_db_mib)),
        ("open files first / last", format!("{} / {}", r.fds_first, r.fds_last)),
        ("database on disk first / last", format!("{:.1} / {:.1} MiB", r.db_first_mib, r.db_last_mib)),
    ];
    for (what, figure) in rows {
        let _ = writeln!(out, "| {what} | {figure} |");
    }
    match r.verdict() {
        Ok(()) => {
            let _ = writeln!(out, "\nverdict: held");
        }
        Err(reasons) => {
            let _ = writeln!(out, "\nverdict: FAILED\n- {}", reasons.join("\n- "));
        }
    }
}

/// One measure from the first window to the last, with its trend.
fn windows_line(r: &SoakReport, f: fn(&Window) -> f64, trend: f64) -> String {
    let at = |w: Option<&Window>| w.map_or("-".into(), |w| format!("{:.1}", f(w)));
    format!("{} → {} MiB, trend {trend:+.1} MiB", at(r.windows.first()), at(r.windows.last()))
}

/// What the staff driver did.
#[derive(Default)]
struct Driven {
    confirmed: u64,
    notice_ids: Vec<String>,
    errors: Vec<String>,
    rate_limited: u64,
}

/// Confirms open findings one by one and issues their cases' notices until `until`.
async fn drive(base: String, token: String, until: Instant) -> Driven {
    let http = reqwest::Client::new();
    let mut done = Driven::default();
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        let url = format!("{base}/api/staff/v1/findings?status=open&limit=5");
        let Some(page) = call(http.get(&url).bearer_auth(&token), &mut done).await else { continue };
        let ids: Vec<String> = page["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["finding"]["id"].as_str().map(str::to_string))
            .collect();
        for id in ids {
            let confirm = http
                .post(format!("{base}/api/staff/v1/findings/{id}/confirm"))
                .bearer_auth(&token)
                .header("idempotency-key", format!("soak-confirm-{id}"))
                .header("content-type", "application/json")
                .body(json!({}).to_string());
            let Some(done_json) = call(confirm, &mut done).await else { continue };
            done.confirmed += 1;
            let Some(case) = done_json["case"]["case"].as_str() else { continue };
            let issue = http
                .post(format!("{base}/api/staff/v1/cases/{case}/notices"))
                .bearer_auth(&token)
                .header("idempotency-key", format!("soak-notices-{case}-{round}"))
                .header("content-type", "application/json")
                .body(json!({}).to_string());
            if let Some(issued) = call(issue, &mut done).await {
                for n in issued["notices"].as_array().into_iter().flatten() {
                    if let Some(id) = n["id"].as_str() {
                        done.notice_ids.push(id.to_string());
                    }
                }
            }
        }
        // Staff work at a person's pace, not in a tight loop.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    done
}

/// One staff request: its JSON on success; a 429 counted; anything else recorded as an error.
async fn call(request: reqwest::RequestBuilder, done: &mut Driven) -> Option<Value> {
    match request.send().await {
        Ok(r) if r.status().is_success() => serde_json::from_slice(&r.bytes().await.ok()?).ok(),
        Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
            done.rate_limited += 1;
            None
        }
        Ok(r) => {
            let status = r.status();
            done.errors.push(format!("{status}: {}", r.text().await.unwrap_or_default()));
            None
        }
        Err(e) => {
            done.errors.push(e.to_string());
            None
        }
    }
}

/// The platforms' webhook endpoint: checks every signature, refuses every tenth attempt.
#[derive(Clone)]
struct Receiver {
    secret: Arc<WebhookSecret>,
    state: Arc<Mutex<Received>>,
}

#[derive(Default)]
struct Received {
    attempts: u64,
    refused: u64,
    bad_signatures: u64,
    /// webhook id → accepted
    accepted: HashMap<String, bool>,
}

impl Default for Receiver {
    fn default() -> Receiver {
        Receiver { secret: Arc::new(WebhookSecret::generate()), state: Arc::default() }
    }
}

impl Receiver {
    async fn start(&self) -> anyhow::Result<String> {
        let app = axum::Router::new().route("/hook/{platform}", axum::routing::post(receive)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind the receiver")?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(url)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn counts(&self) -> (u64, u64, u64) {
        let r = self.lock();
        (r.attempts, r.refused, r.bad_signatures)
    }

    /// Notices whose event (`msg_<notice id>`) was never accepted.
    fn undelivered(&self, notices: &[String]) -> u64 {
        let r = self.lock();
        notices.iter().filter(|id| !r.accepted.get(&format!("msg_{id}")).copied().unwrap_or(false)).count() as u64
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = chrono::Utc::now().timestamp();
    let mut r = receiver.lock();
    r.attempts += 1;
    let Ok(id) = webhook::verify(&headers, &body, &receiver.secret, 300, now) else {
        r.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    };
    if r.attempts % 10 == 0 {
        r.refused += 1;
        r.accepted.entry(id).or_insert(false);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    r.accepted.insert(id, true);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_its_gradient_and_flat_is_zero() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 + 0.5 * i as f64)).collect();
        assert!((slope(&line) - 0.5).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 7.0)).collect();
        assert_eq!(slope(&flat), 0.0);
        assert_eq!(slope(&[(1.0, 2.0)]), 0.0);
    }

    #[test]
    fn wrk_output_is_read_into_statuses_and_a_non_429_error_fails_the_verdict() {
        let mut report = SoakReport { minutes: 1.0, ..SoakReport::default() };
        read_wrk("status 200 900\nstatus 429 100\np99_us 2500\nrequests 1000\nsocket_errors 0\n", &mut report);
        assert_eq!(report.wrk_statuses, BTreeMap::from([(200, 900), (429, 100)]));
        assert_eq!((report.wrk_requests, report.wrk_latency_p99_ms), (1000, 2.5));
        read_wrk("status 500 1\n", &mut report);
        let reasons = report.verdict().unwrap_err();
        assert!(reasons[0].contains("1 answers other than 200/429"), "{reasons:?}");
    }

    #[test]
    fn the_heap_figures_are_the_newest_whole_memory_line_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.log");
        let line = |a: u64, r: u64| {
            format!(
                "2026-11-23T18:00:00Z DEBUG spotcheck::memory: heap allocated_kib={a} active_kib=1 resident_kib={r}\n"
            )
        };
        let mut log = HeapLog::new(path.clone());
        assert_eq!(log.latest(), (0, 0), "no log yet");
        std::fs::write(
            &path,
            line(10, 20) + " INFO spotcheck::api: allocated_kib=99 resident_kib=99\n" + &line(11, 21),
        )
        .unwrap();
        assert_eq!(log.latest(), (11, 21));
        // A line still being written is left for the next read, and older figures stand.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"2026-11-23T18:00:10Z DEBUG spotcheck::memory: heap allocated_kib=12 resid").unwrap();
        assert_eq!(log.latest(), (11, 21));
        file.write_all(b"ent_kib=22\n").unwrap();
        assert_eq!(log.latest(), (12, 22));
    }

    /// A sawtooth like a soak's: a plan run every 60 s lifts RSS for one sample in four.
    fn sawtooth(minutes: u64, baseline: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..minutes * 4)
            .map(|i| {
                let secs = i as f64 * 15.0;
                let run = if i % 4 == 3 { 40.0 + secs / 60.0 } else { 0.0 };
                Sample {
                    secs,
                    rss_kib: ((baseline(secs) + run) * 1024.0) as u64,
                    db_kib: i * 1024,
                    fds: 30,
                    threads: 12,
                    heap_allocated_kib: 40 * 1024,
                    heap_resident_kib: 60 * 1024,
                }
            })
            .collect()
    }

    fn judged(samples: Vec<Sample>) -> SoakReport {
        let mut report = SoakReport {
            minutes: 30.0,
            window_minutes: 3.0,
            notices_issued: 1,
            plan_runs_finished: 1,
            ledger_verified: true,
            samples,
            ..SoakReport::default()
        };
        summarise_memory(&mut report, 600.0, 180.0);
        report
    }

    #[test]
    fn plan_runs_on_a_flat_baseline_pass_and_a_creeping_baseline_fails() {
        let flat = judged(sawtooth(30, |_| 90.0));
        assert_eq!(flat.windows.len(), 6, "20 minutes after the warm-up in windows of 3");
        assert!(flat.rss_baseline_trend_mib.abs() < 0.01, "{}", flat.rss_baseline_trend_mib);
        assert!(flat.rss_peak_trend_mib > 10.0, "the runs' peaks grow: {}", flat.rss_peak_trend_mib);
        assert_eq!(flat.verdict(), Ok(()));

        // +1 MiB a minute between runs: +15 MiB from the first window's middle to the last's.
        let creeping = judged(sawtooth(30, |secs| 90.0 + secs / 60.0));
        assert!((creeping.rss_baseline_trend_mib - 15.0).abs() < 0.5, "{}", creeping.rss_baseline_trend_mib);
        let reasons = creeping.verdict().unwrap_err();
        assert!(reasons[0].contains("between plan runs trends up +15"), "{reasons:?}");
    }

    #[test]
    fn a_run_too_short_after_the_warm_up_is_not_judged_held() {
        let short = judged(sawtooth(15, |_| 90.0));
        let reasons = short.verdict().unwrap_err();
        assert!(reasons[0].contains("too short to see a trend: 1 windows"), "{reasons:?}");
    }
}
