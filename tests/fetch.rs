#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fetcher against a hostile server on loopback: robots, retries and
//! `Retry-After`, redirects, size and decompression limits, timeouts, broken
//! and foreign-charset pages, cookies, and the captures left in the blob store.

mod support;

use std::time::Duration;

use evidence::{BlobStore, CaptureRecord, Digest};
use spotcheck::fetch::{FetchConfig, FetchContext, FetchError, Fetched, Fetcher, Politeness};
use support::hostile::{self, HostileServer};

/// Small limits so every test finishes in well under a second (the 429 test waits 1 s on purpose).
fn config() -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        read_idle_timeout: Duration::from_secs(2),
        max_redirects: 5,
        max_body_bytes: 1 << 20,
        max_decoded_bytes: 4 << 20,
        max_decompression_ratio: 100,
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        max_retry_wait: Duration::from_secs(3),
        default_politeness: Politeness::unlimited(),
        station: Some("station-test".into()),
        operators: vec!["inspector-1".into()],
        network: loopback(),
        ..FetchConfig::default()
    }
}

/// The loopback test servers of this file, allowed explicitly (the network
/// guard refuses non-public addresses otherwise).
#[allow(clippy::expect_used)]
fn loopback() -> spotcheck::fetch::NetworkPolicy {
    spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().expect("an allow entry")])
}

fn fetcher(config: FetchConfig) -> (Fetcher, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = BlobStore::open(dir.path()).expect("blob store");
    (Fetcher::new(config, blobs).expect("fetcher"), dir)
}

fn job() -> FetchContext {
    FetchContext { job_id: Some("job-1".into()), plan_id: Some("plan-1".into()), robots_override: None }
}

async fn get(f: &Fetcher, server: &HostileServer, path: &str) -> Result<Fetched, FetchError> {
    f.fetch(&server.url(path), &job()).await
}

/// The stored record, read back and re-verified by digest.
fn stored_record(f: &Fetcher, id: &Digest) -> CaptureRecord {
    let json = f.blobs().get(id).expect("capture record stored and intact");
    assert_eq!(Digest::of(&json), *id);
    serde_json::from_slice(&json).expect("capture record json")
}

#[tokio::test]
async fn a_page_becomes_a_stored_verifiable_capture() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/ok").await.expect("fetch /ok");
    assert!(page.is_success());
    assert_eq!(page.attempts, 1);
    assert!(page.text().contains("充电宝 20000mAh"));

    let rec = stored_record(&f, &page.capture_id);
    assert_eq!(rec, page.capture);
    assert_eq!(rec.to_canonical_json(), f.blobs().get(&page.capture_id).unwrap());
    assert_eq!(f.blobs().get(&rec.response.body_sha256).unwrap(), hostile::PAGE.as_bytes());
    assert_eq!(rec.response.body_len, hostile::PAGE.len() as u64);
    assert_eq!(rec.response.status, 200);
    assert_eq!(rec.response.http_version, "HTTP/1.1");
    assert!(rec.response.headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/html")));
    assert_eq!(rec.resolved_ip.as_deref(), Some(server.addr.to_string().as_str()));
    assert!(rec.resolved_ip.unwrap().starts_with("127.0.0.1:"));
    assert_eq!(rec.tls_peer_cert_sha256, None, "plain http has no certificate");
    assert_eq!(rec.url, server.url("/ok").as_str());
    assert_eq!(rec.final_url, rec.url);
    assert!(rec.redirect_chain.is_empty());
    assert!(rec.started_at <= rec.finished_at);
    assert_eq!(rec.time_source, "system");
    assert_eq!(rec.tool, spotcheck::TOOL);
    assert_eq!(rec.station.as_deref(), Some("station-test"));
    assert_eq!(rec.operators, ["inspector-1"]);
    assert_eq!((rec.job_id.as_deref(), rec.plan_id.as_deref()), (Some("job-1"), Some("plan-1")));
}

#[tokio::test]
async fn request_headers_are_recorded_as_the_server_received_them() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/headers").await.unwrap();
    let received = page.text();
    let sent = &page.capture.request.headers;
    assert!(sent.iter().any(|(k, _)| k == "user-agent"));
    assert!(sent.iter().any(|(k, v)| k == "accept-encoding" && v.contains("gzip")));
    for (k, v) in sent {
        assert!(received.contains(&format!("{k}: {v}\n")), "`{k}: {v}` not received; server saw:\n{received}");
    }
}

