//! Scale-out against real parts: a real nats-server (JetStream) on a free
//! loopback port, `spotcheck worker` processes, the control plane as
//! `spotcheck plans run --nats` / `crawl --nats`, the sample marketplace on
//! loopback watching every request it serves.
//!
//! - Three workers, one killed (SIGKILL) holding a task it has fetched and
//!   uploaded but not answered: the plan run completes with exactly the
//!   listings, findings and captures of a single-process run of the same
//!   plan and seed, and the host never saw more than the adapter's rate.
//! - nats-server killed mid-crawl and restarted: the crawl completes, with
//!   every listing once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

#[path = "support/nats.rs"]
mod nats;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use nats::NatsServer;
use spotcheck::adapters::AdapterSet;
use spotcheck::config::DataDir;
use spotcheck::findings::FindingStore;
use spotcheck::market::{Market, MarketConfig};
use spotcheck::plans::PlanBook;
use spotcheck::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_spotcheck");

/// The marketplace on loopback, recording when each request arrived and
/// the most requests it ever had in flight at once.
struct Site {
    base: url::Url,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    max_in_flight: Arc<AtomicUsize>,
    /// Requests served so far, to wait on.
    served: tokio::sync::watch::Receiver<usize>,
}

async fn start_site(listings: u64) -> Site {
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings, count_hits: false }));
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (a, m) = (Arc::clone(&arrivals), Arc::clone(&max_in_flight));
    let (count, served) = tokio::sync::watch::channel(0usize);
    let count = Arc::new(count);
    let app = market.router().layer(middleware::from_fn(move |req: Request, next: Next| {
        let (arrivals, max, now, count) = (Arc::clone(&a), Arc::clone(&m), Arc::clone(&in_flight), Arc::clone(&count));
        async move {
            arrivals.lock().unwrap().push(Instant::now());
            count.send_modify(|n| *n += 1);
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(at_once, Ordering::SeqCst);
            let response = next.run(req).await;
            now.fetch_sub(1, Ordering::SeqCst);
            response
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { base: url::Url::parse(&format!("http://{addr}/")).unwrap(), arrivals, max_in_flight, served }
}

impl Site {
    /// The most requests that arrived within any `window` (from `from` on).
    fn busiest(&self, window: Duration, from: usize) -> usize {
        let times = self.arrivals.lock().unwrap()[from..].to_vec();
        let mut most = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= window {
                start += 1;
            }
            most = most.max(end - start + 1);
        }
        most
    }

    fn served(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }
}

fn plan_text(base: &url::Url) -> String {
    format!(
        r#"id = "scaleout"
title = "分布式抓取 样品市场网络抽查"
platforms = ["sample-mall", "sample-duo"]
seed_urls = ["{base}mall/", "{base}duo/"]
schedule = "manual"
missed = "skip"

[sample]
size = 20
weighting = "risk"

# Slower than the adapters' 50/s (burst 20, 8 at once), so that three
# workers could break it many times over if they did not share the gate.
[politeness]
rate = 8.0
concurrency = 2
"#
    )
}

fn station(base: &url::Url) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let names = AdapterSet::builtin().names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    PlanBook::open(&DataDir::new(dir.path()))
        .save("scaleout", &plan_text(base), &names)
        .unwrap_or_else(|p| panic!("{p:#?}"));
    dir
}

fn spotcheck(data: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1").args(["--data-dir", data.to_str().unwrap()]);
    command
}

/// A child process killed when the test ends, passing or not (a failed
/// assertion must not leave workers running).
struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `spotcheck worker`, its stderr read line by line into `lines`.
fn worker(nats: &NatsServer, name: &str, failpoint: Option<&str>) -> (Proc, std::sync::mpsc::Receiver<String>) {
    worker_with(nats, name, failpoint, &[])
}

fn worker_with(
    nats: &NatsServer,
    name: &str,
    failpoint: Option<&str>,
    more: &[&str],
) -> (Proc, std::sync::mpsc::Receiver<String>) {
    let mut command = Command::new(BIN);
    command.args(["worker", "--nats", &nats.url(), "--name", name, "--concurrency", "4"]).args(more);
    if let Some(f) = failpoint {
        command.env("SPOTCHECK_FAILPOINT", f);
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Proc(child), rx)
}

/// Waits (on the process, not a clock) for `child` to exit, at most `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            // Still running at the limit: kill it so the test fails instead of hanging.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let status = child.wait().unwrap();
    let _ = tx.send(());
    watchdog.join().unwrap();
    status
}

/// A `crawl --json` run to its end: its report, after checking it exited
/// well, completed, and recorded no error.
fn crawl_report(child: &mut Proc, what: &str) -> serde_json::Value {
    let status = wait_exit(child, Duration::from_secs(240));
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{what} failed: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["job"]["status"], "completed");
    assert_eq!(report["job"]["counters"]["errors"], 0, "{out}");
    report
}

