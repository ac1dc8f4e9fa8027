//! Entry points for the fuzz targets in `fuzz/` (one function per parser of
//! untrusted input). They live in the library so that `cargo test` replays
//! every saved crash and corpus file (`tests/fuzz_regressions.rs`) without
//! cargo-fuzz or a nightly compiler.
//!
//! Each function takes the fuzzer's bytes, runs one parser (and what reads
//! its output), and asserts what must hold for *any* input beyond "no
//! panic": prices are never negative, a refused file names where, a verifier
//! gives the same answer twice and never accepts changed evidence, a signed
//! webhook verifies and a changed one does not, no request body makes the
//! API answer 5xx. A failed assertion is a finding like a crash. Time and
//! memory are bounded by libFuzzer's `-timeout` and `-rss_limit_mb`
//! (`scripts/fuzz.sh`).

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use rust_decimal::Decimal;
use url::Url;

use crate::adapters::{generic, parsers, Adapter, AdapterSet, Extracted};

/// The text of `data` (invalid UTF-8 replaced), as a console upload is read.
fn lossy(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// What every extraction result must satisfy, whatever the page said.
fn check_extracted(out: &Extracted) {
    for l in &out.listings {
        for (what, price) in [("price", l.price), ("original price", l.original_price)] {
            if let Some(p) = price {
                assert!(p >= Decimal::ZERO, "negative {what} {p} in listing `{}`", l.url);
            }
        }
        for (when, p) in &l.price_history {
            assert!(*p >= Decimal::ZERO, "negative price {p} at {when} in listing `{}`", l.url);
        }
    }
    for link in &out.links {
        assert!(matches!(link.url.scheme(), "http" | "https"), "link to `{}` is not http(s)", link.url);
    }
}

/// A refused file names at least one problem, each at a line and column
/// inside the file.
fn check_problems(what: &str, text: &str, problems: &[crate::diagnostics::Problem]) {
    assert!(!problems.is_empty(), "a {what} file was refused without a problem");
    let lines = text.lines().count() + 1;
    for p in problems {
        assert!(p.line >= 1 && p.column >= 1, "problem at line {} column {}: {}", p.line, p.column, p.message);
        assert!(p.line <= lines, "problem at line {} of a {lines}-line file: {}", p.line, p.message);
    }
}

/// A small page with the shapes adapters look for: a title, prices, a shop
/// block, links, a JSON state object.
const PAGE: &str = r#"<!doctype html><html lang="zh-CN"><head><title>T</title>
<link rel="canonical" href="http://127.0.0.1/mall/item/1.html">
<script>window.__STATE__ = {"price": 12900, "title": "t", "items": [{"id": 1, "price": "9.90"}]};</script>
</head><body><h1 class="title">商品 A</h1><span class="price">¥1,299.00</span><del>¥1,599</del>
<div class="shop"><a href="/mall/shop/7">店铺</a></div><a href="/mall/item/2.html">B</a>
<table class="specs"><tr><th>品牌</th><td>某牌</td></tr></table></body></html>"#;

/// A JSON document for `document = "json"` pages.
const JSON_DOC: &str = r#"{"data": {"item": {"itemId": 1, "title": "t", "price": "12.50", "url": "https://item.example/1"}}, "price": 1290}"#;

/// URLs that name every kind of page the shipped adapters read (and the
/// generic adapter's any-page).
const URLS: &[&str] = &[
    "http://127.0.0.1/mall/item/1.html",
    "http://127.0.0.1/mall/shop/7",
    "http://127.0.0.1/mall/search?q=a",
    "http://127.0.0.1/mall/live/1",
    "http://127.0.0.1/mall/",
    "http://127.0.0.1/mall/js/item/1",
    "http://127.0.0.1/duo/goods.html?goods_id=1",
    "http://127.0.0.1/duo/mall_page.html?mall_id=1",
    "http://127.0.0.1/duo/catgoods.html?c=1",
    "http://127.0.0.1/duo/live/1",
    "http://127.0.0.1/duo/",
    "https://api03.6bqb.com/jd/detail?itemid=100000177760",
    "https://api03.6bqb.com/pdd/detail?itemid=5914165983",
    "https://api03.6bqb.com/suning/detail?itemid=10750373914&shopid=0070088010",
    "https://api03.6bqb.com/taobao/detail?itemid=16793826526",
    "https://api03.6bqb.com/tmall/detail?itemid=576801983901",
    "http://dy-data.example.org/douyin/promotion/detail?id=1",
    "http://dy-data.example.org/douyin/user/promotions?id=1",
    "http://dy-data.example.org/douyin/commerce/feed?c=1",
    "http://dy-data.example.org/douyin/liveroom/promotions?room_id=1",
    "http://dy-data.example.org/douyin/liveroom/info?room_id=1",
    "http://dy-data.example.org/douyin/commerce/seckill_live",
    "https://shop.example.com/p/1",
];

fn urls() -> &'static [Url] {
    static URLS_PARSED: OnceLock<Vec<Url>> = OnceLock::new();
    URLS_PARSED.get_or_init(|| URLS.iter().filter_map(|u| Url::parse(u).ok()).collect())
}

