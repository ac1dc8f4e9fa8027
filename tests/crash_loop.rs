//! Seeded kill -9 loops: the real binary killed with SIGKILL at random
//! moments while it crawls, flags, captures, exports a bundle and delivers
//! webhooks, then run again until it is done. After every kill and at the end
//! the evidence must hold: nothing lost, nothing recorded twice, every blob
//! under its own name, the ledger verifying with its artifacts.
//!
//! Kill points are real: the test waits for an observable event (pages served
//! by the marketplace, the page of a capture served, a webhook received) and
//! then kills after a random extra delay drawn from a seeded RNG — that delay
//! is the fault injection, not synchronisation. The seed is printed; replay a
//! run with `SPOTCHECK_CRASH_SEED=N`, and run more iterations with
//! `SPOTCHECK_CRASH_ITERATIONS=N` (default 3 per scenario; `scripts/crash-loop.sh`
//! runs many and sums up the `crash-loop summary` lines each test prints).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use evidence::ledger::EntryKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spotcheck::findings::FindingStore;
use spotcheck::notices::NoticeStore;
use spotcheck::store::{JobStatus, Store};

#[path = "support/api_client.rs"]
#[allow(dead_code)] // shared with the API tests; this file uses the serve spawner
mod api_client;
#[path = "support/notice_draft.rs"]
mod notice_draft;
#[path = "support/site.rs"]
mod site;
#[path = "support/station.rs"]
mod station;
use site::start_site;
use station::{
    all_listings_sealed, blobs_rehash, bundle_verifies, ledger_verifies, ok, some_findings, spotcheck, Census,
};

/// What the SSRF guard must be told to let the binary fetch from a loopback server.
const ALLOW_HOSTS: &str = "SPOTCHECK_ALLOW_HOSTS";

/// The run's seed: `SPOTCHECK_CRASH_SEED`, or a fresh one.
fn crash_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("SPOTCHECK_CRASH_SEED") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("SPOTCHECK_CRASH_SEED=`{s}` is not a number")),
        Err(_) => rand::random(),
    })
}

/// Iterations per scenario: `SPOTCHECK_CRASH_ITERATIONS`, 3 by default.
fn iterations() -> usize {
    match std::env::var("SPOTCHECK_CRASH_ITERATIONS") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("SPOTCHECK_CRASH_ITERATIONS=`{s}` is not a number")),
        Err(_) => 3,
    }
}

/// What one scenario did, printed as one `crash-loop summary` line.
struct Tally {
    scenario: &'static str,
    seed: u64,
    rng: ChaCha8Rng,
    iterations: usize,
    /// Kills attempted per phase, and how many landed on a live process.
    kills: BTreeMap<&'static str, (usize, usize)>,
    /// Where landed kills caught the work, as seen in the data afterwards.
    at: BTreeMap<&'static str, usize>,
    resumes: usize,
    lost: usize,
    /// Subjects recorded twice in the ledger (must stay 0).
    duplicates: usize,
    /// Webhooks received more than once (allowed: at least once).
    redelivered: usize,
}