#[tokio::test]
async fn robots_txt_is_honoured_and_fetched_once() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    get(&f, &server, "/ok").await.unwrap();
    let err = get(&f, &server, "/private/page").await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsDisallowed { .. }), "{err}");
    assert_eq!(err.to_string(), format!("robots.txt of `{}` disallows `{}`", server.addr, server.url("/private/page")));
    // A redirect into the disallowed area is refused at the hop.
    let err = get(&f, &server, "/redirect/to-private").await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsDisallowed { ref url } if url.ends_with("/private/page")), "{err}");
    assert_eq!(server.hit_count("/private/page"), 0, "a disallowed page must never be requested");
    assert_eq!(server.hit_count("/robots.txt"), 1);
}

#[tokio::test]
async fn robots_override_is_returned_and_sealed_in_the_capture() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let ctx = FetchContext { robots_override: Some("court order 2025-17".into()), ..job() };
    let page = f.fetch(&server.url("/private/page"), &ctx).await.unwrap();
    assert!(page.is_success());
    assert_eq!(page.robots_override.as_deref(), Some("court order 2025-17"));
    assert_eq!(server.hit_count("/robots.txt"), 0);
    // The reason is part of the sealed record, not just of the return value.
    let stored = f.blobs().get(&page.capture_id).unwrap();
    let record: evidence::CaptureRecord = serde_json::from_slice(&stored).unwrap();
    assert_eq!(record.robots_override.as_deref(), Some("court order 2025-17"));
}

#[tokio::test]
async fn robots_4xx_allows_everything_and_5xx_disallows_everything() {
    let (_, server) = HostileServer::start().await;
    server.set_robots_status(404);
    let (f, _dir) = fetcher(config());
    assert!(get(&f, &server, "/private/page").await.unwrap().is_success());

    let (_, server) = HostileServer::start().await;
    server.set_robots_status(500);
    let (f, _dir) = fetcher(FetchConfig { max_retries: 0, ..config() });
    let err = get(&f, &server, "/ok").await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsUnreachable { .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(server.hit_count("/ok"), 0);
}

/// A robots.txt of `rules`, padded with comment lines to just under 500 KiB,
/// then a `Disallow: /ok…` line that the 500 KiB limit cuts right after `/ok`.
fn robots_cut_at_the_limit(rules: &str) -> Vec<u8> {
    const LIMIT: usize = 500 * 1024;
    let mut body = format!("User-agent: *\n{rules}").into_bytes();
    let line = format!("# {}\n", "padding ".repeat(12));
    let cut = "Disallow: /ok";
    while body.len() + line.len() + cut.len() < LIMIT {
        body.extend_from_slice(line.as_bytes());
    }
    body.resize(LIMIT - cut.len(), b'#');
    body.push(b'\n');
    body.truncate(LIMIT - cut.len());
    body.extend_from_slice(cut.as_bytes());
    assert_eq!(body.len(), LIMIT, "the cut falls exactly at the limit");
    body.extend_from_slice(b"ay-only-this-page\nDisallow: /\n");
    body
}

#[tokio::test]
async fn robots_txt_past_500_kib_is_read_up_to_the_limit_in_whole_lines() {
    let (_, server) = HostileServer::start().await;
    server.set_robots_body(robots_cut_at_the_limit("Disallow: /private\n"), None);
    let (f, _dir) = fetcher(config());
    // The rule inside the limit holds.
    let err = get(&f, &server, "/private/page").await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsDisallowed { .. }), "{err}");
    // The line the limit cuts (`Disallow: /ok` of `/okay-only-this-page`) is not
    // read as a shorter rule, and nothing past the limit (`Disallow: /`) is read.
    assert!(get(&f, &server, "/ok").await.unwrap().is_success());
    assert_eq!(server.hit_count("/robots.txt"), 1);

    // The same file gzip-encoded decodes past the limit: the same whole lines are read.
    let (_, server) = HostileServer::start().await;
    server.set_robots_body(hostile::gzip(&robots_cut_at_the_limit("Disallow: /private\n")), Some("gzip"));
    let (f, _dir) = fetcher(config());
    assert!(matches!(get(&f, &server, "/private/page").await.unwrap_err(), FetchError::RobotsDisallowed { .. }));
    assert!(get(&f, &server, "/ok").await.unwrap().is_success());
}