/// An adapter file (`site-adapters/*.toml`, uploaded through the console):
/// compiled; a refusal must name at least one problem, each inside the file;
/// an adapter that compiles reads a sample page and a JSON document at every
/// URL it claims without panicking and without negative prices.
pub fn adapter_file(data: &[u8]) {
    let text = lossy(data);
    match Adapter::from_toml(Path::new("fuzz.toml"), &text) {
        Err(problems) => check_problems("adapter", &text, &problems),
        Ok(adapter) => {
            for url in urls() {
                if adapter.page_kind(url).is_none() {
                    continue;
                }
                for body in [PAGE, JSON_DOC] {
                    let body = body.as_bytes();
                    if let Ok(out) = adapter.extract(url, body) {
                        check_extracted(&out);
                    }
                }
            }
        }
    }
}

/// The rule set the rule target adds its one rule to: the shipped reference
/// data and no rules.
fn rule_set() -> &'static Mutex<crate::rules::RuleSet> {
    static SET: OnceLock<Mutex<crate::rules::RuleSet>> = OnceLock::new();
    SET.get_or_init(|| {
        let reference = match crate::rules::Reference::load(None) {
            Ok(r) => r,
            Err(e) => panic!("the shipped reference data does not load: {e}"),
        };
        Mutex::new(crate::rules::RuleSet::from_files(Vec::new(), reference))
    })
}

/// A rule file (`rules/*.toml`): compiled against the shipped reference data;
/// a refusal names problems inside the file; a rule that compiles runs its
/// own inline tests (the fuzzer's listings through the rule's predicates).
pub fn rule_file(data: &[u8]) {
    let text = lossy(data);
    let mut set = rule_set().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match crate::rules::compile::compile(Path::new("fuzz.toml"), &text, &set.reference) {
        Err(problems) => check_problems("rule", &text, &problems),
        Ok(rule) => {
            set.rules = vec![rule];
            let _ = set.run_tests();
            set.rules.clear();
        }
    }
}

/// A plan file (`<data>/plans/*.toml`, saved from the console): compiled
/// with the shipped adapter names; a refusal names problems inside the file;
/// a plan that compiles has a schedule whose next runs are strictly
/// increasing, and `due` decides without panicking.
pub fn plan_file(data: &[u8]) {
    use chrono::{TimeZone, Utc};
    let text = lossy(data);
    if text.len() > crate::plans::MAX_PLAN_BYTES {
        return; // the book refuses it before compiling
    }
    let adapters = ["sample-mall", "sample-duo", "jd", "taobao", "generic"];
    match crate::plans::compile(Path::new("fuzz.toml"), &text, &adapters) {
        Err(problems) => check_problems("plan", &text, &problems),
        Ok(plan) => {
            let Some(start) = Utc.with_ymd_and_hms(2026, 2, 28, 23, 59, 0).single() else { return };
            let next = plan.schedule.next_n(start, 4);
            let mut after = start;
            for t in next {
                assert!(t > after, "schedule `{}` went from {after} to {t}", plan.schedule.as_str());
                after = t;
            }
            for policy in [crate::plans::MissedPolicy::RunOnce, crate::plans::MissedPolicy::Skip] {
                let _ = crate::plans::due(&plan.schedule, policy, start, start + chrono::Duration::days(3));
            }
        }
    }
}

/// The shipped adapters with the URLs each reads.
fn adapter_pages() -> &'static [(std::sync::Arc<Adapter>, Url)] {
    static PAGES: OnceLock<Vec<(std::sync::Arc<Adapter>, Url)>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let set = AdapterSet::builtin();
        let mut pages = Vec::new();
        for adapter in set.iter() {
            for url in urls() {
                if adapter.page_kind(url).is_some() {
                    pages.push((adapter.clone(), url.clone()));
                }
            }
        }
        pages
    })
}

