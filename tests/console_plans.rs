//! The console's plans, dashboard and reports sections, through the real
//! router over loopback HTTP: signed in as a browser is (log-in cookie and
//! its `_csrf`, then the session cookie and the session's CSRF token from a
//! page), plans created and edited through the form, problems shown with
//! nothing written, escaping, the live JSON, report scopes and downloads,
//! and a plan run over the sample marketplace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failure by design

use std::sync::Arc;

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, StatusCode};
use spotcheck::access::Role;
use spotcheck::adapters::AdapterSet;
use spotcheck::api::{ApiState, RateLimit};
use spotcheck::cases::{merge, Triage};
use spotcheck::config::{DataDir, Identity};
use spotcheck::console::desk::PlanDesk;
use spotcheck::console::{self, ConsoleState};
use spotcheck::notices::PlatformRegistry;
use spotcheck::plans::{PlanRunner, RunnerOptions};
use spotcheck::store::{JobSpec, Store};

const REGISTRY: &str = "[[platform]]\nid = \"mall\"\nname = \"Sample Mall\"\n";
const PASSWORD: &str = "correct horse battery staple";

struct Console {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
    data: DataDir,
    store: Store,
    runner: PlanRunner,
    _dir: tempfile::TempDir,
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no `{name}` field in {html}")) + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_string()))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

async fn start(options: RunnerOptions) -> Console {
    start_with(Some(options)).await
}

/// The console with plan runs (`Some`) or without.
async fn start_with(options: Option<RunnerOptions>) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let store = Store::open(&data.db()).unwrap();
    let registry = PlatformRegistry::from_toml(REGISTRY, "test").unwrap();
    let triage = Triage::configured(&store, None, merge::DEFAULT_WINDOW_DAYS).unwrap();
    let api = ApiState::open(&store, registry, triage, RateLimit::default()).unwrap();
    let runner = PlanRunner::new(
        store.clone(),
        data.clone(),
        Identity::default(),
        AdapterSet::builtin(),
        // The test marketplace is on loopback: allowed explicitly.
        RunnerOptions {
            network: spotcheck::fetch::NetworkPolicy::allowing(["127.0.0.1".parse().unwrap()]),
            ..options.clone().unwrap_or_default()
        },
    )
    .unwrap();
    let mut state = ConsoleState::open(api, data.clone()).unwrap();
    if options.is_some() {
        state = state.with_plans(PlanDesk::new(runner.clone()));
    }
    for (name, role, bureau) in [("wang", Role::Staff, None), ("li", Role::Enforcement, Some("110105"))] {
        state.users.add(name, None, role, bureau, PASSWORD, chrono::Utc::now()).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = console::router(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    let mut c = Console { base, http, cookie: String::new(), csrf: String::new(), data, store, runner, _dir: dir };
    c.sign_in("wang").await;
    c
}

impl Console {
    async fn sign_in(&mut self, name: &str) {
        let page = self.http.get(format!("{}/console/login", self.base)).send().await.unwrap();
        let login = set_cookie(&page, "spotcheck_login");
        let token = field(&page.text().await.unwrap(), "_csrf");
        let signed = self
            .http
            .post(format!("{}/console/login", self.base))
            .header(COOKIE, format!("spotcheck_login={login}"))
            .form(&[("name", name), ("password", PASSWORD), ("_csrf", token.as_str()), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), StatusCode::SEE_OTHER, "sign-in of {name}");
        self.cookie = format!("spotcheck_console={}", set_cookie(&signed, "spotcheck_console"));
        let (status, page) = self.get("/console/plans/new").await;
        self.csrf = if status == StatusCode::OK { field(&page, "_csrf") } else { String::new() };
    }

    async fn get_response(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await.unwrap()
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self.get_response(path).await;
        (r.status(), r.text().await.unwrap())
    }

    /// Posts `fields` with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf", &self.csrf));
        self.post_raw(path, &form).await
    }

    async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).form(form).send().await.unwrap()
    }

    fn plan_file(&self, id: &str) -> std::path::PathBuf {
        self.data.root().join("plans").join(format!("{id}.toml"))
    }
}

/// A good plan as the form posts it (two classes checked, a cron, a campaign).
fn plan_fields<'a>(id: &'a str, title: &'a str, platform: &'a str, cron: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("id", id),
        ("title", title),
        ("class", "electric_toy"),
        ("classes_other", "儿童自行车，滑板车"),
        ("platform", platform),
        ("keywords", "电动玩具\n遥控车"),
        ("seed_urls", "https://mall.example/list?c=toys"),
        ("sample_size", "20"),
        ("weighting", "risk"),
        ("campaign", "双11"),
        ("schedule_kind", "cron"),
        ("cron", cron),
        ("missed", "skip"),
        ("rate", "0.5"),
        ("concurrency", "2"),
        ("toml", ""),
        ("action", "form"),
    ]
}

