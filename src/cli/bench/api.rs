//! `spotcheck bench api`: how fast platforms can pull their notices — the
//! real API (`api::app`) served on loopback over a temporary station holding
//! `--notices` notices for one platform, loaded with `wrk` (Debian package
//! `wrk`), which reports requests per second and the latency distribution.
//!
//! The loads are what a platform sends: most of the time a poll at the head
//! of the stream (its cursor is the latest notice, so nothing or a few new
//! notices come back), a page of the default size and the cursor walk when it
//! catches up (a Lua script chains each response's `next_cursor` into the next
//! request), and one notice by id. The rate limit is raised for the run (it is
//! what would be measured otherwise); everything else — key check, store reads,
//! the body — is the production path. wrk and the server share the machine's
//! cores, so each load also reports the CPU time per request of the server
//! (this process) and of wrk, which the machine's other work does not inflate
//! as it does the wall-clock figures; the 1-minute load average is recorded
//! with each load.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use super::proc::cpu_secs;
use crate::api::request::DEFAULT_LIMIT;
use crate::notices::store::MAX_PAGE;
use crate::notices::{
    AuthenticatedPlatform, Cursor, NoticeDraft, NoticeFinding, NoticeListing, NoticeShop, NoticeStore, PlatformRegistry,
};
use crate::store::Store;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchApiArgs {
    /// Notices in the station (all for one platform).
    #[arg(long, default_value_t = 10_000)]
    pub notices: usize,
    /// Seconds each load runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Open connections.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Print the loads as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print nothing: the caller (the suite) reports the figures.
    #[arg(skip)]
    pub quiet: bool,
}

impl Default for BenchApiArgs {
    /// What the command line defaults to.
    fn default() -> BenchApiArgs {
        BenchApiArgs { notices: 10_000, seconds: 10, connections: 32, threads: 2, json: false, quiet: false }
    }
}

impl BenchApiArgs {
    /// For the whole suite: 5 s per load, nothing printed.
    pub fn quick() -> BenchApiArgs {
        BenchApiArgs { seconds: 5, json: true, quiet: true, ..BenchApiArgs::default() }
    }
}

/// One load: one wrk run.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub name: String,
    pub connections: u32,
    pub requests: u64,
    pub requests_per_sec: f64,
    /// Notices in the responses per second.
    pub notices_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    /// wrk's socket errors (connect, read, write, timeout).
    pub errors: u64,
    /// Response bytes read per second, MB (wrk's `Transfer/sec`).
    pub transfer_mb_per_sec: f64,
    /// CPU time of the server (this process) per request, µs.
    pub server_cpu_us_per_request: f64,
    /// CPU time of wrk per request, µs.
    pub wrk_cpu_us_per_request: f64,
    /// The machine's 1-minute load average when the load ended.
    pub load_average: f64,
}

const WALK_LUA: &str = r#"
-- Walks every page: each response's next_cursor is the next request's cursor,
-- so every connection's requests chain into one walk; an empty page (the end)
-- starts a new walk from the first page. `pages` counts the pages with
-- notices, `ends` the others; done() prints both.
local queue = {}
local threads = {}
pages = 0
ends = 0
function setup(thread)
  table.insert(threads, thread)
end
request = function()
  local path = "/api/platform/v1/notices?limit=100"
  local cursor = table.remove(queue)
  if cursor then path = path .. "&cursor=" .. cursor end
  return wrk.format("GET", path)