/// A fetched page through an adapter: the first byte picks a shipped adapter
/// and a URL it reads (the generic adapter among them), the rest is the
/// body. No panic, no negative price, links only to http(s).
pub fn html_extract(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let pages = adapter_pages();
    let Some((adapter, url)) = pages.get(usize::from(pick) % pages.len().max(1)) else { return };
    if let Ok(out) = adapter.extract(url, body) {
        check_extracted(&out);
    }
}

/// The value parsers: the adapters' (`yuan`, `fen`, `count`, availability,
/// text, URLs) and the generic extractor's locale-aware prices. Amounts are
/// never negative, a parsed amount reads back as itself, `text` is a fixed
/// point, a resolved URL parses.
pub fn value_parsers(data: &[u8]) {
    let s = lossy(data);
    if let Some(v) = parsers::yuan(&s) {
        assert!(v >= Decimal::ZERO, "yuan({s:?}) = {v}");
        assert!(v.scale() >= 2, "yuan({s:?}) = {v} has fewer than two decimals");
        assert_eq!(parsers::yuan(&v.to_string()), Some(v), "yuan({s:?}) = {v} does not read back");
    }
    if let Some(v) = parsers::fen(&s) {
        assert!(v >= Decimal::ZERO, "fen({s:?}) = {v}");
    }
    if let Some(n) = parsers::count(&s) {
        assert_eq!(parsers::count(&n.to_string()), Some(n), "count({s:?}) = {n} does not read back");
    }
    let _ = parsers::availability(&s);
    if let Some(t) = parsers::text(&s) {
        assert_eq!(parsers::text(&t).as_deref(), Some(t.as_str()), "text({s:?}) is not a fixed point");
        assert_eq!(t.trim(), t, "text({s:?}) = {t:?} keeps outer space");
    }
    if let Ok(base) = Url::parse("https://shop.example.com/a/b?c=1") {
        if let Some(u) = parsers::absolute_url(&s, &base) {
            assert!(Url::parse(&u).is_ok(), "absolute_url({s:?}) = {u:?} does not parse");
        }
    }
    for comma in [None, Some(true), Some(false)] {
        if let Some(m) = generic::price::parse_price(&s, comma) {
            assert!(m.amount >= Decimal::ZERO, "parse_price({s:?}, {comma:?}) = {}", m.amount);
            let again = generic::price::parse_price(&m.amount.to_string(), Some(false));
            assert_eq!(again.map(|m| m.amount), Some(m.amount), "parse_price({s:?}) = {} does not read back", m.amount);
        }
    }
    let _ = generic::price::comma_decimal_language(&s);
    let _ = generic::price::currency_code(&s);
}

/// A JSON-LD block: the lenient parser and its repair path, then the block in
/// a page through the generic extractor. Valid JSON parses to itself and
/// survives `repair` unchanged in meaning; no product yields a negative price.
pub fn json_ld(data: &[u8]) {
    let s = lossy(data);
    let values = generic::parse_jsonld(&s);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s.trim()) {
        assert_eq!(values, vec![v.clone()], "valid JSON read as something else");
        let repaired = generic::repair_json(s.trim());
        let back = serde_json::from_str::<serde_json::Value>(&repaired);
        assert!(back.as_ref().is_ok_and(|b| *b == v), "repair changed valid JSON into {repaired:?}");
    }
    let mut page = Vec::with_capacity(data.len() + 128);
    page.extend_from_slice(b"<!doctype html><html><head><script type=\"application/ld+json\">");
    page.extend_from_slice(data);
    page.extend_from_slice(b"</script></head><body></body></html>");
    if let Ok(url) = Url::parse("https://shop.example.com/p/1") {
        if let Ok(out) = generic::extract(&url, &page) {
            check_extracted(&out);
        }
    }
}

/// Any bytes as an evidence bundle, and through the WARC and WACZ readers
/// the verifier is built on: never a panic, the same report twice, and bytes
/// that are not a ZIP package never verify.
pub fn bundle_verify(data: &[u8]) {
    use evidence::bundle::{verify_bundle, VerifyOptions};
    let options = VerifyOptions::default();
    let report = verify_bundle(data, &options);
    let again = verify_bundle(data, &options);
    assert_eq!(report.checks, again.checks, "two verifications of the same bytes differ");
    let package = evidence::wacz::read_package_bytes(data, &options.limits);
    if package.is_err() {
        assert!(!report.ok(), "bytes that are not a package verified");
    }
    if let Ok(package) = package {
        let _ = package.audit();
        let _ = package.datapackage();
    }
    if let Ok(records) = evidence::warc::read_records(data) {
        for r in &records {
            let _ = evidence::warc::check_digests(r);
            let _ = r.http_head();
            let _ = r.payload();
        }
    }
    let _ = evidence::wacz::cdxj::cdxj_entries("fuzz.warc", data);
}

