//! End-to-end crawls of the sample marketplace over real loopback HTTP: what is
//! stored must equal the marketplace's ground truth, field by field, and a job
//! killed with SIGKILL must resume without losing or repeating work.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};

use spotcheck::adapters::AdapterSet;
use spotcheck::crawl::{run_job, RunOptions};
use spotcheck::fetch::Politeness;
use spotcheck::model::Listing;
use spotcheck::store::{JobSpec, Store};

#[path = "support/site.rs"]
mod site;
use site::start_site;

fn spec(adapter: &str, seed: String) -> JobSpec {
    JobSpec {
        adapter: adapter.into(),
        seeds: vec![seed],
        max_pages: None,
        max_depth: None,
        sample: None,
        sample_seed: None,
        robots_override: None,
        plan_id: None,
        ..JobSpec::default()
    }
}

fn options(concurrency: usize) -> RunOptions {
    let fetch = spotcheck::fetch::FetchConfig { network: loopback(), ..Default::default() };
    RunOptions { concurrency, politeness: Some(Politeness::unlimited()), quiet: true, fetch, cluster: None }
}

fn stored_listings(store: &Store) -> HashMap<String, Listing> {
    store.latest_listings().map(|l| l.map(|l| (l.key(), l))).collect::<Result<_, _>>().unwrap()
}

