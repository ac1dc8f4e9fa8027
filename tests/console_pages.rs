//! The console's triage sections (线索研判, 案件, 下架通知, 店铺) on findings
//! the real pipeline produced (`spotcheck demo`, once per test process, each
//! test on its own copy), signed in exactly as a browser would: the log-in
//! form's double-submit cookie and `_csrf`, then the session cookie and the
//! session's token taken from a page's form.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::Utc;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use spotcheck::access::Role;
use spotcheck::api::{ApiState, RateLimit};
use spotcheck::cases::{merge, Triage};
use spotcheck::config::{DataDir, Identity};
use spotcheck::console::{self, ConsoleState};
use spotcheck::findings::Status;
use spotcheck::model::{Listing, Shop, ShopRef};
use spotcheck::notices::PlatformRegistry;
use spotcheck::rules::{Evidence, Finding, Severity};
use spotcheck::sealing::Station;
use spotcheck::store::{FrontierEntry, JobSpec, PageOutcome, PageResult, Store};

#[path = "support/open_demo.rs"]
mod open_demo;
use open_demo::copy_dir;

const PASSWORD: &str = "correct horse battery staple";
const REGISTRY: &str =
    "[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\n\n[[platform]]\nid = \"duo\"\nname = \"Sample Duo\"\n";

fn demo_data() -> &'static Path {
    static DEMO: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, data) = DEMO.get_or_init(open_demo::open_findings_demo);
    data
}

/// The console over a copy of the demo's data directory, sealing enabled.
struct Console {
    _dir: tempfile::TempDir,
    state: ConsoleState,
    app: App,
}

/// The served console: its origin and a client that does not follow redirects.
#[derive(Clone)]
struct App {
    origin: String,
    http: reqwest::Client,
}

async fn console() -> Console {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(demo_data(), dir.path());
    let data = DataDir::new(dir.path());
    let store = Store::open(&data.db()).unwrap();
    let registry = PlatformRegistry::from_toml(REGISTRY, "test").unwrap();
    let triage = Triage::configured(&store, None, merge::DEFAULT_WINDOW_DAYS).unwrap();
    let station = Station::open(&data, &store, &Identity::default()).unwrap();
    let api =
        ApiState::open(&store, registry, triage, RateLimit::default()).unwrap().with_station(data.clone(), station);
    let state = ConsoleState::open(api, data).unwrap();
    let now = Utc::now();
    state.users.add("wangfang", Some("王芳"), Role::Staff, None, PASSWORD, now).unwrap();
    state.users.add("root", None, Role::Admin, None, PASSWORD, now).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let router = console::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Console { _dir: dir, state, app: App { origin, http } }
}

/// A signed-in browser: its session cookie and the session's CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn send(app: &App, method: Method, path: &str, headers: &[(header::HeaderName, String)], body: String) -> Answer {
    let mut request = app.http.request(method, format!("{}{path}", app.origin)).body(body);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    assert_eq!(
        headers.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap()),
        Some(console::CSP),
        "every response carries the CSP"
    );
    Answer { status, headers, body }
}

/// The value of the first `name="_csrf" value="…"` in a page.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("a form with _csrf") + "name=\"_csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

