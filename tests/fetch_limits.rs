#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fetcher against responses no HTTP library should accept whole: ten
//! thousand header fields, one header line of a megabyte, a response head
//! that never ends, and a connection reset before the head. Each is a clear
//! error naming its URL and why, quickly, and the next fetch from the same
//! fetcher works.
//!
//! The server is raw TCP on 127.0.0.1:0 writing exactly the bytes under test
//! (`support::hostile::RawServer`).

mod support;

use std::time::{Duration, Instant};

use evidence::BlobStore;
use spotcheck::fetch::{FetchConfig, FetchContext, Fetcher, HostAllow, NetworkPolicy, Politeness};
use support::hostile::RawServer;

#[tokio::test]
async fn hostile_response_heads_are_clear_errors_and_the_fetcher_goes_on() {
    let raw = RawServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path()).unwrap();
    let config = FetchConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(3),
        read_idle_timeout: Duration::from_secs(2),
        max_retries: 0,
        respect_robots: false,
        default_politeness: Politeness::unlimited(),
        network: NetworkPolicy::allowing([HostAllow::of_url(&raw.url("/")).unwrap()]),
        ..FetchConfig::default()
    };
    let fetcher = Fetcher::new(config, blobs).unwrap();
    let job = FetchContext::default();
    // (path, what the error must say beyond the url)
    let cases = [
        ("/many-headers", ""),
        ("/huge-header", "too large"),
        ("/endless-head", "timed out"),
        ("/reset-before-head", "reset"),
    ];
    for (path, why) in cases {
        let started = Instant::now();
        let err = fetcher.fetch(&raw.url(path), &job).await.expect_err(path);
        let message = err.to_string();
        assert!(message.contains(path), "{path}: the error names the url: {message}");
        let reason = message.replace(raw.url(path).as_str(), "").to_lowercase();
        assert!(reason.contains(why), "{path}: the error says why ({why}): {message}");
        assert!(started.elapsed() < Duration::from_secs(10), "{path}: took {:?}", started.elapsed());
    }
    let ok = fetcher.fetch(&raw.url("/fine"), &job).await.unwrap();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"hello"[..]));
}
