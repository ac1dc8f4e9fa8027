//! The sample marketplace playing the platforms' trust-and-safety desks, end to
//! end over real loopback sockets: spotcheck's platform API over a temp store,
//! the real outbox worker delivering signed `notice.issued` webhooks to the
//! market, and the market delisting, disputing and ignoring as its policy says.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use chrono::Utc;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::{json, Value};
use spotcheck::api::{self, ApiState, RateLimit};
use spotcheck::market::platform::{DISPUTE_REASON, WEBHOOK_BODY_LIMIT};
use spotcheck::market::{serve, Decision, Market, MarketConfig, Platform, PlatformActor, Policy, Retry, TruthRecord};
use spotcheck::notices::webhook::{self, WebhookSecret};
use spotcheck::notices::{
    DeliveryConfig, Notice, NoticeDraft, NoticeListing, NoticeStore, OutboxWorker, PlatformRegistry,
};
use spotcheck::store::Store;
use url::Url;

#[path = "support/notice_draft.rs"]
mod notice_draft;

const MALL_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DUO_SECRET: &str = "whsec_c2FtcGxlLWR1by13ZWJob29rLXNlY3JldA==";
const WAIT: Duration = Duration::from_secs(30);

/// The market, spotcheck's API with its outbox worker, and the keys between them.
struct World {
    _dir: tempfile::TempDir,
    _store: Store,
    market: Arc<Market>,
    market_base: Url,
    api_base: String,
    notices: NoticeStore,
    mall_key: String,
    duo_key: String,
    /// `METHOD path` of every request the API received.
    api_requests: Arc<Mutex<Vec<String>>>,
    worker: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for World {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Mall gets its webhook (the outbox delivers); duo polls (the tests deliver by hand).
async fn world(mall_policy: Policy) -> World {
    let market = Arc::new(Market::new(MarketConfig { seed: 17, listings: 600, count_hits: false }));
    let (addr, _) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let market_base = Url::parse(&format!("http://{addr}/")).unwrap();
    let mall_hook = market.webhook_url(&market_base, Platform::Mall).unwrap();
    let registry = format!(
        "[[platform]]\nid = \"mall\"\nname = \"样品商城\"\nwebhook_url = \"{mall_hook}\"\nwebhook_secret = \"{MALL_SECRET}\"\n\n\
         [[platform]]\nid = \"duo\"\nname = \"样品多多\"\n"
    );
    let registry = PlatformRegistry::from_toml(&registry, "test").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let triage = spotcheck::cases::Triage::configured(&store, None, 90).unwrap();
    let state = ApiState::open(&store, registry.clone(), triage, RateLimit::default()).unwrap();
    let (_, mall_key) = state.keys.issue_key("mall", Utc::now()).unwrap();
    let (_, duo_key) = state.keys.issue_key("duo", Utc::now()).unwrap();
    let notices = state.notices.clone();
    let api_requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = api_requests.clone();
    let app = api::app(state).layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        seen.lock().unwrap().push(format!("{} {}", request.method(), request.uri().path()));
        next.run(request)
    }));
    let (listener, api_base) = listen().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    market.act_as_platform(
        PlatformActor::new(Platform::Mall, &api_base, &mall_key, MALL_SECRET).unwrap().with_policy(mall_policy),
    );
    market.act_as_platform(
        PlatformActor::new(Platform::Duo, &api_base, &duo_key, DUO_SECRET)
            .unwrap()
            .with_policy(Policy::always(Decision::Delist)),
    );
    let delivery = DeliveryConfig {
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        poll_interval: Duration::from_millis(5),
        ..DeliveryConfig::default()
    };
    let worker = OutboxWorker::spawn(notices.outbox().clone(), Arc::new(registry), delivery).unwrap();
    World {
        _dir: dir,
        _store: store,
        market,
        market_base,
        api_base,
        notices,
        mall_key,
        duo_key,
        api_requests,
        worker,
        http: reqwest::Client::new(),
    }
}