#[tokio::test]
async fn compressed_robots_txt_that_cannot_be_read_disallows_the_host() {
    // Over 500 KiB compressed: the cut stream cannot be decoded up to the limit.
    let noise: String =
        (0..80_000u32).map(|i| format!("# {:x}\n", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))).collect();
    let big = hostile::gzip(format!("User-agent: *\nDisallow: /private\n{noise}").as_bytes());
    assert!(big.len() > 500 * 1024, "the test file must be over the limit compressed ({} bytes)", big.len());
    // A small gzip bomb: 16 MiB of newlines in a few KiB.
    let bomb = hostile::gzip(&vec![b'\n'; 16 << 20]);
    // Not gzip at all.
    let corrupt = bytes::Bytes::from_static(b"User-agent: *\nAllow: /\n");
    for (what, body) in [("over the limit compressed", big), ("a bomb", bomb), ("corrupt", corrupt)] {
        let (_, server) = HostileServer::start().await;
        server.set_robots_body(body, Some("gzip"));
        let (f, _dir) = fetcher(config());
        let err = get(&f, &server, "/ok").await.unwrap_err();
        assert!(matches!(err, FetchError::RobotsUnreachable { .. }), "{what}: {err}");
        assert_eq!(server.hit_count("/ok"), 0, "{what}: a host whose robots.txt cannot be read is not crawled");
    }
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let path = "/throttled?fail=1&retry_after=1";
    let page = get(&f, &server, path).await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.attempts, 2);
    let hits = server.hits(path);
    assert_eq!(hits.len(), 2);
    let waited = hits[1] - hits[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}, server asked for 1 s");
}

#[tokio::test]
async fn retry_after_is_capped_by_max_retry_wait() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(FetchConfig { max_retry_wait: Duration::from_millis(200), ..config() });
    let path = "/throttled?fail=1&retry_after=3600";
    let page = get(&f, &server, path).await.unwrap();
    assert_eq!(page.status, 200);
    let hits = server.hits(path);
    let waited = hits[1] - hits[0];
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn after_the_last_retry_the_503_is_returned_as_a_capture() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/unavailable").await.unwrap();
    assert_eq!(page.status, 503);
    assert!(!page.is_success());
    assert_eq!(page.attempts, 3);
    assert_eq!(server.hit_count("/unavailable"), 3);
    assert_eq!(stored_record(&f, &page.capture_id).response.status, 503);
    // A 503 that recovers is retried without Retry-After (exponential backoff).
    let page = get(&f, &server, "/throttled?fail=2&status=503").await.unwrap();
    assert_eq!((page.status, page.attempts), (200, 3));
}

#[tokio::test]
async fn redirect_chain_is_followed_and_recorded() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/redirect/chain/3").await.unwrap();
    assert_eq!(page.final_url, server.url("/redirect/chain/0"));
    assert!(page.text().contains("end of chain"));
    let rec = stored_record(&f, &page.capture_id);
    assert_eq!(rec.url, server.url("/redirect/chain/3").as_str());
    assert_eq!(rec.final_url, page.final_url.as_str());
    let hops: Vec<_> = rec.redirect_chain.iter().map(|h| (h.url.as_str(), h.status, h.location.as_str())).collect();
    let (u3, u2, u1) =
        (server.url("/redirect/chain/3"), server.url("/redirect/chain/2"), server.url("/redirect/chain/1"));
    assert_eq!(
        hops,
        [
            (u3.as_str(), 301, "/redirect/chain/2"),
            (u2.as_str(), 301, "/redirect/chain/1"),
            (u1.as_str(), 301, "/redirect/chain/0")
        ]
    );
}

#[tokio::test]
async fn relative_redirect_is_resolved() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/redirect/relative").await.unwrap();
    assert_eq!(page.final_url, server.url("/ok"));
    assert_eq!(page.capture.redirect_chain[0].location, "../ok");
}