impl Tally {
    /// The scenario's own RNG, from the run's seed and its name (independent of test order).
    fn new(scenario: &'static str) -> Tally {
        let seed = crash_seed();
        let salt =
            scenario.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        eprintln!("{scenario}: crash-loop seed {seed} (replay with SPOTCHECK_CRASH_SEED={seed})");
        Tally {
            scenario,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed ^ salt),
            iterations: 0,
            kills: BTreeMap::new(),
            at: BTreeMap::new(),
            resumes: 0,
            lost: 0,
            duplicates: 0,
            redelivered: 0,
        }
    }

    fn delay(&mut self, max_ms: u64) -> Duration {
        Duration::from_millis(self.rng.random_range(0..=max_ms))
    }

    /// SIGKILL; true when the process was still running (the kill landed).
    fn kill(&mut self, child: &mut Child, phase: &'static str) -> bool {
        let landed = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        child.wait().unwrap();
        let slot = self.kills.entry(phase).or_default();
        slot.0 += 1;
        slot.1 += usize::from(landed);
        landed
    }

    /// Records where a landed kill caught the work.
    fn caught(&mut self, point: &'static str) {
        *self.at.entry(point).or_default() += 1;
    }

    fn landed(&self) -> usize {
        self.kills.values().map(|k| k.1).sum()
    }

    fn print(&self) {
        let phases: Vec<String> = self.kills.iter().map(|(p, (n, l))| format!("{p}:{l}/{n}")).collect();
        let at: Vec<String> = self.at.iter().map(|(p, n)| format!("{p}:{n}")).collect();
        println!(
            "crash-loop summary scenario={} seed={} iterations={} kills_landed={} resumes={} lost={} duplicates={} redelivered={} phases={} at={}",
            self.scenario,
            self.seed,
            self.iterations,
            self.landed(),
            self.resumes,
            self.lost,
            self.duplicates,
            self.redelivered,
            phases.join(","),
            at.join(",")
        );
    }
}