/// A notice to `platform` (a registry id) about `items`, for case `case`.
fn draft(platform: &str, case: &str, items: &[&TruthRecord]) -> NoticeDraft {
    let listings = items
        .iter()
        .map(|t| NoticeListing { url: t.listing.url.clone(), item_id: t.listing.item_id.clone() })
        .collect();
    NoticeDraft { case_id: case.into(), listings, ..notice_draft::draft(platform, 0) }
}

impl World {
    /// The first `n` listings of `platform`, from the market's own truth.
    fn items(&self, platform: Platform, n: usize) -> Vec<TruthRecord> {
        let items: Vec<TruthRecord> =
            self.market.truth(&self.market_base).filter(|t| t.listing.platform == platform.name()).take(n).collect();
        assert_eq!(items.len(), n, "the market has too few {} listings", platform.name());
        items
    }

    /// Issues a notice and waits until the market has handled `handled` notices in all.
    async fn issue_and_wait(&self, draft: NoticeDraft, handled: usize) -> Notice {
        let notice = self.notices.issue(draft, Utc::now()).unwrap();
        assert!(self.market.wait_handled(handled, WAIT).await, "notice {} was not handled in time", notice.id);
        notice
    }

    async fn get(&self, url: &str) -> (StatusCode, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The notice and its status as the platform API shows them.
    async fn view(&self, id: &str, key: &str) -> Value {
        let url = format!("{}/api/platform/v1/notices/{id}", self.api_base);
        let response = self.http.get(url).bearer_auth(key).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    /// Every item linked from `platform`'s category list pages and `shop_url`'s
    /// pages (following 下一页 on each).
    async fn linked_items(&self, platform: Platform, shop_url: &str) -> BTreeSet<String> {
        let sel = |css: &str| Selector::parse(css).unwrap();
        let (category, item, next) = (sel("a.cat-link"), sel("a.item-link, a.goods-item"), sel("a.next-page"));
        let hrefs = |doc: &Html, url: &Url, which: &Selector| -> Vec<Url> {
            doc.select(which).filter_map(|a| a.value().attr("href")).map(|h| url.join(h).unwrap()).collect()
        };
        let entry = self.market_base.join(&format!("{}/", platform.prefix().trim_start_matches('/'))).unwrap();
        let (_, body) = self.get(entry.as_str()).await;
        let mut starts = hrefs(&Html::parse_document(&body), &entry, &category);
        starts.push(Url::parse(shop_url).unwrap());
        let mut links = BTreeSet::new();
        for start in starts {
            let mut page = Some(start);
            while let Some(url) = page.take() {
                let (status, body) = self.get(url.as_str()).await;
                assert_eq!(status, StatusCode::OK, "{url}");
                let doc = Html::parse_document(&body);
                links.extend(hrefs(&doc, &url, &item).into_iter().map(String::from));
                page = hrefs(&doc, &url, &next).into_iter().next();
            }
        }
        links
    }

    fn api_calls_for(&self, notice_id: &str) -> Vec<String> {
        self.api_requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with("POST") && r.contains(notice_id))
            .cloned()
            .collect()
    }

    /// POSTs a webhook body with the given headers to the market.
    async fn deliver(&self, platform: Platform, headers: &[(&'static str, String)], body: Vec<u8>) -> StatusCode {
        let mut request = self.http.post(self.market.webhook_url(&self.market_base, platform).unwrap()).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap().status()
    }
}

/// The event body and signed headers spotcheck would send for `notice`.
fn signed_event(notice: &Notice, secret: &str) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let body =
        serde_json::to_vec(&json!({"type": "notice.issued", "timestamp": Utc::now().to_rfc3339(), "data": notice}))
            .unwrap();
    let secret = WebhookSecret::parse(secret).unwrap();
    let headers = webhook::signed_headers(&secret, &format!("msg_{}", notice.id), Utc::now().timestamp(), &body);
    (headers.to_vec(), body)
}

fn assert_delisted_page(status: StatusCode, body: &str, url: &str) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    let doc = Html::parse_document(body);
    let title = doc.select(&Selector::parse("title").unwrap()).next().unwrap().text().collect::<String>();
    let h1 = doc.select(&Selector::parse("h1").unwrap()).next().unwrap().text().collect::<String>();
    assert!(title.contains("该商品已下架") && h1 == "该商品已下架", "{url}: {body}");
    assert!(body.starts_with("<!DOCTYPE html>") && body.trim_end().ends_with("</html>"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_market_delists_disputes_and_ignores_signed_notices_and_reports_to_the_api() {
    let w = world(Policy::default()).await;
    let items = w.items(Platform::Mall, 6);
    let shop_url = items[0].listing.shop.as_ref().unwrap().url.clone().unwrap();
    let before = w.linked_items(Platform::Mall, &shop_url).await;
    assert!(items.iter().all(|t| before.contains(&t.listing.url)), "all linked before the delisting");

    // Issued one at a time, so the n-th notice issued is the n-th received.
    let delisted = w.issue_and_wait(draft("mall", "C1", &[&items[0], &items[1]]), 1).await;
    let disputed = w.issue_and_wait(draft("mall", "C2", &[&items[2]]), 2).await;
    let ignored = w.issue_and_wait(draft("mall", "C3", &[&items[3]]), 3).await;
    let mut unknown = draft("mall", "C4", &[&items[4]]);
    unknown.listings.push(NoticeListing { url: "https://elsewhere.example/item/1".into(), item_id: "1".into() });
    let partial = w.issue_and_wait(unknown, 4).await;

    // Pages: the delisted items are gone, the disputed and ignored ones stay.
    for gone in [&items[0], &items[1], &items[4]] {
        let (status, body) = w.get(&gone.listing.url).await;
        assert_delisted_page(status, &body, &gone.listing.url);
        let id: u64 = gone.listing.item_id.parse().unwrap();
        assert!(w.market.is_delisted(Platform::Mall, id));
        let js = w.market_base.join(&format!("mall/js/item/{id}")).unwrap();
        let (status, body) = w.get(js.as_str()).await;
        assert_delisted_page(status, &body, js.as_str());
    }
    for kept in [&items[2], &items[3], &items[5]] {
        assert_eq!(w.get(&kept.listing.url).await.0, StatusCode::OK, "{}", kept.listing.url);
    }
    let after = w.linked_items(Platform::Mall, &shop_url).await;
    let linked: Vec<bool> = items.iter().map(|t| after.contains(&t.listing.url)).collect();
    assert_eq!(linked, [false, false, true, true, false, true], "lists and the shop stop linking the delisted");

    // The API's view of each notice.
    let status = |view: &Value| view["status"].clone();
    let s = status(&w.view(&delisted.id, &w.mall_key).await);
    assert_eq!(s["disposition"], json!({"disposition": "delisted"}), "{s}");
    assert!(s["acknowledged_at"].is_string() && s["disposition_at"].is_string());
    let s = status(&w.view(&disputed.id, &w.mall_key).await);
    assert_eq!(s["disposition"], json!({"disposition": "disputed", "reason": DISPUTE_REASON}), "{s}");
    let s = status(&w.view(&ignored.id, &w.mall_key).await);
    assert!(s["acknowledged_at"].is_string(), "{s}");
    assert_eq!(s["disposition"], Value::Null, "acknowledged only: {s}");
    let s = status(&w.view(&partial.id, &w.mall_key).await);
    assert_eq!(s["disposition"], json!({"disposition": "partially_delisted"}), "{s}");

    // The log says the same, in order.
    let log = w.market.platform_log();
    let summary: Vec<(&str, u64, Decision, Option<&str>)> =
        log.iter().map(|a| (a.notice_id.as_str(), a.ordinal, a.decision, a.disposition)).collect();
    assert_eq!(
        summary,
        [
            (delisted.id.as_str(), 1, Decision::Delist, Some("delisted")),
            (disputed.id.as_str(), 2, Decision::Dispute, Some("disputed")),
            (ignored.id.as_str(), 3, Decision::Ignore, None),
            (partial.id.as_str(), 4, Decision::Delist, Some("partially_delisted")),
        ]
    );
    assert!(log.iter().all(|a| a.succeeded()), "{log:#?}");
    let ids = |t: &TruthRecord| t.listing.item_id.parse::<u64>().unwrap();
    assert_eq!(log[0].delisted, [ids(&items[0]), ids(&items[1])]);
    assert_eq!(log[2].calls.iter().map(|c| c.operation).collect::<Vec<_>>(), ["ack"]);
    assert_eq!(log[3].skipped, ["1 https://elsewhere.example/item/1"]);
    assert_eq!(log[1].calls[1].status, Some(200));
    assert_eq!(w.api_calls_for(&ignored.id).len(), 1, "ignore: ack only");

    let mut gone: Vec<(Platform, u64)> = [0, 1, 4].iter().map(|&k| (Platform::Mall, ids(&items[k]))).collect();
    let mut listed = w.market.delisted_items();
    gone.sort();
    listed.sort();
    assert_eq!(listed, gone);
    assert!(w.market.relist(Platform::Mall, ids(&items[0])) && !w.market.relist(Platform::Mall, ids(&items[0])));
    assert_eq!(w.get(&items[0].listing.url).await.0, StatusCode::OK, "relisted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_issued_together_get_the_decisions_pinned_to_their_cases() {
    let policy = Policy::always(Decision::Delist).with_case("K2", Decision::Dispute).with_case("K3", Decision::Ignore);
    let w = world(policy).await;
    let items = w.items(Platform::Mall, 4);
    let issued: Vec<Notice> = ["K1", "K2", "K3", "K4"]
        .iter()
        .zip(&items)
        .map(|(case, item)| w.notices.issue(draft("mall", case, &[item]), Utc::now()).unwrap())
        .collect();
    assert!(w.market.wait_handled(4, WAIT).await, "all four handled");
    let mut dispositions = Vec::new();
    for notice in &issued {
        dispositions.push(w.view(&notice.id, &w.mall_key).await["status"]["disposition"]["disposition"].clone());
    }
    assert_eq!(dispositions, [json!("delisted"), json!("disputed"), Value::Null, json!("delisted")]);
    let gone: Vec<bool> =
        items.iter().map(|t| w.market.is_delisted(Platform::Mall, t.listing.item_id.parse().unwrap())).collect();
    assert_eq!(gone, [true, false, false, true]);
    let mut ordinals: Vec<u64> = w.market.platform_log().iter().map(|a| a.ordinal).collect();
    ordinals.sort();
    assert_eq!(ordinals, [1, 2, 3, 4], "each notice once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_unsigned_stale_and_oversized_webhooks_are_refused_and_change_nothing() {
    let w = world(Policy::default()).await;
    let items = w.items(Platform::Mall, 1);
    // A notice the store never issued: nothing may act on it.
    let notice =
        Notice { id: "N20991231000000000001".into(), draft: draft("mall", "C9", &[&items[0]]), created_at: Utc::now() };
    let (headers, body) = signed_event(&notice, MALL_SECRET);

    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert_eq!(w.deliver(Platform::Mall, &headers, tampered).await, StatusCode::UNAUTHORIZED);
    let (wrong, _) = signed_event(&notice, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(w.deliver(Platform::Mall, &wrong, body.clone()).await, StatusCode::UNAUTHORIZED);
    let secret = WebhookSecret::parse(MALL_SECRET).unwrap();
    let stale = webhook::signed_headers(&secret, "msg_stale", Utc::now().timestamp() - 301, &body);
    assert_eq!(w.deliver(Platform::Mall, &stale, body.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(w.deliver(Platform::Mall, &[], body.clone()).await, StatusCode::UNAUTHORIZED);
    // The duo desk has its own secret: mall's signature does not open it.
    assert_eq!(w.deliver(Platform::Duo, &headers, body.clone()).await, StatusCode::UNAUTHORIZED);
    let huge = vec![b'x'; WEBHOOK_BODY_LIMIT + 1];
    let huge_headers = webhook::signed_headers(&secret, "msg_huge", Utc::now().timestamp(), &huge);
    assert_eq!(w.deliver(Platform::Mall, &huge_headers, huge).await, StatusCode::PAYLOAD_TOO_LARGE);

    // Signed, but no event the desk acts on.
    for (body, expected) in
        [(&b"not json"[..], StatusCode::BAD_REQUEST), (br#"{"type":"notice.withdrawn"}"#, StatusCode::NO_CONTENT)]
    {
        let headers = webhook::signed_headers(&secret, "msg_other", Utc::now().timestamp(), body);
        assert_eq!(w.deliver(Platform::Mall, &headers, body.to_vec()).await, expected);
    }

    assert_eq!(w.market.webhook_counts().rejected, 7);
    assert_eq!(w.market.webhook_counts().accepted, 0);
    // Refusals are decided before anything is spawned: there is nothing to wait for.
    assert!(w.market.platform_log().is_empty(), "nothing was acted on");
    assert_eq!(w.get(&items[0].listing.url).await.0, StatusCode::OK);
    assert!(w.api_requests.lock().unwrap().is_empty(), "no API call was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delivery_is_acted_on_once() {
    let w = world(Policy::default()).await;
    let items = w.items(Platform::Duo, 2);
    // Duo polls, so the outbox skips it: the test is the only sender.
    let notice = w.notices.issue(draft("duo", "D1", &[&items[0]]), Utc::now()).unwrap();
    let (headers, body) = signed_event(&notice, DUO_SECRET);
    let (first, second) = tokio::join!(
        w.deliver(Platform::Duo, &headers, body.clone()),
        w.deliver(Platform::Duo, &headers, body.clone())
    );
    let mut answers = [first, second];
    answers.sort();
    assert_eq!(answers, [StatusCode::OK, StatusCode::ACCEPTED], "one accepted, one duplicate");
    assert!(w.market.wait_handled(1, WAIT).await);
    assert_eq!(w.deliver(Platform::Duo, &headers, body).await, StatusCode::OK, "a later repeat too");

    let counts = w.market.webhook_counts();
    assert_eq!((counts.accepted, counts.duplicates), (1, 2));
    assert_eq!(w.market.platform_log().len(), 1);
    let calls = w.api_calls_for(&notice.id);
    assert_eq!(
        calls,
        [
            format!("POST /api/platform/v1/notices/{}/ack", notice.id),
            format!("POST /api/platform/v1/notices/{}/disposition", notice.id)
        ],
        "one ack, one disposition"
    );
    let view = w.view(&notice.id, &w.duo_key).await;
    assert_eq!(view["status"]["disposition"], json!({"disposition": "delisted"}));
    let (status, page) = w.get(&items[0].listing.url).await;
    assert_delisted_page(status, &page, &items[0].listing.url);
    assert_eq!(w.get(&items[1].listing.url).await.0, StatusCode::OK);
    let shop_url = items[0].listing.shop.as_ref().unwrap().url.clone().unwrap();
    let linked = w.linked_items(Platform::Duo, &shop_url).await;
    assert!(!linked.contains(&items[0].listing.url) && linked.contains(&items[1].listing.url));
}

/// A stand-in API that answers each request from a script, then 200.
async fn scripted_api(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let script = Arc::new(script);
    let app = axum::Router::new().fallback(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let script = script.clone();
        async move {
            let (status, retry_after) = script.get(n).copied().unwrap_or((200, None));
            let mut response = axum::response::Response::new(axum::body::Body::from("{}"));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.parse().unwrap());
            }
            response
        }
    });
    let (listener, base) = listen().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, served)
}

/// A market whose mall desk (ignoring every notice: one `ack` call) answers `api`.
async fn desk_against(api: &str, retry: Retry) -> (Arc<Market>, Url) {
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings: 100, count_hits: false }));
    let (addr, _) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let actor = PlatformActor::new(Platform::Mall, api, "sk_test", MALL_SECRET).unwrap();
    market.act_as_platform(actor.with_policy(Policy::always(Decision::Ignore)).with_retry(retry));
    (market, Url::parse(&format!("http://{addr}/")).unwrap())
}

async fn send_one(market: &Market, base: &Url) {
    let truth = market.truth(base).find(|t| t.listing.platform == "sample-mall").unwrap();
    let notice =
        Notice { id: "N20991231000000000002".into(), draft: draft("mall", "R1", &[&truth]), created_at: Utc::now() };
    let (headers, body) = signed_event(&notice, MALL_SECRET);
    let mut request = reqwest::Client::new().post(market.webhook_url(base, Platform::Mall).unwrap()).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::ACCEPTED);
    assert!(market.wait_handled(1, WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_are_retried_on_429_and_5xx_obeying_retry_after_and_given_up_after_the_bound() {
    let quick = Retry { attempts: 4, base_delay: Duration::from_millis(10), ..Retry::default() };

    let (api, served) = scripted_api(vec![(429, Some("1")), (503, None)]).await;
    let (market, base) = desk_against(&api, quick.clone()).await;
    let started = Instant::now();
    send_one(&market, &base).await;
    let call = market.platform_log()[0].calls[0].clone();
    assert_eq!((call.attempts, call.status, call.error.as_deref()), (3, Some(200), None), "{call:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was obeyed");
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert!(call.idempotency_key.starts_with("ack-N"));

    let (api, served) = scripted_api(vec![(500, None); 10]).await;
    let (market, base) = desk_against(&api, quick.clone()).await;
    send_one(&market, &base).await;
    let call = market.platform_log()[0].calls[0].clone();
    assert_eq!((call.attempts, call.status), (4, Some(500)));
    assert!(call.error.as_deref().unwrap().contains("gave up after 4 attempts"), "{call:?}");
    assert_eq!(served.load(Ordering::SeqCst), 4, "no attempt past the bound");

    let (api, served) = scripted_api(vec![(401, None)]).await;
    let (market, base) = desk_against(&api, quick.clone()).await;
    send_one(&market, &base).await;
    let call = market.platform_log()[0].calls[0].clone();
    assert_eq!((call.attempts, call.status), (1, Some(401)), "a 4xx is final");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    let (api, _) = scripted_api(vec![(429, Some("3600"))]).await;
    let (market, base) = desk_against(&api, quick.clone()).await;
    send_one(&market, &base).await;
    let call = market.platform_log()[0].calls[0].clone();
    assert!(call.error.as_deref().unwrap().contains("Retry-After 3600 s is beyond the bound"), "{call:?}");

    // Nobody listening: connection errors are retried, then given up.
    let closed = {
        let (listener, base) = listen().await;
        drop(listener);
        base
    };
    let (market, base) = desk_against(&closed, quick).await;
    send_one(&market, &base).await;
    let call = market.platform_log()[0].calls[0].clone();
    assert_eq!((call.attempts, call.status), (4, None), "{call:?}");
    assert!(!market.platform_log()[0].succeeded());
}

#[tokio::test]
async fn an_unarmed_platform_has_no_webhook() {
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings: 100, count_hits: false }));
    let (addr, _) = serve(market.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let url = market.webhook_url(&base, Platform::Duo).unwrap();
    assert_eq!(url.path(), "/duo/open-api/webhooks");
    let status = reqwest::Client::new().post(url).body("{}").send().await.unwrap().status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(market.webhook_counts().rejected, 0);
}
