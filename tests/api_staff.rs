//! The staff, enforcement and admin audiences of the API over a real socket,
//! on findings the real pipeline produced: `spotcheck demo` crawls the sample
//! marketplace, flags and seals once per test process, and each test works on
//! its own copy of that database.
//!
//! Covered: the authorization matrix (every route × every kind of
//! credential), bureau scoping of enforcement tokens, confirm and dismiss with
//! the token's person as the actor, revoked tokens, idempotent writes, rate
//! limits, admin key management, the OpenAPI document's security against
//! `api::ROUTES`, and `spotcheck serve` delivering a webhook exactly once
//! across a SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use spotcheck::access::{AccessTokens, Role};
use spotcheck::api::{self, ApiState, Audience, RateLimit};
use spotcheck::cases::{merge, Triage};
use spotcheck::config::{DataDir, Identity};
use spotcheck::notices::{NoticeStore, PlatformRegistry};
use spotcheck::sealing::Station;
use spotcheck::store::Store;

#[path = "support/api_client.rs"]
mod api_client;
#[path = "support/notice_draft.rs"]
mod notice_draft;
#[path = "support/open_demo.rs"]
mod open_demo;
use api_client::{answer, error_code, spotcheck_serve, REGISTRY};
use notice_draft::draft;
use open_demo::copy_dir;

const BIN: &str = env!("CARGO_BIN_EXE_spotcheck");

/// The database of one `spotcheck demo` run (300 listings, no browser, stopped before its own
/// triage so every finding is open and no notice exists), made once per test process.
fn demo_db() -> &'static Path {
    static DEMO: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, db) = DEMO.get_or_init(|| {
        let (dir, data) = open_demo::open_findings_demo();
        (dir, data.join("db"))
    });
    db
}

/// A served app over a copy of the demo's database, with a secret per kind of credential.
struct Api {
    _dir: tempfile::TempDir,
    tokens: AccessTokens,
    notices: NoticeStore,
    base: String,
    http: reqwest::Client,
    staff: String,
    admin: String,
    /// A key of `mall`, and one of `duo`.
    platform: String,
    other_platform: String,
}

/// Serves a copy of the demo's database; with `sealing`, of its whole data
/// directory (blobs and station key too) and with the station, so bundles can be sealed.
async fn serve_with(rate_limit: RateLimit, sealing: bool) -> Api {
    let dir = tempfile::tempdir().unwrap();
    if sealing {
        copy_dir(demo_db().parent().unwrap(), dir.path());
    } else {
        copy_dir(demo_db(), &dir.path().join("db"));
    }
    let store = Store::open(&dir.path().join("db")).unwrap();
    let registry = PlatformRegistry::from_toml(REGISTRY, "test").unwrap();
    let triage = Triage::configured(&store, None, merge::DEFAULT_WINDOW_DAYS).unwrap();
    let mut state = ApiState::open(&store, registry, triage, rate_limit).unwrap();
    if sealing {
        let data = DataDir::new(dir.path());
        let station = Station::open(&data, &store, &Identity::default()).unwrap();
        state = state.with_station(data, station);
    }
    let (_, staff) = state.tokens.issue(Role::Staff, "王芳", None, Utc::now()).unwrap();
    let (_, admin) = state.tokens.issue(Role::Admin, "管理员", None, Utc::now()).unwrap();
    let (_, platform) = state.keys.issue_key("mall", Utc::now()).unwrap();
    let (_, other_platform) = state.keys.issue_key("duo", Utc::now()).unwrap();
    let (tokens, notices) = (state.tokens.clone(), state.notices.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api::app(state);
    tokio::spawn(api::server::serve(listener, app, api::server::ServerLimits::default(), std::future::pending()));
    Api { _dir: dir, tokens, notices, base, http: reqwest::Client::new(), staff, admin, platform, other_platform }
}

async fn serve(rate_limit: RateLimit) -> Api {
    serve_with(rate_limit, false).await
}

async fn open() -> Api {
    serve(RateLimit::default()).await
}

impl Api {
    fn request(&self, method: &str, path: &str, secret: Option<&str>) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.base);
        let r = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "DELETE" => self.http.delete(url),
            other => panic!("unexpected method {other}"),
        };
        match secret {
            Some(s) => r.bearer_auth(s),
            None => r,
        }
    }

    async fn get(&self, path: &str, secret: &str) -> (StatusCode, Value) {
        let (status, _, body) = answer(self.request("GET", path, Some(secret))).await;
        (status, body)
    }

    async fn post(&self, path: &str, secret: &str, idem: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .request("POST", path, Some(secret))
            .header("Idempotency-Key", idem)
            .header("content-type", "application/json")
            .body(body.to_string());
        let (status, _, body) = answer(r).await;
        (status, body)
    }

    fn token(&self, role: Role, name: &str, bureau: Option<&str>) -> String {
        self.tokens.issue(role, name, bureau, Utc::now()).unwrap().1
    }

    /// Open findings, in id order.
    async fn open_findings(&self) -> Vec<Value> {
        let (status, page) = self.get("/api/staff/v1/findings?status=open&limit=500", &self.staff).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["findings"].as_array().unwrap().clone()
    }

    /// Confirms findings until two cases of different bureaus exist: `(case a, case b)`.
    async fn two_bureaus(&self) -> (Value, Value) {
        let mut cases: Vec<Value> = Vec::new();
        for (i, f) in self.open_findings().await.iter().enumerate() {
            let path = format!("/api/staff/v1/findings/{}/confirm", f["finding"]["id"].as_str().unwrap());
            let (status, done) = self.post(&path, &self.staff, &format!("two-{i}"), json!({})).await;
            assert_eq!(status, StatusCode::OK, "{done}");
            let (_, case) =
                self.get(&format!("/api/staff/v1/cases/{}", done["case"]["case"].as_str().unwrap()), &self.staff).await;
            if let Some(other) = cases.iter().find(|c| c["bureau"]["code"] != case["bureau"]["code"]) {
                return (other.clone(), case);
            }
            cases.push(case);
        }
        panic!("the demo's findings all route to one bureau");
    }
}