/// The crawled data directory's captured URLs, sorted, after checking it
/// holds every sample-mall listing of a 400-listing site.
fn every_listing_once(data: &Path, site: &Site) -> Vec<String> {
    let got = outcome(data);
    let truth = Market::new(MarketConfig { seed: 3, listings: 400, count_hits: false })
        .truth(&site.base)
        .filter(|t| t.listing.platform == "sample-mall")
        .count();
    assert_eq!(got.listings.len(), truth, "every listing of the platform");
    got.captures.into_iter().map(|c| c.0).collect()
}

/// What a data directory holds after a plan run, free of what differs
/// between two fetches of the same bytes (capture times and ids).
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Every listing's content, by key.
    listings: BTreeMap<String, String>,
    /// (rule, listing) of every finding.
    findings: Vec<(String, String)>,
    /// (url, status, body SHA-256) of every capture in the ledger, sorted.
    captures: Vec<(String, u16, String)>,
}

fn outcome(data: &Path) -> Outcome {
    let store = Store::open(&DataDir::new(data).db()).unwrap();
    let mut listings = BTreeMap::new();
    for listing in store.latest_listings() {
        let mut listing = listing.unwrap();
        listing.captured_at = None;
        listing.capture_id = None;
        listings.insert(listing.key(), serde_json::to_string(&listing).unwrap());
    }
    let findings = FindingStore::open(&store).unwrap();
    let mut found: Vec<(String, String)> = findings.all().map(|f| f.unwrap()).map(|f| (f.rule, f.listing)).collect();
    found.sort();
    let ledger = store.ledger();
    let mut captures = Vec::new();
    for seq in 0..ledger.len().unwrap() {
        let entry = ledger.entry(seq).unwrap();
        if entry.kind == evidence::entry::EntryKind::Capture {
            let c: evidence::CaptureManifest = serde_json::from_value(entry.body).unwrap();
            captures.push((c.url, c.status, c.body_sha256.to_hex()));
        }
    }
    captures.sort();
    Outcome { listings, findings: found, captures }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_mid_task_give_exactly_the_single_process_run() {
    let site = start_site(80).await;
    let nats = NatsServer::start();

    // The same plan and seed in one process …
    let alone = station(&site.base);
    let from = site.served();
    let out = spotcheck(alone.path()).args(["plans", "run", "scaleout", "--seed", "7"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let busiest_alone = (site.busiest(Duration::from_secs(1), from), site.busiest(Duration::from_secs(3), from));

    // … and through three workers, the first of which stops for good holding
    // its fifth task: fetched, its artifacts uploaded, no result sent.
    let (mut doomed, doomed_log) = worker(&nats, "w1", Some("worker-after-upload@5"));
    let (w2, _) = worker(&nats, "w2", None);
    let (w3, _) = worker(&nats, "w3", None);
    let spread = station(&site.base);
    let from = site.served();
    let mut control = spotcheck(spread.path())
        .args(["plans", "run", "scaleout", "--seed", "7", "--nats", &nats.url(), "--ack-wait", "2s"])
        // More pages out than the host's 8 slots: only the shared gate keeps it at 8.
        .args(["--concurrency", "24"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = doomed_log.recv_timeout(left).expect("worker w1 never reached its failpoint");
        if line.contains("failpoint worker-after-upload reached") {
            break;
        }
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    let status = wait_exit(&mut control, Duration::from_secs(240));
    let mut stderr = String::new();
    std::io::Read::read_to_string(control.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "the control plane failed: {stderr}");
    let busiest_spread = (site.busiest(Duration::from_secs(1), from), site.busiest(Duration::from_secs(3), from));

    let (one, many) = (outcome(alone.path()), outcome(spread.path()));
    assert!(one.listings.len() > 60, "the plan crawled the site: {} listings", one.listings.len());
    assert!(!one.findings.is_empty(), "the drawn listings were flagged");
    assert_eq!(one.listings.len(), many.listings.len());
    for (key, listing) in &one.listings {
        assert_eq!(Some(listing), many.listings.get(key), "listing {key}");
    }
    assert_eq!(one.findings, many.findings, "the same findings");
    assert_eq!(one.captures.len(), many.captures.len(), "one capture per page, none twice");
    assert_eq!(one.captures, many.captures, "the same captures");

    // Politeness held across the workers: the plan allows 8 requests/s (the
    // adapters' burst of 20) and 2 at once, and the jobs run one after the
    // other. A request holds its host's slot until its answer is read, so
    // the site can never see more than 2 at once (12 are in the workers'
    // hands). Permits granted within any 3 s are at most 20 + 24; the site
    // sees each a little later, so 8 more allow arrivals delayed by up to a
    // second on a loaded machine. Workers with gates of their own fetch the
    // whole site within a few seconds (99 in 3 s when tried).
    eprintln!("busiest 1 s / 3 s: {busiest_alone:?} alone, {busiest_spread:?} over three workers");
    assert!(busiest_spread.1 <= 52, "{busiest_spread:?} requests within 1 / 3 s over the workers");
    assert!(busiest_alone.1 <= 52, "{busiest_alone:?} requests within 1 / 3 s alone");
    assert!(site.max_in_flight.load(Ordering::SeqCst) <= 2, "at most 2 requests at once");

    drop((w2, w3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_survives_nats_server_killed_and_restarted_mid_job() {
    let site = start_site(400).await;
    let mut nats = NatsServer::start();
    // Every artifact through the object store (not carried in the results),
    // so that path is what the restart hits.
    let (w1, _) = worker_with(&nats, "w1", None, &["--inline-budget", "0"]);
    let (w2, _) = worker_with(&nats, "w2", None, &["--inline-budget", "0"]);
    let data = tempfile::tempdir().unwrap();
    let seed = format!("{}mall/", site.base);
    let mut control = spotcheck(data.path())
        .args(["crawl", "--adapter", "sample-mall", "--seed-url", &seed, "--nats", &nats.url(), "--ack-wait", "3s"])
        .args(["--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .unwrap();
    // Kill the server once the crawl is well under way (a tenth of the site served).
    let mut served = site.served.clone();
    tokio::time::timeout(Duration::from_secs(60), served.wait_for(|n| *n >= 40))
        .await
        .expect("the crawl did not get under way")
        .unwrap();
    nats.kill();
    let served_at_kill = site.served();
    nats.restart();

    crawl_report(&mut control, "the crawl after the server restarted");
    assert!(site.served() > served_at_kill, "pages were fetched after the restart");

    let mut urls = every_listing_once(data.path(), &site);
    let all = urls.len();
    urls.dedup();
    assert_eq!(urls.len(), all, "no page captured twice in the ledger");

    drop((w1, w2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_killed_mid_job_resumes_and_the_workers_go_on() {
    let site = start_site(400).await;
    // Messages of at most 16 KiB: a list page's result (dozens of listings)
    // no longer fits, and travels through the object store like a big page.
    let nats = NatsServer::start_with("max_payload: 16384\n");
    let (w1, _) = worker(&nats, "w1", None);
    let (w2, _) = worker(&nats, "w2", None);
    let data = tempfile::tempdir().unwrap();
    let seed = format!("{}mall/", site.base);
    let crawl = || {
        let mut command = spotcheck(data.path());
        command
            .args(["crawl", "--adapter", "sample-mall", "--seed-url", &seed, "--nats", &nats.url(), "--ack-wait", "3s"])
            .args(["--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let mut first = Proc(crawl().spawn().unwrap());
    let mut served = site.served.clone();
    tokio::time::timeout(Duration::from_secs(60), served.wait_for(|n| *n >= 60))
        .await
        .expect("the crawl did not get under way")
        .unwrap();
    first.kill().unwrap(); // SIGKILL: tasks out with the workers, results on their way
    first.wait().unwrap();
    let served_at_kill = site.served();

    let mut second = Proc(crawl().spawn().unwrap());
    let report = crawl_report(&mut second, "the resumed crawl");
    assert_eq!(report["resumed"], true, "the same job went on");
    assert!(site.served() > served_at_kill);

    let mut urls = every_listing_once(data.path(), &site);
    let all = urls.len();
    urls.dedup();
    let pages = report["job"]["counters"]["pages"].as_u64().unwrap() as usize;
    assert_eq!(urls.len(), pages, "every committed page has its capture, and no page was committed twice");
    // The ledger keeps every fetch it sealed: the pages whose captures were
    // sealed but not yet committed at the kill (one commit batch: what came in
    // while the previous sync ran, a few times the 8 in flight) were fetched
    // and sealed again. Nothing else twice.
    assert!(all - urls.len() <= 32, "{} pages captured twice", all - urls.len());

    drop((w1, w2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_drops_unreadable_tasks_and_tasks_of_unknown_jobs() {
    let nats = NatsServer::start();
    let config = spotcheck::cluster::ClusterConfig::new(nats.url());
    let cluster = spotcheck::cluster::Cluster::connect(config, false).await.unwrap();
    cluster.prepare_control_plane().await.unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let garbage = [
        (
            "spotcheck.task.nosuchjob",
            br#"{"job":"nosuchjob","seq":1,"entry":{"url":"http://127.0.0.1:9/","depth":0,"kind":null}}"#.to_vec(),
        ),
        ("spotcheck.task.junk", b"\x00\xff not json at all".to_vec()),
    ];
    for (subject, payload) in garbage {
        js.publish(subject, payload.into()).await.unwrap().await.unwrap();
    }
    let out = Command::new(BIN).args(["worker", "--nats", &nats.url(), "--max-tasks", "2", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tasks_dropped"], 2, "{report}");
    assert_eq!(report["tasks_done"], 0);
    // Dropped for good: the work queue is empty.
    let mut stream = js.get_stream("SPOTCHECK_TASKS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 0, "no task left to deliver again");
}