end
response = function(status, headers, body)
  -- next_cursor is the page's last member: look for it near the end only.
  local at = body:find('"next_cursor":"', math.max(1, #body - 64), true)
  if status ~= 200 or not at or body:sub(1, 13) == '{"notices":[]' then
    ends = ends + 1
  else
    pages = pages + 1
    local from = at + 15
    table.insert(queue, body:sub(from, body:find('"', from, true) - 1))
  end
end
function done(summary, latency, requests)
  local p, e = 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("pages")
    e = e + t:get("ends")
  end
  io.write(string.format("walk: %d pages %d ends\n", p, e))
end
"#;

/// The page size of the walk (its script asks for it).
const WALK_LIMIT: usize = 100;

/// What one load asks for.
struct Plan {
    name: String,
    path: String,
    connections: u32,
    /// Notices in each response; `None`: counted by the walk script.
    notices_per_request: Option<f64>,
}

pub async fn run(args: BenchApiArgs) -> anyhow::Result<Vec<Load>> {
    which_wrk()?;
    anyhow::ensure!(args.notices > 0, "--notices must be at least 1");
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store = Store::open(&tmp.path().join("db"))?;
    let registry = PlatformRegistry::from_toml("[[platform]]\nid = \"bench\"\nname = \"Bench\"\n", "bench")?;
    let notices = NoticeStore::open(store.db())?;
    let now = Utc::now();
    for i in 0..args.notices {
        notices.issue(draft(i, now), now)?;
    }
    store.flush()?;
    let limit = crate::api::RateLimit {
        period: Duration::from_nanos(1),
        burst: std::num::NonZeroU32::new(u32::MAX).unwrap_or(std::num::NonZeroU32::MIN),
    };
    let triage = crate::cases::Triage::configured(&store, None, crate::cases::merge::DEFAULT_WINDOW_DAYS)?;
    let state = crate::api::ApiState::open(&store, registry, triage, limit)?;
    let (_, secret) = state.keys.issue_key("bench", now)?;
    let who = state.keys.authenticate(&secret)?.context("the bench key does not authenticate")?;
    let plans = plans(&args, &notices, &who)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, crate::api::app(state)).await;
    });
    let base = format!("http://{addr}");
    if !args.json {
        println!(
            "{} notices served on {base}; wrk -t{} -d{}s; load average {:.2} before",
            args.notices,
            args.threads,
            args.seconds,
            load_average()
        );
        println!(
            "  {:<40} {:>5} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6} {:>5}",
            "load",
            "conns",
            "req/s",
            "notices/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "srv µs/rq",
            "wrk µs/rq",
            "MB/s",
            "non-2xx",
            "errors",
            "load"
        );
    }
    let script = tmp.path().join("walk.lua");
    std::fs::write(&script, WALK_LUA).context("cannot write the wrk script")?;
    let mut loads = Vec::new();
    for plan in plans {
        let lua = plan.notices_per_request.is_none().then_some(script.as_path());
        let load = wrk(&args, &plan, &format!("{base}{}", plan.path), &secret, lua).await?;
        if !args.json {
            println!(
                "  {:<40} {:>5} {:>9.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>9.1} {:>8.0} {:>7} {:>6} {:>5.2}",
                load.name,
                load.connections,
                load.requests_per_sec,
                load.notices_per_sec,
                load.p50_ms,
                load.p90_ms,
                load.p99_ms,
                load.server_cpu_us_per_request,
                load.wrk_cpu_us_per_request,
                load.transfer_mb_per_sec,
                load.non_2xx,
                load.errors,
                load.load_average
            );
        }
        loads.push(load);
    }
    server.abort();
    if args.json && !args.quiet {
        println!("{}", serde_json::to_string_pretty(&loads)?);
    }
    std::io::stdout().flush().ok();
    Ok(loads)
}

/// The loads, in the order they run.
fn plans(args: &BenchApiArgs, notices: &NoticeStore, who: &AuthenticatedPlatform) -> anyhow::Result<Vec<Plan>> {
    const LIST: &str = "/api/platform/v1/notices";
    let n = args.notices;
    let few = 3.min(n);
    let head = cursor_after(notices, who, n)?;
    let near_head = cursor_after(notices, who, n - few)?;
    let default_page = DEFAULT_LIMIT.min(n) as f64;
    let c = args.connections;
    let plan = |name: String, path: String, connections: u32, per: Option<f64>| Plan {
        name,
        path,
        connections,
        notices_per_request: per,
    };
    let mut plans = vec![
        plan("poll at the head (nothing new)".into(), format!("{LIST}?cursor={head}"), c, Some(0.0)),
        plan(format!("poll, {few} new notices"), format!("{LIST}?cursor={near_head}"), c, Some(few as f64)),
        plan(format!("first page, default size ({DEFAULT_LIMIT})"), LIST.into(), c, Some(default_page)),
    ];
    if DEFAULT_LIMIT != WALK_LIMIT {
        plans.push(plan(
            format!("first page, limit={WALK_LIMIT}"),
            format!("{LIST}?limit={WALK_LIMIT}"),
            c,
            Some(WALK_LIMIT.min(n) as f64),
        ));
    }
    plans.extend([
        plan(format!("walk every page by cursor (limit={WALK_LIMIT})"), LIST.into(), c, None),
        plan("one notice by id".into(), format!("{LIST}/{}", first_id(notices)?), c, Some(1.0)),
        plan("poll at the head (nothing new)".into(), format!("{LIST}?cursor={head}"), 4, Some(0.0)),
        plan(format!("first page, default size ({DEFAULT_LIMIT})"), LIST.into(), 4, Some(default_page)),
    ]);
    Ok(plans)
}

