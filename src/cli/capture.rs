//! `spotcheck capture URL [--browser]`: the ad-hoc spot check. An officer sees
//! a suspicious listing and wants it sealed now, outside any crawl job: one
//! fetch (plain HTTP, or headless Chromium for pages built by script), every
//! file into the blob store, the capture into the ledger, and a signed
//! checkpoint over it, so the page is evidence the moment the command returns.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use url::Url;

use crate::browser::{BrowserConfig, BrowserPool};
use crate::config::{DataDir, Identity};
use crate::fetch::{FetchConfig, FetchContext, Fetcher};

#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// The page to capture.
    pub url: String,
    /// Render in headless Chromium (screenshot, MHTML, network log) instead of a plain HTTP fetch.
    #[arg(long)]
    pub browser: bool,
    /// With --browser: wait until this CSS selector matches before capturing.
    #[arg(long, value_name = "SELECTOR", requires = "browser")]
    pub wait_for: Option<String>,
    /// Longest the page may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// The Chromium binary (default: $SPOTCHECK_CHROMIUM, /usr/bin/chromium, $PATH).
    #[arg(long, value_name = "PATH")]
    pub chromium: Option<PathBuf>,
    /// Ignore robots.txt (plain HTTP), giving the reason to record (e.g. a written authorisation).
    #[arg(long, value_name = "REASON")]
    pub ignore_robots: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
}

/// One sealed file of the capture.
#[derive(Debug, Serialize)]
struct FileLine {
    role: String,
    media_type: String,
    sha256: String,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct CaptureReport {
    capture: String,
    url: String,
    final_url: String,
    status: u16,
    mode: &'static str,
    /// The capture record itself, then the body, then the artifacts.
    files: Vec<FileLine>,
    screenshot: Option<PathBuf>,
    ledger_entries: u64,
}

pub async fn run(args: CaptureArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let url = Url::parse(&args.url).with_context(|| format!("`{}` is not a url", args.url))?;
    let store = data.open_store()?;
    let blobs = evidence::BlobStore::open(data.blobs())?;
    let fetch = FetchConfig { timeout: Duration::from_secs(args.timeout), ..args.network.fetch_config(identity) };
    let ctx = FetchContext { robots_override: args.ignore_robots.clone(), ..FetchContext::default() };
    let (id, record, screenshot_png) = if args.browser {
        let config = BrowserConfig {
            chromium: args.chromium.clone(),
            tabs: 1,
            page_timeout: Duration::from_secs(args.timeout),
            ..args.network.browser_config()
        };
        let pool = BrowserPool::launch(config).await?;
        // robots.txt applies to the browser too (unless --ignore-robots gives a reason).
        let _permit = Fetcher::new(fetch.clone(), blobs.clone())?.admit(&url, &ctx).await?;
        let rendered = pool.render(&url, args.wait_for.as_deref()).await?;
        let (id, record) = crate::browser::seal(&rendered, &blobs, &fetch, &ctx).await?;
        (id, record, Some(rendered.screenshot_png))
    } else {
        let fetched = Fetcher::new(fetch, blobs.clone())?.fetch(&url, &ctx).await?;
        (fetched.capture_id, fetched.capture, None)
    };
    // Blobs are on disk (fsynced by the store); the ledger entry comes next,
    // then a signed checkpoint that covers it.
    let manifest = evidence::CaptureManifest::of(id, &record);
    store.ledger().append(vec![manifest.to_entry()])?;
    store.flush()?;
    let station = crate::sealing::Station::open(data, &store, identity)?;
    let checkpoint = station.checkpoint()?;
    let ledger_entries = evidence::checkpoint::Checkpoint::parse(&checkpoint.text).map(|c| c.size).unwrap_or(0);

    let screenshot = match screenshot_png {
        Some(png) => {
            let dir = data.root().join("screenshots");
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            let path = dir.join(format!("{}.png", id.to_hex()));
            std::fs::write(&path, png).with_context(|| format!("cannot write `{}`", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let json_len = record.to_canonical_json().len() as u64;
    let mut files = vec![
        FileLine {
            role: "capture-record".into(),
            media_type: "application/json".into(),
            sha256: id.to_hex(),
            bytes: json_len,
        },
        FileLine {
            role: "body".into(),
            media_type: header(&record.response.headers, "content-type").unwrap_or_default(),
            sha256: record.response.body_sha256.to_hex(),
            bytes: record.response.body_len,
        },
    ];
    files.extend(record.artifacts.iter().map(|a| FileLine {
        role: a.role.clone(),
        media_type: a.media_type.clone(),
        sha256: a.sha256.to_hex(),
        bytes: a.bytes,
    }));
    let report = CaptureReport {
        capture: id.to_hex(),
        url: record.url.clone(),
        final_url: record.final_url.clone(),
        status: record.response.status,
        mode: if args.browser { "browser" } else { "http" },
        files,
        screenshot,
        ledger_entries,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report, &blobs);
    }
    Ok(true)
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

fn print(r: &CaptureReport, blobs: &evidence::BlobStore) {
    println!("capture {} ({}, status {})", r.capture, r.mode, r.status);
    println!("  url       {}", r.url);
    if r.final_url != r.url {
        println!("  final url {}", r.final_url);
    }
    println!("  files (sha-256, stored under {}):", blobs.root().display());
    for f in &r.files {
        println!("    {:<15} {}  {:>9} bytes  {}", f.role, f.sha256, f.bytes, f.media_type);
    }
    if let Some(path) = &r.screenshot {
        println!("  screenshot written to {}", path.display());
    }
    println!("  sealed: in the ledger, signed checkpoint of {} entries", r.ledger_entries);
}