/// A valid bundle (`fuzz/seeds/bundle.wacz`) changed by the fuzzer: `edits`
/// is read as (offset u16 BE, byte) triples, each XORed into the bundle at
/// that offset modulo its length. A changed bundle may still verify only if
/// every file in it reads exactly as before (ZIP metadata such as entry
/// times is not evidence); changed evidence must never verify.
pub fn bundle_edit(base: &[u8], edits: &[u8]) {
    use evidence::bundle::{verify_bundle, VerifyOptions};
    if base.is_empty() {
        return;
    }
    let mut bytes = base.to_vec();
    for e in edits.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([e[0], e[1]])) * 7 % bytes.len();
        bytes[at] ^= e[2];
    }
    // A short tail cuts the bundle: truncation is an edit too.
    if let Some(&last) = edits.last().filter(|_| !edits.len().is_multiple_of(3)) {
        let keep = usize::from(last) * bytes.len() / 256;
        bytes.truncate(keep.max(1));
    }
    let options = VerifyOptions::default();
    let report = verify_bundle(&bytes, &options);
    if report.ok() && bytes != base {
        let files = |b: &[u8]| {
            evidence::wacz::read_package_bytes(b, &options.limits)
                .map(|p| p.paths().map(|path| (path.to_string(), p.get(path).map(<[u8]>::to_vec))).collect::<Vec<_>>())
                .ok()
        };
        assert_eq!(files(&bytes), files(base), "a bundle whose files changed still verifies");
    }
}

/// A webhook delivery as the platform receives it, checked with
/// `notices::webhook::verify`. The input is split at newlines into the
/// secret, `webhook-id`, `webhook-timestamp`, `webhook-signature` and the
/// body. Whatever the headers: no panic, an accepted delivery answers its own
/// id. And for the input's secret, id and body, what `signed_headers` signs
/// verifies, and the same with a changed body does not.
pub fn webhook_verify(data: &[u8]) {
    use crate::notices::webhook::{self, WebhookSecret};
    use axum::http::{HeaderMap, HeaderValue};
    const NOW: i64 = 1_700_000_000;
    const TOLERANCE: i64 = 300;
    let mut parts = data.splitn(5, |b| *b == b'\n');
    let secret_text = lossy(parts.next().unwrap_or_default()).into_owned();
    let id = parts.next().unwrap_or_default();
    let ts = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let secret = match WebhookSecret::parse(&secret_text) {
        Ok(s) => s,
        Err(_) => match WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
            Ok(s) => s,
            Err(e) => panic!("the fixed secret does not parse: {e}"),
        },
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    if let Ok(got) = webhook::verify(&headers, body, &secret, TOLERANCE, NOW) {
        assert_eq!(Some(got.as_str()), headers.get("webhook-id").and_then(|v| v.to_str().ok()));
    }
    // The round trip, with the id the input names when it can be a header.
    // An id a header can carry as text (visible ASCII): `HeaderValue` also
    // takes bytes ≥ 0x80, which no receiver reads as text. Ours are ASCII.
    let Ok(id) = std::str::from_utf8(id) else { return };
    if HeaderValue::from_str(id).ok().and_then(|v| v.to_str().ok().map(str::len)).is_none() {
        return;
    }
    let offset = ts.first().map_or(0, |b| i64::from(*b) - 128);
    let mut signed = HeaderMap::new();
    for (name, value) in webhook::signed_headers(&secret, id, NOW + offset, body) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            signed.insert(name, v);
        }
    }
    let verdict = webhook::verify(&signed, body, &secret, TOLERANCE, NOW);
    assert_eq!(verdict.ok().as_deref(), Some(id), "a delivery signed now does not verify");
    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(b) => *b ^= 1,
        None => changed.push(b'x'),
    }
    assert!(webhook::verify(&signed, &changed, &secret, TOLERANCE, NOW).is_err(), "a changed body verifies");
}

/// The API over a store of its own, built once per process: a platform key,
/// a staff, an enforcement and an admin token, one notice to answer.
struct ApiBench {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    /// (path, bearer secret) of each POST route that reads a body.
    routes: Vec<(String, String)>,
}

fn api_bench() -> &'static ApiBench {
    static BENCH: OnceLock<ApiBench> = OnceLock::new();
    BENCH.get_or_init(|| match build_api_bench() {
        Ok(bench) => bench,
        Err(e) => panic!("cannot set up the API for fuzzing: {e}"),
    })
}

