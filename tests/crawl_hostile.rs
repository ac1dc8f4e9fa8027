//! A crawl that meets the bad days of the open web: every hostile page ends
//! with a clear error for that page, and the job goes on to finish the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spotcheck::adapters::AdapterSet;
use spotcheck::crawl::{run_job, RunOptions};
use spotcheck::fetch::{FetchConfig, Politeness};
use spotcheck::store::{JobSpec, Store};
use support::hostile::{HostileServer, RawServer, RESET_SENT};

/// Reads any page of the hostile server as an item whose title is required.
const ADAPTER: &str = r#"
format = 1
name = "hostile"
platform = "hostile"
version = "1"
hosts = []
fetch = "http"

[politeness]
rate = 0.0

[[pages]]
kind = "item"
url = '^/(?P<item_id>.*)$'

[pages.fields]
item_id = { url_group = "item_id" }
title = { css = "title", required = true }
"#;

/// A malformed adapter file beside the good one: reported and skipped.
const BAD_ADAPTER: &str = r#"
format = 1
name = "broken"
platform = "broken"
version = "1"
hosts = []
fetch = "http"
[[pages]]
kind = "item"
url = '^/(unclosed'
[pages.fields]
title = { css = "h1[" }
"#;

/// Crawls `seeds` (depth 0) with the hostile adapter; returns the store, the
/// report and the errors recorded per URL.
async fn crawl(
    dir: &Path,
    adapter: Arc<spotcheck::adapters::Adapter>,
    seeds: Vec<String>,
    fetch: FetchConfig,
) -> (Store, spotcheck::crawl::JobReport, HashMap<String, String>) {
    let spec = JobSpec { adapter: "hostile".into(), seeds, max_depth: Some(0), ..JobSpec::default() };
    let options =
        RunOptions { concurrency: 4, politeness: Some(Politeness::unlimited()), fetch, quiet: true, cluster: None };
    let store = Store::open(&dir.join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.join("blobs")).unwrap();
    let report = run_job(&store, blobs, adapter, spec, &options).await.unwrap();
    let errors = store.frontier(&report.job.id).unwrap().errors().collect::<Result<_, _>>().unwrap();
    (store, report, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hostile_page_fails_alone_and_the_job_completes() {
    let (_, server) = HostileServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let adapters_dir = dir.path().join("adapters");
    std::fs::create_dir(&adapters_dir).unwrap();
    std::fs::write(adapters_dir.join("hostile.toml"), ADAPTER).unwrap();
    std::fs::write(adapters_dir.join("broken.toml"), BAD_ADAPTER).unwrap();

    let (adapters, problems) = AdapterSet::load_dir(&adapters_dir);
    assert!(problems.len() >= 2, "the bad regex and the bad selector are both reported: {problems:?}");
    assert!(problems.iter().all(|p| p.file.ends_with("broken.toml")), "{problems:?}");
    let adapter = adapters.get("hostile").expect("the good file still loads");
    assert!(adapters.get("broken").is_none());

    // (path, what its error must say; None = the page must be stored)
    let cases: &[(&str, Option<&str>)] = &[
        ("/ok", None),
        ("/broken.html", None), // cut off mid-tag, but its title is readable
        ("/huge", Some("exceeds")),
        ("/bomb", Some("decompression bomb")),
        ("/redirect/loop/a", Some("redirect loop")),
        ("/garbage", Some("adapter drift")),
        ("/trickle?every_ms=400", Some("sent nothing")),
        ("/zstd", Some("unsupported content encoding")),
        ("/unavailable", Some("http status 503")),
        ("/private/secret", Some("robots.txt")),
    ];
    let fetch = FetchConfig {
        max_body_bytes: 4 << 20, // above the bomb's compressed size, so the decoder must catch it
        max_decoded_bytes: 8 << 20,
        read_idle_timeout: Duration::from_millis(150),
        timeout: Duration::from_secs(10),
        max_retries: 0,
        network: loopback(),
        ..FetchConfig::default()
    };
    let seeds = cases.iter().map(|(p, _)| server.url(p).to_string()).collect();
    let (_store, report, errors) = crawl(dir.path(), adapter, seeds, fetch).await;
    let c = &report.job.counters;
    assert!(!report.interrupted && !report.limited);
    assert_eq!(c.pages, cases.len() as u64, "every page is finished, failed or not");
    assert_eq!(c.robots_skipped, 1);
    assert_eq!(c.errors, cases.iter().filter(|(_, e)| e.is_some()).count() as u64 - 1);
    assert_eq!(c.listings_new, 2);

    for (path, expected) in cases {
        let url = server.url(path).to_string();
        match expected {
            None => assert!(!errors.contains_key(&url), "{path} should be stored, got {:?}", errors.get(&url)),
            Some(needle) => {
                let error = errors.get(&url).unwrap_or_else(|| panic!("{path}: no error recorded"));
                assert!(error.contains(needle), "{path}: `{error}` should say `{needle}`");
                assert!(
                    error.contains(&url) || error.contains(server.url("/redirect/loop/a").as_str()),
                    "{path}: the error names the url: {error}"
                );
            }
        }
    }
    // The 2 GiB body was cut off at the limit, not read to the end.
    assert!(server.hit_count("/huge") == 1);
}

/// Faults below HTTP during a crawl: a connection reset mid-body, a server
/// that accepts and never answers, and a body trickled just fast enough to
/// beat the idle timeout but never finished. Each page fails alone with its
/// reason, bounded by the total timeout; the good page is stored; no capture
/// is kept of a body that was cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_a_silent_server_and_an_endless_trickle_each_fail_alone() {
    let (_, server) = HostileServer::start().await;
    let raw = RawServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let adapters_dir = dir.path().join("adapters");
    std::fs::create_dir(&adapters_dir).unwrap();
    std::fs::write(adapters_dir.join("hostile.toml"), ADAPTER).unwrap();
    let adapter = AdapterSet::load_dir(&adapters_dir).0.get("hostile").unwrap();

    let ok = server.url("/ok").to_string();
    let reset = raw.url("/reset").to_string();
    let silent = raw.url("/silent").to_string();
    // One byte every 50 ms: never idle for the 1 s idle timeout (with room for a
    // loaded machine), never done.
    let trickle = server.url("/trickle?every_ms=50").to_string();
    let total = Duration::from_millis(2500);
    let fetch = FetchConfig {
        read_idle_timeout: Duration::from_secs(1),
        timeout: total,
        max_retries: 0,
        network: loopback(),
        ..FetchConfig::default()
    };
    let started = Instant::now();
    let seeds = vec![ok.clone(), reset.clone(), silent.clone(), trickle.clone()];
    let (store, report, errors) = crawl(dir.path(), adapter, seeds, fetch).await;
    // Concurrency 4: the two slow pages time out side by side, well before twice the bound.
    assert!(started.elapsed() < total * 3, "the total timeout bounds the crawl: {:?}", started.elapsed());

    let c = &report.job.counters;
    assert!(!report.interrupted && !report.limited);
    assert_eq!((c.pages, c.errors, c.listings_new), (4, 3, 1), "{errors:?}");
    assert!(!errors.contains_key(&ok), "{errors:?}");
    for (url, needle) in
        [(&reset, "failed"), (&silent, "timed out after 2s 500ms"), (&trickle, "timed out after 2s 500ms")]
    {
        let error = errors.get(url).unwrap_or_else(|| panic!("{url}: no error recorded: {errors:?}"));
        assert!(error.contains(needle) && error.contains(url.as_str()), "{url}: `{error}` should say `{needle}`");
    }
    // Named as such (the url says `/reset` too: look past it).
    let reset_error = errors[&reset].replace(&reset, "").to_lowercase();
    assert!(reset_error.contains("connection reset"), "the reset is named as such: {}", errors[&reset]);
    assert!(server.hit_count("/trickle?every_ms=50") == 1, "not retried");

    // Only the good page is sealed; no capture record of a cut-off body exists,
    // unless it says it was truncated.
    assert_eq!(store.ledger().len().unwrap(), 1, "one capture sealed");
    let mut records = 0;
    for fan in std::fs::read_dir(dir.path().join("blobs/sha256")).unwrap() {
        for blob in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            let bytes = std::fs::read(blob.unwrap().path()).unwrap();
            let Ok(record) = serde_json::from_slice::<evidence::CaptureRecord>(&bytes) else { continue };
            records += 1;
            if [&reset, &silent, &trickle].contains(&&record.url) {
                assert!(record.response.truncated, "a capture of a cut-off body must say so: {}", record.url);
            }
            assert!(record.response.body_len != RESET_SENT as u64 || record.response.truncated);
        }
    }
    assert!(records >= 1, "the good page's capture record is stored");
}

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}