/// The cursor after the platform's first `k` notices, paged for as the API would.
fn cursor_after(notices: &NoticeStore, who: &AuthenticatedPlatform, mut k: usize) -> anyhow::Result<Cursor> {
    let mut cursor = Cursor::start();
    while k > 0 {
        let (page, next) = notices.list(who, Some(cursor), k.min(MAX_PAGE))?;
        anyhow::ensure!(!page.is_empty(), "fewer notices than expected");
        k -= page.len();
        cursor = next;
    }
    Ok(cursor)
}

/// user + system CPU seconds of this process's children that have been waited for (wrk).
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // cutime and cstime are the 16th and 17th fields of stat, 14th and 15th after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / 100.0
}

fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

pub(super) fn which_wrk() -> anyhow::Result<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => anyhow::bail!("`wrk` not found: install it from the OS packages (apt-get install -y wrk)"),
    }
}

fn first_id(notices: &NoticeStore) -> anyhow::Result<String> {
    Ok(notices.all().next().context("no notices")??.id)
}

fn draft(i: usize, now: chrono::DateTime<Utc>) -> NoticeDraft {
    NoticeDraft {
        case_id: format!("C{}-{i:08x}", now.format("%Y%m%d")),
        platform: "bench".into(),
        listings: vec![NoticeListing { url: format!("https://item.example.com/{i}.html"), item_id: i.to_string() }],
        shop: NoticeShop { name: format!("样品店铺{i}"), uscc: Some("91330106MA2XXXXX0X".into()) },
        findings: vec![NoticeFinding {
            rule_id: "ccc-missing".into(),
            message: "属于CCC目录的产品未标注CCC认证证书编号".into(),
        }],
        legal_basis: crate::cases::notify::PLATFORM_DUTY.into(),
        authority: "杭州市西湖区市场监督管理局".into(),
        deadline: now + chrono::Duration::hours(72),
        contest: crate::cases::notify::CONTEST.into(),
        evidence_sha256: "ab".repeat(32),
    }
}

