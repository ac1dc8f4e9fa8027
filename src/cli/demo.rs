//! `spotcheck demo`: the whole loop on the built-in sample marketplace, with no
//! network and nothing to install: serve, crawl, store, compare with the
//! ground truth, flag with the shipped rules and score them. Later stages
//! (evidence, cases, notices) join it as they are built.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::cli::adapters::{adapter_set, find_adapter};
use crate::config::{DataDir, Identity};
use crate::crawl::{run_job, JobReport, RunOptions};
use crate::fetch::Politeness;
use crate::market::{self, Market, MarketConfig};
use crate::rules::RuleSet;
use crate::store::{JobSpec, Store};

/// The lowest precision and recall per rule the demo accepts (issue 4's bar).
const MIN_RULE_SCORE: f64 = 0.95;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Listings in the sample marketplace.
    #[arg(long, default_value_t = 2000)]
    pub listings: u64,
    /// Seed of the sample marketplace.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pages in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Flagged listings to capture in Chromium (screenshots), when it is installed.
    #[arg(long, default_value_t = 8)]
    pub pictures: usize,
    /// Seconds to watch a sample live room (at 20× session speed), when Chromium is installed.
    #[arg(long, default_value_t = 3.0)]
    pub live_seconds: f64,
    /// Stop after sealing: no triage, cases, notices or verification (for work that starts from open findings).
    #[arg(long)]
    pub no_enforcement: bool,
    /// Print a machine-readable summary instead of the report.
    #[arg(long)]
    pub json: bool,
    /// When done, serve the console and API over the demo's data (and keep the
    /// marketplace up for plan runs) on this address until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8090")]
    pub serve: Option<std::net::SocketAddr>,
}

/// Serves `market` on a free loopback port and crawls each of its platforms,
/// with politeness off, into `store`. Returns the base URL, the server task
/// (abort it to stop the marketplace) and each platform's
/// job report, in order. The demo and `rules score` both run the pipeline this way.
pub async fn crawl_market(
    market: &Arc<Market>,
    store: &Store,
    blobs: &evidence::BlobStore,
    concurrency: usize,
    quiet: bool,
    plan_id: &str,
    identity: &Identity,
) -> anyhow::Result<(url::Url, tokio::task::JoinHandle<()>, Vec<(String, JobReport)>)> {
    let (addr, server) = market::serve(Arc::clone(market), ([127, 0, 0, 1], 0).into()).await?;
    let base = url::Url::parse(&format!("http://{addr}/"))?;
    let adapters = adapter_set(None)?;
    // The marketplace this process started, and nothing else that is not public.
    let fetch = super::network::NetworkArgs::only(&base).fetch_config(identity);
    let options = RunOptions { concurrency, politeness: Some(Politeness::unlimited()), quiet, fetch, cluster: None };
    let mut reports = Vec::new();
    for (adapter_name, entry) in market.entry_urls(&base) {
        let adapter = find_adapter(&adapters, &adapter_name)?;
        let spec = JobSpec {
            adapter: adapter_name.clone(),
            seeds: vec![entry.to_string()],
            plan_id: Some(plan_id.to_string()),
            ..JobSpec::default()
        };
        let report = run_job(store, blobs.clone(), adapter, spec, &options).await?;
        reports.push((adapter_name, report));
    }
    Ok((base, server, reports))
}

#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub market_url: String,
    pub data_dir: String,
    pub jobs: Vec<DemoJob>,
    pub listings_expected: u64,
    pub listings_stored: u64,
    pub listings_matching_truth: u64,
    pub listings_missing: u64,
    pub mismatches: Vec<String>,
    pub shops_stored: u64,
    pub planted_violations: BTreeMap<String, u64>,
    pub findings: u64,
    /// Precision and recall of each rule against the planted violations.
    pub rules: Vec<crate::rules::score::RuleScore>,
    pub sealed: SealSummary,
    pub browser: super::demo_live::BrowserStage,
    /// `None` with `--no-enforcement`.
    pub enforcement: Option<super::demo_notices::EnforcementStage>,
    /// The console accounts made for each role, with their passwords.
    pub console: super::demo_console::DemoLogins,
    pub elapsed_secs: f64,
    pub ok: bool,
}

