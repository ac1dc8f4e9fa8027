//! A crawl that meets the bad days of the open web: every hostile page ends
//! with a clear error for that page, and the job goes on to finish the rest.

mod support;

use std::time::Duration;

use spotcheck::adapters::AdapterSet;
use spotcheck::crawl::{run_job, RunOptions};
use spotcheck::fetch::{FetchConfig, Politeness};
use spotcheck::store::{JobSpec, Store};
use support::hostile::HostileServer;

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
    let spec = JobSpec {
        adapter: "hostile".into(),
        seeds: cases.iter().map(|(p, _)| server.url(p).to_string()).collect(),
        max_pages: None,
        max_depth: Some(0),
        sample: None,
        sample_seed: None,
        robots_override: None,
        plan_id: None,
        ..JobSpec::default()
    };
    let fetch = FetchConfig {
        max_body_bytes: 4 << 20, // above the bomb's compressed size, so the decoder must catch it
        max_decoded_bytes: 8 << 20,
        read_idle_timeout: Duration::from_millis(150),
        timeout: Duration::from_secs(10),
        max_retries: 0,
        network: loopback(),
        ..FetchConfig::default()
    };
    let options = RunOptions { concurrency: 4, politeness: Some(Politeness::unlimited()), fetch, quiet: true };
    let store = Store::open(&dir.path().join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.path().join("blobs")).unwrap();
    let report = run_job(&store, blobs, adapter, spec, &options).await.unwrap();

    let c = &report.job.counters;
    assert!(!report.interrupted && !report.limited);
    assert_eq!(c.pages, cases.len() as u64, "every page is finished, failed or not");
    assert_eq!(c.robots_skipped, 1);
    assert_eq!(c.errors, cases.iter().filter(|(_, e)| e.is_some()).count() as u64 - 1);
    assert_eq!(c.listings_new, 2);

    let errors: std::collections::HashMap<String, String> =
        store.frontier(&report.job.id).unwrap().errors().collect::<Result<_, _>>().unwrap();
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

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}