#[tokio::test]
async fn redirect_limits_loops_and_bad_locations_are_errors() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let err = get(&f, &server, "/redirect/chain/9").await.unwrap_err();
    assert!(matches!(err, FetchError::TooManyRedirects { max: 5, .. }), "{err}");
    // 9 → 8 → 7 → 6 → 5 → 4 are five followed redirects; the sixth (to 3) is not.
    assert_eq!(server.hit_count("/redirect/chain/4"), 1);
    assert_eq!(server.hit_count("/redirect/chain/3"), 0, "stops after 5 redirects");

    let err = get(&f, &server, "/redirect/loop/a").await.unwrap_err();
    assert_eq!(err.to_string(), format!("redirect loop at `{}`", server.url("/redirect/loop/a")));
    assert_eq!(server.hit_count("/redirect/loop/a"), 1);

    // A redirect to another scheme (here `mailto:`) is refused by the network policy.
    let err = get(&f, &server, "/redirect/nowhere").await.unwrap_err();
    assert!(matches!(err, FetchError::Blocked { .. }), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_2gb_response_is_cut_at_the_limit() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let err = get(&f, &server, "/huge").await.unwrap_err();
    assert_eq!(err.to_string(), format!("response body of `{}` exceeds 1 MiB", server.url("/huge")));
    let rec = stored_record(&f, &err.capture_id().expect("truncated capture kept"));
    assert!(rec.response.truncated);
    assert_eq!(rec.response.body_len, 1 << 20);
    let produced = server.state.huge_bytes_produced.load(std::sync::atomic::Ordering::Relaxed);
    assert!(produced < 64 << 20, "the server generated {produced} bytes: the fetcher read far past the limit");
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_by_size_and_by_ratio() {
    let (_, server) = HostileServer::start().await;
    let roomy = FetchConfig { max_body_bytes: 8 << 20, ..config() };
    let (f, _dir) = fetcher(roomy.clone());
    let err = get(&f, &server, "/bomb").await.unwrap_err();
    assert!(matches!(err, FetchError::DecompressionBomb { .. }), "{err}");
    assert!(err.to_string().contains("expands past 4 MiB"), "{err}");
    // The raw (compressed) bytes are kept as evidence.
    let rec = stored_record(&f, &err.capture_id().unwrap());
    assert_eq!(rec.response.body_len, hostile::bomb().len() as u64);

    let (f, _dir) = fetcher(FetchConfig { max_decoded_bytes: 1 << 30, max_decompression_ratio: 10, ..roomy });
    let err = get(&f, &server, "/bomb").await.unwrap_err();
    assert!(err.to_string().contains("expands more than 10:1"), "{err}");
}

#[tokio::test]
async fn gzip_deflate_and_br_decode_and_the_raw_bytes_are_kept() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    for path in ["/gzip", "/deflate", "/br"] {
        let page = get(&f, &server, path).await.unwrap();
        assert_eq!(page.body, hostile::PAGE.as_bytes(), "{path}");
        let raw = f.blobs().get(&page.capture.response.body_sha256).unwrap();
        assert_ne!(raw, hostile::PAGE.as_bytes(), "{path}: the capture keeps the encoded bytes");
    }
    let err = get(&f, &server, "/zstd").await.unwrap_err();
    assert!(matches!(err, FetchError::UnsupportedEncoding { ref encoding, .. } if encoding == "zstd"), "{err}");
}

#[tokio::test]
async fn a_trickling_server_ends_in_a_timeout() {
    let (_, server) = HostileServer::start().await;
    let idle = FetchConfig { read_idle_timeout: Duration::from_millis(150), max_retries: 0, ..config() };
    let (f, _dir) = fetcher(idle);
    let err = get(&f, &server, "/trickle?every_ms=1000").await.unwrap_err();
    assert!(matches!(err, FetchError::IdleTimeout { .. }), "{err}");
    assert!(err.is_retryable());

    let total = FetchConfig { timeout: Duration::from_millis(300), max_retries: 0, ..config() };
    let (f, _dir) = fetcher(total);
    let err = get(&f, &server, "/trickle?every_ms=20").await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out after 300ms"), "{err}");
}

#[tokio::test]
async fn garbage_and_broken_html_are_fetched_not_fatal() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let garbage = get(&f, &server, "/garbage").await.unwrap();
    assert_eq!(garbage.body.len(), 64 * 1024);
    assert!(garbage.text().contains('\u{fffd}'), "bad bytes are replaced, not an error");
    let broken = get(&f, &server, "/broken.html").await.unwrap();
    assert!(broken.text().contains("半截页面"));
}

