//! Browser capture with a real headless Chromium against the sample
//! marketplace on loopback: script-only item pages are read through the
//! browser and match the ground truth while plain HTTP sees nothing; the
//! sealed files (screenshot, MHTML, network log) are real and hash to what
//! the capture record names; a browser killed mid-job is relaunched and the
//! job completes; `spotcheck capture URL --browser` works end to end.
//!
//! Chromium is required (CI installs it with scripts/test.sh): without it
//! these tests fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spotcheck::adapters::AdapterSet;
use spotcheck::browser::{BrowserConfig, BrowserPool};
use spotcheck::crawl::{run_job_with_browser, RunOptions};
use spotcheck::fetch::{FetchConfig, FetchContext, Fetcher, Politeness};
use spotcheck::market::{Market, MarketConfig, TruthRecord};
use spotcheck::model::Listing;
use spotcheck::store::{JobSpec, Store};
use url::Url;

/// The sample marketplace on a loopback port, counting requests to the
/// script-only pages so a test can wait for the crawl to be under way.
struct Site {
    market: Arc<Market>,
    base: Url,
    js_served: tokio::sync::watch::Receiver<u64>,
}

async fn start_site() -> Site {
    let market = Arc::new(Market::new(MarketConfig { seed: 7, listings: 300, count_hits: false }));
    let (tx, js_served) = tokio::sync::watch::channel(0u64);
    let tx = Arc::new(tx);
    let app = Arc::clone(&market).router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let tx = Arc::clone(&tx);
            async move {
                let js = req.uri().path().starts_with("/mall/js/item/");
                let response = next.run(req).await;
                if js {
                    tx.send_modify(|n| *n += 1);
                }
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { market, base: Url::parse(&format!("http://{addr}/")).unwrap(), js_served }
}

impl Site {
    /// The first `n` mall listings of the ground truth.
    fn mall_truth(&self, n: usize) -> Vec<TruthRecord> {
        self.market.truth(&self.base).filter(|t| t.listing.platform == "sample-mall").take(n).collect()
    }

    fn js_url(&self, t: &TruthRecord) -> Url {
        self.base.join(&format!("/mall/js/item/{}", t.listing.item_id)).unwrap()
    }

    /// Crawls the script-only pages of `truth` through `pool` in the background.
    fn spawn_js_job(
        &self,
        truth: &[TruthRecord],
        store: &Store,
        blobs: evidence::BlobStore,
        adapter: Arc<spotcheck::adapters::Adapter>,
        pool: &BrowserPool,
    ) -> tokio::task::JoinHandle<Result<spotcheck::crawl::JobReport, spotcheck::crawl::CrawlError>> {
        let seeds = truth.iter().map(|t| self.js_url(t).to_string()).collect();
        let (store, pool) = (store.clone(), pool.clone());
        tokio::spawn(
            async move { run_job_with_browser(&store, blobs, adapter, spec(seeds), &options(), Some(pool)).await },
        )
    }

    /// Waits (up to a minute) until `n` script-only pages have been served.
    async fn wait_js_served(&mut self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while *self.js_served.borrow_and_update() < n {
            assert!(Instant::now() < deadline, "the crawl never reached the script-only pages");
            tokio::time::timeout(Duration::from_secs(5), self.js_served.changed()).await.ok();
        }
    }
}

/// Fails with a clear message when there is no Chromium to test with.
fn require_chromium() {
    assert!(
        evidence::report::find_chromium().is_some_and(|p| p.is_file()),
        "these tests need Chromium: install it (apt-get install chromium, as scripts/test.sh does) \
         or set $SPOTCHECK_CHROMIUM"
    );
}

async fn pool(tabs: usize) -> BrowserPool {
    require_chromium();
    BrowserPool::launch(BrowserConfig {
        tabs,
        page_timeout: Duration::from_secs(20),
        network: loopback(),
        ..BrowserConfig::default()
    })
    .await
    .unwrap()
}

fn spec(seeds: Vec<String>) -> JobSpec {
    JobSpec { adapter: "sample-mall-js".into(), seeds, max_depth: Some(0), ..JobSpec::default() }
}

fn options() -> RunOptions {
    let fetch = FetchConfig { network: loopback(), ..FetchConfig::default() };
    RunOptions { concurrency: 4, politeness: Some(Politeness::unlimited()), quiet: true, fetch, cluster: None }
}

fn stored_listings(store: &Store) -> HashMap<String, Listing> {
    store.latest_listings().map(|l| l.map(|l| (l.key(), l))).collect::<Result<_, _>>().unwrap()
}

/// Every truth listing is stored, equal field by field, pointing at a capture.
fn assert_matches_truth(store: &Store, truth: &[TruthRecord]) {
    let stored = stored_listings(store);
    let mut mismatches = Vec::new();
    for t in truth {
        match stored.get(&t.listing.key()) {
            None => mismatches.push(format!("{} missing", t.listing.key())),
            Some(got) => {
                let diff = t.listing.diff(got);
                if !diff.is_empty() {
                    mismatches.push(format!("{}: {}", t.listing.key(), diff.join("; ")));
                }
                assert_eq!(got.capture_id.as_ref().map(String::len), Some(64));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} of {} differ:\n{}", mismatches.len(), truth.len(), mismatches.join("\n"));
}

/// The capture record a listing points at, and every artifact re-read from
/// the blob store (which re-hashes on read) with its digest and length checked.
fn check_capture(blobs: &evidence::BlobStore, capture_id: &str) -> (evidence::CaptureRecord, HashMap<String, Vec<u8>>) {
    let id = evidence::Digest::from_hex(capture_id).unwrap();
    let json = blobs.get(&id).unwrap();
    assert_eq!(evidence::Digest::of(&json), id);
    let record: evidence::CaptureRecord = serde_json::from_slice(&json).unwrap();
    assert_eq!(record.response.http_version, "browser");
    assert!(record.tool.contains("Chrome"), "tool names the browser: {}", record.tool);
    let body = blobs.get(&record.response.body_sha256).unwrap();
    assert_eq!(body.len() as u64, record.response.body_len);
    let mut files = HashMap::new();
    for a in &record.artifacts {
        let bytes = blobs.get(&a.sha256).unwrap();
        assert_eq!(evidence::Digest::of(&bytes), a.sha256, "{} hashes to what the record names", a.role);
        assert_eq!(bytes.len() as u64, a.bytes, "{} has the length the record names", a.role);
        files.insert(a.role.clone(), bytes);
    }
    let mut roles: Vec<&str> = files.keys().map(String::as_str).collect();
    roles.sort_unstable();
    assert_eq!(roles, ["dom", "mhtml", "network-log", "screenshot"]);
    (record, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_only_items_are_read_through_the_browser_and_match_the_ground_truth() {
    let site = start_site().await;
    let truth = site.mall_truth(6);
    let dir = tempfile::tempdir().unwrap();
    let adapter = AdapterSet::builtin().get("sample-mall-js").unwrap();

    // Plain HTTP sees the shell only: no listing, a drift error.
    let blobs = evidence::BlobStore::open(dir.path().join("blobs")).unwrap();
    let fetcher = Fetcher::new(FetchConfig { network: loopback(), ..FetchConfig::default() }, blobs.clone()).unwrap();
    let plain = fetcher.fetch(&site.js_url(&truth[0]), &FetchContext::default()).await.unwrap();
    assert_eq!(plain.status, 200);
    match adapter.extract(&plain.final_url, &plain.body) {
        Ok(extracted) => assert!(extracted.listings.is_empty(), "plain http must not see the listing"),
        Err(e) => assert!(e.to_string().contains("title"), "{e}"),
    }

    // Through the browser: every listing, field by field.
    let store = Store::open(&dir.path().join("db")).unwrap();
    let seeds = truth.iter().map(|t| site.js_url(t).to_string()).collect();
    let pool = pool(2).await;
    let report =
        run_job_with_browser(&store, blobs.clone(), adapter, spec(seeds), &options(), Some(pool)).await.unwrap();
    let errors: Vec<_> = store.frontier(&report.job.id).unwrap().errors().collect();
    assert_eq!(report.job.counters.errors, 0, "{errors:?}");
    assert_matches_truth(&store, &truth);

    // Each page's files are stored, hash to what its record names, and are
    // what they claim to be; the ledger has the capture with its artifacts.
    for listing in stored_listings(&store).values() {
        let capture_id = listing.capture_id.as_deref().unwrap();
        let (record, files) = check_capture(&blobs, capture_id);
        let mhtml = String::from_utf8_lossy(&files["mhtml"]);
        assert!(mhtml.contains("multipart/related"), "mhtml snapshot: {}", &mhtml[..mhtml.len().min(300)]);
        assert!(mhtml.contains("item-title"), "the snapshot holds the rendered item");
        let log: serde_json::Value = serde_json::from_slice(&files["network-log"]).unwrap();
        let urls: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["url"].as_str()).collect();
        assert!(urls.contains(&record.url.as_str()), "the network log has the page itself: {urls:?}");
        let dom = String::from_utf8_lossy(&files["dom"]);
        assert!(dom.contains(&format!("data-item-id=\"{}\"", listing.item_id)) && dom.contains("item-title"));
        let seqs = store.ledger().entries_about(capture_id).unwrap();
        assert_eq!(seqs.len(), 1, "one ledger entry for capture {capture_id}");
        let entry = store.ledger().entry(seqs[0]).unwrap();
        assert_eq!(entry.body["artifacts"].as_array().map(Vec::len), Some(4));
    }
}

/// IHDR width and height, and the inflated image data (filter bytes and pixels).
fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "png signature");
    let (mut pos, mut size, mut idat) = (8, None, Vec::new());
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                let w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                let h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(data[8], 8, "8 bits per sample");
                size = Some((w, h));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let (w, h) = size.expect("an IHDR chunk");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    (w, h, raw)
}

fn distinct_bytes(data: &[u8]) -> usize {
    let mut seen = [false; 256];
    data.iter().for_each(|&b| seen[b as usize] = true);
    seen.iter().filter(|&&s| s).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screenshot_is_a_real_full_page_png_of_the_rendered_item() {
    let site = start_site().await;
    let truth = site.mall_truth(1);
    let pool = pool(1).await;
    let rendered = pool.render(&site.js_url(&truth[0]), Some("h1.item-title")).await.unwrap();
    assert_eq!(rendered.status, Some(200));
    let id = &truth[0].listing.item_id;
    assert!(rendered.dom.contains(&format!("data-item-id=\"{id}\"")), "the dom holds the item built by script");
    // The document as served is the shell: the item markup only as JSON text in a script.
    let document = String::from_utf8_lossy(rendered.document.as_deref().expect("the served document"));
    assert!(document.contains("id=\"item-data\"") && !document.contains("<h1 class=\"item-title\">"));

    let png = &rendered.screenshot_png;
    let (w, h, raw) = decode_png(png);
    let viewport = BrowserConfig::default().viewport;
    assert!(w >= viewport.0 && h >= viewport.1, "full page at least the viewport: {w}×{h}");
    assert!(png.len() > 5_000 && png.len() < 20 << 20, "reasonable size: {} bytes", png.len());
    // RGB(A) rows plus one filter byte each.
    assert!(raw.len() as u64 >= u64::from(w) * u64::from(h) * 3, "image data covers {w}×{h}");

    // An empty page gives an (almost) single-colour image; the item does not.
    let blank = pool.render(&Url::parse("data:text/html,<html><body></body></html>").unwrap(), None).await.unwrap();
    let (_, _, blank_raw) = decode_png(&blank.screenshot_png);
    assert!(distinct_bytes(&blank_raw) <= 4, "blank page: {} distinct bytes", distinct_bytes(&blank_raw));
    assert!(distinct_bytes(&raw) > 32, "the item page is not blank: {} distinct bytes", distinct_bytes(&raw));
    assert!(blank.screenshot_png.len() * 4 < png.len(), "text and tables compress worse than white");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_killed_mid_job_is_relaunched_and_every_page_is_extracted() {
    let mut site = start_site().await;
    let truth = site.mall_truth(10);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.path().join("blobs")).unwrap();
    let adapter = AdapterSet::builtin().get("sample-mall-js").unwrap();
    let pool = pool(2).await;
    let first_pid = pool.browser_pid().expect("the pool knows its chromium's pid");

    let job = site.spawn_js_job(&truth, &store, blobs, adapter, &pool);
    // Once two pages have been served the job is mid-way: kill the browser,
    // its whole process tree (renderers, GPU and utility processes), with SIGKILL.
    site.wait_js_served(2).await;
    let tree: Vec<String> = spotcheck::browser::process_tree(first_pid).iter().map(u32::to_string).collect();
    assert!(tree.len() > 1, "chromium runs child processes: {tree:?}");
    // The children first (one may already be gone: no status check), then the browser itself.
    let _ = std::process::Command::new("kill").arg("-KILL").args(&tree[1..]).status();
    let killed = std::process::Command::new("kill").args(["-KILL", &first_pid.to_string()]).status().unwrap();
    assert!(killed.success(), "kill -KILL {first_pid}");

    let report = tokio::time::timeout(Duration::from_secs(180), job).await.expect("the job finished").unwrap().unwrap();
    let errors: Vec<_> = store.frontier(&report.job.id).unwrap().errors().collect();
    assert_eq!(report.job.counters.errors, 0, "{errors:?}");
    assert_eq!(report.job.counters.pages, truth.len() as u64);
    assert!(pool.relaunches() >= 1, "the pool relaunched chromium");
    assert_ne!(pool.browser_pid(), Some(first_pid), "a new chromium runs");
    assert_matches_truth(&store, &truth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotcheck_capture_browser_seals_the_page_end_to_end() {
    require_chromium();
    let site = start_site().await;
    let url = site.js_url(&site.mall_truth(1)[0]).to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--operator",
        "执法人员甲",
        "capture",
        &url,
        "--browser",
        "--wait-for",
        "h1.item-title",
        "--json",
    ]
    .map(str::to_string);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "browser");
    assert_eq!(report["status"], 200);
    let capture = report["capture"].as_str().unwrap();
    let roles: Vec<&str> = report["files"].as_array().unwrap().iter().map(|f| f["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["capture-record", "body", "dom", "screenshot", "mhtml", "network-log"]);
    let blobs = evidence::BlobStore::open(data.join("blobs")).unwrap();
    for f in report["files"].as_array().unwrap() {
        let digest = evidence::Digest::from_hex(f["sha256"].as_str().unwrap()).unwrap();
        assert_eq!(blobs.get(&digest).unwrap().len() as u64, f["bytes"].as_u64().unwrap());
    }
    let (record, files) = check_capture(&blobs, capture);
    assert_eq!(record.operators, ["执法人员甲"]);
    let screenshot = std::path::PathBuf::from(report["screenshot"].as_str().unwrap());
    assert_eq!(screenshot, data.join("screenshots").join(format!("{capture}.png")));
    assert_eq!(std::fs::read(&screenshot).unwrap(), files["screenshot"]);
    assert!(report["ledger_entries"].as_u64().unwrap() >= 1);
    // The ledger holds the capture (the command has exited, so its store is free).
    let store = Store::open(&data.join("db")).unwrap();
    assert_eq!(store.ledger().entries_about(capture).unwrap().len(), 1);
    assert!(store.ledger().latest_checkpoint().unwrap().is_some(), "a signed checkpoint covers it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_browser_is_detected_by_the_page_deadline_and_replaced() {
    require_chromium();
    let mut site = start_site().await;
    let truth = site.mall_truth(4);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.path().join("blobs")).unwrap();
    let adapter = AdapterSet::builtin().get("sample-mall-js").unwrap();
    // A short deadline: a stopped browser answers nothing, so only the
    // deadline (page timeout + grace) can tell it from a slow page.
    let pool = BrowserPool::launch(BrowserConfig {
        tabs: 2,
        page_timeout: Duration::from_secs(4),
        network: loopback(),
        ..BrowserConfig::default()
    })
    .await
    .unwrap();
    let first_pid = pool.browser_pid().unwrap();
    let job = site.spawn_js_job(&truth, &store, blobs, adapter, &pool);
    site.wait_js_served(1).await;
    // SIGSTOP the whole tree: alive, holding its sockets, answering nothing.
    let tree: Vec<String> = spotcheck::browser::process_tree(first_pid).iter().map(u32::to_string).collect();
    let stopped = std::process::Command::new("kill").arg("-STOP").args(&tree).status().unwrap();
    assert!(stopped.success(), "kill -STOP {tree:?}");

    let report = tokio::time::timeout(Duration::from_secs(180), job).await.expect("the job finished").unwrap().unwrap();
    let errors: Vec<_> = store.frontier(&report.job.id).unwrap().errors().collect();
    assert_eq!(report.job.counters.errors, 0, "{errors:?}");
    assert!(pool.relaunches() >= 1, "the pool relaunched chromium");
    assert_ne!(pool.browser_pid(), Some(first_pid));
    assert_matches_truth(&store, &truth);
    // The stopped browser was killed, not left behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    while spotcheck::browser::process_tree(first_pid).first() == Some(&first_pid)
        && std::fs::read_to_string(format!("/proc/{first_pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(Instant::now() < deadline, "the hung chromium {first_pid} is still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// robots.txt binds the browser as it binds plain fetches: a disallowed page
/// is refused unless a reason is recorded, and then it is sealed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_honours_robots_txt_unless_a_reason_is_recorded() {
    require_chromium();
    let site = start_site().await;
    let cart = site.base.join("/mall/cart").unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = ["--data-dir", data.to_str().unwrap(), "capture", &cart, "--browser", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .args(args)
            .output()
            .unwrap()
    };
    let refused = tokio::task::block_in_place(|| run(&[]));
    assert!(!refused.status.success(), "a disallowed page must not be captured");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("robots.txt"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let allowed = tokio::task::block_in_place(|| run(&["--ignore-robots", "书面授权 2026-11-22 测试"]));
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    let report: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    let blobs = evidence::BlobStore::open(data.join("blobs")).unwrap();
    let (record, _) = check_capture(&blobs, report["capture"].as_str().unwrap());
    assert_eq!(
        record.robots_override.as_deref(),
        Some("书面授权 2026-11-22 测试"),
        "the reason is sealed with the capture"
    );
}

/// A listing flagged from a plain HTTP capture gets a browser picture when its
/// finding is bundled, so the bundle carries a screenshot of the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundled_finding_drawn_over_http_gets_a_picture() {
    require_chromium();
    let site = start_site().await;
    let dir = tempfile::tempdir().unwrap();
    let data = spotcheck::config::DataDir::new(dir.path());
    let finding_id = {
        // Crawl a few item pages over plain HTTP and flag them.
        let store = Store::open(&data.db()).unwrap();
        let adapters = AdapterSet::builtin();
        let adapter = adapters.get("sample-mall").unwrap();
        let seeds = site
            .mall_truth(40)
            .iter()
            .map(|t| site.base.join(&format!("/mall/item/{}.html", t.listing.item_id)).unwrap().to_string())
            .collect();
        let spec = JobSpec { adapter: "sample-mall".into(), seeds, max_depth: Some(0), ..JobSpec::default() };
        let blobs = evidence::BlobStore::open(data.blobs()).unwrap();
        spotcheck::crawl::run_job(&store, blobs, adapter, spec, &options()).await.unwrap();
        let rules = spotcheck::rules::RuleSet::builtin().unwrap();
        let listings: Vec<Listing> = stored_listings(&store).into_values().collect();
        let shops: Vec<spotcheck::model::Shop> = store.latest_shops().collect::<Result<_, _>>().unwrap();
        let mut tables = spotcheck::rules::Tables::default();
        let today = spotcheck::rules::score::market_today(&rules);
        let found = rules.evaluate_all(&listings, &shops, &Default::default(), &mut tables, today);
        assert!(!found.is_empty(), "40 sample listings carry planted violations");
        spotcheck::findings::FindingStore::open(&store).unwrap().record(&found).unwrap();
        spotcheck::findings::to_record(&found[0]).id
    };
    let out = dir.path().join("case.wacz");
    let args = [
        "--data-dir",
        dir.path().to_str().unwrap(),
        "evidence",
        "bundle",
        "--finding",
        &finding_id,
        "--pdf",
        "never",
        "--pictures",
        "always",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(str::to_string);
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("pictured 1 finding page"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let bytes = std::fs::read(&out).unwrap();
    let verdict = evidence::bundle::verify_bundle(&bytes, &Default::default());
    assert!(verdict.ok(), "{:#?}", verdict.failures().collect::<Vec<_>>());
    assert_eq!(verdict.captures, 2, "the HTTP capture the finding came from, and its picture");
    // The screenshot is in the WARC as a resource and in the report.
    let mut zip = zip_entries(&bytes);
    let warc = zip.remove("archive/data.warc").unwrap();
    assert!(
        {
            let needle = b"WARC-Target-URI: urn:spotcheck:screenshot:http";
            warc.windows(needle.len()).any(|w| w == needle)
        },
        "a screenshot resource record"
    );
    assert!(String::from_utf8_lossy(&zip["spotcheck/report.html"]).contains("data:image/png;base64,"));
}

/// The entries of a zip file (stored entries only, as our bundles are).
fn zip_entries(bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let package = evidence::wacz::read_package_bytes(bytes, &Default::default()).unwrap();
    package.files.into_iter().collect()
}

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}
