//! The command line as a user runs it: the real binary against the sample
//! marketplace (served by the binary itself) over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

fn spotcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spotcheck")).env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `spotcheck market serve` in a child process; killed on drop.
struct MarketServer {
    child: Child,
    base: String,
}

impl MarketServer {
    fn start(extra: &[&str]) -> MarketServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .args(["market", "serve", "--addr", "127.0.0.1:0", "--listings", "120"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").expect("first line names the address").to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        MarketServer { child, base }
    }
}

impl Drop for MarketServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs are plain text off a terminal (people grep them, `bench soak` reads
/// them), and the allocator's figures head them when `spotcheck::memory` is on.
#[cfg(all(unix, not(target_env = "musl")))]
#[test]
fn logs_to_a_file_are_plain_text_and_carry_the_heap_figures() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
        .args(["market", "serve", "--addr", "127.0.0.1:0", "--listings", "10"])
        .env("SPOTCHECK_LOG", "info,spotcheck::memory=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    child.kill().unwrap();
    let log = text(&child.wait_with_output().unwrap().stderr);
    assert!(!log.contains('\x1b'), "colour codes in a log that is not a terminal: {log:?}");
    let heap = log.lines().next().unwrap_or_default();
    assert!(heap.contains(" DEBUG spotcheck::memory: heap allocated_kib="), "{log}");
    assert!(heap.contains(" resident_kib="), "{heap}");
}

#[test]
fn adapters_check_passes_on_the_shipped_files_and_names_file_and_line_otherwise() {
    let ok = spotcheck(&["adapters", "check", concat!(env!("CARGO_MANIFEST_DIR"), "/site-adapters")]);
    assert!(ok.status.success(), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ok sample-mall"));
    assert!(text(&ok.stdout).contains("ok sample-duo"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "format = 1\nname = \"x\"\nplatform = \"x\"\nversion = \"1\"\nhosts = []\nsurprise = true\n",
    )
    .unwrap();
    let bad = spotcheck(&["adapters", "check", dir.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    let out = text(&bad.stdout);
    assert!(out.contains("bad.toml:6:"), "names file and line: {out}");
    assert!(out.contains("surprise"), "{out}");
}

#[test]
fn extract_fetches_a_url_and_prints_the_listing_as_the_truth_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let truth_file = dir.path().join("truth.jsonl");
    let market = MarketServer::start(&["--truth", truth_file.to_str().unwrap()]);
    let truth = std::fs::read_to_string(&truth_file).unwrap();
    let first: serde_json::Value = serde_json::from_str(truth.lines().next().unwrap()).unwrap();
    let url = first["url"].as_str().unwrap();
    assert!(url.starts_with(&market.base), "truth URLs carry the served address");
    let adapter = first["platform"].as_str().unwrap();

    let out = spotcheck(&["--data-dir", dir.path().to_str().unwrap(), "extract", "--adapter", adapter, url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["item_id", "title", "price", "currency", "specs", "shop", "url"] {
        assert_eq!(got[field], first[field], "field `{field}`");
    }
    assert!(text(&out.stderr).contains("capture "), "the capture id is shown");
}

#[test]
fn crawl_then_export_as_jsonl_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let market = MarketServer::start(&[]);
    let seed = format!("{}/mall/", market.base);
    let crawl = spotcheck(&[
        "--data-dir",
        data,
        "crawl",
        "--adapter",
        "sample-mall",
        "--seed-url",
        &seed,
        "--no-politeness",
        "--json",
    ]);
    assert!(crawl.status.success(), "{}", text(&crawl.stderr));
    let report: serde_json::Value = serde_json::from_slice(&crawl.stdout).unwrap();
    let listings = report["job"]["counters"]["listings_new"].as_u64().unwrap();
    assert!(listings > 30, "{report}");
    assert_eq!(report["job"]["status"], "completed");

    let jsonl = spotcheck(&["--data-dir", data, "listings", "export", "--format", "jsonl"]);
    assert!(jsonl.status.success());
    let lines: Vec<serde_json::Value> = text(&jsonl.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, listings);
    assert!(lines.iter().all(|l| l["capture_id"].as_str().is_some_and(|c| c.len() == 64)));

    let csv_path = dir.path().join("out.csv");
    let csv =
        spotcheck(&["--data-dir", data, "listings", "export", "--format", "csv", "--out", csv_path.to_str().unwrap()]);
    assert!(csv.status.success());
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(&reader.headers().unwrap()[0], "platform");
    assert_eq!(reader.records().count() as u64, listings);
}

#[test]
fn a_bad_plan_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, "adapter = \"sample-mall\"\nseeds = [\"http://127.0.0.1:1/\"]\nmax_pagez = 3\n").unwrap();
    let out = spotcheck(&["--data-dir", dir.path().to_str().unwrap(), "crawl", "--plan", plan.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("plan.toml") && err.contains("max_pagez"), "{err}");
}

#[test]
fn demo_runs_the_whole_loop_and_reports_success() {
    let dir = tempfile::tempdir().unwrap();
    // The default size: price baselines need ≥ 20 comparable listings per class.
    let out = spotcheck(&["--data-dir", dir.path().to_str().unwrap(), "demo", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["listings_expected"], 2000);
    assert_eq!(summary["listings_matching_truth"], 2000);
    assert_eq!(summary["jobs"].as_array().unwrap().len(), 2);
    // The demo flags what it crawled; every rule meets issue 4's bar against the planted violations.
    assert!(summary["findings"].as_u64().unwrap() > 0);
    let rules = summary["rules"].as_array().unwrap();
    assert!(rules.len() >= 16, "{rules:?}");
    for r in rules {
        assert!(r["precision"].as_f64().unwrap() >= 0.95 && r["recall"].as_f64().unwrap() >= 0.95, "{r}");
    }
    // Issue 7's loop: the marketplace, playing the platforms, delisted most notices,
    // disputed one and ignored one; verification saw each outcome for itself.
    let e = &summary["enforcement"];
    let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{k} in {e}"));
    assert!(n("cases") >= 3 && n("notices") >= n("cases"), "{e}");
    assert_eq!(n("webhooks_delivered"), n("notices"), "{e}");
    assert_eq!((n("disputes_recorded"), n("overdue"), n("not_effective"), n("relisted")), (1, 1, 1, 1), "{e}");
    assert_eq!(n("verified"), n("notices") - 2, "{e}");
    assert_eq!(e["ledger_ok"], true);
    // What the demo left behind reads back through the CLI.
    let data = dir.path().join("demo");
    let overdue = spotcheck(&["--data-dir", data.to_str().unwrap(), "notices", "list", "--overdue", "--json"]);
    assert!(overdue.status.success(), "{}", text(&overdue.stderr));
    let rows: Vec<serde_json::Value> =
        text(&overdue.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["follow_up"]["verdict"], "not_effective");
    assert!(rows[0]["status"]["disposition"].is_null() && !rows[0]["status"]["acknowledged_at"].is_null());
    let case = rows[0]["notice"]["case_id"].as_str().unwrap();
    let shown = spotcheck(&["--data-dir", data.to_str().unwrap(), "cases", "show", case, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let actions: Vec<&str> = shown["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for want in ["evidence bundle sealed", "notice issued", "notice overdue", "delisting not effective — escalated"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    // The demo ends with the 抽查结果 over the confirmed findings, and its 公示.
    let report = std::fs::read_to_string(data.join("report.html")).unwrap();
    let public = std::fs::read_to_string(data.join("report-public.html")).unwrap();
    assert!(report.contains("抽查结果") && report.contains("<svg") && !report.contains("<script"));
    assert!(public.contains("抽查结果公示") && !public.contains(case), "the 公示 names no case");
    // And a ready console log-in per role, written down for the people who will use it.
    let logins = summary["console"]["logins"].as_array().unwrap();
    let roles: Vec<&str> = logins.iter().map(|l| l["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["staff", "enforcement", "admin"]);
    let listed = spotcheck(&["--data-dir", data.to_str().unwrap(), "users", "list"]);
    let listed = text(&listed.stdout);
    for l in logins {
        assert!(listed.contains(l["name"].as_str().unwrap()), "{listed}");
        assert!(!listed.contains(l["password"].as_str().unwrap()), "users list shows no password");
    }
}

/// `demo --serve` ends by printing the console's address and a log-in that
/// works: the printed password signs in (a 303 to the dashboard with a
/// session cookie), a wrong one does not.
#[test]
fn demo_serve_prints_a_console_url_with_a_ready_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(["demo", "--listings", "300", "--pictures", "0", "--live-seconds", "0", "--no-enforcement"])
        .args(["--serve", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.by_ref().map(|l| l.unwrap()).find(|l| l.starts_with("console: ")).expect("a console line");
    // console: http://127.0.0.1:PORT/console/  log in: staff / PASSWORD  (Ctrl-C stops)
    let words: Vec<&str> = line.split_whitespace().collect();
    let (url, name, password) = (words[1], words[4], words[6]);
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/console/"), "{line}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sign_in = |password: &str| {
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let form = client.get(format!("{url}login")).send().await.unwrap().text().await.unwrap();
            let token = form.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            let answer = client
                .post(format!("{url}login"))
                .form(&[("name", name), ("password", password), ("_csrf", token.as_str()), ("next", "")])
                .send()
                .await
                .unwrap();
            let cookie = answer.headers().get_all("set-cookie").iter().any(|c| {
                c.to_str().unwrap().starts_with("spotcheck_console=") && !c.to_str().unwrap().contains("Max-Age=0")
            });
            (
                answer.status().as_u16(),
                answer.headers().get("location").map(|l| l.to_str().unwrap().to_string()),
                cookie,
            )
        })
    };
    assert_eq!(sign_in(password), (303, Some("/console/".to_string()), true));
    assert_eq!(sign_in("not-the-password").0, 401);
    let _ = child.kill();
    let _ = child.wait();
}