fn build_api_bench() -> Result<ApiBench, String> {
    fn say(e: impl std::fmt::Display) -> String {
        e.to_string()
    }
    use crate::access::Role;
    use crate::api::{ApiState, RateLimit};
    use crate::notices::{NoticeDraft, NoticeFinding, NoticeListing, NoticeShop};
    use chrono::Utc;
    const REGISTRY: &str = "[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\n";
    let dir = std::env::temp_dir().join(format!("spotcheck-fuzz-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = crate::store::Store::open(&dir).map_err(say)?;
    let registry = crate::notices::PlatformRegistry::from_toml(REGISTRY, "fuzz").map_err(say)?;
    let triage =
        crate::cases::Triage::configured(&store, None, crate::cases::merge::DEFAULT_WINDOW_DAYS).map_err(say)?;
    // No rate limit worth the name: a fuzzer is a runaway loop by design.
    let limit = RateLimit { period: std::time::Duration::from_nanos(1), burst: std::num::NonZeroU32::MAX };
    let state = ApiState::open(&store, registry, triage, limit).map_err(say)?;
    let now = Utc::now();
    let (_, mall) = state.keys.issue_key("mall", now).map_err(say)?;
    let (_, staff) = state.tokens.issue(Role::Staff, "fuzz staff", None, now).map_err(say)?;
    let (_, officer) = state.tokens.issue(Role::Enforcement, "fuzz officer", Some("3301"), now).map_err(say)?;
    let (_, admin) = state.tokens.issue(Role::Admin, "fuzz admin", None, now).map_err(say)?;
    let notice = state
        .notices
        .issue(
            NoticeDraft {
                case_id: "C00001".into(),
                platform: "mall".into(),
                listings: vec![NoticeListing { url: "https://mall.example/item/1".into(), item_id: "1".into() }],
                shop: NoticeShop { name: "某某电器专营店".into(), uscc: None },
                findings: vec![NoticeFinding { rule_id: "ccc.missing".into(), message: "未标注CCC认证".into() }],
                legal_basis: "《产品质量法》第二十七条".into(),
                authority: "某市市场监督管理局".into(),
                deadline: now + chrono::Duration::days(30),
                contest: "十五日内书面提出异议".into(),
                evidence_sha256: "ab".repeat(32),
            },
            now,
        )
        .map_err(say)?;
    let routes = vec![
        (format!("/api/platform/v1/notices/{}/ack", notice.id), mall.clone()),
        (format!("/api/platform/v1/notices/{}/disposition", notice.id), mall),
        ("/api/staff/v1/findings/f000000000000000000000000/confirm".into(), staff.clone()),
        ("/api/staff/v1/findings/f000000000000000000000000/dismiss".into(), staff.clone()),
        ("/api/staff/v1/cases/C00001/notices".into(), staff),
        ("/api/enforcement/v1/cases/C00001/outcome".into(), officer),
        ("/api/admin/v1/platforms/mall/keys".into(), admin),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(say)?;
    Ok(ApiBench { runtime, app: crate::api::app(state), routes })
}

/// A request body to the API: the first byte picks a POST route that reads a
/// body (each with a credential of its audience), the rest is the body, sent
/// through the whole router (`tower::ServiceExt::oneshot`). No body makes the
/// API answer 5xx, and every answer is JSON; a refusal has the one error
/// shape with a stable code.
pub fn api_body(data: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tower::ServiceExt;
    static REQUEST: AtomicU64 = AtomicU64::new(0);
    let Some((&pick, body)) = data.split_first() else { return };
    let bench = api_bench();
    let Some((path, secret)) = bench.routes.get(usize::from(pick) % bench.routes.len()) else { return };
    let n = REQUEST.fetch_add(1, Ordering::Relaxed);
    let request = axum::http::Request::post(path.as_str())
        .header("authorization", format!("Bearer {secret}"))
        .header("idempotency-key", format!("fuzz-{n}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_vec()));
    let Ok(request) = request else { return };
    let (status, bytes) = bench.runtime.block_on(async {
        let response = match bench.app.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        (status, axum::body::to_bytes(response.into_body(), usize::MAX).await)
    });
    let text = bytes.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let json: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("POST {path} answered {status} with a body that is not JSON ({e}): {text}"),
    };
    if status.is_client_error() || status.is_server_error() {
        assert!(json["error"]["code"].is_string(), "POST {path} answered {status} without an error code: {text}");
    }
    // Issuing notices seals a bundle, which this API (no station) cannot: a
    // body good enough to get that far is answered 503 `sealing_unavailable`.
    let unsealed = json["error"]["code"] == "sealing_unavailable";
    assert!(!status.is_server_error() || unsealed, "POST {path} answered {status}: {text}");
}