async fn crawl(dir: &Path, adapter: &str, spec: JobSpec, concurrency: usize) -> (Store, spotcheck::crawl::JobReport) {
    let store = Store::open(&dir.join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.join("blobs")).unwrap();
    let adapter = AdapterSet::builtin().get(adapter).unwrap();
    let report = run_job(&store, blobs, adapter, spec, &options(concurrency)).await.unwrap();
    (store, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_platforms_crawl_to_exactly_the_ground_truth() {
    let site = start_site(400).await;
    let dir = tempfile::tempdir().unwrap();
    for adapter in ["sample-mall", "sample-duo"] {
        let (store, report) = crawl(dir.path(), adapter, spec(adapter, site.entry(adapter)), 8).await;
        let c = &report.job.counters;
        assert_eq!(
            c.errors,
            0,
            "{adapter}: errors {:?}",
            store.frontier(&report.job.id).unwrap().errors().collect::<Vec<_>>()
        );
        let stored = stored_listings(&store);
        let truth = site.truth_for(adapter);
        assert!(truth.len() > 100, "{adapter}: the market should have listings on each platform");
        let mut mismatches = Vec::new();
        for t in &truth {
            match stored.get(&t.listing.key()) {
                None => mismatches.push(format!("{} missing", t.listing.key())),
                Some(got) => {
                    let diff = t.listing.diff(got);
                    if !diff.is_empty() {
                        mismatches.push(format!("{}: {}", t.listing.key(), diff.join("; ")));
                    }
                    // Every stored listing points at the capture it came from.
                    assert_eq!(got.capture_id.as_ref().map(String::len), Some(64));
                    assert!(got.captured_at.is_some());
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "{adapter}: {} of {} differ:\n{}",
            mismatches.len(),
            truth.len(),
            mismatches[..mismatches.len().min(10)].join("\n")
        );
        drop(store);
    }
    // Shops, checked against the shops' ground truth.
    let store = Store::open(&dir.path().join("db")).unwrap();
    let shops: HashMap<String, _> =
        store.latest_shops().map(|s| s.map(|s| (s.key(), s))).collect::<Result<_, _>>().unwrap();
    let mut checked = 0;
    for want in site.market.shops_truth(&site.base) {
        if let Some(got) = shops.get(&want.key()) {
            checked += 1;
            assert!(!got.provenance.is_empty());
            let strip =
                |s: &spotcheck::model::Shop| spotcheck::model::Shop { provenance: Default::default(), ..s.content() };
            assert_eq!(strip(&want), strip(got), "shop {}", want.key());
        }
    }
    assert!(checked > 5, "shops crawled and compared: {checked}");
    // A shop read from several of its pages is still one shop, one version.
    assert_eq!(store.shop_version_count(), store.shop_count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recrawl_keeps_one_version_when_nothing_changed() {
    let site = start_site(120).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = crawl(dir.path(), "sample-mall", spec("sample-mall", site.entry("sample-mall")), 4).await;
    let versions = store.listing_version_count();
    drop(store);
    let (store, second) = crawl(dir.path(), "sample-mall", spec("sample-mall", site.entry("sample-mall")), 4).await;
    assert_ne!(first.job.id, second.job.id, "a finished job is run again as a new run");
    assert_eq!(second.job.counters.listings_new + second.job.counters.listings_changed, 0);
    assert_eq!(second.job.counters.listings_unchanged, first.job.counters.listings_new);
    assert_eq!(store.listing_version_count(), versions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_limit_and_the_sample_are_honoured_and_reproducible() {
    let site = start_site(300).await;
    let dir = tempfile::tempdir().unwrap();
    let mut limited = spec("sample-mall", site.entry("sample-mall"));
    limited.max_pages = Some(25);
    let (_, report) = crawl(dir.path(), "sample-mall", limited, 4).await;
    assert_eq!(report.job.counters.pages, 25);
    assert!(report.limited);

    let sampled_items = |seed: u64| {
        let site_entry = site.entry("sample-mall");
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut s = spec("sample-mall", site_entry);
            s.sample = Some(15);
            s.sample_seed = Some(seed);
            let (store, report) = crawl(dir.path(), "sample-mall", s, 4).await;
            assert_eq!(report.job.counters.sampled, 15);
            assert!(
                report.job.counters.candidates >= 140,
                "all item links are candidates: {}",
                report.job.counters.candidates
            );
            let items: HashSet<String> = stored_listings(&store).into_keys().collect();
            assert_eq!(items.len(), 15);
            items
        }
    };
    let a = sampled_items(11).await;
    let b = sampled_items(11).await;
    let c = sampled_items(12).await;
    assert_eq!(a, b, "the same seed draws the same sample");
    assert_ne!(a, c, "another seed draws another sample");
}

/// Runs the real binary, kills it with SIGKILL mid-crawl, runs the same command
/// again, and checks that nothing was lost or fetched twice once stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_killed_with_sigkill_resumes_without_loss_or_duplication() {
    let site = start_site(600).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let entry = site.entry("sample-mall");
    let command = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spotcheck"));
        c.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1");
        c.args(["--data-dir", &data, "crawl", "--adapter", "sample-mall", "--seed-url", &entry]);
        c.args(["--concurrency", "4", "--no-politeness", "--json"]);
        c.env("SPOTCHECK_ALLOW_HOSTS", site.host_port());
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let mut child = command().spawn().unwrap();
    // Wait until a good part of the crawl is done, then pull the plug.
    let mut served = site.served.clone();
    served.wait_for(|n| *n >= 200).await.unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // What the killed run had committed.
    let before = site.hits();
    let done_at_kill: Vec<String> = {
        let store = Store::open(&dir.path().join("db")).unwrap();
        let jobs = store.jobs().unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(
            jobs[0].counters.pages > 0 && jobs[0].counters.pages < 600,
            "killed mid-crawl: {}",
            jobs[0].counters.pages
        );
        let frontier = store.frontier(&jobs[0].id).unwrap();
        before.keys().filter(|p| frontier.is_done(site.base.join(p).unwrap().as_str()).unwrap()).cloned().collect()
    };
    assert!(done_at_kill.len() > 50, "pages committed before the kill: {}", done_at_kill.len());

    let output = command().output().unwrap();
    assert!(output.status.success(), "resume failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["resumed"], true);

    let after = site.hits();
    for path in &done_at_kill {
        assert_eq!(before[path], after[path], "`{path}` was stored before the kill and fetched again");
    }
    let store = Store::open(&dir.path().join("db")).unwrap();
    let stored = stored_listings(&store);
    let truth = site.truth_for("sample-mall");
    assert_eq!(stored.len(), truth.len());
    for t in &truth {
        let got = stored.get(&t.listing.key()).unwrap_or_else(|| panic!("{} lost", t.listing.key()));
        assert!(t.listing.diff(got).is_empty());
        assert_eq!(
            store.listing_versions(&t.listing.platform, &t.listing.item_id).unwrap().len(),
            1,
            "one version of {}",
            t.listing.key()
        );
    }
    // Pages are counted once: the job's page count equals the distinct pages served (robots.txt aside).
    let job = &store.jobs().unwrap()[0];
    let distinct = after.keys().filter(|p| p.as_str() != "/robots.txt").count() as u64;
    assert_eq!(job.counters.pages, distinct);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyword_search_crawls_exactly_the_matching_listings() {
    let site = start_site(400).await;
    let dir = tempfile::tempdir().unwrap();
    let s = JobSpec {
        adapter: "sample-mall".into(),
        keywords: vec!["充电宝".into()],
        search_url: Some(format!("{}mall/search?q={{keyword}}", site.base)),
        // Search results (every page of them) and the items they list, no further.
        max_depth: Some(1),
        ..JobSpec::default()
    };
    let (store, report) = crawl(dir.path(), "sample-mall", s, 4).await;
    assert_eq!(report.job.counters.errors, 0);
    let stored: HashSet<String> = stored_listings(&store).into_keys().collect();
    let expected: HashSet<String> = site
        .truth_for("sample-mall")
        .into_iter()
        .filter(|t| t.listing.category.as_deref().is_some_and(|c| c.contains("移动电源")))
        .map(|t| t.listing.key())
        .collect();
    assert!(expected.len() > 10, "the market sells power banks: {}", expected.len());
    assert_eq!(stored, expected);
    // The keyword's search URL was the start, URL-encoded.
    assert!(
        site.hits().keys().any(|p| p.starts_with("/mall/search?q=%E5%85%85%E7%94%B5%E5%AE%9D")),
        "{:?}",
        site.hits().keys().take(3).collect::<Vec<_>>()
    );
}

/// Ctrl-C: the crawl stops taking new pages, commits the ones in flight, says
/// it was interrupted (exit status 1), and the same command finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_the_same_command_resumes() {
    let site = start_site(500).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let entry = site.entry("sample-duo");
    let command = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spotcheck"));
        c.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1");
        c.args(["--data-dir", &data, "crawl", "--adapter", "sample-duo", "--seed-url", &entry]);
        c.args(["--concurrency", "4", "--no-politeness", "--json"]);
        c.env("SPOTCHECK_ALLOW_HOSTS", site.host_port());
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let child = command().spawn().unwrap();
    let mut served = site.served.clone();
    served.wait_for(|n| *n >= 150).await.unwrap();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "interrupted is not success: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    let pages_at_stop = report["job"]["counters"]["pages"].as_u64().unwrap();
    assert!(pages_at_stop >= 100, "pages committed before stopping: {pages_at_stop}");
    // What was reported as done is what the store holds: in-flight pages were committed, not dropped.
    let hits_at_stop = site.hits();

    let output = command().output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["resumed"], true);
    assert_eq!(report["job"]["status"], "completed");
    let hits = site.hits();
    let refetched = hits_at_stop.iter().filter(|(p, n)| p.as_str() != "/robots.txt" && hits[*p] > **n).count();
    assert_eq!(refetched, 0, "a clean stop leaves nothing to fetch twice");
    let store = Store::open(&dir.path().join("db")).unwrap();
    assert_eq!(stored_listings(&store).len(), site.truth_for("sample-duo").len());
}

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}
