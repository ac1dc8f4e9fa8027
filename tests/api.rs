//! The platform-facing HTTP API over a real socket: cursor paging while
//! notices are issued, platform scoping, revoked keys, idempotent writes,
//! rate limits, hostile bodies, the OpenAPI document against the router, and
//! `spotcheck serve` as a real process.
//!
//! The app is served as `spotcheck serve` serves it (`api::server::serve`,
//! with its limits) on 127.0.0.1:0 and spoken to with reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use spotcheck::api::{self, ApiState, RateLimit};
use spotcheck::cases::{merge, Triage};
use spotcheck::notices::{ApiKeys, NoticeStore, PlatformRegistry};
use spotcheck::store::Store;

#[path = "support/api_client.rs"]
mod api_client;
#[path = "support/notice_draft.rs"]
mod notice_draft;
use api_client::{answer, error_code, spotcheck_serve, REGISTRY};
use notice_draft::draft;

/// A served app over a temp store, with one key per platform.
struct Api {
    _dir: tempfile::TempDir,
    _store: Store,
    notices: NoticeStore,
    keys: ApiKeys,
    base: String,
    mall: String,
    duo: String,
    http: reqwest::Client,
}

async fn serve(rate_limit: RateLimit) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let registry = PlatformRegistry::from_toml(REGISTRY, "test").unwrap();
    let triage = Triage::configured(&store, None, merge::DEFAULT_WINDOW_DAYS).unwrap();
    let state = ApiState::open(&store, registry, triage, rate_limit).unwrap();
    let (notices, keys) = (state.notices.clone(), state.keys.clone());
    let (_, mall) = keys.issue_key("mall", Utc::now()).unwrap();
    let (_, duo) = keys.issue_key("duo", Utc::now()).unwrap();
    let app = api::app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::server::serve(listener, app, api::server::ServerLimits::default(), std::future::pending()));
    Api { _dir: dir, _store: store, notices, keys, base, mall, duo, http: reqwest::Client::new() }
}

async fn open() -> Api {
    serve(RateLimit::default()).await
}