#[tokio::test]
async fn a_gbk_page_is_decoded_by_its_meta_charset() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    let page = get(&f, &server, "/gbk").await.unwrap();
    assert!(std::str::from_utf8(&page.body).is_err(), "the body is GBK on the wire");
    assert!(page.text().contains(hostile::GBK_TEXT), "{}", page.text());
}

#[tokio::test]
async fn cookies_live_in_one_fetcher_and_are_recorded() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    assert_eq!(get(&f, &server, "/cookie/need").await.unwrap().status, 403);
    get(&f, &server, "/cookie/set").await.unwrap();
    let page = get(&f, &server, "/cookie/need").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.capture.request.headers.iter().any(|(k, v)| k == "cookie" && v == "session=s3cr3t"));

    let (other_job, _dir2) = fetcher(config());
    assert_eq!(get(&other_job, &server, "/cookie/need").await.unwrap().status, 403, "jars are per job");

    // Revisiting a URL with a new cookie is a login flow, not a redirect loop.
    let page = get(&other_job, &server, "/cookie/members").await.unwrap();
    assert!(page.text().contains("members area"));
    assert_eq!(page.capture.redirect_chain.len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_retryable_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (f, _dir) = fetcher(FetchConfig { respect_robots: false, ..config() });
    let url = url::Url::parse(&format!("http://{addr}/x")).unwrap();
    let err = f.fetch(&url, &job()).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().starts_with(&format!("cannot connect to `{url}`")), "{err}");

    let err = f.fetch(&url::Url::parse("ftp://example.com/x").unwrap(), &job()).await.unwrap_err();
    assert!(matches!(err, FetchError::InvalidUrl { .. }), "{err}");
}

#[tokio::test]
async fn politeness_spaces_requests_to_a_host() {
    let (_, server) = HostileServer::start().await;
    let (f, _dir) = fetcher(config());
    f.set_politeness("127.0.0.1", Politeness { rate: 10.0, burst: 1, concurrency: 1 });
    let url = server.url("/ok");
    let ctx = job();
    let fetches = (0..3).map(|_| f.fetch(&url, &ctx));
    for r in futures::future::join_all(fetches).await {
        r.unwrap();
    }
    // robots.txt goes through the same gate: 4 requests, released 100 ms apart.
    // (Arrival times jitter a little, so allow some slack per gap, less overall.)
    let mut times = server.hits("/ok");
    times.extend(server.hits("/robots.txt"));
    times.sort();
    assert_eq!(times.len(), 4);
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(50), "requests {:?} apart", w[1] - w[0]);
    }
    assert!(times[3] - times[0] >= Duration::from_millis(250), "4 requests within {:?}", times[3] - times[0]);
}

/// Throughput of fetch → capture → store on loopback, politeness off. Not a
/// pass/fail test: run it by hand, in release, and read the numbers:
///
/// ```text
/// FETCH_BENCH_N=100000 cargo test --release --test fetch -- --ignored --nocapture fetch_throughput
/// ```
#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement, run by hand in release"]
async fn fetch_throughput() {
    let n: usize = std::env::var("FETCH_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = std::env::var("FETCH_BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let (_, server) = HostileServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let fsync = std::env::var("FETCH_BENCH_FSYNC").map_or(true, |v| v != "0");
    let blobs = BlobStore::open(dir.path()).unwrap().with_fsync(fsync);
    let f = Fetcher::new(config(), blobs).unwrap();
    let started = std::time::Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (f, next) = (f.clone(), next.clone());
            // Distinct URLs (and so distinct capture records), like a real crawl.
            let base = server.url("/ok");
            tokio::spawn(async move {
                let ctx = job();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let mut url = base.clone();
                    url.set_query(Some(&format!("i={}", next.load(std::sync::atomic::Ordering::Relaxed))));
                    f.fetch(&url, &ctx).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let fetched = started.elapsed();
    // Durable before the numbers are taken: the explicit sync point is part of the cost.
    f.blobs().sync().unwrap();
    let elapsed = started.elapsed();
    println!("fetching {fetched:.2?}, final sync {:.2?}", elapsed - fetched);
    println!(
        "fetch_throughput: {n} fetches, concurrency {concurrency}, fsync per blob {fsync}: {:.2?}, {:.0} fetches/s",
        elapsed,
        n as f64 / elapsed.as_secs_f64()
    );
    let t = std::time::Instant::now();
    drop(server);
    println!("server dropped in {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    drop(dir);
    println!("blob dir removed in {:.2?}", t.elapsed());
}