fn adapters() -> Vec<String> {
    AdapterSet::builtin().names()
}

fn names(adapters: &[String]) -> Vec<&str> {
    adapters.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn a_plan_created_through_the_form_is_a_valid_plan_file_and_listed_with_its_next_runs() {
    let c = start(RunnerOptions::default()).await;
    let r = c.post("/console/plans/new", &plan_fields("toys-q4", "电动玩具抽查", "sample-mall", "0 2 * * *")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()[LOCATION], "/console/plans/toys-q4");
    let text = std::fs::read_to_string(c.plan_file("toys-q4")).unwrap();
    let plan = spotcheck::plans::compile(&c.plan_file("toys-q4"), &text, &names(&adapters())).unwrap();
    assert_eq!(plan.title, "电动玩具抽查");
    assert_eq!(plan.classes, ["electric_toy", "儿童自行车", "滑板车"]);
    assert_eq!(plan.keywords, ["电动玩具", "遥控车"]);
    assert_eq!(plan.sample_size, 20);
    assert_eq!(plan.campaign.as_deref(), Some("双11"));
    assert_eq!(plan.schedule.as_str(), "0 2 * * *");
    assert_eq!(plan.politeness.concurrency, Some(2));

    let (status, list) = c.get("/console/plans").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("电动玩具抽查") && list.contains("双11"), "{list}");
    // Three upcoming runs at 02:00 Shanghai time.
    let next: Vec<String> = plan.schedule.next_n(chrono::Utc::now(), 3).iter().map(console::layout::time).collect();
    assert_eq!(next.len(), 3);
    for t in &next {
        assert!(t.ends_with("02:00") && list.contains(t.as_str()), "{t} not in the list");
    }
    let (status, detail) = c.get("/console/plans/toys-q4").await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("立即运行") && detail.contains("调度历史"), "{detail}");
}

#[tokio::test]
async fn a_bad_cron_or_unknown_platform_shows_the_problems_keeps_the_values_and_writes_nothing() {
    let c = start(RunnerOptions::default()).await;
    let r = c.post("/console/plans/new", &plan_fields("bad", "保留的标题", "no-such-shop", "61 * * * *")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("unknown platform `no-such-shop`"), "{page}");
    assert!(page.contains("bad schedule"), "{page}");
    assert!(page.contains("value=\"保留的标题\"") && page.contains("61 * * * *"), "values kept: {page}");
    assert!(!c.plan_file("bad").exists());

    let mut fields = plan_fields("bad2", "样本量错误", "sample-mall", "0 2 * * *");
    fields.retain(|(k, _)| *k != "sample_size");
    fields.push(("sample_size", "二十"));
    let r = c.post("/console/plans/new", &fields).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("样本量应为正整数"));
    assert!(!c.plan_file("bad2").exists());
}