impl Api {
    fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base)).bearer_auth(key)
    }

    fn post(&self, path: &str, key: &str, idem: Option<&str>, body: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = idem {
            r = r.header("Idempotency-Key", k);
        }
        r
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["notices"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn paging_with_the_cursor_sees_every_notice_once_in_order_while_notices_are_added() {
    let api = open().await;
    let mut expected: Vec<String> =
        (0..5).map(|i| api.notices.issue(draft("mall", i), Utc::now()).unwrap().id).collect();
    for i in 0..3 {
        api.notices.issue(draft("duo", i), Utc::now()).unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 5;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/platform/v1/notices?limit=2&cursor={c}"),
            None => "/api/platform/v1/notices?limit=2".to_string(),
        };
        let (status, _, page) = answer(api.get(&path, &api.mall)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = ids(&page);
        assert!(got.len() <= 2);
        let next = page["next_cursor"].as_str().unwrap().to_string();
        if got.is_empty() {
            assert_eq!(Some(&next), cursor.as_ref(), "an empty page keeps the cursor");
            break;
        }
        seen.extend(got);
        cursor = Some(next);
        // Issue more between pages, for both platforms, until 12 mall notices exist.
        if added < 12 {
            expected.push(api.notices.issue(draft("mall", added), Utc::now()).unwrap().id);
            api.notices.issue(draft("duo", added), Utc::now()).unwrap();
            added += 1;
        }
    }
    assert_eq!(seen, expected, "every mall notice once, in issue order, none of duo's");

    let (status, _, body) = answer(api.get("/api/platform/v1/notices?cursor=not-a-cursor!", &api.mall)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_cursor"));
    for limit in ["0", "501", "x", "-1"] {
        let (status, _, body) = answer(api.get(&format!("/api/platform/v1/notices?limit={limit}"), &api.mall)).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_limit"), "limit {limit}");
    }
}

/// The raw body of a GET, with its content type.
async fn raw(request: reqwest::RequestBuilder) -> (StatusCode, String, Vec<u8>) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn pages_and_notices_are_byte_for_byte_what_serde_writes_for_them() {
    // The platform routes write bodies from the stored notices' bytes; a
    // client decoding them into the documented types and encoding them again
    // gets the same bytes.
    let api = open().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(api.notices.issue(draft("mall", i), Utc::now()).unwrap().id);
        api.notices.issue(draft("duo", i), Utc::now()).unwrap();
    }
    let report = r#"{"disposition":"disputed","reason":"商品已\"下架\"\n见附件","at":"2026-11-22T12:00:00Z"}"#;
    let path = format!("/api/platform/v1/notices/{}/disposition", ids[1]);
    let (status, _, body) = answer(api.post(&path, &api.mall, Some("k1"), report)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for path in ["/api/platform/v1/notices", "/api/platform/v1/notices?limit=2"] {
        let (status, kind, body) = raw(api.get(path, &api.mall)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/json"));
        let page: api::platform::NoticePage = serde_json::from_slice(&body).unwrap();
        assert!(page.notices.iter().all(|n| n.draft.platform == "mall"));
        assert_eq!(serde_json::to_vec(&page).unwrap(), body, "{}", String::from_utf8_lossy(&body));
    }
    let (_, _, empty) = raw(api.get("/api/platform/v1/notices?cursor=AAAAAAAAAGQ", &api.mall)).await;
    assert_eq!(empty, br#"{"notices":[],"next_cursor":"AAAAAAAAAGQ"}"#);
    for id in &ids {
        let (status, kind, body) = raw(api.get(&format!("/api/platform/v1/notices/{id}"), &api.mall)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/json"));
        let view: api::platform::NoticeView = serde_json::from_slice(&body).unwrap();
        assert_eq!(&view.notice.id, id);
        assert_eq!(serde_json::to_vec(&view).unwrap(), body, "{}", String::from_utf8_lossy(&body));
    }
    let (_, _, body) = raw(api.get(&format!("/api/platform/v1/notices/{}", ids[1]), &api.mall)).await;
    let view: api::platform::NoticeView = serde_json::from_slice(&body).unwrap();
    assert!(view.status.disposition.is_some(), "the status is the stored one");
}

#[tokio::test]
async fn a_platform_cannot_see_or_answer_another_platforms_notice() {
    let api = open().await;
    let theirs = api.notices.issue(draft("duo", 1), Utc::now()).unwrap().id;
    let ours = api.notices.issue(draft("mall", 1), Utc::now()).unwrap().id;

    let (status, _, body) = answer(api.get(&format!("/api/platform/v1/notices/{ours}"), &api.mall)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], ours.as_str());
    assert_eq!(body["status"]["acknowledged_at"], Value::Null);

    let (status, _, body) = answer(api.get(&format!("/api/platform/v1/notices/{theirs}"), &api.mall)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _, body) =
        answer(api.post(&format!("/api/platform/v1/notices/{theirs}/ack"), &api.mall, Some("k1"), "")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let report = r#"{"disposition":"rejected","at":"2026-11-22T12:00:00Z"}"#;
    let (status, _, body) =
        answer(api.post(&format!("/api/platform/v1/notices/{theirs}/disposition"), &api.mall, Some("k2"), report))
            .await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    // Nothing changed for its owner, and an unknown id looks the same.
    let (status, _, body) = answer(api.get(&format!("/api/platform/v1/notices/{theirs}"), &api.duo)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"]["acknowledged_at"], Value::Null);
    assert_eq!(body["status"]["disposition"], Value::Null);
    let (status, _, body) = answer(api.get("/api/platform/v1/notices/N20260101000000000000", &api.mall)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn a_revoked_missing_or_unknown_key_gets_401() {
    let api = open().await;
    let (key_id, secret) = api.keys.issue_key("mall", Utc::now()).unwrap();
    let (status, _, _) = answer(api.get("/api/platform/v1/notices", &secret)).await;
    assert_eq!(status, StatusCode::OK);
    api.keys.revoke(&key_id, Utc::now()).unwrap();
    let (status, headers, body) = answer(api.get("/api/platform/v1/notices", &secret)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, body) = answer(api.get("/api/platform/v1/notices", "sk_mall_guess")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let (status, _, body) = answer(api.http.get(format!("{}/api/platform/v1/notices", api.base))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "missing_api_key"));
    let (status, _, body) = answer(
        api.http
            .get(format!("{}/api/platform/v1/notices", api.base))
            .header("authorization", format!("Basic {}", api.mall)),
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "missing_api_key"));
    // The other key of the platform still works.
    let (status, _, _) = answer(api.get("/api/platform/v1/notices", &api.mall)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn writes_need_an_idempotency_key_and_a_repeat_returns_the_first_answer() {
    let api = open().await;
    let id = api.notices.issue(draft("mall", 1), Utc::now()).unwrap().id;
    let ack = format!("/api/platform/v1/notices/{id}/ack");
    let disp = format!("/api/platform/v1/notices/{id}/disposition");
    let report = r#"{"disposition":"delisted","at":"2026-11-22T12:00:00Z"}"#;

    for path in [&ack, &disp] {
        let (status, _, body) = answer(api.post(path, &api.mall, None, report)).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "missing_idempotency_key"), "{path}");
        let (status, _, body) = answer(api.post(path, &api.mall, Some(""), report)).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_idempotency_key"), "{path}");
    }

    let (status, _, acked) = answer(api.post(&ack, &api.mall, Some("ack-1"), "")).await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert!(acked["acknowledged_at"].is_string());

    let (status, _, first) = answer(api.post(&disp, &api.mall, Some("disp-1"), report)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["disposition"]["disposition"], "delisted");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, _, again) = answer(api.post(&disp, &api.mall, Some("disp-1"), report)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the first answer, reported_at included");

    let other = r#"{"disposition":"disputed","reason":"已整改","at":"2026-11-22T13:00:00Z"}"#;
    let (status, _, body) = answer(api.post(&disp, &api.mall, Some("disp-1"), other)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "idempotency_conflict"));
    // A new key for the new report is fine, and replaces the disposition.
    let (status, _, body) = answer(api.post(&disp, &api.mall, Some("disp-2"), other)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disposition"], json!({"disposition": "disputed", "reason": "已整改"}));
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after_and_other_keys_do_not() {
    let api = serve(RateLimit { period: Duration::from_secs(60), burst: NonZeroU32::new(3).unwrap() }).await;
    for _ in 0..3 {
        let (status, _, _) = answer(api.get("/api/platform/v1/notices", &api.mall)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = answer(api.get("/api/platform/v1/notices", &api.mall)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let (status, _, _) = answer(api.get("/api/platform/v1/notices", &api.duo)).await;
    assert_eq!(status, StatusCode::OK, "buckets are per key");
    // An unknown key is told 401, not 429: authentication comes before the bucket.
    let (status, _, _) = answer(api.get("/api/platform/v1/notices", "sk_nobody")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_oversized_and_wrong_bodies_get_400_or_413_in_the_error_shape() {
    let api = open().await;
    let id = api.notices.issue(draft("mall", 1), Utc::now()).unwrap().id;
    let disp = format!("/api/platform/v1/notices/{id}/disposition");
    let bad: [&str; 13] = [
        "{",
        "",
        "null",
        "[1,2]",
        r#"{"disposition":"vanished","at":"2026-11-22T12:00:00Z"}"#,
        r#"{"disposition":"delisted","at":"yesterday"}"#,
        r#"{"disposition":"delisted"}"#,
        r#"{"disposition":"delisted","at":"2026-11-22T12:00:00Z","extra":1}"#,
        r#"{"disposition":"disputed","at":"2026-11-22T12:00:00Z"}"#,
        r#"{"disposition":"delisted","reason":"x","at":"2026-11-22T12:00:00Z"}"#,
        "\u{0}\u{ff}garbage",
        // Nesting past serde_json's depth limit: an error, not a stack overflow.
        &"[".repeat(50_000),
        &format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000)),
    ];
    for (i, body) in bad.iter().enumerate() {
        let (status, _, answer) = answer(api.post(&disp, &api.mall, Some(&format!("bad-{i}")), body)).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "bad_body"), "{body:?}");
    }
    let huge =
        format!(r#"{{"disposition":"disputed","reason":"{}","at":"2026-11-22T12:00:00Z"}}"#, "x".repeat(100_000));
    let (status, _, body) = answer(api.post(&disp, &api.mall, Some("huge"), &huge)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    // Nothing was recorded by any of them.
    let (_, _, view) = answer(api.get(&format!("/api/platform/v1/notices/{id}"), &api.mall)).await;
    assert_eq!(view["status"]["disposition"], Value::Null);
    // Unknown routes and methods answer in the shape too.
    let (status, _, body) = answer(api.get("/api/platform/v2/nothing", &api.mall)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "no_route"));
    let (status, _, body) = answer(api.http.delete(format!("{}/api/platform/v1/notices", api.base))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_the_router_serves() {
    let api = open().await;
    let (status, _, doc) = answer(api.http.get(format!("{}/api/openapi.json", api.base))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routes: BTreeSet<(String, String)> =
        api::ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routes, "the document and the route table differ");

    // Every route in the table is really served (not the 404/405 fallbacks).
    for (method, path, _) in api::ROUTES {
        let url = format!("{}{}", api.base, path.replace("{id}", "N20260101000000000000"));
        let request = match *method {
            "GET" => api.http.get(url),
            "POST" => api.http.post(url),
            "DELETE" => api.http.delete(url),
            other => panic!("unexpected method {other}"),
        };
        let (_, _, body) = answer(request.bearer_auth(&api.mall)).await;
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(code != "no_route" && code != "method_not_allowed", "{method} {path} is not served: {body}");
    }

    // Every $ref resolves, and the error shape's codes are documented.
    let text = doc.to_string();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
    }
    let codes = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
    for code in ["bad_cursor", "invalid_api_key", "rate_limited", "idempotency_conflict", "not_found", "bad_body"] {
        assert!(codes.as_array().unwrap().iter().any(|c| c == code), "{code} undocumented");
    }
}

#[tokio::test]
async fn spotcheck_serve_prints_its_address_and_answers_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let platforms = dir.path().join("platforms.toml");
    std::fs::write(&platforms, REGISTRY).unwrap();
    let (_server, base) = spotcheck_serve(&dir.path().join("data"), &platforms, &[]).await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let (status, _, body) = answer(reqwest::Client::new().get(format!("{base}/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    let (status, _, body) = answer(reqwest::Client::new().get(format!("{base}/api/platform/v1/notices"))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "missing_api_key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_over_http_while_another_thread_issues_misses_nothing() {
    // A poller this eager would hit the default limit; this test is about paging.
    let api = serve(RateLimit { period: Duration::from_micros(10), burst: NonZeroU32::new(10_000).unwrap() }).await;
    let writer = {
        let notices = api.notices.clone();
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            for i in 0..150 {
                ids.push(notices.issue(draft("mall", i), Utc::now()).unwrap().id);
                notices.issue(draft("duo", i), Utc::now()).unwrap();
            }
            ids
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        // Read the flag before the page: an empty page after the writer ended is the end.
        let done_before = writer.is_finished();
        let path = format!("/api/platform/v1/notices?limit=7&cursor={cursor}");
        let (status, _, page) = answer(api.get(&path, &api.mall)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = ids(&page);
        cursor = page["next_cursor"].as_str().unwrap().to_string();
        if got.is_empty() && done_before {
            break;
        }
        seen.extend(got);
    }
    assert_eq!(seen, writer.join().unwrap(), "every notice once, in issue order");
}

#[tokio::test]
async fn a_repeated_ack_returns_the_first_answer() {
    let api = open().await;
    let id = api.notices.issue(draft("mall", 1), Utc::now()).unwrap().id;
    let ack = format!("/api/platform/v1/notices/{id}/ack");
    let (status, _, first) = answer(api.post(&ack, &api.mall, Some("ack-1"), "")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, _, again) = answer(api.post(&ack, &api.mall, Some("ack-1"), "")).await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    // Another platform's identical key is its own: keys are scoped per platform.
    let theirs = api.notices.issue(draft("duo", 1), Utc::now()).unwrap().id;
    let (status, _, body) =
        answer(api.post(&format!("/api/platform/v1/notices/{theirs}/ack"), &api.duo, Some("ack-1"), "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notice_id"], theirs.as_str());
}
