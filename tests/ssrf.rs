//! The network guard (issue 10): pages cannot steer spotcheck or its browser
//! to loopback, link-local (metadata), private addresses or `file://`,
//! unless the operator allowed exactly that host. Two loopback servers: the
//! "market" (allowed by host:port) and a "bystander" on another port that
//! counts every TCP connection it accepts — it must stay at zero.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use spotcheck::fetch::{FetchConfig, FetchContext, FetchError, Fetcher, HostAllow, NetworkPolicy, Politeness};
use url::Url;

/// A server that accepts, counts and closes every connection.
struct Bystander {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Bystander {
    async fn start() -> Bystander {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Bystander { addr, connections }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The allowed server: pages and redirects that point at the bystander,
/// the metadata address and a local file.
async fn market(bystander: SocketAddr) -> SocketAddr {
    let other = format!("http://{bystander}/");
    let other_page = format!(
        "<!doctype html><html><body><h1 id=ok>market page</h1>\
         <img src=\"http://{bystander}/pixel.png\"><iframe src=\"http://{bystander}/frame\"></iframe>\
         <iframe src=\"http://localhost:{port}/frame\"></iframe>\
         <script>fetch('http://{bystander}/xhr').catch(() => {{}});</script></body></html>",
        port = bystander.port()
    );
    let app = axum::Router::new()
        .route("/robots.txt", get(|| async { (axum::http::StatusCode::NOT_FOUND, "").into_response() }))
        .route("/ok", get(|| async { Html("<h1>ok</h1>") }))
        .route("/page", get(move || async move { Html(other_page) }))
        .route("/to-other", get(move || async move { Redirect::temporary(&other) }))
        .route("/to-metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }))
        .route("/to-file", get(|| async { Redirect::temporary("file:///etc/passwd") }))
        .route(
            "/to-mapped",
            get(
                move || async move { Redirect::temporary(&format!("http://[::ffff:127.0.0.1]:{}/", bystander.port())) },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn fetcher(allow: &[&str]) -> (Fetcher, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = FetchConfig {
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        default_politeness: Politeness::unlimited(),
        network: NetworkPolicy::allowing(allow.iter().map(|a| a.parse::<HostAllow>().unwrap())),
        ..FetchConfig::default()
    };
    (Fetcher::new(config, evidence::BlobStore::open(dir.path()).unwrap()).unwrap(), dir)
}

fn blocked(result: Result<spotcheck::fetch::Fetched, FetchError>) -> (String, String) {
    match result {
        Err(e @ FetchError::Blocked { .. }) => {
            assert!(!e.is_retryable(), "a refusal is never retried");
            let FetchError::Blocked { url, reason } = &e else { unreachable!() };
            assert!(e.to_string().starts_with(&format!("refusing to fetch `{url}`: ")), "{e}");
            (url.clone(), reason.clone())
        }
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(f) => panic!("expected a refusal, fetched {} ({})", f.final_url, f.status),
    }
}

#[tokio::test]
async fn redirects_and_literal_urls_to_blocked_targets_are_refused_before_any_connection() {
    let bystander = Bystander::start().await;
    let market = market(bystander.addr).await;
    let allow = format!("127.0.0.1:{}", market.port());
    let (f, _dir) = fetcher(&[&allow]);
    let ctx = FetchContext::default();
    let at = |path: &str| Url::parse(&format!("http://{market}{path}")).unwrap();

    // The allowed server itself is fetched.
    let ok = f.fetch(&at("/ok"), &ctx).await.unwrap();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"<h1>ok</h1>"[..]));

    let (url, reason) = blocked(f.fetch(&at("/to-other"), &ctx).await);
    assert_eq!(url, format!("http://{}/", bystander.addr));
    assert_eq!(reason, format!("`{}` is a loopback address", bystander.addr), "host:port allows no other port");

    let (url, reason) = blocked(f.fetch(&at("/to-metadata"), &ctx).await);
    assert_eq!(url, "http://169.254.169.254/latest/meta-data/");
    assert_eq!(reason, "`169.254.169.254:80` is a link-local address (cloud metadata)");

    let (url, reason) = blocked(f.fetch(&at("/to-file"), &ctx).await);
    assert_eq!(url, "file:///etc/passwd");
    assert!(reason.contains("to scheme `file`, which is not http or https"), "{reason}");

    let (_, reason) = blocked(f.fetch(&at("/to-mapped"), &ctx).await);
    assert!(reason.ends_with("is a loopback address") && reason.contains("::ffff:127.0.0.1"), "{reason}");

    // Literal URLs (which never reach a resolver), in every spelling.
    for literal in [
        format!("http://{}/", bystander.addr),
        format!("http://[::ffff:127.0.0.1]:{}/", bystander.addr.port()),
        format!("http://[::ffff:7f00:1]:{}/", bystander.addr.port()),
        format!("http://2130706433:{}/", bystander.addr.port()),
        format!("http://0x7f.0.0.1:{}/", bystander.addr.port()),
        format!("http://[::1]:{}/", bystander.addr.port()),
        "http://[fe80::1]/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://100.64.0.1/".to_string(),
    ] {
        blocked(f.fetch(&Url::parse(&literal).unwrap(), &ctx).await);
    }
    assert_eq!(bystander.count(), 0, "the bystander was never contacted");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_unless_the_name_is_allowed() {
    let bystander = Bystander::start().await;
    let market = market(bystander.addr).await;
    let ctx = FetchContext::default();
    let by_name = Url::parse(&format!("http://localhost:{}/ok", market.port())).unwrap();

    // The address is allowed as a literal, but `localhost` is a name: the
    // client's resolver drops its loopback answers, so nothing is connected.
    let (f, _dir) = fetcher(&[&format!("127.0.0.1:{}", market.port()), "93.184.216.34"]);
    let (url, reason) = blocked(f.fetch(&by_name, &ctx).await);
    assert_eq!(url, by_name.as_str());
    assert!(reason.starts_with("`localhost` resolves only to blocked addresses: "), "{reason}");

    // The bystander by name, a port the allowed name does not cover.
    let (f, _dir) = fetcher(&[&format!("localhost:{}", market.port())]);
    let ok = f.fetch(&by_name, &ctx).await.unwrap();
    assert_eq!(ok.status, 200, "the name allowed by the operator is fetched");
    let other = Url::parse(&format!("http://localhost:{}/", bystander.addr.port())).unwrap();
    blocked(f.fetch(&other, &ctx).await);
    assert_eq!(bystander.count(), 0);
}

#[tokio::test]
async fn a_crawl_records_refused_pages_as_errors_and_goes_on() {
    let bystander = Bystander::start().await;
    let market = market(bystander.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let store = spotcheck::store::Store::open(&dir.path().join("db")).unwrap();
    let blobs = evidence::BlobStore::open(dir.path().join("blobs")).unwrap();
    let adapter = spotcheck::adapters::AdapterSet::builtin().get("generic").expect("the generic adapter");
    let seeds = [
        format!("http://{market}/to-other"),
        format!("http://{market}/to-metadata"),
        format!("http://{}/x", bystander.addr),
    ];
    let spec = spotcheck::store::JobSpec {
        adapter: "generic".into(),
        seeds: seeds.to_vec(),
        max_depth: Some(0),
        ..spotcheck::store::JobSpec::default()
    };
    let fetch = FetchConfig { network: NetworkPolicy::allowing([HostAllow::socket(market)]), ..FetchConfig::default() };
    let options = spotcheck::crawl::RunOptions {
        concurrency: 2,
        politeness: Some(Politeness::unlimited()),
        fetch,
        quiet: true,
        cluster: None,
    };
    let report = spotcheck::crawl::run_job(&store, blobs, adapter, spec, &options).await.unwrap();
    assert_eq!(report.job.counters.errors, 3);
    let errors: std::collections::HashMap<String, String> =
        store.frontier(&report.job.id).unwrap().errors().collect::<Result<_, _>>().unwrap();
    for seed in &seeds {
        let error = errors.get(seed).unwrap_or_else(|| panic!("no error recorded for {seed}: {errors:?}"));
        assert!(error.contains("refusing to fetch") && error.contains("--allow-host"), "{seed}: {error}");
    }
    assert_eq!(bystander.count(), 0);
}

#[test]
fn the_binary_refuses_loopback_without_an_allowance_and_takes_the_env_list() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bystander = rt.block_on(Bystander::start());
    let market = rt.block_on(market(bystander.addr));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let capture = |url: String, env: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"));
        c.env_remove("SPOTCHECK_ALLOW_HOSTS").args(["--data-dir", data, "capture", &url]);
        if let Some(list) = env {
            c.env("SPOTCHECK_ALLOW_HOSTS", list);
        }
        c.output().unwrap()
    };
    let ok_url = format!("http://{market}/ok");
    let refused = capture(ok_url.clone(), None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains(&format!("refusing to fetch `{ok_url}`")) && stderr.contains("a loopback address"),
        "{stderr}"
    );

    let list = format!("example.com,127.0.0.1:{}", market.port());
    let allowed = capture(ok_url, Some(&list));
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    let redirected = capture(format!("http://{market}/to-other"), Some(&list));
    assert!(!redirected.status.success());
    assert!(
        String::from_utf8_lossy(&redirected.stderr).contains(&format!("`{}` is a loopback address", bystander.addr))
    );

    let bad = capture(format!("http://{market}/ok"), Some("http://127.0.0.1/"));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && stderr.contains("invalid allowed host `http://127.0.0.1/`"), "{stderr}");
    assert_eq!(bystander.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_cannot_reach_a_port_that_is_not_allowed() {
    assert!(
        evidence::report::find_chromium().is_some(),
        "this test needs Chromium: install it (apt-get install chromium) or set $SPOTCHECK_CHROMIUM"
    );
    let bystander = Bystander::start().await;
    let market = market(bystander.addr).await;
    let pool = spotcheck::browser::BrowserPool::launch(spotcheck::browser::BrowserConfig {
        tabs: 1,
        page_timeout: Duration::from_secs(20),
        network: NetworkPolicy::allowing([HostAllow::socket(market)]),
        ..Default::default()
    })
    .await
    .unwrap();
    let page = Url::parse(&format!("http://{market}/page")).unwrap();
    let rendered = pool.render(&page, Some("#ok")).await.unwrap();
    assert!(rendered.dom.contains("market page"));
    assert_eq!(rendered.status, Some(200));
    assert_eq!(rendered.remote_addr.as_deref(), Some(market.to_string().as_str()), "the real peer, not the proxy");

    for url in [format!("http://{}/", bystander.addr), "http://169.254.169.254/".into(), "file:///etc/passwd".into()] {
        match pool.render(&Url::parse(&url).unwrap(), None).await {
            Err(e @ spotcheck::browser::BrowserError::Blocked { .. }) => {
                assert!(e.to_string().starts_with(&format!("refusing to open `{url}` in the browser")), "{e}")
            }
            other => panic!("{url}: expected a refusal, got {:?}", other.map(|r| r.final_url)),
        }
    }
    // A redirect the browser follows goes through the proxy and is refused there.
    let redirected = pool.render(&Url::parse(&format!("http://{market}/to-other")).unwrap(), None).await;
    if let Ok(r) = &redirected {
        assert!(!r.dom.contains("market page"));
    }
    assert_eq!(bystander.count(), 0, "img, iframe, fetch and redirect never reached the bystander");
    drop(pool);

    // The control: with the bystander allowed too, the same page does reach it.
    let open = spotcheck::browser::BrowserPool::launch(spotcheck::browser::BrowserConfig {
        tabs: 1,
        page_timeout: Duration::from_secs(20),
        network: NetworkPolicy::allowing([HostAllow::socket(market), HostAllow::socket(bystander.addr)]),
        ..Default::default()
    })
    .await
    .unwrap();
    open.render(&page, Some("#ok")).await.unwrap();
    assert!(bystander.count() > 0, "the page's img and iframe load once allowed");
}