#[tokio::test]
async fn editing_keeps_the_plan_id_and_the_advanced_editor_saves_toml() {
    let c = start(RunnerOptions::default()).await;
    let r = c.post("/console/plans/new", &plan_fields("keep", "原标题", "sample-mall", "0 2 * * *")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, form) = c.get("/console/plans/keep/edit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"原标题\"") && form.contains("readonly"), "{form}");

    let mut fields = plan_fields("other", "新标题", "sample-mall", "30 8 * * 1");
    fields.retain(|(k, _)| *k != "schedule_kind");
    fields.push(("schedule_kind", "manual"));
    let r = c.post("/console/plans/keep/edit", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()[LOCATION], "/console/plans/keep");
    let text = std::fs::read_to_string(c.plan_file("keep")).unwrap();
    assert!(text.contains("新标题") && text.contains("manual"), "{text}");
    assert!(!c.plan_file("other").exists(), "an edit never writes another plan");

    // The advanced editor: TOML naming another id is refused.
    let renamed = text.replace("id = \"keep\"", "id = \"stolen\"");
    let r = c.post("/console/plans/keep/edit", &[("toml", renamed.as_str()), ("action", "toml")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!c.plan_file("stolen").exists());
    let retitled = text.replace("新标题", "TOML 标题");
    let r = c.post("/console/plans/keep/edit", &[("toml", retitled.as_str()), ("action", "toml")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(std::fs::read_to_string(c.plan_file("keep")).unwrap().contains("TOML 标题"));

    assert_eq!(c.get("/console/plans/missing/edit").await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/console/plans/..%2Fetc/edit").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_script_in_a_title_is_shown_as_text() {
    let c = start(RunnerOptions::default()).await;
    let title = "<script>alert(1)</script>";
    let r = c.post("/console/plans/new", &plan_fields("xss", title, "sample-mall", "0 2 * * *")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for path in ["/console/plans", "/console/plans/xss", "/console/plans/xss/edit", "/console/reports"] {
        let (status, page) = c.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!page.contains("<script>alert"), "{path}: {page}");
    }
    assert!(c.get("/console/plans").await.1.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn the_live_json_is_for_staff_only_and_never_cached() {
    let mut c = start(RunnerOptions::default()).await;
    let mut job = c.store.begin_job(&JobSpec { adapter: "sample-mall".into(), ..JobSpec::default() }, 1).unwrap().0;
    job.counters.pages = 3;
    let r = c.get_response("/console/live.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let live: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(live["version"].as_str().is_some_and(|v| v.len() == 16), "{live}");
    let item = &live["items"][0];
    assert_eq!(item["id"], format!("job-{}", job.id));
    assert!(item["text"].as_str().unwrap().contains("页"), "{live}");
    let (_, dashboard) = c.get("/console/").await;
    assert!(
        dashboard.contains("data-live=\"/console/live.json\"") && dashboard.contains(&format!("id=\"job-{}\"", job.id))
    );

    let anonymous = c.http.get(format!("{}/console/live.json", c.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(anonymous.headers()[LOCATION].to_str().unwrap().starts_with("/console/login"));
    c.sign_in("li").await;
    assert_eq!(c.get("/console/live.json").await.0, StatusCode::FORBIDDEN);
    // The dashboard sends an officer to their own start page, the cases.
    let home = c.get_response("/console/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/console/cases");
    assert_eq!(c.get("/console/plans").await.0, StatusCode::FORBIDDEN);
    assert_eq!(c.get("/console/reports").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reports_render_for_each_scope_and_downloads_are_attachments() {
    let c = start(RunnerOptions::default()).await;
    let job = c.store.begin_job(&JobSpec { adapter: "sample-mall".into(), ..JobSpec::default() }, 1).unwrap().0;
    let r = c.post("/console/plans/new", &plan_fields("camp", "双11 计划", "sample-mall", "0 2 * * *")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, picker) = c.get("/console/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(picker.contains("campaign:双11") && picker.contains("plan:camp") && picker.contains(&job.id), "{picker}");
    for (scope, want) in [
        ("all".to_string(), StatusCode::OK),
        (format!("job:{}", job.id), StatusCode::OK),
        ("job:nosuchjob".into(), StatusCode::NOT_FOUND),
        ("plan:camp".into(), StatusCode::BAD_REQUEST),
        ("run:999".into(), StatusCode::NOT_FOUND),
        ("run:abc".into(), StatusCode::BAD_REQUEST),
        ("campaign:%E5%8F%8C11".into(), StatusCode::BAD_REQUEST),
        ("nonsense".into(), StatusCode::BAD_REQUEST),
    ] {
        let (status, page) = c.get(&format!("/console/reports?scope={scope}")).await;
        assert_eq!(status, want, "{scope}: {page}");
        if want == StatusCode::OK {
            assert!(page.contains("抽查结果") && page.contains("不合格率"), "{scope}");
        }
    }
    assert_eq!(c.get("/console/reports?scope=all&page=0").await.0, StatusCode::BAD_REQUEST);
    for (format, kind) in [("html", "text/html"), ("csv", "text/csv"), ("json", "application/json")] {
        for public in ["0", "1"] {
            let r =
                c.get_response(&format!("/console/reports/download?scope=all&format={format}&public={public}")).await;
            assert_eq!(r.status(), StatusCode::OK, "{format} {public}");
            assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{format}");
            let disposition = r.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_string();
            assert!(
                disposition.starts_with("attachment;") && disposition.contains(&format!(".{format}")),
                "{disposition}"
            );
            assert_eq!(disposition.contains("-public"), public == "1");
        }
    }
    let bad = c.get("/console/reports/download?scope=all&format=exe").await.0;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused() {
    let c = start(RunnerOptions::default()).await;
    let r = c.post_raw("/console/plans/new", &plan_fields("nocsrf", "无令牌", "sample-mall", "0 2 * * *")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!c.plan_file("nocsrf").exists());
    let mut forged = plan_fields("forged", "错误令牌", "sample-mall", "0 2 * * *");
    forged.push(("_csrf", "not-the-token"));
    assert_eq!(c.post_raw("/console/plans/new", &forged).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.post_raw("/console/plans/forged/run", &[]).await.status(), StatusCode::FORBIDDEN);
}

/// The sample marketplace on a loopback port.
async fn market() -> url::Url {
    use spotcheck::market::{Market, MarketConfig};
    let market = Arc::new(Market::new(MarketConfig { seed: 7, listings: 120, count_hits: false }));
    let base = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let app = Arc::clone(&market).router();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    };
    market.entry_urls(&base).into_iter().find(|(a, _)| a == "sample-mall").unwrap().1
}

#[tokio::test]
async fn run_now_over_the_sample_marketplace_shows_the_draw_and_its_files_verify() {
    let entry = market().await;
    let options =
        RunnerOptions { politeness_off: true, max_pages: Some(60), concurrency: 4, ..RunnerOptions::default() };
    let c = start(options).await;
    let mut fields = plan_fields("market", "样例商城抽查", "sample-mall", "0 2 * * *");
    fields.retain(|(k, _)| !matches!(*k, "class" | "classes_other" | "keywords" | "seed_urls" | "sample_size"));
    fields.extend([("seed_urls", entry.as_str()), ("sample_size", "5")]);
    let r = c.post("/console/plans/new", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());

    // A run holding the plan's lease (another process's) keeps "run now" out.
    let plan = spotcheck::plans::PlanBook::open(&c.data).get("market", &names(&adapters())).unwrap().unwrap();
    let held =
        c.runner.scheduler().acquire("market", "station-2/pid 1", chrono::Utc::now(), chrono::Duration::minutes(5));
    let held = held.unwrap().unwrap();
    let refused = c.post("/console/plans/market/run", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("该计划已有运行中的任务"));
    c.runner.scheduler().release(&plan.id, &held).unwrap();

    let r = c.post("/console/plans/market/run", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[LOCATION].to_str().unwrap().to_string();
    let run_id: u64 = location.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(location, format!("/console/plans/market/runs/{run_id}"));
    // Its page answers at once, before the run has stored its summary, and
    // the live JSON lists it until it ends.
    assert_eq!(c.get(&location).await.0, StatusCode::OK);
    let live: serde_json::Value = serde_json::from_str(&c.get("/console/live.json").await.1).unwrap();
    let listed = live["items"].as_array().unwrap().iter().any(|i| i["id"] == format!("run-{run_id}"));
    let ended = c.runner.summary(run_id).unwrap().is_some_and(|s| s.finished_at.is_some());
    assert!(listed || ended, "a running run is in the live JSON: {live}");
    let summary = tokio::time::timeout(std::time::Duration::from_secs(120), c.runner.wait(run_id))
        .await
        .expect("the run ends within 120 s")
        .unwrap()
        .unwrap();
    assert!(summary.succeeded(), "{summary:?}");

    let (status, page) = c.get(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("分层") && page.contains("抽中的商品") && page.contains("scope=run:"), "{page}");
    for key in &summary.drawn_keys {
        assert!(page.contains(key.as_str()), "{key} drawn but not shown");
    }
    let file = |name: &str| format!("{location}/files/{name}");
    let mut bodies = Vec::new();
    for name in ["draw.json", "candidates.jsonl", "draw.csv"] {
        let r = c.get_response(&file(name)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert!(r.headers()[CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;"));
        bodies.push(r.text().await.unwrap());
    }
    let draw = spotcheck::sampling::Draw::from_json(&bodies[0]).unwrap();
    let candidates: Vec<spotcheck::sampling::Candidate> =
        bodies[1].lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    draw.verify(&candidates).unwrap();
    assert_eq!(c.get(&file("../../etc/passwd")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/console/plans/market/runs/notanumber").await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.get(&format!("/console/plans/other/runs/{run_id}")).await.0, StatusCode::NOT_FOUND);

    let (status, report) = c.get(&format!("/console/reports?scope=run:{run_id}")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, list) = c.get("/console/plans").await;
    assert!(list.contains("成功"), "{list}");
}

#[tokio::test]
async fn without_plan_runs_the_plan_pages_say_so_and_the_rest_works() {
    let c = start_with(None).await;
    for path in ["/console/plans", "/console/plans/new", "/console/plans/x", "/console/plans/x/runs/1"] {
        let (status, page) = c.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains("未启用计划运行"), "{path}: {page}");
    }
    assert_eq!(c.get("/console/").await.0, StatusCode::OK);
    assert_eq!(c.get("/console/reports?scope=all").await.0, StatusCode::OK);
    assert_eq!(c.get("/console/live.json").await.0, StatusCode::OK);
}
