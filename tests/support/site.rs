//! The sample marketplace on a loopback port, with a per-path request count
//! and a served-requests counter tests wait on (no sleeping). Shared by
//! tests/crawl.rs, tests/crash_loop.rs and tests/disk_faults.rs
//! (`#[path = "support/site.rs"] mod site;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use spotcheck::market::{Market, MarketConfig, TruthRecord};
use tokio::sync::watch;
use url::Url;

pub struct Site {
    pub market: Arc<Market>,
    pub base: Url,
    pub hits: Arc<Mutex<HashMap<String, u64>>>,
    pub served: watch::Receiver<u64>,
}

pub async fn start_site(listings: u64) -> Site {
    start_site_seeded(7, listings).await
}

pub async fn start_site_seeded(seed: u64, listings: u64) -> Site {
    let market = Arc::new(Market::new(MarketConfig { seed, listings, count_hits: false }));
    let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let (tx, served) = watch::channel(0u64);
    let tx = Arc::new(tx);
    let counter = Arc::clone(&hits);
    let app = Arc::clone(&market).router().layer(middleware::from_fn(move |req: Request, next: Next| {
        let (counter, tx) = (Arc::clone(&counter), Arc::clone(&tx));
        async move {
            let key = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let response: Response = next.run(req).await;
            *counter.lock().unwrap().entry(key).or_default() += 1;
            tx.send_modify(|n| *n += 1);
            response
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { market, base: Url::parse(&format!("http://{addr}/")).unwrap(), hits, served }
}

impl Site {
    pub fn entry(&self, adapter: &str) -> String {
        self.market.entry_urls(&self.base).into_iter().find(|(a, _)| a == adapter).unwrap().1.to_string()
    }

    pub fn truth_for(&self, platform: &str) -> Vec<TruthRecord> {
        self.market.truth(&self.base).filter(|t| t.listing.platform == platform).collect()
    }

    pub fn hits(&self) -> HashMap<String, u64> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests served so far.
    pub fn served_now(&self) -> u64 {
        *self.served.borrow()
    }

    /// `127.0.0.1:PORT`: what `SPOTCHECK_ALLOW_HOSTS` must name for the
    /// binary to fetch from this loopback site (the SSRF guard).
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.base.host_str().unwrap(), self.base.port().unwrap())
    }
}
