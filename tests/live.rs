#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Livestream rooms (`spotcheck live watch`): the sample marketplace's rooms
//! served on loopback with the session clock sped up (`Market::with_live`),
//! watched for a few seconds through the real fetcher, checked against the
//! room's ground truth (`Market::live_price_timeline`, `market::hls::segment`);
//! the session must be sealed in a ledger that verifies and its products must
//! go through the rules. And the Douyin live adapter on the real room and cart
//! documents in ../shared/realpages.
//!
//! No test sleeps to synchronise: the watcher waits between its own polls, and
//! the early-stop test stops it from the watcher's own progress callback.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spotcheck::config::{DataDir, Identity};
use spotcheck::fetch::{FetchConfig, Politeness};
use spotcheck::live::{watch, GapReason, LiveSession, WatchOptions, WatchReport};
use spotcheck::market::{hls, LiveConfig, Market, MarketConfig, Platform};
use spotcheck::store::Store;
use url::Url;

struct Site {
    market: Arc<Market>,
    base: Url,
}

async fn start(live: LiveConfig) -> Site {
    let market = Arc::new(Market::new(MarketConfig { seed: 21, listings: 600, count_hits: false }).with_live(live));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Arc::clone(&market).router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { market, base: Url::parse(&format!("http://{addr}/")).unwrap() }
}

fn options(seconds: f64) -> WatchOptions {
    let fetch = FetchConfig {
        max_retries: 0,
        timeout: Duration::from_secs(10),
        station: Some("station-test".into()),
        network: loopback(),
        ..FetchConfig::default()
    };
    WatchOptions {
        duration: Duration::from_secs_f64(seconds),
        interval: Duration::from_millis(150),
        fetch,
        politeness: Some(Politeness::unlimited()),
        actor: "station-test".into(),
        ..WatchOptions::default()
    }
}

async fn run(site: &Site, dir: &Path, options: WatchOptions) -> (Store, WatchReport) {
    let store = Store::open(&DataDir::new(dir).db()).unwrap();
    let blobs = evidence::BlobStore::open(DataDir::new(dir).blobs()).unwrap();
    let url = site.base.join("/mall/live/1").unwrap();
    let report = watch(&store, blobs, &url, options).await.unwrap();
    (store, report)
}