/// Waits for `event` (true) or the child's exit (false), polling every 2 ms.
async fn event_or_exit(child: &mut Child, what: &str, mut event: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if event() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A process's stderr, kept for the failure message.
fn log(dir: &Path, name: &str) -> Stdio {
    Stdio::from(File::create(dir.join(name)).unwrap())
}

/// Each stored listing has exactly one version: a kill never made a page count twice.
fn one_version_each(store: &Store) -> usize {
    let mut n = 0;
    for listing in store.latest_listings() {
        let l = listing.unwrap();
        let versions = store.listing_versions(&l.platform, &l.item_id).unwrap().len();
        assert_eq!(versions, 1, "{} has {versions} versions", l.key());
        n += 1;
    }
    n
}

/// No subject (capture, finding, export) is in the ledger twice.
fn no_repeats(census: &Census, tally: &mut Tally) {
    tally.duplicates += census.repeated.len();
    assert!(census.repeated.is_empty(), "recorded twice in the ledger: {:?}", census.repeated);
}

// ---- a. a crawl of the sample marketplace, then flagging ----

const CRAWL_LISTINGS: u64 = 120;

/// What must hold after any kill of a crawl; returns the pages committed and
/// whether the job had completed (the kill landed while it was sealing its
/// checkpoint or exiting).
fn after_crawl_kill(data: &Path, committed_before: u64, tally: &mut Tally) -> (u64, bool) {
    let (pages, completed) = {
        let store = Store::open(&data.join("db")).unwrap();
        let jobs = store.jobs().unwrap();
        assert!(jobs.len() <= 1, "one job, resumed: {}", jobs.len());
        let pages = jobs.first().map_or(0, |j| j.counters.pages);
        assert!(pages >= committed_before, "committed pages went back from {committed_before} to {pages}");
        all_listings_sealed(&store);
        one_version_each(&store);
        no_repeats(&Census::of(&store), tally);
        (pages, jobs.first().is_some_and(|j| j.status == JobStatus::Completed))
    };
    ledger_verifies(data);
    blobs_rehash(&data.join("blobs"));
    (pages, completed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_and_its_flagging_killed_at_random_points_lose_and_repeat_nothing() {
    let mut tally = Tally::new("crawl");
    let site = start_site(CRAWL_LISTINGS).await;
    let truth = site.truth_for("sample-mall");
    let entry = site.entry("sample-mall");
    let mut flag_took = Duration::from_millis(800);
    for _ in 0..iterations() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let crawl = || {
            let mut c = spotcheck(&data);
            c.env(ALLOW_HOSTS, site.host_port());
            c.args(["crawl", "--adapter", "sample-mall", "--seed-url", &entry]);
            c.args(["--concurrency", "4", "--no-politeness", "--json"]);
            c
        };
        let mut committed = 0;
        for k in 0..tally.rng.random_range(1..=3usize) {
            let mut child =
                crawl().stdout(Stdio::null()).stderr(log(dir.path(), &format!("crawl-{k}.err"))).spawn().unwrap();
            let target = site.served_now() + tally.rng.random_range(5..=100u64);
            if event_or_exit(&mut child, "pages served", || site.served_now() >= target).await {
                tokio::time::sleep(tally.delay(40)).await;
            }
            if !tally.kill(&mut child, "crawl") {
                break; // it finished first: nothing left to kill
            }
            let finished;
            (committed, finished) = after_crawl_kill(&data, committed, &mut tally);
            tally.caught(match (committed, finished) {
                (_, true) => "crawl/after-finish",
                (0, _) => "crawl/before-first-commit",
                _ => "crawl/mid-crawl",
            });
            if finished {
                break; // killed while sealing the end of a finished job: the next run is a new one
            }
        }
        // A run may have finished on its own before its kill: then the next run is a new one.
        let completed = {
            let store = Store::open(&data.join("db")).unwrap();
            store.jobs().unwrap().first().is_some_and(|j| j.status == JobStatus::Completed)
        };
        // Run the same command until it is done.
        let report: serde_json::Value = serde_json::from_str(&ok(crawl().output().unwrap())).unwrap();
        tally.resumes += usize::from(report["resumed"] == true);
        assert_eq!(report["job"]["status"], "completed", "{report}");
        assert_eq!(report["job"]["counters"]["errors"], 0, "{report}");
        assert!(report["job"]["counters"]["pages"].as_u64().unwrap() >= committed);
        if completed {
            assert_eq!(report["resumed"], false, "a finished job is run again, not resumed: {report}");
        } else if committed > 0 {
            assert_eq!(report["resumed"], true, "a job with committed pages is resumed: {report}");
        }

        // Every listing of the ground truth, once, on a capture that re-hashes.
        {
            let store = Store::open(&data.join("db")).unwrap();
            let blobs = evidence::BlobStore::open(data.join("blobs")).unwrap();
            let stored: HashMap<String, spotcheck::model::Listing> =
                store.latest_listings().map(|l| l.map(|l| (l.key(), l))).collect::<Result<_, _>>().unwrap();
            let lost = truth.iter().filter(|t| !stored.contains_key(&t.listing.key())).count();
            tally.lost += lost;
            assert_eq!(lost, 0, "listings lost");
            assert_eq!(stored.len(), truth.len());
            for t in &truth {
                let got = &stored[&t.listing.key()];
                assert!(t.listing.diff(got).is_empty(), "{} differs from the ground truth", t.listing.key());
                let capture = evidence::Digest::from_hex(got.capture_id.as_deref().unwrap()).unwrap();
                blobs.get(&capture).unwrap_or_else(|e| panic!("{}: capture {capture}: {e}", got.key()));
            }
            assert_eq!(one_version_each(&store), truth.len());
            assert_eq!(all_listings_sealed(&store), truth.len());
            no_repeats(&Census::of(&store), &mut tally);
        }
        ledger_verifies(&data);

        // Flagging, killed once at a random moment of its run, then run to the end twice.
        let flag = || station::flag(&data);
        let mut child = flag().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Half the kills anywhere in the run, half in its last tenth, where the
        // findings are sealed and stored (a window of milliseconds).
        let span = flag_took.as_millis() as u64;
        let delay = if tally.rng.random_bool(0.5) {
            tally.delay(span * 6 / 5)
        } else {
            Duration::from_millis(span * 9 / 10) + tally.delay(span / 5)
        };
        tokio::time::sleep(delay).await;
        if tally.kill(&mut child, "flag") {
            let store = Store::open(&data.join("db")).unwrap();
            let census = Census::of(&store);
            no_repeats(&census, &mut tally);
            // Sealed before stored: a stored finding always has its ledger entry.
            let stored = FindingStore::open(&store).unwrap().len();
            let sealed = census.count(EntryKind::Finding);
            assert!(stored <= sealed, "{stored} findings stored, fewer sealed: {census:?}");
            tally.caught(match (sealed, stored) {
                (0, _) => "flag/before-seal",
                (s, t) if t < s => "flag/sealed-not-stored",
                _ => "flag/after-store",
            });
        }
        let started = Instant::now();
        let first = ok(flag().output().unwrap());
        flag_took = started.elapsed();
        tally.resumes += 1;
        let again = ok(flag().output().unwrap());
        assert!(again.contains(", 0 new,"), "a second flagging records nothing new: {again} (after {first})");
        let store = Store::open(&data.join("db")).unwrap();
        let findings = FindingStore::open(&store).unwrap();
        let census = Census::of(&store);
        no_repeats(&census, &mut tally);
        assert!(!findings.is_empty(), "the sample marketplace plants violations");
        assert_eq!(findings.len(), census.count(EntryKind::Finding), "each finding sealed exactly once");
        drop(findings);
        drop(store);
        ledger_verifies(&data);
        tally.iterations += 1;
    }
    tally.print();
}

// ---- b. an ad-hoc capture ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_killed_at_random_points_leaves_no_half_blob_and_a_ledger_that_verifies() {
    let mut tally = Tally::new("capture");
    let site = start_site(40).await;
    let truth = site.truth_for("sample-mall");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut took = Duration::from_millis(50);
    let mut sealed = 0;
    for i in 0..iterations() {
        let url = truth[i % truth.len()].listing.url.clone();
        let path = url::Url::parse(&url).unwrap().path().to_string();
        let capture = || {
            let mut c = spotcheck(&data);
            c.env(ALLOW_HOSTS, site.host_port());
            c.args(["capture", &url, "--json"]);
            c
        };
        let served = |site: &site::Site| site.hits().get(&path).copied().unwrap_or(0);
        let before = served(&site);
        let mut child = capture().stdout(Stdio::null()).stderr(log(dir.path(), "capture.err")).spawn().unwrap();
        if event_or_exit(&mut child, "the page served", || served(&site) > before).await {
            tokio::time::sleep(tally.delay(took.as_millis() as u64)).await;
        }
        let landed = tally.kill(&mut child, "capture");
        let checked = blobs_rehash(&data.join("blobs"));
        {
            let store = Store::open(&data.join("db")).unwrap();
            let census = Census::of(&store);
            no_repeats(&census, &mut tally);
            let now = census.count(EntryKind::Capture);
            assert!(now == sealed || now == sealed + 1, "{sealed} captures before, {now} after a kill");
            if landed {
                tally.caught(if now == sealed { "capture/before-seal" } else { "capture/after-seal" });
            }
            sealed = now;
        }
        ledger_verifies(&data);

        // Again, to the end: one more capture, sealed, its files under their names.
        // How long it runs after its page is served bounds the next kill's delay.
        let before = served(&site);
        let mut child = capture().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        event_or_exit(&mut child, "the page served", || served(&site) > before).await;
        let started = Instant::now();
        let output = child.wait_with_output().unwrap();
        took = started.elapsed();
        let out: serde_json::Value = serde_json::from_str(&ok(output)).unwrap();
        tally.resumes += 1;
        let store = Store::open(&data.join("db")).unwrap();
        let census = Census::of(&store);
        no_repeats(&census, &mut tally);
        assert_eq!(census.count(EntryKind::Capture), sealed + 1, "the rerun sealed its capture");
        sealed += 1;
        let id = out["capture"].as_str().unwrap();
        assert!(!store.ledger().entries_about(id).unwrap().is_empty(), "capture {id} is in the ledger");
        drop(store);
        assert!(blobs_rehash(&data.join("blobs")) > checked, "the rerun stored its files");
        ledger_verifies(&data);
        tally.iterations += 1;
    }
    tally.print();
}

// ---- c. a bundle export ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_export_killed_at_random_points_leaves_no_bundle_or_one_that_verifies() {
    let mut tally = Tally::new("bundle");
    let site = start_site(120).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    station::crawl_and_flag(&data, &site.host_port(), &site.entry("sample-mall"));
    let findings = some_findings(&data, 5);
    assert!(!findings.is_empty(), "the station has findings to bundle");
    let bundle = |out: &Path| station::bundle(&data, out, &findings);
    // One export to measure how long it takes: the kills land within that span.
    let first = dir.path().join("first.wacz");
    let started = Instant::now();
    ok(bundle(&first).output().unwrap());
    let mut took = started.elapsed();
    bundle_verifies(&first);
    let mut exported = station::exports(&data);
    assert_eq!(exported, 1);

    for i in 0..iterations() {
        let out = dir.path().join(format!("bundle-{i}.wacz"));
        let mut child = bundle(&out).stdout(Stdio::null()).stderr(log(dir.path(), "bundle.err")).spawn().unwrap();
        tokio::time::sleep(tally.delay(took.as_millis() as u64 * 6 / 5)).await;
        let landed = tally.kill(&mut child, "bundle");
        let now = station::exports(&data);
        if out.exists() {
            bundle_verifies(&out); // renamed into place: whole
            assert!(now == exported || now == exported + 1, "{exported} exports before, {now} after");
        } else {
            assert_eq!(now, exported, "no bundle under its name, so no export recorded");
        }
        assert!(landed || now == exported + 1, "a finished export is recorded");
        if landed {
            tally.caught(match (out.exists(), now > exported) {
                (false, _) => "bundle/before-rename",
                (true, false) => "bundle/renamed-not-recorded",
                (true, true) => "bundle/recorded",
            });
        }
        ledger_verifies(&data);
        exported = now;

        // Run again: exported (again) under the same name, recorded once more.
        let started = Instant::now();
        ok(bundle(&out).output().unwrap());
        took = started.elapsed();
        tally.resumes += 1;
        bundle_verifies(&out);
        exported += 1;
        assert_eq!(station::exports(&data), exported, "each finished export is recorded once");
        let store = Store::open(&data.join("db")).unwrap();
        no_repeats(&Census::of(&store), &mut tally);
        drop(store);
        ledger_verifies(&data);
        tally.iterations += 1;
    }
    tally.print();
}