fn finding_id(f: &Value) -> String {
    f["finding"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_route_answers_every_kind_of_credential_as_the_matrix_says() {
    let api = open().await;
    let enforcement = api.token(Role::Enforcement, "李强", Some("330100"));
    let revoked = api.token(Role::Staff, "离职", None);
    let revoked_id = api.tokens.list().unwrap().into_iter().find(|t| t.name == "离职").unwrap().token_id;
    api.tokens.revoke(&revoked_id, Utc::now()).unwrap();
    // (what it is, the secret, the audience it belongs to)
    let credentials: Vec<(&str, Option<&str>, Option<Audience>)> = vec![
        ("no credential", None, None),
        ("mall's platform key", Some(&api.platform), Some(Audience::Platform)),
        ("duo's platform key", Some(&api.other_platform), Some(Audience::Platform)),
        ("staff token", Some(&api.staff), Some(Audience::Token(Role::Staff))),
        ("enforcement token", Some(&enforcement), Some(Audience::Token(Role::Enforcement))),
        ("admin token", Some(&api.admin), Some(Audience::Token(Role::Admin))),
        ("revoked staff token", Some(&revoked), None),
        ("made-up secret", Some("sct_not-a-token"), None),
    ];
    let mut checked = 0;
    for (method, path, audience) in api::ROUTES {
        let path = path
            .replace("{id}", "x1")
            .replace("{platform}", "mall")
            .replace("{key_id}", "key_nope")
            .replace("{bundle_id}", "B20260101000000-00000000");
        for (what, secret, belongs) in &credentials {
            let (status, _, body) = answer(api.request(method, &path, *secret)).await;
            let code = body.get("error").map(|_| error_code(&body).to_string()).unwrap_or_default();
            let case = format!("{method} {path} with {what}: {status} {body}");
            match (audience, belongs, secret) {
                (Audience::Public, _, _) => assert_eq!(status, StatusCode::OK, "{case}"),
                (_, _, None) => {
                    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "missing_api_key"), "{case}")
                }
                (route, Some(own), _) if route == own => {
                    assert!(![401, 403, 405].contains(&status.as_u16()), "{case}");
                    assert!(code != "no_route", "{case}");
                }
                (Audience::Token(_), Some(Audience::Token(_)), _) => {
                    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{case}")
                }
                _ => assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "invalid_api_key"), "{case}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, api::ROUTES.len() * credentials.len());
}

#[tokio::test]
async fn confirming_through_the_api_opens_a_case_whose_audit_log_names_the_tokens_person() {
    let api = open().await;
    let findings = api.open_findings().await;
    assert!(findings.len() >= 20, "the demo flagged {} listings", findings.len());
    let id = finding_id(&findings[0]);
    let path = format!("/api/staff/v1/findings/{id}/confirm");
    // The actor is never taken from the body.
    let (status, body) = api.post(&path, &api.staff, "c0", json!({"note": "x", "by": "someone else"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_body"));

    let (status, done) = api.post(&path, &api.staff, "c1", json!({"note": "无CCC标志，核实属实"})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["finding"].as_str(), done["change"].as_str()), (Some(id.as_str()), Some("changed")));
    assert_eq!((done["case"]["opened"].as_bool(), done["case"]["already"].as_bool()), (Some(true), Some(false)));
    let case_id = done["case"]["case"].as_str().unwrap();

    let token_id = api.tokens.list().unwrap().into_iter().find(|t| t.name == "王芳").unwrap().token_id;
    let actor = format!("王芳 ({token_id})");
    let (status, case) = api.get(&format!("/api/staff/v1/cases/{case_id}"), &api.staff).await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["audit"][0]["by"], actor.as_str());
    assert_eq!(case["audit"][0]["action"], "opened");
    assert_eq!(case["findings"][0]["id"], id.as_str());
    let (_, finding) = api.get(&format!("/api/staff/v1/findings/{id}"), &api.staff).await;
    assert_eq!((finding["status"].as_str(), finding["case"].as_str()), (Some("confirmed"), Some(case_id)));
    assert_eq!(finding["triage"][0]["by"], actor.as_str());
    assert_eq!(finding["triage"][0]["reason"], "无CCC标志，核实属实");

    // The case is listed, and filtering by status and bureau works.
    let (_, page) = api.get("/api/staff/v1/cases?status=opened", &api.staff).await;
    assert!(page["cases"].as_array().unwrap().iter().any(|c| c["id"] == case_id), "{page}");
    let (_, page) = api.get("/api/staff/v1/cases?status=closed", &api.staff).await;
    assert_eq!(page["cases"], json!([]));
    let (status, body) = api.get("/api/staff/v1/cases?status=done", &api.staff).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_query"));
    let (status, body) = api.get("/api/staff/v1/findings/fnope/", &api.staff).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "no_route"));
    let (status, body) = api.post("/api/staff/v1/findings/fnope/confirm", &api.staff, "c2", json!({})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn findings_page_by_cursor_and_filter_by_status_and_rule() {
    let api = open().await;
    let all = api.open_findings().await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = api.get(&format!("/api/staff/v1/findings?limit=7&cursor={cursor}"), &api.staff).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = page["findings"].as_array().unwrap();
        assert!(got.len() <= 7);
        seen.extend(got.iter().map(finding_id));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(finding_id).collect::<Vec<_>>(), "every finding once, in id order");
    let rule = all[0]["finding"]["rule"].as_str().unwrap();
    let (_, page) = api.get(&format!("/api/staff/v1/findings?rule={rule}&limit=500"), &api.staff).await;
    let of_rule = page["findings"].as_array().unwrap();
    assert_eq!(of_rule.len(), all.iter().filter(|f| f["finding"]["rule"] == rule).count());
    for limit in ["0", "501", "x"] {
        let (status, body) = api.get(&format!("/api/staff/v1/findings?limit={limit}"), &api.staff).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_limit"), "limit {limit}");
    }
    for status in ["maybe", ""] {
        let (code, body) = api.get(&format!("/api/staff/v1/findings?status={status}"), &api.staff).await;
        assert_eq!((code, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_query"), "status {status:?}");
    }
}

#[tokio::test]
async fn a_dismissal_needs_a_reason_and_feeds_the_rules_false_positive_rate() {
    let api = open().await;
    let findings = api.open_findings().await;
    let (id, rule) = (finding_id(&findings[0]), findings[0]["finding"]["rule"].as_str().unwrap().to_string());
    let path = format!("/api/staff/v1/findings/{id}/dismiss");
    for (i, body) in [
        json!({}),
        json!({"reason": ""}),
        json!({"reason": " \u{3000}\n"}),
        json!({"reason": 3}),
        json!({"reason": "长".repeat(4001)}),
    ]
    .iter()
    .enumerate()
    {
        let (status, answer) = api.post(&path, &api.staff, &format!("d-bad-{i}"), body.clone()).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "bad_body"), "{body}");
    }
    let (_, stats) = api.get("/api/staff/v1/rules/stats", &api.staff).await;
    let row = |stats: &Value| stats["rules"].as_array().unwrap().iter().find(|r| r["rule"] == rule.as_str()).cloned();
    let before = row(&stats).unwrap();
    assert_eq!(before["false_positive_rate"], Value::Null, "nothing triaged yet: {before}");

    let (status, done) = api.post(&path, &api.staff, "d1", json!({"reason": "图片中可见CCC标志，误报"})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done, json!({"finding": id, "change": "changed", "status": "dismissed"}));
    let (_, stats) = api.get("/api/staff/v1/rules/stats", &api.staff).await;
    let after = row(&stats).unwrap();
    assert_eq!(after["dismissed"], 1);
    assert_eq!(after["open"], before["open"].as_u64().unwrap() - 1);
    assert_eq!(after["false_positive_rate"], 1.0);

    // A finding in a case is not dismissed: the outcome is recorded on the case.
    let other = finding_id(&findings[1]);
    let (status, _) = api.post(&format!("/api/staff/v1/findings/{other}/confirm"), &api.staff, "c", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        api.post(&format!("/api/staff/v1/findings/{other}/dismiss"), &api.staff, "d2", json!({"reason": "x"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "finding_in_case"));
}

#[tokio::test]
async fn an_enforcement_token_sees_and_changes_only_its_bureaus_cases() {
    let api = open().await;
    let (a, b) = api.two_bureaus().await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let bureau_a = a["bureau"]["code"].as_str().unwrap();
    let token = api.token(Role::Enforcement, "赵敏", Some(bureau_a));

    let (status, page) = api.get("/api/enforcement/v1/cases", &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed = page["cases"].as_array().unwrap();
    assert!(listed.iter().any(|c| c["id"] == a_id), "{page}");
    assert!(listed.iter().all(|c| c["bureau"]["code"] == bureau_a), "only bureau {bureau_a}: {page}");

    let (status, case) = api.get(&format!("/api/enforcement/v1/cases/{a_id}"), &token).await;
    assert_eq!((status, case["id"].as_str()), (StatusCode::OK, Some(a_id)));
    // Another bureau's case looks exactly like one that does not exist.
    let (status, theirs) = api.get(&format!("/api/enforcement/v1/cases/{b_id}"), &token).await;
    let (_, none) = api.get("/api/enforcement/v1/cases/C20260101-00000000", &token).await;
    assert_eq!((status, error_code(&theirs)), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(
        theirs["error"]["message"].as_str().unwrap().replace(b_id, "ID"),
        none["error"]["message"].as_str().unwrap().replace("C20260101-00000000", "ID")
    );
    let outcome = json!({"status": "filed", "note": "立案审批表 杭市监立〔2026〕1号"});
    let (status, body) =
        api.post(&format!("/api/enforcement/v1/cases/{b_id}/outcome"), &token, "o0", outcome.clone()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = api.get(&format!("/api/enforcement/v1/cases/{b_id}/notices"), &token).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (_, b_now) = api.get(&format!("/api/staff/v1/cases/{b_id}"), &api.staff).await;
    assert_eq!(b_now["status"], "opened", "another bureau's case is unchanged");

    // Its own case: outcomes follow the workflow, the token's person is the actor.
    let path = format!("/api/enforcement/v1/cases/{a_id}/outcome");
    let (status, case) = api.post(&path, &token, "o1", outcome).await;
    assert_eq!((status, case["status"].as_str()), (StatusCode::OK, Some("filed")), "{case}");
    let last = case["audit"].as_array().unwrap().last().unwrap().clone();
    assert!(last["by"].as_str().unwrap().starts_with("赵敏 (tok_"), "{last}");
    let (status, body) = api.post(&path, &token, "o2", json!({"status": "opened", "note": "n"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_body"));
    let (status, body) = api.post(&path, &token, "o3", json!({"status": "filed", "note": " "})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_body"));
    let (status, case) = api.post(&path, &token, "o4", json!({"status": "closed", "note": "结案"})).await;
    assert_eq!((status, case["status"].as_str()), (StatusCode::OK, Some("closed")));
    let (status, body) = api.post(&path, &token, "o5", json!({"status": "filed", "note": "again"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "invalid_transition"));

    // The case's notices, with their status.
    let notice = api
        .notices
        .issue(spotcheck::notices::NoticeDraft { case_id: a_id.into(), ..draft("mall", 1) }, Utc::now())
        .unwrap();
    api.notices.issue(draft("mall", 2), Utc::now()).unwrap();
    let (status, body) = api.get(&format!("/api/enforcement/v1/cases/{a_id}/notices"), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let notices = body["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{body}");
    assert_eq!(notices[0]["id"], notice.id.as_str());
    assert_eq!(notices[0]["status"]["acknowledged_at"], Value::Null);
    assert_eq!(notices[0]["overdue"], Utc::now() > notice.draft.deadline);
}

// ---- a case's notices and its evidence bundle ----

/// Confirms the first open finding: its case, and an enforcement token of the case's bureau.
async fn one_case(api: &Api) -> (String, String) {
    let id = finding_id(&api.open_findings().await[0]);
    let (status, done) = api.post(&format!("/api/staff/v1/findings/{id}/confirm"), &api.staff, "one", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let case_id = done["case"]["case"].as_str().unwrap().to_string();
    let (_, case) = api.get(&format!("/api/staff/v1/cases/{case_id}"), &api.staff).await;
    (case_id, case["bureau"]["code"].as_str().unwrap().to_string())
}

/// A bureau code that is not `code`.
fn other_bureau(code: &str) -> &'static str {
    if code == "110000" {
        "330100"
    } else {
        "110000"
    }
}

/// Downloads a bundle: status, headers and the bytes (or the error body).
async fn download(api: &Api, path: &str, secret: &str) -> (StatusCode, reqwest::header::HeaderMap, Bytes) {
    let response = api.request("GET", path, Some(secret)).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(Sha256::digest(bytes))
}

/// The audit entries of a case with this action.
async fn audited(api: &Api, case_id: &str, action: &str) -> Vec<Value> {
    let (_, case) = api.get(&format!("/api/staff/v1/cases/{case_id}"), &api.staff).await;
    case["audit"].as_array().unwrap().iter().filter(|a| a["action"] == action).cloned().collect()
}

#[tokio::test]
async fn staff_issue_a_cases_notices_and_its_bureau_downloads_the_bundle_they_rest_on() {
    let api = serve_with(RateLimit::default(), true).await;
    let (case_id, bureau) = one_case(&api).await;
    let enforcement = api.token(Role::Enforcement, "赵敏", Some(&bureau));
    let stranger = api.token(Role::Enforcement, "外局", Some(other_bureau(&bureau)));
    let path = format!("/api/staff/v1/cases/{case_id}/notices");

    let before = Utc::now();
    // 48.0 is the integer 48 to JSON Schema, so to the API too.
    let (status, issued) = api.post(&path, &api.staff, "n1", json!({"deadline_hours": 48.0})).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!((issued["case"].as_str(), issued["already"].as_u64()), (Some(case_id.as_str()), Some(0)));
    let bundle = issued["bundle"].clone();
    let bundle_id = bundle["id"].as_str().unwrap().to_string();
    assert!(bundle.get("path").is_none(), "no server path in the answer: {bundle}");
    let hex = bundle["sha256"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    let notices = issued["notices"].as_array().unwrap().clone();
    assert!(!notices.is_empty(), "{issued}");
    for n in &notices {
        assert_eq!(n["evidence_sha256"], hex.as_str(), "{n}");
        let deadline = chrono::DateTime::parse_from_rfc3339(n["deadline"].as_str().unwrap()).unwrap();
        assert!(
            deadline >= before + chrono::Duration::hours(48) && deadline <= Utc::now() + chrono::Duration::hours(48)
        );
    }
    // The token's person acted, not anyone named in a body.
    let sealed = audited(&api, &case_id, "evidence bundle sealed").await;
    assert_eq!(sealed.len(), 1);
    assert!(sealed[0]["by"].as_str().unwrap().starts_with("王芳 (tok_"), "{sealed:?}");
    assert_eq!(audited(&api, &case_id, "notice issued").await.len(), notices.len());

    // The same request again: the first answer, nothing new issued or sealed.
    let (status, again) = api.post(&path, &api.staff, "n1", json!({"deadline_hours": 48.0})).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &issued));
    assert_eq!(api.notices.of_case(&case_id).unwrap().len(), notices.len());
    // A new request: the notices exist, so no bundle and nothing new.
    let (status, later) = api.post(&path, &api.staff, "n2", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_eq!((later["bundle"].clone(), later["already"].as_u64()), (Value::Null, Some(notices.len() as u64)));
    assert_eq!(later["notices"], issued["notices"]);
    assert_eq!(audited(&api, &case_id, "evidence bundle sealed").await.len(), 1);

    // Staff follow a fresh notice up: no check yet.
    let (status, one) =
        api.get(&format!("/api/staff/v1/notices/{}", notices[0]["id"].as_str().unwrap()), &api.staff).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!((one["id"].clone(), one["overdue"].clone()), (notices[0]["id"].clone(), json!(false)));
    assert_eq!((one["follow_up"]["checks"].as_u64(), one["follow_up"]["verdict"].clone()), (Some(0), Value::Null));
    assert_eq!(one["checks"], json!([]));

    // The bureau downloads the very bundle the notices name, and it verifies offline.
    let file = format!("/api/enforcement/v1/bundles/{bundle_id}");
    let (status, headers, bytes) = download(&api, &file, &enforcement).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(sha256_hex(&bytes), hex, "the notice's evidence_sha256 is the file's SHA-256");
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["content-length"].to_str().unwrap(), bytes.len().to_string());
    assert_eq!(bytes.len() as u64, bundle["bytes"].as_u64().unwrap());
    assert_eq!(headers["x-content-sha256"].to_str().unwrap(), hex);
    let raw = hex::decode(&hex).unwrap();
    let digest = format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(raw));
    assert_eq!(headers["repr-digest"].to_str().unwrap(), digest);
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    let report = evidence::bundle::verify_bundle(&bytes, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
    assert_eq!(report.bundle_id.as_deref(), Some(bundle_id.as_str()));

    // Another bureau sees neither the case nor its bundle; it cannot have one sealed.
    let (status, _, body) = download(&api, &file, &stranger).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let seal = format!("/api/enforcement/v1/cases/{case_id}/bundle");
    let (status, body) = api.post(&seal, &stranger, "s0", json!(null)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = api.get(&format!("/api/enforcement/v1/cases/{case_id}"), &stranger).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    // Staff do not download: the file goes to the bureau.
    let (status, _, _) = download(&api, &file, &api.staff).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn enforcement_has_a_fresh_bundle_sealed_once_per_request_and_bad_bundle_ids_touch_nothing() {
    let api = serve_with(RateLimit::default(), true).await;
    let (case_id, bureau) = one_case(&api).await;
    let token = api.token(Role::Enforcement, "赵敏", Some(&bureau));
    let seal = format!("/api/enforcement/v1/cases/{case_id}/bundle");

    let (status, sealed) = api.post(&seal, &token, "b1", json!(null)).await;
    assert_eq!(status, StatusCode::CREATED, "{sealed}");
    let id = sealed["bundle"]["id"].as_str().unwrap();
    assert_eq!(sealed["download"], format!("/api/enforcement/v1/bundles/{id}"));
    let (status, again) = api.post(&seal, &token, "b1", json!(null)).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &sealed), "the first answer");
    let (status, second) = api.post(&seal, &token, "b2", json!(null)).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_ne!(second["bundle"]["id"], sealed["bundle"]["id"], "a new request seals a new bundle");
    let recorded = audited(&api, &case_id, "evidence bundle sealed").await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(recorded.iter().all(|a| a["by"].as_str().unwrap().starts_with("赵敏 (tok_")), "{recorded:?}");
    for answer in [&sealed, &second] {
        let (status, headers, bytes) = download(&api, answer["download"].as_str().unwrap(), &token).await;
        assert_eq!(status, StatusCode::OK);
        let hex = answer["bundle"]["sha256"].as_str().unwrap().strip_prefix("sha256:").unwrap();
        assert_eq!((sha256_hex(&bytes).as_str(), headers["x-content-sha256"].to_str().unwrap()), (hex, hex));
    }

    // Ids that are not bundle ids are refused before anything is looked up.
    for bad in
        ["B1", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "B20260101000000-0000000G", "b20260101000000-00000000"]
    {
        let (status, _, body) = download(&api, &format!("/api/enforcement/v1/bundles/{bad}"), &token).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_bundle_id"), "{bad}");
    }
    // `..` segments are resolved by the client: no route, not a file.
    let (status, _, body) = download(&api, "/api/enforcement/v1/bundles/../../etc/passwd", &token).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "no_route"));
    let (status, _, body) = download(&api, "/api/enforcement/v1/bundles/B20260101000000-00000000", &token).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn issuing_notices_refuses_bad_terms_unknown_and_closed_cases_and_a_server_that_cannot_seal() {
    let api = serve_with(RateLimit::default(), true).await;
    let (case_id, bureau) = one_case(&api).await;
    let path = format!("/api/staff/v1/cases/{case_id}/notices");
    for (i, body) in [
        json!({"deadline_hours": 0}),
        json!({"deadline_hours": 721}),
        json!({"deadline_hours": -1}),
        json!({"by": "x"}),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, answer) = api.post(&path, &api.staff, &format!("bad{i}"), body.clone()).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "bad_body"), "{body}");
    }
    let (status, body) = api.post("/api/staff/v1/cases/C20260101-00000000/notices", &api.staff, "u", json!({})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    let token = api.token(Role::Enforcement, "赵敏", Some(&bureau));
    let outcome = format!("/api/enforcement/v1/cases/{case_id}/outcome");
    for (key, step) in [("o1", "filed"), ("o2", "closed")] {
        let (status, body) = api.post(&outcome, &token, key, json!({"status": step, "note": "决定书"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = api.post(&path, &api.staff, "closed", json!({})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "case_closed"));
    assert!(api.notices.of_case(&case_id).unwrap().is_empty());

    // Without a station, the API says so instead of sealing somewhere else.
    let plain = open().await;
    let (case_id, bureau) = one_case(&plain).await;
    let (status, body) =
        plain.post(&format!("/api/staff/v1/cases/{case_id}/notices"), &plain.staff, "p", json!({})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "sealing_unavailable"));
    let token = plain.token(Role::Enforcement, "赵敏", Some(&bureau));
    let (status, body) =
        plain.post(&format!("/api/enforcement/v1/cases/{case_id}/bundle"), &token, "p", json!(null)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "sealing_unavailable"));
}

#[tokio::test]
async fn staff_read_every_platforms_notices_with_status_and_overdue_flag() {
    let api = open().await;
    let ids: Vec<String> = (0..3)
        .flat_map(|i| [draft("mall", i), draft("duo", i)])
        .map(|d| api.notices.issue(d, Utc::now()).unwrap().id)
        .collect();
    let (status, page) = api.get("/api/staff/v1/notices?limit=4", &api.staff).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let first: Vec<&str> = page["notices"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(first, ids[..4].iter().map(String::as_str).collect::<Vec<_>>());
    let next = page["next_cursor"].as_str().unwrap();
    let (_, page) = api.get(&format!("/api/staff/v1/notices?limit=4&cursor={next}"), &api.staff).await;
    assert_eq!(page["notices"].as_array().unwrap().len(), 2);
    let (status, one) = api.get(&format!("/api/staff/v1/notices/{}", ids[1]), &api.staff).await;
    assert_eq!((status, one["platform"].as_str()), (StatusCode::OK, Some("duo")));
    assert_eq!(
        one["overdue"],
        Utc::now() > chrono::DateTime::parse_from_rfc3339(one["deadline"].as_str().unwrap()).unwrap()
    );
    let (status, body) = api.get("/api/staff/v1/notices?cursor=!!", &api.staff).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "bad_cursor"));
}

#[tokio::test]
async fn a_revoked_token_gets_401_at_once() {
    let api = open().await;
    let secret = api.token(Role::Staff, "临时", None);
    let (status, _) = api.get("/api/staff/v1/rules/stats", &secret).await;
    assert_eq!(status, StatusCode::OK);
    let id = api.tokens.list().unwrap().into_iter().find(|t| t.name == "临时").unwrap().token_id;
    api.tokens.revoke(&id, Utc::now()).unwrap();
    let (status, headers, body) = answer(api.request("GET", "/api/staff/v1/rules/stats", Some(&secret))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _) = api.get("/api/staff/v1/rules/stats", &api.staff).await;
    assert_eq!(status, StatusCode::OK, "other tokens still work");
}

#[tokio::test]
async fn a_repeated_write_returns_the_first_answer_and_a_changed_one_conflicts() {
    let api = open().await;
    let id = finding_id(&api.open_findings().await[0]);
    let path = format!("/api/staff/v1/findings/{id}/confirm");
    let (status, _, body) = answer(api.request("POST", &path, Some(&api.staff)).body("{}")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "missing_idempotency_key"));

    let (status, first) = api.post(&path, &api.staff, "k1", json!({"note": "n"})).await;
    assert_eq!((status, first["change"].as_str()), (StatusCode::OK, Some("changed")));
    let (status, again) = api.post(&path, &api.staff, "k1", json!({"note": "n"})).await;
    assert_eq!((status, &again), (StatusCode::OK, &first), "the first answer, not a second confirmation");
    let (status, body) = api.post(&path, &api.staff, "k1", json!({"note": "other"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "idempotency_conflict"));
    // Keys are scoped per token: another person's k1 is a request of its own.
    let other = api.token(Role::Staff, "陈静", None);
    let (status, theirs) = api.post(&path, &other, "k1", json!({"note": "other"})).await;
    assert_eq!((status, theirs["change"].as_str()), (StatusCode::OK, Some("unchanged")), "{theirs}");
    assert_eq!(theirs["case"]["already"], true);
    let (_, finding) = api.get(&format!("/api/staff/v1/findings/{id}"), &api.staff).await;
    assert_eq!(finding["triage"].as_array().unwrap().len(), 1, "confirmed once: {finding}");
}

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after_and_other_tokens_do_not() {
    let api = serve(RateLimit { period: Duration::from_secs(60), burst: NonZeroU32::new(3).unwrap() }).await;
    for _ in 0..3 {
        let (status, _) = api.get("/api/staff/v1/rules/stats", &api.staff).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = answer(api.request("GET", "/api/staff/v1/cases", Some(&api.staff))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let other = api.token(Role::Staff, "陈静", None);
    let (status, _) = api.get("/api/staff/v1/rules/stats", &other).await;
    assert_eq!(status, StatusCode::OK, "buckets are per token");
}

#[tokio::test]
async fn an_admin_issues_lists_and_revokes_platform_keys() {
    let api = open().await;
    let path = "/api/admin/v1/platforms/duo/keys";
    let (status, issued) = api.post(path, &api.admin, "i1", json!(null)).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let secret = issued["secret"].as_str().unwrap().to_string();
    let key_id = issued["key_id"].as_str().unwrap().to_string();
    let (status, page) = api.get("/api/platform/v1/notices", &secret).await;
    assert_eq!(status, StatusCode::OK, "the new key works: {page}");
    // A repeat returns the same key without the secret, which was never stored.
    let (status, again) = api.post(path, &api.admin, "i1", json!(null)).await;
    assert_eq!((status, again["key_id"].as_str()), (StatusCode::CREATED, Some(key_id.as_str())));
    assert!(again.get("secret").is_none(), "{again}");

    let (status, list) = api.get(path, &api.admin).await;
    assert_eq!(status, StatusCode::OK);
    // The new key beside the one the set-up issued.
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{list}");
    assert!(keys.iter().any(|k| k["key_id"] == key_id.as_str()), "{list}");
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains("digest"), "{text}");

    let (status, _, revoked) = answer(
        api.request("DELETE", &format!("/api/admin/v1/keys/{key_id}"), Some(&api.admin))
            .header("Idempotency-Key", "r1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = api.get("/api/platform/v1/notices", &secret).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let (status, body) = api.post("/api/admin/v1/platforms/nowhere/keys", &api.admin, "i2", json!(null)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _, body) =
        answer(api.request("DELETE", "/api/admin/v1/keys/key_nope", Some(&api.admin)).header("Idempotency-Key", "r2"))
            .await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn the_openapi_document_secures_each_route_as_the_matrix_says() {
    let api = open().await;
    let (status, _, doc) = answer(api.http.get(format!("{}/api/openapi.json", api.base))).await;
    assert_eq!(status, StatusCode::OK);
    for (method, path, audience) in api::ROUTES {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} undocumented");
        let scheme = match audience {
            Audience::Public => None,
            Audience::Platform => Some("platformKey"),
            Audience::Token(Role::Staff) => Some("staffToken"),
            Audience::Token(Role::Enforcement) => Some("enforcementToken"),
            Audience::Token(Role::Admin) => Some("adminToken"),
        };
        match scheme {
            None => assert!(op.get("security").is_none(), "{method} {path}"),
            Some(s) => {
                assert!(op["security"][0][s].is_array(), "{method} {path}: {}", op["security"]);
                assert!(doc["components"]["securitySchemes"][s].is_object());
                assert!(op["responses"]["401"].is_object() && op["responses"]["429"].is_object(), "{method} {path}");
            }
        }
        assert_eq!(op["responses"]["403"].is_object(), matches!(audience, Audience::Token(_)), "{method} {path}");
        if *method != "GET" && *audience != Audience::Public {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == "Idempotency-Key" && p["required"] == true), "{method} {path}");
        }
    }
    for name in [
        "DismissRequest",
        "OutcomeRequest",
        "ConfirmRequest",
        "IssueNoticesRequest",
        "Case",
        "Finding",
        "IssuedApiKey",
        "IssuedNotices",
        "SealedBundle",
        "Bundle",
        "FollowUp",
    ] {
        let schema = &doc["components"]["schemas"][name];
        assert_eq!(schema["additionalProperties"], false, "{name}");
        assert!(schema["required"].is_array(), "{name}");
    }
    // The answers that name a notice or a bundle link to where it is read.
    let issue = &doc["paths"]["/api/staff/v1/cases/{id}/notices"]["post"]["responses"]["201"]["links"];
    assert_eq!(issue["firstNotice"]["operationId"], "staffGetNotice", "{issue}");
    let seal = &doc["paths"]["/api/enforcement/v1/cases/{id}/bundle"]["post"]["responses"]["201"]["links"];
    assert_eq!(seal["download"]["parameters"]["bundle_id"], "$response.body#/bundle/id", "{seal}");
}

// ---- `spotcheck serve` and its outbox worker across a SIGKILL ----

/// Retries at most 20 ms apart at first, looking for due events every 5 ms.
const FAST_OUTBOX: &[&str] = &["--webhook-backoff-ms", "20", "--outbox-poll-ms", "5"];

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A webhook receiver that answers 503 until `accept` is set, then 204; it keeps every request.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes, u16)>>>,
    accept: Arc<AtomicBool>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let status = if r.accept.load(Ordering::SeqCst) { AxumStatus::NO_CONTENT } else { AxumStatus::SERVICE_UNAVAILABLE };
    r.requests.lock().unwrap().push((headers, body, status.as_u16()));
    status
}

/// The Standard Webhooks signature computed here, with the `hmac` crate: `v1,` + base64(HMAC-SHA256(id.ts.body)).
fn expected_signature(id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD.decode(WEBHOOK_SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Waits for a condition, failing the test at the deadline.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotcheck_serve_delivers_a_webhook_exactly_once_across_a_sigkill() {
    let receiver = Receiver::default();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let platforms = dir.path().join("platforms.toml");
    std::fs::write(
        &platforms,
        format!("[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\nwebhook_url = \"{url}\"\nwebhook_secret = \"{WEBHOOK_SECRET}\"\n"),
    )
    .unwrap();
    let notice = {
        let store = Store::open(&data.join("db")).unwrap();
        let notice = NoticeStore::open(store.db()).unwrap().issue(draft("mall", 7), Utc::now()).unwrap();
        store.db().flush().unwrap();
        notice
    };

    // The first server gets only 503s, and is killed with SIGKILL mid-retry.
    let (mut first, base) = spotcheck_serve(&data, &platforms, FAST_OUTBOX).await;
    let (status, _, _) = answer(reqwest::Client::new().get(format!("{base}/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    wait_until("two refused attempts", || receiver.requests.lock().unwrap().len() >= 2).await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let refused = receiver.requests.lock().unwrap().len();

    // The receiver recovers; a new server on the same data delivers.
    receiver.accept.store(true, Ordering::SeqCst);
    let (second, _) = spotcheck_serve(&data, &platforms, FAST_OUTBOX).await;
    wait_until("the accepted delivery", || receiver.requests.lock().unwrap().iter().any(|r| r.2 == 204)).await;
    // Stop it gracefully (Ctrl-C) so the delivery is recorded, then look at the outbox.
    let pid = second.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let mut second = second;
    let exit = tokio::task::spawn_blocking(move || second.0.wait().unwrap());
    let exit =
        tokio::time::timeout(Duration::from_secs(30), exit).await.expect("serve did not stop on Ctrl-C").unwrap();
    assert!(exit.success(), "{exit:?}");

    let store = Store::open(&data.join("db")).unwrap();
    let outbox = NoticeStore::open(store.db()).unwrap().outbox().clone();
    let event_id = format!("msg_{}", notice.id);
    let record = outbox.delivered(&event_id).unwrap().expect("the delivery is recorded");
    assert_eq!(record.status, Some(204));
    assert!(outbox.pending().unwrap().is_empty() && outbox.dead_letters().unwrap().is_empty());

    let requests = receiver.requests.lock().unwrap();
    assert_eq!(requests.iter().filter(|r| r.2 == 204).count(), 1, "accepted exactly once");
    assert!(requests.len() > refused, "the accepted attempt came from the second server");
    let first_body = &requests[0].1;
    for (headers, body, _) in requests.iter() {
        assert_eq!(headers["webhook-id"], event_id.as_str());
        assert_eq!(body, first_body, "every attempt, before and after the kill, sends the same bytes");
        let timestamp = headers["webhook-timestamp"].to_str().unwrap();
        let signatures = headers["webhook-signature"].to_str().unwrap();
        let expected = expected_signature(&event_id, timestamp, body);
        assert!(signatures.split(' ').any(|s| s == expected), "{signatures} lacks {expected}");
    }
    let payload: Value = serde_json::from_slice(first_body).unwrap();
    assert_eq!(
        (payload["type"].as_str(), payload["data"]["id"].as_str()),
        (Some("notice.issued"), Some(notice.id.as_str()))
    );
}

// ---- `spotcheck tokens` ----

/// Runs the real binary on `data`: (success, stdout, stderr).
fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_tokens_command_shows_secrets_once_lists_revokes_and_names_what_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let platforms = dir.path().join("platforms.toml");
    std::fs::write(&platforms, REGISTRY).unwrap();
    let platforms = platforms.to_str().unwrap();

    let (ok, out, err) =
        cli(&data, &["tokens", "issue", "--role", "enforcement", "--name", "赵敏", "--bureau", "330100"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let token_id = lines[0].split_whitespace().next().unwrap().to_string();
    assert!(token_id.starts_with("tok_") && lines[0].contains("赵敏") && lines[0].contains("330100"), "{out}");
    let secret = lines[1].to_string();
    assert!(secret.starts_with("sct_"), "{out}");
    assert!(err.contains("shown once") && err.contains("not stored"), "{err}");

    let (ok, out, _) = cli(&data, &["tokens", "list"]);
    assert!(ok && out.contains(&token_id) && out.contains("enforcement") && out.contains("1 tokens"), "{out}");
    assert!(!out.contains(&secret[4..]), "list never shows a secret: {out}");

    for (args, expected) in [
        (vec!["tokens", "issue", "--role", "root", "--name", "x"], "unknown role `root`"),
        (vec!["tokens", "issue", "--role", "enforcement", "--name", "x"], "needs `--bureau CODE`"),
        (vec!["tokens", "issue", "--role", "staff", "--name", "x", "--bureau", "3301"], "bound to a bureau"),
        (vec!["tokens", "revoke", "tok_nope"], "token `tok_nope` not found"),
        (vec!["tokens", "platform-key", "issue", "nowhere", "--platforms", platforms], "unknown platform `nowhere`"),
        (vec!["tokens", "platform-key", "list", "nowhere", "--platforms", platforms], "unknown platform `nowhere`"),
        (vec!["tokens", "platform-key", "revoke", "key_nope"], "api key `key_nope` not found"),
    ] {
        let (ok, _, err) = cli(&data, &args);
        assert!(!ok && err.contains(expected), "{args:?}: {err}");
    }

    let (ok, out, err) = cli(&data, &["tokens", "platform-key", "issue", "mall", "--platforms", platforms]);
    assert!(ok, "{err}");
    let key_id = out.split_whitespace().next().unwrap().to_string();
    let key_secret = out.lines().nth(1).unwrap().to_string();
    assert!(key_id.starts_with("key_") && key_secret.starts_with("sk_mall_"), "{out}");
    let (ok, out, _) = cli(&data, &["tokens", "platform-key", "list", "mall", "--platforms", platforms]);
    assert!(ok && out.contains(&key_id) && out.contains("1 keys") && !out.contains(&key_secret), "{out}");

    // Both secrets work until revoked through the CLI.
    let check = |expect: bool| {
        let store = Store::open(&data.join("db")).unwrap();
        let tokens = AccessTokens::open(store.db()).unwrap();
        let keys =
            spotcheck::notices::ApiKeys::open(store.db(), PlatformRegistry::from_toml(REGISTRY, "t").unwrap()).unwrap();
        assert_eq!(tokens.authenticate(&secret).unwrap().is_some(), expect);
        assert_eq!(keys.authenticate(&key_secret).unwrap().is_some(), expect);
    };
    check(true);
    let (ok, out, err) = cli(&data, &["tokens", "revoke", &token_id]);
    assert!(ok && out.contains("revoked"), "{err}");
    let (ok, out, err) = cli(&data, &["tokens", "platform-key", "revoke", &key_id]);
    assert!(ok && out.contains("revoked"), "{err}");
    check(false);
    let (_, out, _) = cli(&data, &["tokens", "list"]);
    assert!(!out.contains("revoked -"), "the revocation time is listed: {out}");
}