fn set_cookie(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"))
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One log-in attempt through the form, as a browser makes it.
async fn attempt(app: &App, name: &str, password: &str) -> Answer {
    let form = send(app, Method::GET, "/console/login", &[], String::new()).await;
    let login_cookie = set_cookie(&form.headers, "spotcheck_login");
    let token = csrf_in(&form.text());
    let body = form_body(&[("_csrf", &token), ("next", ""), ("name", name), ("password", password)]);
    let headers = [
        (header::ORIGIN, app.origin.clone()),
        (header::COOKIE, login_cookie),
        (header::CONTENT_TYPE, "application/x-www-form-urlencoded".to_string()),
    ];
    send(app, Method::POST, "/console/login", &headers, body).await
}

async fn sign_in(app: &App, name: &str) -> Browser {
    let signed = attempt(app, name, PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    let cookie = set_cookie(&signed.headers, "spotcheck_console");
    let mut browser = Browser { cookie, csrf: String::new() };
    let home = get(app, &browser, "/console/cases").await;
    browser.csrf = csrf_in(&home.text());
    browser
}

async fn get(app: &App, b: &Browser, path: &str) -> Answer {
    send(app, Method::GET, path, &[(header::COOKIE, b.cookie.clone())], String::new()).await
}

/// A form post from `origin`, with `fields` as given (add `_csrf` yourself).
async fn post_from(app: &App, b: &Browser, path: &str, fields: &[(&str, &str)], origin: &str) -> Answer {
    let headers = [
        (header::ORIGIN, origin.to_string()),
        (header::COOKIE, b.cookie.clone()),
        (header::CONTENT_TYPE, "application/x-www-form-urlencoded".to_string()),
    ];
    send(app, Method::POST, path, &headers, form_body(fields)).await
}

async fn post(app: &App, b: &Browser, path: &str, fields: &[(&str, &str)]) -> Answer {
    let mut all = vec![("_csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    post_from(app, b, path, &all, &app.origin.clone()).await
}

/// Every `href="{prefix}…"` target in a page, in order.
fn links(page: &str, prefix: &str) -> Vec<String> {
    let needle = format!("href=\"{prefix}");
    page.match_indices(&needle).map(|(i, _)| page[i + 6..].split('"').next().unwrap().to_string()).collect()
}

fn open_finding_ids(c: &Console, n: usize) -> Vec<String> {
    let findings = &c.state.api.triage.findings;
    findings
        .all()
        .map(|f| f.unwrap().id)
        .filter(|id| findings.triage(id).unwrap().status == Status::Open)
        .take(n)
        .collect()
}

/// Confirms `id` through the form and returns its case id.
async fn confirm(c: &Console, b: &Browser, id: &str) -> String {
    let done = post(&c.app, b, &format!("/console/findings/{id}/confirm"), &[("note", "页面宣称免3C")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let page = get(&c.app, b, &format!("/console/findings/{id}")).await.text();
    assert!(page.contains("已并入案件"), "the finding shows its case");
    let case = links(&page, "/console/cases/C").first().cloned().expect("a case link");
    case.trim_start_matches("/console/cases/").to_string()
}

#[tokio::test]
async fn every_section_renders_for_staff_and_confirming_opens_a_case() {
    let c = console().await;
    let staff = sign_in(&c.app, "wangfang").await;
    let list = get(&c.app, &staff, "/console/findings?status=open").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.text();
    assert!(list.contains("线索研判") && list.contains("待研判") && list.contains("共 "));
    let first = links(&list, "/console/findings/f").first().cloned().expect("an open finding");
    let id = first.trim_start_matches("/console/findings/").to_string();

    let detail = get(&c.app, &staff, &first).await;
    assert_eq!(detail.status, StatusCode::OK);
    let text = detail.text();
    for part in ["法律依据", "采集 SHA-256", "包含证明", "校验通过", "研判记录", "排除理由"] {
        assert!(text.contains(part), "the detail shows {part}");
    }
    // A finding on text of the title: that text is marked in the page text.
    let on_title = c.state.api.triage.findings.all().map(|f| f.unwrap()).find_map(|f| {
        let m = f.matched.iter().find(|m| m.field == "title" && !m.text.is_empty())?;
        Some((f.id.clone(), m.text.clone()))
    });
    let (titled, matched) = on_title.expect("a finding on a title");
    let page = get(&c.app, &staff, &format!("/console/findings/{titled}")).await.text();
    let escaped = matched.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    assert!(page.contains(&format!("<mark>{escaped}</mark>")), "what the rule matched ({matched}) is marked");

    let case = confirm(&c, &staff, &id).await;
    let status = c.state.api.triage.findings.triage(&id).unwrap();
    assert_eq!(status.status, Status::Confirmed);
    assert_eq!(status.history[0].by, "王芳 (console:wangfang)", "the signed-in person is the actor");

    for path in ["/console/cases", &format!("/console/cases/{case}"), "/console/notices", "/console/shops"] {
        let page = get(&c.app, &staff, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
    }
    let shops = get(&c.app, &staff, "/console/shops").await.text();
    let shop = links(&shops, "/console/shops/").first().cloned().expect("a shop with findings");
    let shop = get(&c.app, &staff, &shop).await;
    assert_eq!(shop.status, StatusCode::OK);
    assert!(shop.text().contains("重点监管名单") || shop.text().contains("统一社会信用代码"));

    // An admin reads every section but neither seals nor downloads evidence.
    let admin = sign_in(&c.app, "root").await;
    for path in ["/console/findings", "/console/shops", &format!("/console/cases/{case}")] {
        assert_eq!(get(&c.app, &admin, path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(post(&c.app, &admin, &format!("/console/cases/{case}/bundle"), &[]).await.status, StatusCode::FORBIDDEN);

    // Bad query values and ids are 400/404 pages, never 500s.
    for (path, want) in [
        ("/console/findings?status=bogus", StatusCode::BAD_REQUEST),
        ("/console/findings?page=0", StatusCode::BAD_REQUEST),
        ("/console/findings?page=abc", StatusCode::BAD_REQUEST),
        ("/console/cases?status=done", StatusCode::BAD_REQUEST),
        ("/console/notices?overdue=yes", StatusCode::BAD_REQUEST),
        ("/console/notices?status=gone", StatusCode::BAD_REQUEST),
        ("/console/findings/..%2F..%2Fetc%2Fpasswd", StatusCode::NOT_FOUND),
        ("/console/cases/nope", StatusCode::NOT_FOUND),
        ("/console/notices/nope", StatusCode::NOT_FOUND),
        ("/console/shops/u%3Anope", StatusCode::NOT_FOUND),
        ("/console/bundles/..%2Fx", StatusCode::NOT_FOUND),
        ("/console/captures/zz/screenshot", StatusCode::NOT_FOUND),
        ("/console/findings?page=99999", StatusCode::OK),
    ] {
        assert_eq!(get(&c.app, &staff, path).await.status, want, "{path}");
    }
}

#[tokio::test]
async fn forms_need_the_session_token_and_our_origin_and_a_dismissal_needs_a_reason() {
    let c = console().await;
    let staff = sign_in(&c.app, "wangfang").await;
    let id = open_finding_ids(&c, 1).pop().unwrap();
    let path = format!("/console/findings/{id}/dismiss");
    let ours = c.app.origin.clone();
    let refused = [
        post_from(&c.app, &staff, &path, &[("reason", "误报")], &ours).await,
        post_from(&c.app, &staff, &path, &[("_csrf", "forged"), ("reason", "误报")], &ours).await,
        post_from(&c.app, &staff, &path, &[("_csrf", &staff.csrf), ("reason", "误报")], "https://evil.example").await,
    ];
    for answer in refused {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
        assert!(answer.text().contains("CSRF"));
    }
    let confirm = format!("/console/findings/{id}/confirm");
    let answer = post_from(&c.app, &staff, &confirm, &[("note", "x")], &ours).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(c.state.api.triage.findings.triage(&id).unwrap().status, Status::Open, "nothing changed");
    assert_eq!(c.state.api.triage.cases.case_of(&id).unwrap(), None);

    let blank = post(&c.app, &staff, &path, &[("reason", "   ")]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.text().contains("排除理由不能为空"), "{}", blank.text());
    assert_eq!(c.state.api.triage.findings.triage(&id).unwrap().status, Status::Open);

    let done = post(&c.app, &staff, &path, &[("reason", "页面实为配件，不属强制认证目录")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let triage = c.state.api.triage.findings.triage(&id).unwrap();
    assert_eq!(
        (triage.status, triage.history[0].reason.as_str()),
        (Status::Dismissed, "页面实为配件，不属强制认证目录")
    );
}

/// Guessing: after `MAX_FAILURES` wrong passwords the name is locked, and
/// even the right password is refused until the lock ends; other names are not.
#[tokio::test]
async fn wrong_passwords_lock_the_name_and_not_the_others() {
    let c = console().await;
    for i in 0..console::login::MAX_FAILURES {
        let answer = attempt(&c.app, "wangfang", &format!("guess {i}")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let locked = attempt(&c.app, "wangfang", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "the right password while locked");
    assert!(locked.text().contains("锁定"), "the page says the name is locked");
    assert!(!locked
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("spotcheck_console=")));
    assert_eq!(attempt(&c.app, "root", PASSWORD).await.status, StatusCode::SEE_OTHER, "another name signs in");
}

/// Every form the console takes, on real ids: without the session's token,
/// with a forged one, or from another origin, each is refused and changes nothing.
#[tokio::test]
async fn every_console_form_refuses_a_missing_or_forged_token_and_a_foreign_origin() {
    let c = console().await;
    let staff = sign_in(&c.app, "wangfang").await;
    let ids = open_finding_ids(&c, 2);
    let case = confirm(&c, &staff, &ids[0]).await;
    let finding = &ids[1];
    let case_before = get(&c.app, &staff, &format!("/console/cases/{case}")).await.text();
    let forms = [
        format!("/console/findings/{finding}/confirm"),
        format!("/console/findings/{finding}/dismiss"),
        format!("/console/cases/{case}/bundle"),
        format!("/console/cases/{case}/notices"),
        format!("/console/cases/{case}/outcome"),
        "/console/plans/new".to_string(),
        "/console/plans/p1/edit".to_string(),
        "/console/plans/p1/run".to_string(),
        "/console/logout".to_string(),
    ];
    let ours = c.app.origin.clone();
    let fields = [("reason", "误报"), ("note", "x"), ("outcome", "no_penalty"), ("toml", "id = \"p1\"")];
    for path in &forms {
        let forged: Vec<(&str, &str)> = [("_csrf", "forged")].into_iter().chain(fields).collect();
        let foreign: Vec<(&str, &str)> = [("_csrf", staff.csrf.as_str())].into_iter().chain(fields).collect();
        for (how, answer) in [
            ("no token", post_from(&c.app, &staff, path, &fields, &ours).await),
            ("a forged token", post_from(&c.app, &staff, path, &forged, &ours).await),
            ("another origin", post_from(&c.app, &staff, path, &foreign, "https://evil.example").await),
        ] {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path} with {how}: {}", answer.text());
            assert!(answer.text().contains("CSRF"), "{path} with {how}");
        }
    }
    // Nothing changed: the finding is open, the case as it was, the session alive.
    assert_eq!(c.state.api.triage.findings.triage(finding).unwrap().status, Status::Open);
    let case_after = get(&c.app, &staff, &format!("/console/cases/{case}")).await;
    assert_eq!(case_after.status, StatusCode::OK, "still signed in");
    assert_eq!(case_after.text(), case_before, "the case page is unchanged");
}

#[tokio::test]
async fn enforcement_sees_only_its_bureau_and_the_bundle_verifies() {
    let c = console().await;
    let staff = sign_in(&c.app, "wangfang").await;
    let id = open_finding_ids(&c, 1).pop().unwrap();
    let case_id = confirm(&c, &staff, &id).await;
    let case = c.state.api.triage.cases.get(&case_id).unwrap().unwrap();
    let other = if case.bureau.code == "110000" { "310000" } else { "110000" };
    let now = Utc::now();
    c.state.users.add("zhaolei", Some("赵磊"), Role::Enforcement, Some(&case.bureau.code), PASSWORD, now).unwrap();
    c.state.users.add("stranger", None, Role::Enforcement, Some(other), PASSWORD, now).unwrap();
    let bureau = sign_in(&c.app, "zhaolei").await;
    let stranger = sign_in(&c.app, "stranger").await;

    // Staff issue the case's notices (sealing its bundle first).
    let issued = post(&c.app, &staff, &format!("/console/cases/{case_id}/notices"), &[("deadline_hours", "48")]).await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text());
    let notices = c.state.api.notices.of_case(&case_id).unwrap();
    assert!(!notices.is_empty());
    let notice = format!("/console/notices/{}", notices[0].id);

    for who in [&bureau, &stranger] {
        for path in ["/console/findings", "/console/shops", &format!("/console/findings/{id}")] {
            assert_eq!(get(&c.app, who, path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert!(get(&c.app, &bureau, "/console/cases").await.text().contains(&case_id));
    assert!(get(&c.app, &bureau, "/console/notices").await.text().contains(&notices[0].id));
    assert_eq!(get(&c.app, &bureau, &notice).await.status, StatusCode::OK);
    assert!(!get(&c.app, &stranger, "/console/cases").await.text().contains(&case_id));
    assert!(!get(&c.app, &stranger, "/console/notices").await.text().contains(&notices[0].id));
    assert_eq!(get(&c.app, &stranger, &format!("/console/cases/{case_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&c.app, &stranger, &notice).await.status, StatusCode::NOT_FOUND);
    let sealed = post(&c.app, &stranger, &format!("/console/cases/{case_id}/bundle"), &[]).await;
    assert_eq!(sealed.status, StatusCode::NOT_FOUND);

    // The bureau seals a fresh bundle and downloads it; the bytes are what the page says.
    let sealed = post(&c.app, &bureau, &format!("/console/cases/{case_id}/bundle"), &[]).await;
    assert_eq!(sealed.status, StatusCode::SEE_OTHER, "{}", sealed.text());
    let page = get(&c.app, &bureau, &format!("/console/cases/{case_id}")).await.text();
    assert!(page.contains("spotcheck evidence verify"));
    let file = links(&page, "/console/bundles/B").first().cloned().expect("a bundle link");
    let got = get(&c.app, &bureau, &file).await;
    assert_eq!(got.status, StatusCode::OK);
    let hex = hex::encode(Sha256::digest(&got.body));
    assert!(page.contains(&hex), "the page shows the file's SHA-256");
    assert!(got.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;"));
    assert!(got.headers["repr-digest"].to_str().unwrap().starts_with("sha-256=:"));
    let report = evidence::bundle::verify_bundle(&got.body, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
    assert_eq!(get(&c.app, &stranger, &file).await.status, StatusCode::NOT_FOUND);

    // The bureau records an outcome; a blank note is refused.
    let outcome = format!("/console/cases/{case_id}/outcome");
    let blank = post(&c.app, &bureau, &outcome, &[("status", "filed"), ("note", "")]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    let filed = post(&c.app, &bureau, &outcome, &[("status", "filed"), ("note", "立案调查")]).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text());
    assert_eq!(c.state.api.triage.cases.get(&case_id).unwrap().unwrap().status.as_str(), "filed");
}

/// A listing and shop whose every text field is hostile, stored as a crawl
/// would store them, and flagged on its title.
fn plant_hostile(c: &Console) -> String {
    let long = "长".repeat(100 * 1024 / 3);
    let nasty = format!(
        "<script>alert(1)</script><img src=x onerror=alert(2)>\"'\u{202e}gnp.exe\u{0007}\u{001b}[31m 无需3C认证 {long}"
    );
    let store = &c.state.api.store;
    let spec =
        JobSpec { adapter: "sample-mall".into(), seeds: vec!["http://127.0.0.1:1/mall/".into()], ..JobSpec::default() };
    let (mut job, _) = store.begin_job(&spec, 7).unwrap();
    let frontier = store.frontier(&job.id).unwrap();
    let shop = Shop {
        platform: "mall".into(),
        shop_id: "evil".into(),
        url: "http://127.0.0.1:1/mall/shop/evil\"><script>".into(),
        name: Some(nasty.clone()),
        uscc: Some("91330100MA2HOSTILE".into()),
        ..Shop::default()
    };
    let listing = Listing {
        platform: "mall".into(),
        item_id: "evil".into(),
        url: "javascript:alert(1)//\"'".into(),
        title: Some(nasty.clone()),
        description: Some(nasty.clone()),
        price: Some("9.90".parse().unwrap()),
        shop: Some(ShopRef { shop_id: "evil".into(), name: Some(nasty.clone()), url: None }),
        ..Listing::default()
    };
    let page = PageResult {
        seq: 0,
        url: spec.seeds[0].clone(),
        outcome: PageOutcome::Fetched {
            listings: vec![listing],
            shops: vec![shop],
            links: Vec::<FrontierEntry>::new(),
            candidates: vec![],
        },
        capture: None,
    };
    store.commit_page(&mut job, &frontier, &page).unwrap();
    let at = nasty.find("无需3C认证").unwrap();
    let finding = Finding {
        rule: "ccc.claim_exempt".into(),
        version: 1,
        severity: Severity::High,
        title: nasty.clone(),
        message: nasty.clone(),
        legal_basis: vec![nasty.clone()],
        listing: "mall/evil".into(),
        capture_id: None,
        evidence: vec![Evidence {
            field: "title".into(),
            text: "无需3C认证".into(),
            span: Some([at, at + "无需3C认证".len()]),
            note: Some(nasty),
        }],
    };
    c.state.api.triage.findings.record(std::slice::from_ref(&finding)).unwrap();
    spotcheck::findings::to_record(&finding).id
}

#[tokio::test]
async fn a_hostile_listing_renders_as_escaped_clipped_text() {
    let c = console().await;
    let id = plant_hostile(&c);
    let staff = sign_in(&c.app, "wangfang").await;
    let pages = [
        "/console/findings?platform=mall".to_string(),
        format!("/console/findings/{id}"),
        "/console/shops".to_string(),
        "/console/shops/u%3A91330100MA2HOSTILE".to_string(),
    ];
    for path in &pages {
        let page = get(&c.app, &staff, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let body = page.text();
        assert!(!body.contains("<script>alert"), "{path}: raw script");
        assert!(!body.contains("<img src=x"), "{path}: raw img");
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: the escaped text is shown");
        assert!(body.len() < 200 * 1024, "{path}: {} bytes; long strings are clipped", body.len());
        let raw = body.chars().find(|c| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || *c == '\u{202e}');
        assert_eq!(raw, None, "{path}: a control or bidi character reached the page");
    }
    let detail = get(&c.app, &staff, &format!("/console/findings/{id}")).await.text();
    assert!(detail.contains("<mark>无需3C认证</mark>"), "the match is marked");
    assert!(!detail.contains("href=\"javascript:"), "the listing URL is never a link");
}

/// A browser capture with a PNG screenshot and a non-image artifact named
/// `screenshot`, sealed in the blob store and the ledger; returns its id and the PNG.
fn plant_capture(c: &Console) -> (String, Vec<u8>) {
    use evidence::{Artifact, BlobStore, CaptureManifest, CaptureRecord, RequestRecord, ResponseRecord};
    let blobs = BlobStore::open(c.state.data.blobs()).unwrap();
    let png = b"\x89PNG\r\n\x1a\n not really a picture".to_vec();
    let body = b"<html>item</html>".to_vec();
    let (png_id, body_id) = (blobs.put(&png).unwrap(), blobs.put(&body).unwrap());
    let artifact = |media_type: &str, sha256| Artifact {
        role: "screenshot".into(),
        media_type: media_type.into(),
        sha256,
        bytes: 1,
    };
    let record = CaptureRecord {
        version: CaptureRecord::VERSION,
        url: "http://127.0.0.1:1/mall/item/shot".into(),
        final_url: "http://127.0.0.1:1/mall/item/shot".into(),
        redirect_chain: vec![],
        request: RequestRecord { method: "GET".into(), headers: vec![] },
        response: ResponseRecord {
            status: 200,
            http_version: "HTTP/1.1".into(),
            headers: vec![],
            body_sha256: body_id,
            body_len: body.len() as u64,
            truncated: false,
        },
        resolved_ip: None,
        tls_peer_cert_sha256: None,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        time_source: "system".into(),
        tool: "spotcheck/test".into(),
        station: None,
        operators: vec![],
        job_id: None,
        plan_id: None,
        robots_override: None,
        artifacts: vec![artifact("text/html", body_id), artifact("image/png", png_id)],
    };
    let id = blobs.put(&record.to_canonical_json()).unwrap();
    let ledger = c.state.api.store.ledger();
    ledger.append(vec![CaptureManifest::of(id, &record).to_entry()]).unwrap();
    ledger.flush().unwrap();
    (id.to_hex(), png)
}

#[tokio::test]
async fn a_captures_screenshot_is_shown_beside_its_finding_to_staff_only() {
    let c = console().await;
    let (capture, png) = plant_capture(&c);
    let finding = Finding {
        rule: "ccc.missing".into(),
        version: 1,
        severity: Severity::High,
        title: "未标注3C认证".into(),
        message: "页面未见3C证书编号".into(),
        legal_basis: vec!["《强制性产品认证管理规定》第九条".into()],
        listing: "mall/shot".into(),
        capture_id: Some(capture.clone()),
        evidence: vec![],
    };
    c.state.api.triage.findings.record(std::slice::from_ref(&finding)).unwrap();
    let id = spotcheck::findings::to_record(&finding).id;
    let staff = sign_in(&c.app, "wangfang").await;
    let detail = get(&c.app, &staff, &format!("/console/findings/{id}")).await.text();
    let src = format!("/console/captures/{capture}/screenshot");
    assert!(detail.contains(&format!("src=\"{src}\"")), "the screenshot is beside the finding");
    assert!(detail.contains(&capture) && detail.contains("校验通过"), "the capture's hash and inclusion are shown");
    assert!(detail.contains("《强制性产品认证管理规定》第九条"));

    let shot = get(&c.app, &staff, &src).await;
    assert_eq!(shot.status, StatusCode::OK);
    assert_eq!(shot.headers[header::CONTENT_TYPE], "image/png", "served as the image type it was sealed with");
    assert_eq!(shot.body, png);
    // A stored blob that is not a capture record (here: the PNG itself) is no capture: 404, not 500.
    let png_digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&png))
    };
    let not_a_capture = get(&c.app, &staff, &format!("/console/captures/{png_digest}/screenshot")).await;
    assert_eq!(not_a_capture.status, StatusCode::NOT_FOUND);
    c.state.users.add("zhaolei", None, Role::Enforcement, Some("330100"), PASSWORD, Utc::now()).unwrap();
    let bureau = sign_in(&c.app, "zhaolei").await;
    assert_eq!(get(&c.app, &bureau, &src).await.status, StatusCode::FORBIDDEN, "staff only");
}