/// Runs wrk on a blocking thread, parses its `--latency` report and adds the
/// CPU time the server and wrk spent.
async fn wrk(
    args: &BenchApiArgs,
    plan: &Plan,
    url: &str,
    secret: &str,
    script: Option<&std::path::Path>,
) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &args.threads.min(plan.connections).to_string(), "-c", &plan.connections.to_string()])
        .args(["-d", &format!("{}s", args.seconds), "--latency"])
        .args(["-H", &format!("Authorization: Bearer {secret}")]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let (server_before, wrk_before) = (cpu_secs("self"), children_cpu_secs());
    let out = tokio::task::spawn_blocking(move || cmd.output()).await?.context("cannot run wrk")?;
    let (server_cpu, wrk_cpu) = (cpu_secs("self") - server_before, children_cpu_secs() - wrk_before);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(out.status.success(), "wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    let mut load = parse_wrk(&plan.name, &text).with_context(|| format!("cannot read wrk's report:\n{text}"))?;
    load.connections = plan.connections;
    let per_request = match plan.notices_per_request {
        Some(per) => per,
        None => {
            let (pages, ends) = walk_counts(&text).with_context(|| format!("no walk counts in:\n{text}"))?;
            walk_notices(args.notices, pages, ends) / (pages + ends).max(1) as f64
        }
    };
    load.notices_per_sec = load.requests_per_sec * per_request;
    let requests = load.requests.max(1) as f64;
    load.server_cpu_us_per_request = server_cpu * 1e6 / requests;
    load.wrk_cpu_us_per_request = wrk_cpu * 1e6 / requests;
    load.load_average = load_average();
    Ok(load)
}

/// The walk script's `walk: <pages> pages <ends> ends` line.
fn walk_counts(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find_map(|l| l.trim().strip_prefix("walk: "))?;
    let mut words = line.split_whitespace();
    let pages = words.next()?.parse().ok()?;
    let ends = words.nth(1)?.parse().ok()?;
    Some((pages, ends))
}

/// Notices served by a walk over `total` notices that got `pages` pages with
/// notices and `ends` empty ones: every page is full except each walk's last
/// (`total % WALK_LIMIT` notices when that is not 0), and each walk ends with one empty page.
fn walk_notices(total: usize, pages: u64, ends: u64) -> f64 {
    let short = match total % WALK_LIMIT {
        0 => 0,
        last => WALK_LIMIT - last,
    };
    (pages as f64 * WALK_LIMIT as f64 - ends as f64 * short as f64).max(0.0)
}

/// Reads requests/s, the latency percentiles and the error counts from wrk's output.
fn parse_wrk(name: &str, text: &str) -> Option<Load> {
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim())
    };
    let ms = |v: &str| -> Option<f64> {
        let v = v.trim();
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().ok().map(|x| x / 1000.0)
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().ok()
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().ok().map(|x| x * 1000.0)
        } else {
            None
        }
    };
    let errors = field("Socket errors:")
        .map_or(0, |l| l.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum());
    let requests =
        text.lines().map(str::trim).find_map(|l| l.split_once(" requests in ").and_then(|(n, _)| n.parse().ok()))?;
    let transfer_mb_per_sec = field("Transfer/sec:").and_then(megabytes).unwrap_or(0.0);
    Some(Load {
        name: name.to_string(),
        connections: 0,
        requests,
        requests_per_sec: field("Requests/sec:")?.parse().ok()?,
        notices_per_sec: 0.0,
        p50_ms: ms(field("50%")?)?,
        p90_ms: ms(field("90%")?)?,
        p99_ms: ms(field("99%")?)?,
        non_2xx: field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0),
        errors,
        transfer_mb_per_sec,
        server_cpu_us_per_request: 0.0,
        wrk_cpu_us_per_request: 0.0,
        load_average: 0.0,
    })
}

/// wrk's byte counts (`812.50KB`, `1.20GB`) in MB.
fn megabytes(v: &str) -> Option<f64> {
    let v = v.trim();
    let (number, scale) = [("GB", 1024.0), ("MB", 1.0), ("KB", 1.0 / 1024.0), ("B", 1.0 / 1024.0 / 1024.0)]
        .into_iter()
        .find_map(|(unit, scale)| v.strip_suffix(unit).map(|n| (n, scale)))?;
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_a_wrk_latency_report() {
        let text = "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 32 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    2.50ms\n     99%    1.10s\n  120000 requests in 10.00s, 1.2GB read\n  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\nRequests/sec:  12000.50\nTransfer/sec:    120.00MB\n";
        let load = parse_wrk("x", text).unwrap();
        assert_eq!(load.requests_per_sec, 12000.5);
        assert!((load.p50_ms - 0.812).abs() < 1e-9 && load.p90_ms == 2.5 && load.p99_ms == 1100.0);
        assert_eq!((load.non_2xx, load.errors), (7, 5));
        assert_eq!(load.requests, 120000);
        assert_eq!(load.transfer_mb_per_sec, 120.0);
        assert!(parse_wrk("x", "garbage").is_none());
        assert_eq!(megabytes("1.5GB"), Some(1536.0));
        assert_eq!(megabytes("512.00KB"), Some(0.5));
        assert_eq!(megabytes("12 parsecs"), None);
    }

    #[test]
    fn a_walk_counts_full_pages_and_each_walk_short_last_page() {
        assert_eq!(walk_counts("Requests/sec: 1\nwalk: 250 pages 3 ends\n"), Some((250, 3)));
        assert_eq!(walk_counts("Requests/sec: 1\n"), None);
        // 10,000 notices: every page is full.
        assert_eq!(walk_notices(10_000, 250, 3), 25_000.0);
        // 250 notices: pages of 100, 100, 50; two walks done = 6 pages, 2 ends.
        assert_eq!(walk_notices(250, 6, 2), 500.0);
    }
}
