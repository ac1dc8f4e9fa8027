//! `spotcheck live watch URL --minutes M`: watch a livestream room, seal what
//! it showed (see [`crate::live`]) and print the timeline, the stream's
//! segments and gaps, the findings and the session's artifact hash.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use url::Url;

use crate::config::{DataDir, Identity};
use crate::live::{watch, Progress, WatchOptions, WatchReport};

#[derive(Debug, Subcommand)]
pub enum LiveCommand {
    /// Watch a live room for some minutes: cards, prices, stock and the stream, sealed as evidence.
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The live room's page.
    pub url: String,
    /// How long to watch (fractions allowed: 0.5 is 30 seconds). Ctrl-C ends it early and still seals.
    #[arg(long)]
    pub minutes: f64,
    /// Seconds between two readings of the room's cards (and two screenshots).
    #[arg(long, default_value_t = 5.0)]
    pub interval: f64,
    /// Also render the room in Chromium every interval and seal the screenshots.
    #[arg(long)]
    pub screenshots: bool,
    /// Also seal the session (timeline, every capture, screenshots, segments, findings) into this bundle.
    #[arg(long, value_name = "FILE.wacz")]
    pub bundle: Option<std::path::PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
}

pub async fn run(command: LiveCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    match command {
        LiveCommand::Watch(args) => watch_room(args, data, identity).await,
    }
}

async fn watch_room(args: WatchArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let url = Url::parse(&args.url).with_context(|| format!("invalid room url `{}`", args.url))?;
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(args.minutes) || !positive(args.interval) {
        bail!("--minutes and --interval must be positive");
    }
    let store = data.open_store()?;
    let blobs = evidence::BlobStore::open(data.blobs())?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Registered now (not at the task's first poll), so a Ctrl-C right after
    // the "watching" line stops the watch instead of killing the process.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")?;
    tokio::spawn(async move {
        if interrupt.recv().await.is_some() {
            let _ = stop_tx.send(true);
        }
    });
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    if !args.json {
        eprintln!("watching {url} for {} minutes (Ctrl-C stops early and seals what was recorded)", args.minutes);
    }
    let shown = bar.clone();
    // Not a terminal: a log line every 10 seconds instead of a spinner.
    let logged = std::sync::Mutex::new(Duration::ZERO);
    let quiet = args.json;
    let progress = move |p: &Progress| {
        let line = format!(
            "{:.0}s: {} readings, {} changes, {} segments, {} gaps",
            p.elapsed.as_secs_f64(),
            p.polls,
            p.changes,
            p.segments,
            p.gaps
        );
        match &shown {
            Some(bar) => bar.set_message(format!("{line} (Ctrl-C stops and seals)")),
            None if !quiet => {
                let mut last = logged.lock().unwrap_or_else(|e| e.into_inner());
                if p.elapsed >= *last + Duration::from_secs(10) {
                    *last = p.elapsed;
                    eprintln!("{line}");
                }
            }
            None => {}
        }
    };
    let fetch = args.network.fetch_config(identity);
    let screenshots = match args.screenshots {
        true => Some(crate::browser::BrowserPool::launch(args.network.browser_config()).await?),
        false => None,
    };
    let options = WatchOptions {
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        interval: Duration::from_secs_f64(args.interval),
        fetch,
        screenshots,
        stop: Some(stop_rx),
        progress: Some(Arc::new(progress)),
        actor: identity.station.clone(),
        ..WatchOptions::default()
    };
    let report = watch(&store, blobs, &url, options).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let station = crate::sealing::Station::open(data, &store, identity)?;
    let checkpoint = station.checkpoint()?;
    let bundle = match &args.bundle {
        Some(out) => {
            let options = crate::sealing::BundleOptions {
                out: out.clone(),
                title: format!("直播间电子证据 {}", report.session.room.url),
                purpose: Some("livestream room watch (直播带货 定向监测)".into()),
                tsa_url: None,
                chromium: None,
            };
            let mut done = station.seal_bundles(&store, vec![report.bundle_work(options)]).await?;
            done.pop()
        }
        None => None,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
        let size = evidence::checkpoint::Checkpoint::parse(&checkpoint.text).map(|c| c.size).unwrap_or(0);
        println!("  sealed: ledger checkpoint of {size} entries signed by {}", station.key.public().fingerprint());
        if let Some(b) = &bundle {
            println!("  bundle {} written to {} ({} captures, {} bytes)", b.id, b.path.display(), b.captures, b.bytes);
        }
    }
    Ok(true)
}

fn print_report(r: &WatchReport) {
    let s = &r.session;
    let how = if s.interrupted { "stopped early (Ctrl-C)" } else { "watched" };
    println!("live room {} — {} ({how})", s.room.room_id, s.room.title);
    println!("  url {}", s.room.url);
    println!("  host {} (shop {}) {}", s.host.name, s.host.shop_id, s.host.url);
    println!("  {} to {}", s.started_at.to_rfc3339(), s.finished_at.to_rfc3339());
    println!(
        "  {} state readings, {} playlist readings, {} captures, {} screenshots",
        s.polls,
        s.playlist_polls,
        s.captures.len(),
        s.screenshots.len()
    );
    println!("  timeline ({} changes):", s.timeline.len());
    for c in &s.timeline {
        let old = c.old.as_deref().unwrap_or("—");
        let new = c.new.as_deref().unwrap_or("—");
        let capture = c.capture.get(..12).unwrap_or(&c.capture);
        println!(
            "    {} item {} {}: {old} → {new}  [capture {capture}]",
            c.at.format("%H:%M:%S%.3f"),
            c.item_id,
            c.field
        );
    }
    let (first, last) = (s.segments.first().map(|x| x.seq), s.segments.last().map(|x| x.seq));
    match (first, last) {
        (Some(a), Some(b)) => println!("  stream: {} segments recorded, sequence {a}–{b}", s.segments.len()),
        _ => println!("  stream: no segments recorded"),
    }
    if s.gaps.is_empty() {
        println!("  gaps: none");
    } else {
        println!("  gaps ({}):", s.gaps.len());
        for g in &s.gaps {
            println!("    sequence {}: {:?}", g.seq, g.reason);
        }
    }
    for p in &s.problems {
        println!("  problem: {p}");
    }
    println!("  products: {} listings read, {} findings ({} new)", r.listings.len(), r.findings.len(), r.findings_new);
    for f in &r.findings {
        println!("    [{}] {} — listing {}", f.rule, f.title, f.listing);
    }
    println!("  session artifact sha256 {}", r.session_sha256);
}