/// What the demo sealed.
#[derive(Debug, Serialize)]
pub struct SealSummary {
    pub findings_sealed: u64,
    pub ledger_entries: u64,
    pub ledger_ok: bool,
    pub key_fingerprint: String,
    /// The signed checkpoint's text.
    pub checkpoint: String,
    pub bundles_written: u64,
    pub bundles_verified: u64,
    pub bundle_bytes: u64,
    pub bundle_dir: String,
}

/// One bundle per shop with findings (findings on listings without a shop
/// go together); the first also gets its report printed to PDF when Chromium
/// is installed.
fn shop_bundles(
    listings: &[crate::model::Listing],
    findings: Vec<evidence::finding::FindingRecord>,
    dir: &DataDir,
) -> Vec<crate::sealing::BundleWork> {
    let shop_of: HashMap<String, (String, String, String)> = listings
        .iter()
        .map(|l| {
            let (id, name) = l
                .shop
                .as_ref()
                .map(|s| (s.shop_id.clone(), s.name.clone().unwrap_or_default()))
                .unwrap_or_else(|| ("no-shop".into(), String::new()));
            (l.key(), (l.platform.clone(), id, name))
        })
        .collect();
    let mut groups: BTreeMap<(String, String), (String, Vec<evidence::finding::FindingRecord>)> = BTreeMap::new();
    for f in findings {
        let (platform, shop, name) = shop_of.get(&f.listing).cloned().unwrap_or_default();
        groups.entry((platform, shop)).or_insert_with(|| (name, Vec::new())).1.push(f);
    }
    let chromium = evidence::report::find_chromium();
    groups
        .into_iter()
        .enumerate()
        .map(|(n, ((platform, shop), (name, findings)))| {
            let safe: String = format!("{platform}-{shop}")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                .collect();
            crate::sealing::BundleWork {
                findings,
                captures: Vec::new(),
                attachments: Vec::new(),
                options: crate::sealing::BundleOptions {
                    out: dir.bundles().join(format!("{safe}.wacz")),
                    title: format!("网络抽查电子证据 {name} ({platform} 店铺 {shop})"),
                    purpose: Some("spotcheck demo: sample marketplace spot check".into()),
                    tsa_url: None,
                    chromium: if n == 0 { chromium.clone() } else { None },
                },
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct DemoJob {
    pub adapter: String,
    pub job_id: String,
    pub pages: u64,
    pub listings: u64,
    pub shops: u64,
    pub errors: u64,
    pub pages_per_sec: f64,
}

pub async fn run(args: DemoArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    // A demo run speaks for two (demo) officers unless told who is on duty.
    let mut identity = identity.clone();
    if identity.operators.is_empty() {
        identity.operators = vec!["demo-officer-1".to_string(), "demo-officer-2".to_string()];
    }
    // The demo always starts from an empty directory of its own, so its
    // figures describe this run only.
    let dir = DataDir::new(data.root().join("demo"));
    if dir.root().exists() {
        std::fs::remove_dir_all(dir.root()).with_context(|| format!("cannot clear `{}`", dir.root().display()))?;
    }
    let say = |line: String| {
        if !args.json {
            println!("{line}");
        }
    };
    say(format!("spotcheck demo: sample marketplace of {} listings (seed {})", args.listings, args.seed));

    let market = Arc::new(
        Market::new(MarketConfig { seed: args.seed, listings: args.listings, count_hits: false })
            .with_live(crate::market::LiveConfig { speed: super::demo_live::DEMO_LIVE_SPEED, ..Default::default() }),
    );
    let store = dir.open_store()?;
    let blobs = evidence::BlobStore::open(dir.blobs())?;
    let (base, _server, reports) =
        crawl_market(&market, &store, &blobs, args.concurrency, args.json, "demo", &identity).await?;
    say(format!("  market   served on {base}"));
    let mut jobs = Vec::new();
    for (adapter_name, report) in reports {
        let c = &report.job.counters;
        say(format!(
            "  crawl    {adapter_name}: {} pages, {} listings, {} shops, {} errors, {:.0} pages/s",
            c.pages,
            c.listings(),
            c.shops_new + c.shops_changed + c.shops_unchanged,
            c.errors,
            report.pages_per_sec
        ));
        for e in store.frontier(&report.job.id)?.errors().take(5) {
            let (url, error) = e?;
            say(format!("           error at {url}: {error}"));
        }
        jobs.push(DemoJob {
            adapter: adapter_name,
            job_id: report.job.id.clone(),
            pages: c.pages,
            listings: c.listings(),
            shops: c.shops_new + c.shops_changed + c.shops_unchanged,
            errors: c.errors,
            pages_per_sec: report.pages_per_sec,
        });
    }
    store.flush()?;
    say(format!(
        "  store    {} listings, {} shops in {}",
        store.listing_count(),
        store.shop_count(),
        dir.root().display()
    ));

    // Compare what was stored with what the marketplace knows it shows.
    let stored: HashMap<String, crate::model::Listing> =
        store.latest_listings().map(|l| l.map(|l| (l.key(), l))).collect::<Result<_, _>>()?;
    let (mut expected, mut matching, mut missing) = (0u64, 0u64, 0u64);
    let mut mismatches = Vec::new();
    let mut planted: BTreeMap<String, u64> = BTreeMap::new();
    for truth in market.truth(&base) {
        expected += 1;
        for v in &truth.violations {
            *planted.entry(v.clone()).or_default() += 1;
        }
        match stored.get(&truth.listing.key()) {
            None => missing += 1,
            Some(got) => {
                let diff = truth.listing.diff(got);
                if diff.is_empty() {
                    matching += 1;
                } else if mismatches.len() < 10 {
                    mismatches.push(format!("{}: {}", truth.listing.key(), diff.join("; ")));
                }
            }
        }
    }
    say(format!("  truth    {matching}/{expected} listings match the marketplace's ground truth field by field"));
    for m in &mismatches {
        say(format!("           {m}"));
    }
    if missing > 0 {
        say(format!("           {missing} listings were not found"));
    }
    // Flag: every stored listing through the shipped rules, with the registry
    // and history a bureau would import, scored against what was planted.
    let rules = RuleSet::builtin()?;
    let listings: Vec<crate::model::Listing> = stored.into_values().collect();
    let shops: Vec<crate::model::Shop> = store.latest_shops().collect::<Result<_, _>>()?;
    let scored = crate::rules::score::score(&rules, &market, &base, &listings, &shops)?;
    say(format!(
        "  flag     {} findings from {} rules on {} listings (planted: {})",
        scored.findings,
        rules.rules.len(),
        scored.listings_evaluated,
        planted.values().sum::<u64>()
    ));
    for r in &scored.rules {
        say(format!(
            "           {:<28} found {:>4}  precision {:.3}  recall {:.3}",
            r.rule,
            r.true_positives + r.false_positives,
            r.precision,
            r.recall
        ));
    }
    for example in scored.examples.iter().take(5) {
        say(format!("           {example}"));
    }

    // Seal: every finding into the ledger, bound to its capture, then a
    // signed checkpoint, then the whole ledger re-checked.
    let station = crate::sealing::Station::open(&dir, &store, &identity)?;
    let findings_store = crate::findings::FindingStore::open(&store)?;
    let recorded = findings_store.record(&scored.found)?;
    let checkpoint = station.checkpoint()?;
    let ledger = station.verify_ledger()?;
    say(format!(
        "  seal     {} findings sealed; ledger of {} entries, checkpoint signed by {}",
        recorded.new,
        ledger.entries,
        station.key.public().fingerprint()
    ));
    for p in &ledger.problems {
        say(format!("           FAILED {} at {}: {}", p.check, p.at, p.detail));
    }
    // Bundle: one per shop (the unit a bureau acts on), then verify each
    // as enforcement would, offline, from the file alone.
    // Browser: a short live-room watch and pictures of flagged listings.
    let (browser, live) =
        super::demo_live::run(&base, &store, &station, &identity, args.pictures, args.live_seconds).await?;
    match &browser.live {
        Some(l) => say(format!(
            "  live     {}: {} readings, {} price changes, {} HLS segments ({} gaps), {} screenshots, {} findings",
            l.room, l.polls, l.price_changes, l.segments, l.gaps, l.screenshots, l.findings
        )),
        None => {
            say("  live     skipped: no Chromium (install the `chromium` package for screenshots and the live watch)"
                .into())
        }
    }
    if browser.chromium {
        say(format!(
            "  picture  {} flagged listings captured in Chromium (DOM, screenshot, MHTML, network log){}",
            browser.pictures_taken,
            if browser.picture_failures.is_empty() {
                String::new()
            } else {
                format!("; {} failed", browser.picture_failures.len())
            }
        ));
        for f in browser.picture_failures.iter().take(3) {
            say(format!("           {f}"));
        }
    }
    let bundling = Instant::now();
    let mut work = shop_bundles(&listings, findings_store.all().collect::<Result<Vec<_>, _>>()?, &dir);
    if let Some(report) = &live {
        work.push(report.bundle_work(crate::sealing::BundleOptions {
            out: dir.bundles().join("live-room-1.wacz"),
            title: "直播间电子证据 样品商城 直播间 1".into(),
            purpose: Some("spotcheck demo: livestream room watch".into()),
            tsa_url: None,
            chromium: None,
        }));
    }
    let summaries = station.seal_bundles(&store, work).await?;
    let bundle_secs = bundling.elapsed().as_secs_f64();
    let verifying = Instant::now();
    let mut verified = 0u64;
    for s in &summaries {
        let bytes = std::fs::read(&s.path).with_context(|| format!("cannot read `{}`", s.path.display()))?;
        let report = evidence::bundle::verify_bundle(&bytes, &evidence::bundle::VerifyOptions::default());
        if report.ok() {
            verified += 1;
        } else {
            for c in report.failures().take(3) {
                say(format!("           {}: FAILED {} {}: {}", s.path.display(), c.check, c.file, c.detail));
            }
        }
    }
    let bytes: u64 = summaries.iter().map(|s| s.bytes).sum();
    say(format!(
        "  bundle   {} signed WACZ bundles ({:.1} MB) in {:.1}s under {}; {verified}/{} verified offline in {:.1}s",
        summaries.len(),
        bytes as f64 / 1e6,
        bundle_secs,
        dir.bundles().display(),
        summaries.len(),
        verifying.elapsed().as_secs_f64()
    ));
    if let Some(s) = summaries.iter().find(|s| s.pdf) {
        say(format!("           sample report as PDF in {} (spotcheck/report.pdf)", s.path.display()));
    }
    let sealed = SealSummary {
        findings_sealed: recorded.new,
        ledger_entries: ledger.entries,
        ledger_ok: ledger.ok(),
        key_fingerprint: station.key.public().fingerprint(),
        checkpoint: checkpoint.text.clone(),
        bundles_written: summaries.len() as u64,
        bundles_verified: verified,
        bundle_bytes: bytes,
        bundle_dir: dir.bundles().display().to_string(),
    };

    // Enforce: triage, cases, notices to the platforms the marketplace plays, verification.
    let enforcement = if args.no_enforcement {
        say("  enforce  skipped (--no-enforcement)".into());
        None
    } else {
        Some(super::demo_notices::run(&market, &base, &store, &dir, &station, &identity, &say).await?)
    };
    // Report: the 抽查结果 over what staff confirmed, and its public 公示.
    let report =
        crate::reports::build(&store, &findings_store, &crate::reports::Scope::All, &rules.reference.catalogue)?;
    let public = crate::reports::PublicReport::from(&report);
    let report_path = dir.root().join("report.html");
    let public_path = dir.root().join("report-public.html");
    std::fs::write(&report_path, crate::reports::html::render(&report))
        .with_context(|| format!("cannot write `{}`", report_path.display()))?;
    std::fs::write(&public_path, crate::reports::html::render_public(&public))
        .with_context(|| format!("cannot write `{}`", public_path.display()))?;
    say(format!(
        "  report   {} sampled, {} 不合格 ({}) on confirmed findings: {} and the 公示 {}",
        report.sampled,
        report.failing,
        crate::reports::percent_text(report.failure_rate),
        report_path.display(),
        public_path.display()
    ));

    // Console: a ready log-in for each role.
    let first_bureau = crate::cases::CaseStore::open(&store)?.all().next().transpose()?.map(|c| c.bureau.code);
    let console = super::demo_console::accounts(&dir, &store, first_bureau)?;
    let plan = super::demo_console::example_plan(&dir, &base)?;
    // The bureau's past spot-check results, as it would import them: the
    // console's key-list status and plan runs' risk weights read this file.
    let history_path = dir.root().join(crate::console::shops::HISTORY_FILE);
    super::demo_console::write_history(&market, &history_path)?;
    say(format!(
        "  plans    example plan `{plan}` (双11, both platforms, run by hand) in {}",
        dir.root().join("plans").display()
    ));
    if args.serve.is_none() {
        say(super::demo_console::how_to_open(&dir, &console));
    }

    let errors: u64 = jobs.iter().map(|j| j.errors).sum();
    let rules_ok = scored.worst() >= MIN_RULE_SCORE;
    let ok = errors == 0
        && missing == 0
        && matching == expected
        && expected > 0
        && rules_ok
        && sealed.ledger_ok
        && sealed.bundles_written > 0
        && sealed.bundles_verified == sealed.bundles_written
        && browser.ok()
        && enforcement.as_ref().is_none_or(|e| e.ok);
    let summary = DemoSummary {
        market_url: base.to_string(),
        data_dir: dir.root().display().to_string(),
        jobs,
        listings_expected: expected,
        listings_stored: store.listing_count() as u64,
        listings_matching_truth: matching,
        listings_missing: missing,
        mismatches,
        shops_stored: store.shop_count() as u64,
        planted_violations: planted,
        findings: scored.findings,
        rules: scored.rules,
        sealed,
        browser,
        enforcement,
        console,
        elapsed_secs: started.elapsed().as_secs_f64(),
        ok,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("demo {} in {:.1}s", if ok { "ok" } else { "FAILED" }, summary.elapsed_secs);
    }
    Ok(summary)
}

/// [`run`], then with `--serve` the console and API over the demo's data
/// until Ctrl-C. The marketplace task [`run`] spawned keeps serving (a
/// dropped task handle does not stop it), so plans can crawl it.
pub async fn run_and_serve(args: DemoArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<DemoSummary> {
    let serve = args.serve;
    let summary = run(args, data, identity).await?;
    if let Some(addr) = serve {
        use std::io::Write as _;
        let dir = DataDir::new(&summary.data_dir);
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on `{addr}`"))?;
        let logins = summary.console.clone();
        let mut serve_args = super::serve::ServeArgs::defaults(addr)?;
        // Plan runs crawl the demo's own marketplace, on loopback: allowed
        // explicitly, and nothing else that is not public.
        serve_args.plans.no_politeness = true;
        serve_args.plans.network = super::network::NetworkArgs::only(&url::Url::parse(&summary.market_url)?);
        super::serve::serve(listener, serve_args, &dir, identity, |bound| {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", super::demo_console::listening_line(bound, &logins))?;
            stdout.flush()
        })
        .await?;
    }
    Ok(summary)
}