// ---- d. webhook delivery by `spotcheck serve` ----

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOTICES: usize = 30;

/// Every webhook request received: (`webhook-id`, body), in arrival order.
/// It answers 204 after a short random delay, so deliveries overlap the kills.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Bytes)>>>,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delay = r.rng.lock().unwrap().random_range(0..=20u64);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(headers.contains_key("webhook-signature"), "signed");
    r.got.lock().unwrap().push((id, body));
    StatusCode::NO_CONTENT
}

impl Receiver {
    fn ids(&self) -> HashSet<String> {
        self.got.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

/// The outbox after a kill: every event pending or delivered (none lost, none
/// dead), and each delivered one received. Returns the delivered count.
fn outbox_after_kill(data: &Path, expected: &HashSet<String>, receiver: &Receiver, delivered_before: usize) -> usize {
    let store = Store::open(&data.join("db")).unwrap();
    let outbox = NoticeStore::open(store.db()).unwrap().outbox().clone();
    let pending: HashSet<String> = outbox.pending().unwrap().into_iter().map(|e| e.id).collect();
    assert!(outbox.dead_letters().unwrap().is_empty());
    let received = receiver.ids();
    let mut delivered = 0;
    for id in expected {
        match outbox.delivered(id).unwrap() {
            Some(record) => {
                assert!(!pending.contains(id), "`{id}` is both pending and delivered");
                assert!(received.contains(id), "`{id}` recorded as delivered but never received");
                assert_eq!(record.status, Some(204));
                delivered += 1;
            }
            None => assert!(pending.contains(id), "`{id}` lost: neither pending nor delivered"),
        }
    }
    assert_eq!(pending.len() + delivered, expected.len(), "no other events");
    assert!(delivered >= delivered_before, "a recorded delivery was lost: {delivered_before} → {delivered}");
    delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_delivered_while_serve_is_killed_at_random_arrive_at_least_once_and_identical() {
    let mut tally = Tally::new("webhook");
    let fast = ["--webhook-backoff-ms", "20", "--outbox-poll-ms", "5", "--verify-every", "0", "--schedule-every", "0"];
    for i in 0..iterations() {
        let receiver =
            Receiver { got: Arc::default(), rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(tally.rng.random()))) };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let platforms = dir.path().join("platforms.toml");
        std::fs::write(
            &platforms,
            format!("[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\nwebhook_url = \"http://{addr}/hook\"\nwebhook_secret = \"{WEBHOOK_SECRET}\"\n"),
        )
        .unwrap();
        let expected: HashSet<String> = {
            let store = Store::open(&data.join("db")).unwrap();
            let notices = NoticeStore::open(store.db()).unwrap();
            let ids = (0..NOTICES)
                .map(|n| {
                    format!("msg_{}", notices.issue(notice_draft::draft("mall", i * 1000 + n), Utc::now()).unwrap().id)
                })
                .collect();
            store.db().flush().unwrap();
            ids
        };
        let env = [(ALLOW_HOSTS, addr.as_str())];
        let mut delivered = 0;
        for k in 0..tally.rng.random_range(2..=4usize) {
            let (mut serve, _) = api_client::spotcheck_serve_with_env(&data, &platforms, &fast, &env).await;
            tally.resumes += usize::from(k > 0);
            let target = receiver.count() + tally.rng.random_range(1..=8usize);
            let all = expected.len();
            if event_or_exit(&mut serve.0, "webhooks received", || {
                receiver.count() >= target || receiver.ids().len() == all
            })
            .await
            {
                tokio::time::sleep(tally.delay(15)).await;
            }
            let landed = tally.kill(&mut serve.0, "webhook");
            delivered = outbox_after_kill(&data, &expected, &receiver, delivered);
            if landed {
                tally.caught(if receiver.ids().len() > delivered {
                    "webhook/received-not-recorded" // these will be sent again
                } else {
                    "webhook/all-received-recorded"
                });
            }
        }
        // Serve until the outbox is empty, stopping gracefully (Ctrl-C) each time.
        for round in 0.. {
            let pending: HashSet<String> = {
                let store = Store::open(&data.join("db")).unwrap();
                let outbox = NoticeStore::open(store.db()).unwrap().outbox().clone();
                outbox.pending().unwrap().into_iter().map(|e| e.id).collect()
            };
            if pending.is_empty() {
                break;
            }
            assert!(round < 5, "the outbox never emptied: {pending:?}");
            let start = receiver.count();
            let (mut serve, _) = api_client::spotcheck_serve_with_env(&data, &platforms, &fast, &env).await;
            tally.resumes += 1;
            let arrived = |r: &Receiver| -> HashSet<String> {
                r.got.lock().unwrap()[start..].iter().map(|(id, _)| id.clone()).collect()
            };
            let all_sent =
                event_or_exit(&mut serve.0, "the pending webhooks", || pending.is_subset(&arrived(&receiver))).await;
            assert!(all_sent, "serve exited before delivering");
            let pid = serve.0.id().to_string();
            assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
            let status = serve.0.wait().unwrap();
            assert!(status.success(), "serve stops cleanly on Ctrl-C: {status:?}");
        }
        delivered = outbox_after_kill(&data, &expected, &receiver, delivered);
        assert_eq!(delivered, expected.len());

        // At least once, and every repeat the same message byte for byte.
        let got = receiver.got.lock().unwrap().clone();
        let mut bodies: HashMap<&str, &Bytes> = HashMap::new();
        for (id, body) in &got {
            assert!(expected.contains(id), "unknown webhook-id `{id}`");
            let first = bodies.entry(id.as_str()).or_insert(body);
            assert_eq!(*first, body, "`{id}` was sent with different bytes");
        }
        let missing = expected.len() - bodies.len();
        tally.lost += missing;
        assert_eq!(missing, 0, "webhooks never received");
        tally.redelivered += got.len() - bodies.len();
        server.abort();
        tally.iterations += 1;
    }
    tally.print();
}