/// The ledger verifies, and the session and each of its captures are in it.
fn assert_sealed(store: &Store, dir: &Path, report: &WatchReport) {
    let station = spotcheck::sealing::Station::open(&DataDir::new(dir), store, &Identity::default()).unwrap();
    station.checkpoint().unwrap();
    let verified = station.verify_ledger().unwrap();
    assert!(verified.ok(), "{verified:#?}");
    let (_, problems) = station.verify_artifacts().unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let ledger = store.ledger();
    assert!(!ledger.entries_about(&report.session_sha256).unwrap().is_empty(), "custody entry for the session");
    for capture in &report.session.captures {
        assert!(!ledger.entries_about(capture).unwrap().is_empty(), "capture {capture} sealed");
    }
    let blobs = evidence::BlobStore::open(DataDir::new(dir).blobs()).unwrap();
    let stored = blobs.get(&evidence::Digest::from_hex(&report.session_sha256).unwrap()).unwrap();
    let session: LiveSession = serde_json::from_slice(&stored).unwrap();
    assert_eq!(session, report.session, "the artifact is the session reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_catches_the_planted_price_change_records_every_segment_and_seals_the_session() {
    let site = start(LiveConfig { speed: 20, ..LiveConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, report) = run(&site, dir.path(), options(3.5)).await;
    let s = &report.session;
    assert!(!s.interrupted);
    assert!(s.problems.is_empty(), "{:#?}", s.problems);

    // Room and host as the marketplace defines them.
    let truth = site.market.live_state(Platform::Mall, 1, 0).unwrap();
    assert_eq!(s.room.room_id, "1");
    assert_eq!(s.room.title, truth.title);
    assert_eq!(
        (s.host.shop_id.as_str(), s.host.name.as_str()),
        (truth.host.shop_id.as_str(), truth.host.name.as_str())
    );
    assert!(s.polls >= 5, "a reading every 150 ms for 3.5 s: {}", s.polls);

    // Every price seen is one the room's ground truth has, and the planted
    // change (the presented card's live price) was caught.
    let now = site.market.live_session_ms() / 1000;
    let timeline = site.market.live_price_timeline(Platform::Mall, 1, now).unwrap();
    let prices: Vec<_> = s.timeline.iter().filter(|c| c.field == "price").collect();
    for c in &prices {
        let new = c.new.as_deref().unwrap();
        assert!(timeline.iter().any(|t| t.item_id == c.item_id && t.price == new), "{c:?} not in {timeline:#?}");
    }
    let changed: Vec<_> = prices.iter().filter(|c| c.old.is_some()).collect();
    assert!(!changed.is_empty(), "70 session seconds span a presentation change: {:#?}", s.timeline);
    for c in &changed {
        let (old, new) = (c.old.as_deref().unwrap(), c.new.as_deref().unwrap());
        assert!(timeline.iter().any(|t| t.item_id == c.item_id && t.price == old));
        assert_ne!(old, new);
        assert!(s.captures.contains(&c.capture), "the change names a capture of this session");
    }
    assert!(s.timeline.iter().any(|c| c.field == "presenting" && c.old.is_some()), "the presented card changed");
    // Stock only goes down.
    let stock: Vec<_> = s.timeline.iter().filter(|c| c.field == "stock" && c.old.is_some()).collect();
    assert!(!stock.is_empty());
    for c in stock {
        let (old, new): (u64, u64) =
            (c.old.as_ref().unwrap().parse().unwrap(), c.new.as_ref().unwrap().parse().unwrap());
        assert!(new < old, "{c:?}");
    }

    // The stream: contiguous, no gap, every segment the marketplace's bytes.
    assert!(s.gaps.is_empty(), "{:#?}", s.gaps);
    assert!(s.segments.len() >= 20, "3.5 s at 10 segments/s: {}", s.segments.len());
    for pair in s.segments.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    for seg in &s.segments {
        let expected = hls::segment(Platform::Mall, 1, seg.seq);
        assert_eq!(seg.sha256, evidence::Digest::of(&expected).to_hex(), "segment {}", seg.seq);
        assert_eq!(seg.bytes, expected.len() as u64);
    }

    // Products through the rules, findings recorded and sealed.
    assert_eq!(report.listings.len(), truth.cards.len(), "one listing per card");
    for l in &report.listings {
        assert!(truth.cards.iter().any(|c| c.item_id == l.item_id));
        assert!(s.captures.contains(l.capture_id.as_ref().unwrap()));
    }
    let findings = spotcheck::findings::FindingStore::open(&store).unwrap();
    assert_eq!(findings.len() as u64, report.findings_new);
    for f in &report.findings {
        assert!(report.listings.iter().any(|l| f.capture_id == l.capture_id), "{f:?}");
    }
    assert_sealed(&store, dir.path(), &report);
    let verdict = assert_bundle_verifies(&store, dir.path(), &report).await;
    assert_eq!(verdict.findings, report.findings.len(), "the room's findings are in the bundle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_segment_and_a_lost_one_are_reported_as_gaps() {
    let site = start(LiveConfig { speed: 20, skip_every: Some(7), lose_every: Some(5) }).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, report) = run(&site, dir.path(), options(2.0)).await;
    let s = &report.session;
    assert!(!s.gaps.is_empty());
    for gap in &s.gaps {
        if gap.seq % 7 == 6 {
            assert_eq!(gap.reason, GapReason::MarkedGap, "{gap:?}");
        } else {
            assert_eq!(gap.seq % 5, 4, "{gap:?}");
            assert_eq!(gap.reason, GapReason::Status { status: 404 });
            assert!(s.captures.contains(gap.capture.as_ref().unwrap()), "the 404 is a capture too");
        }
    }
    assert!(s.gaps.iter().any(|g| g.reason == GapReason::MarkedGap));
    assert!(s.gaps.iter().any(|g| matches!(g.reason, GapReason::Status { .. })));
    // Segments and gaps together cover every number from the first to the last.
    let mut seen: Vec<u64> = s.segments.iter().map(|x| x.seq).chain(s.gaps.iter().map(|g| g.seq)).collect();
    seen.sort_unstable();
    let (first, last) = (seen[0], *seen.last().unwrap());
    assert_eq!(seen, (first..=last).collect::<Vec<_>>());
    assert!(s.segments.iter().all(|x| x.seq % 7 != 6 && x.seq % 5 != 4));
    assert_sealed(&store, dir.path(), &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stopped_early_still_seals_what_it_recorded() {
    let site = start(LiveConfig { speed: 20, ..LiveConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Arc::new(Mutex::new(Some(tx)));
    let mut options = options(600.0);
    options.stop = Some(rx);
    // Ctrl-C as soon as something was recorded.
    options.progress = Some(Arc::new(move |p: &spotcheck::live::Progress| {
        if p.polls >= 2 && p.segments >= 1 {
            if let Some(tx) = tx.lock().unwrap().take() {
                tx.send(true).unwrap();
            }
        }
    }));
    let (store, report) = tokio::time::timeout(Duration::from_secs(60), run(&site, dir.path(), options)).await.unwrap();
    assert!(report.session.interrupted);
    assert!(report.session.polls >= 2 && !report.session.segments.is_empty());
    assert_sealed(&store, dir.path(), &report);
}

#[tokio::test]
async fn the_room_serves_its_state_playlist_and_segments() {
    let site = start(LiveConfig { speed: 20, ..LiveConfig::default() }).await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = site.base.join(path).unwrap();
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap())
        }
    };
    let (status, page) = get("/mall/live/1").await;
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("data-state=\"/mall/live/1/state.json\"") && page.contains("data-hls=\"/mall/live/1/live.m3u8\"")
    );
    let (_, state) = get("/duo/live/1/state.json").await;
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    assert_eq!(state["cards"].as_array().unwrap().len(), 6);
    assert!(state["presenting"].as_str().is_some_and(|p| !p.is_empty()));
    let (_, playlist) = get("/mall/live/1/live.m3u8").await;
    let playlist = spotcheck::live::parse_playlist(&String::from_utf8_lossy(&playlist)).unwrap();
    assert_eq!(playlist.target_duration, Some(1));
    if let Some(seg) = playlist.segments.last() {
        let (status, body) = get(&format!("/mall/live/1/{}", seg.uri)).await;
        assert_eq!(status, 200);
        assert_eq!(body.as_ref(), hls::segment(Platform::Mall, 1, seg.seq).as_slice());
    }
    assert_eq!(get("/mall/live/1/seg/999999999.ts").await.0, 404, "a segment not yet produced");
    assert_eq!(get("/mall/live/99/live.m3u8").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_with_the_browser_pool_seals_screenshots_of_the_room() {
    assert!(
        evidence::report::find_chromium().is_some_and(|p| p.is_file()),
        "this test needs Chromium: install it (apt-get install chromium) or set $SPOTCHECK_CHROMIUM"
    );
    let config = spotcheck::browser::BrowserConfig {
        tabs: 1,
        page_timeout: Duration::from_secs(20),
        network: loopback(),
        ..spotcheck::browser::BrowserConfig::default()
    };
    let pool = spotcheck::browser::BrowserPool::launch(config).await.unwrap();
    let site = start(LiveConfig { speed: 20, ..LiveConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Arc::new(Mutex::new(Some(tx)));
    let mut options = options(120.0);
    options.interval = Duration::from_millis(500);
    options.screenshots = Some(pool);
    options.stop = Some(rx);
    // Stop once the stream and a few readings are in; the screenshot being
    // rendered then is awaited and sealed too.
    options.progress = Some(Arc::new(move |p: &spotcheck::live::Progress| {
        if p.polls >= 3 && p.segments >= 1 {
            if let Some(tx) = tx.lock().unwrap().take() {
                tx.send(true).unwrap();
            }
        }
    }));
    let (store, report) = tokio::time::timeout(Duration::from_secs(90), run(&site, dir.path(), options)).await.unwrap();
    let s = &report.session;
    assert!(!s.screenshots.is_empty(), "{:#?}", s.problems);
    let blobs = evidence::BlobStore::open(DataDir::new(dir.path()).blobs()).unwrap();
    for shot in &s.screenshots {
        assert!(s.captures.contains(shot));
        let record: evidence::CaptureRecord =
            serde_json::from_slice(&blobs.get(&evidence::Digest::from_hex(shot).unwrap()).unwrap()).unwrap();
        let png = record.artifacts.iter().find(|a| a.role == "screenshot").expect("a screenshot artifact");
        assert!(blobs.get(&png.sha256).unwrap().starts_with(b"\x89PNG"));
    }
    assert_sealed(&store, dir.path(), &report);
    let verdict = assert_bundle_verifies(&store, dir.path(), &report).await;
    assert!(verdict.captures >= s.screenshots.len() + s.segments.len(), "{verdict:#?}");
}

/// Seals the session into a bundle and verifies the file offline.
async fn assert_bundle_verifies(store: &Store, dir: &Path, report: &WatchReport) -> evidence::bundle::VerifyReport {
    let station = spotcheck::sealing::Station::open(&DataDir::new(dir), store, &Identity::default()).unwrap();
    let out = dir.join("live.wacz");
    let options = spotcheck::sealing::BundleOptions {
        out: out.clone(),
        title: "live".into(),
        purpose: None,
        tsa_url: None,
        chromium: None,
    };
    let summary = station.seal_bundles(store, vec![report.bundle_work(options)]).await.unwrap().pop().unwrap();
    assert_eq!(summary.captures, report.session.captures.len());
    let verdict = evidence::bundle::verify_bundle(&std::fs::read(&out).unwrap(), &Default::default());
    assert!(verdict.ok(), "{:#?}", verdict.failures().collect::<Vec<_>>());
    assert!(verdict.checks.iter().any(|c| c.check == "attachment" && c.ok), "the session timeline travels with it");
    verdict
}

// ---- Douyin: the real room-info and cart documents ----

fn douyin(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realpages/douyin_dy_data/json")).join(file)
}

fn douyin_live() -> Arc<spotcheck::adapters::Adapter> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("site-adapters");
    let (set, problems) = spotcheck::adapters::AdapterSet::load_dir(&dir);
    assert!(problems.is_empty(), "{problems:#?}");
    set.get("douyin-live").unwrap()
}

#[test]
fn douyin_room_info_maps_the_room_and_its_host() {
    let body = std::fs::read(douyin("抖音直播Api_抖音直播Api__0.json")).unwrap();
    let url = Url::parse("http://dy-data.example.org/douyin/liveroom/info?room_id=6843198199583378191").unwrap();
    let out = douyin_live().extract(&url, &body).unwrap();
    assert_eq!(out.listings.len(), 1);
    let room = &out.listings[0];
    assert_eq!(room.item_id, "6843198199583378191"); // $.data.data.id_str
    assert_eq!(room.title.as_deref(), Some("小鱼家🐟服饰正在直播")); // $.data.data.title
    let host = room.shop.as_ref().unwrap();
    assert_eq!(host.shop_id, "95760275230"); // $.data.data.owner.id_str
    assert_eq!(host.name.as_deref(), Some("小鱼家服饰1店")); // $.data.data.owner.nickname
    assert_eq!(room.url, "https://webcast.amemv.com/webcast/reflow/6843198199583378191");
}

#[test]
fn douyin_cart_of_the_same_room_maps_product_id_title_price_and_shop() {
    // The cart document is of the same room (room id 6843198199583378191).
    let body = std::fs::read(douyin("抖音直播Api_抖音直播Api__2.json")).unwrap();
    let url = Url::parse("http://dy-data.example.org/douyin/liveroom/promotions?room_id=6843198199583378191").unwrap();
    let out = douyin_live().extract(&url, &body).unwrap();
    let card = &out.listings[0];
    assert_eq!(card.item_id, "3436129527946972390"); // promotions[0].promotion_id
    assert_eq!(card.title.as_deref(), Some("k00006三色显瘦牛仔裤"));
    assert_eq!(card.price, Some("59.90".parse().unwrap())); // min_price 5990 fen
    assert_eq!(card.shop.as_ref().unwrap().shop_id, "3494225");
}

// ---- the real binary ----

/// `spotcheck live watch` against the sped-up room: the report, then Ctrl-C
/// (SIGINT) on a long watch still seals, and `evidence ledger verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_watch_command_reports_and_ctrl_c_still_seals() {
    use tokio::io::AsyncBufReadExt;
    let site = start(LiveConfig { speed: 20, ..LiveConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let url = site.base.join("/mall/live/1").unwrap().to_string();
    let bin = env!("CARGO_BIN_EXE_spotcheck");
    let data = dir.path().to_str().unwrap();
    let out = tokio::process::Command::new(bin)
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .args(["--data-dir", data, "live", "watch", &url, "--minutes", "0.03", "--interval", "0.2"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for expected in
        ["live room 1", "state readings", "price:", "segments recorded", "gaps: none", "session artifact sha256"]
    {
        assert!(stdout.contains(expected), "`{expected}` in:\n{stdout}");
    }

    let mut child = tokio::process::Command::new(bin)
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .args(["--data-dir", data, "live", "watch", &url, "--minutes", "10", "--interval", "0.2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The watch announces itself once its Ctrl-C handler is set.
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let announced = tokio::time::timeout(Duration::from_secs(30), stderr.next_line()).await.unwrap().unwrap();
    assert!(announced.is_some_and(|l| l.starts_with("watching")));
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("stopped early (Ctrl-C)") && stdout.contains("session artifact sha256"), "{stdout}");

    let verify = tokio::process::Command::new(bin)
        .args(["--data-dir", data, "evidence", "ledger", "verify"])
        .output()
        .await
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}
