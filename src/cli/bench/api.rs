//! `spotcheck bench api`: how fast platforms can pull their notices — the
//! real API (`api::app`) served on loopback over a temporary station holding
//! `--notices` notices, loaded with `wrk` (Debian package `wrk`), which
//! reports requests per second and the latency distribution (p50 … p99).
//!
//! Two loads: the first page (`limit=100`) over and over, and a Lua script
//! that walks every page with the cursors the API returns, like a platform
//! catching up. The rate limit is raised for the run (it is what would be
//! measured otherwise); everything else — key check, sled reads, JSON — is
//! the production path. wrk and the server share the machine's cores.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use crate::notices::{NoticeDraft, NoticeFinding, NoticeListing, NoticeShop, NoticeStore, PlatformRegistry};
use crate::store::Store;

#[derive(Debug, clap::Args)]
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
    #[arg(long)]
    pub json: bool,
}

/// One wrk run.
#[derive(Debug, Serialize)]
pub struct Load {
    pub name: String,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub errors: u64,
}

const WALK_LUA: &str = r#"
-- Walks every page: each response's next_cursor is the next request's cursor;
-- an empty page (the end) starts again from the first.
local cursor = nil
request = function()
  local path = "/api/platform/v1/notices?limit=100"
  if cursor then path = path .. "&cursor=" .. cursor end
  return wrk.format("GET", path)
end
response = function(status, headers, body)
  local at = body:find('"next_cursor":"', 1, true)
  if status ~= 200 or not at or body:find('"notices":[]', 1, true) then
    cursor = nil
  else
    local from = at + 15
    cursor = body:sub(from, body:find('"', from, true) - 1)
  end
end
"#;

pub async fn run(args: BenchApiArgs) -> anyhow::Result<Vec<Load>> {
    which_wrk()?;
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, crate::api::app(state)).await;
    });
    let base = format!("http://{addr}");
    if !args.json {
        println!(
            "{} notices served on {base}; wrk -t{} -c{} -d{}s",
            args.notices, args.threads, args.connections, args.seconds
        );
    }
    let script = tmp.path().join("walk.lua");
    std::fs::write(&script, WALK_LUA).context("cannot write the wrk script")?;
    let mut loads = Vec::new();
    for (name, url, lua) in [
        ("first page (limit=100)", format!("{base}/api/platform/v1/notices?limit=100"), None),
        ("walk every page (limit=100)", format!("{base}/api/platform/v1/notices"), Some(&script)),
        ("one notice by id", format!("{base}/api/platform/v1/notices/{}", first_id(&notices)?), None),
    ] {
        let load = wrk(&args, name, &url, &secret, lua.map(|p| p.as_path())).await?;
        if !args.json {
            println!(
                "  {:<28} {:>9.0} req/s   p50 {:>6.2} ms   p90 {:>6.2} ms   p99 {:>6.2} ms   non-2xx {}   errors {}",
                load.name, load.requests_per_sec, load.p50_ms, load.p90_ms, load.p99_ms, load.non_2xx, load.errors
            );
        }
        loads.push(load);
    }
    server.abort();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&loads)?);
    }
    std::io::stdout().flush().ok();
    Ok(loads)
}

fn which_wrk() -> anyhow::Result<()> {
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

/// Runs wrk on a blocking thread and parses its `--latency` report.
async fn wrk(
    args: &BenchApiArgs,
    name: &str,
    url: &str,
    secret: &str,
    script: Option<&std::path::Path>,
) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &args.threads.to_string(), "-c", &args.connections.to_string()])
        .args(["-d", &format!("{}s", args.seconds), "--latency"])
        .args(["-H", &format!("Authorization: Bearer {secret}")]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = tokio::task::spawn_blocking(move || cmd.output()).await?.context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(out.status.success(), "wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    parse_wrk(name, &text).with_context(|| format!("cannot read wrk's report:\n{text}"))
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
    Some(Load {
        name: name.to_string(),
        requests_per_sec: field("Requests/sec:")?.parse().ok()?,
        p50_ms: ms(field("50%")?)?,
        p90_ms: ms(field("90%")?)?,
        p99_ms: ms(field("99%")?)?,
        non_2xx: field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0),
        errors,
    })
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
        assert!(parse_wrk("x", "garbage").is_none());
    }
}
