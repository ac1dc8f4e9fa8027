//! The console driven in a real headless Chromium against the sample
//! marketplace: a supervisor signs in, plans a spot check and runs it,
//! watches its progress, confirms a finding with its evidence beside it,
//! opens the case, has its evidence bundle sealed, downloads and verifies
//! it, and reads the report; an enforcement officer sees only their bureau;
//! a listing whose seller typed markup into the title shows as text and runs
//! nothing. Each step's screenshot is kept under
//! `target/tmp/console-screens/` for review (not committed).
//!
//! Chromium is required (scripts/test.sh installs it): without it these tests
//! fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure here is a failed test

#[path = "support/console_driver.rs"]
mod console_driver;

use console_driver::{browser, Page, Station};

#[test]
fn a_supervisor_signs_in_and_an_unknown_password_does_not() {
    let station = Station::start();
    let browser = browser();
    let mut page = Page::new(&browser, "sign-in");
    page.goto(&station.url(""));
    assert!(page.url().contains("/console/login?next="), "not sent to log in: {}", page.url());
    page.shot("login");
    page.fill("#name", "staff");
    page.fill("#password", "not the password");
    page.click_to("form button[type=submit]", "/console/login");
    page.wait_text("账号或密码错误");
    page.shot("wrong-password");
    page.fill("#password", &station.staff_password);
    page.click_to("form button[type=submit]", "/console/");
    page.wait_signed_in();
    assert_eq!(page.url(), station.url(""), "a supervisor lands on the dashboard: {}", page.text());
    let text = page.text();
    assert!(text.contains("张伟（网监）") && text.contains("监管人员"), "the header names who is signed in:\n{text}");
    page.shot("dashboard");
    page.click_to("header form button", "/console/login");
    page.goto(&station.url(""));
    assert!(page.url().contains("/console/login"), "the session ended with sign-out: {}", page.url());
}

/// The whole spot check in the browser: plan it, run it, watch it, triage
/// a finding with its evidence, open the case, seal and download its bundle
/// (verified here, offline), and read the report of the run.
#[test]
fn a_supervisor_plans_runs_triages_and_reports_in_the_browser() {
    let station = Station::start();
    let browser = browser();
    let mut page = Page::new(&browser, "spot-check");
    page.sign_in(&station, "staff", &station.staff_password);
    page.shot("dashboard");

    // Plan: both sample platforms, the 双11 campaign, every listing drawn
    // (a census, so the hostile seller's listing is among them), slowed to
    // 40 requests a second so its progress can be watched.
    page.goto(&station.url("plans/new"));
    page.fill("#id", "e2e-double11");
    page.fill("#title", "双11 浏览器测试计划 <script>window.__xss=9</script>");
    page.click("input[name=platform][value=sample-mall]");
    page.click("input[name=platform][value=sample-duo]");
    page.set("#seed_urls", &format!("{0}mall/\n{0}duo/", station.market));
    page.fill("#sample_size", "300");
    page.set("#weighting", "risk");
    page.fill("#campaign", "双11");
    page.fill("#rate", "40");
    page.fill("#concurrency", "4");
    page.shot("plan-form");
    page.click_to("button[name=action][value=form]", "/console/plans/e2e-double11");
    assert!(page.url().ends_with("/console/plans/e2e-double11"), "saved plan page: {} {}", page.url(), page.text());
    assert!(station.data.join("plans/e2e-double11.toml").exists(), "the plan file was written");
    let text = page.text();
    assert!(text.contains("<script>window.__xss=9</script>"), "the title shows as text:\n{text}");
    page.shot("plan");

    // Run it now and watch: the live panel polls and its bars move.
    page.eval("window.confirm = () => true"); // the run button asks first
    page.click_to("form[action$='/run'] button[type=submit]", "/console/plans/e2e-double11/runs/");
    assert!(page.url().contains("/console/plans/e2e-double11/runs/"), "run page: {}", page.url());
    page.wait_js(
        "live progress polled with pages counted",
        "document.querySelector('[data-live]') !== null && Number(document.querySelector('[data-live]').getAttribute('data-polled') || 0) >= 1 \
         && Array.from(document.querySelectorAll('[data-live] progress')).some(p => p.value > 0)",
    );
    page.shot("run-progress");
    let text = page.wait_text("查看抽查结果");
    assert!(text.contains("全数抽取"), "a census says so:\n{text}");
    assert!(text.contains("300 / 300") || text.contains("/ 300"), "drawn of the size:\n{text}");
    page.shot("run-done");
    assert_eq!(page.eval("window.__xss === undefined"), serde_json::Value::Bool(true), "no planted script ran");

    // The run's report.
    page.click_to("a[href^='/console/reports?scope=run:']", "/console/reports");
    let text = page.wait_text("抽查结果");
    assert!(text.contains("300"), "the run's report counts its sample:\n{text}");
    page.shot("report");

    // Triage: the hostile seller's listing was drawn and flagged; its finding
    // shows the title as text, with the evidence beside it.
    page.goto(&station.url("findings?status=open"));
    page.shot("findings");
    let hostile = "(Array.from(document.querySelectorAll('tbody tr')).find(tr => (tr.textContent + Array.from(tr.querySelectorAll('[title]')).map(e => e.title).join(' ')).includes('<script>window.__xss=1')) || { querySelector: () => undefined }).querySelector(\"a[href^='/console/findings/']\")";
    loop {
        if page.eval(&format!("{hostile} !== undefined")) == serde_json::Value::Bool(true) {
            break;
        }
        let next = page.eval(
            "(Array.from(document.querySelectorAll('a')).find(a => a.textContent === '下一页') || {}).href || ''",
        );
        let next = next.as_str().unwrap_or_default().to_string();
        assert!(!next.is_empty(), "the hostile listing's finding is on no page of open findings");
        page.goto(&next);
    }
    page.eval(&format!("{hostile}.setAttribute('id', 'hostile-finding')"));
    page.click_to("#hostile-finding", "/console/findings/");
    let text = page.wait_text("<script>window.__xss=1</script>");
    assert!(
        text.contains("<script>window.__xss=1</script>"),
        "the hostile title shows as text:\n{}",
        &text[..text.len().min(3000)]
    );
    assert_eq!(page.eval("window.__xss === undefined"), serde_json::Value::Bool(true), "nothing the seller typed ran");
    assert_eq!(
        page.eval("document.querySelectorAll('img[src=x]').length"),
        serde_json::json!(0),
        "no element from the title"
    );
    assert!(text.contains("SHA-256"), "the capture's hashes are shown:\n{}", &text[..text.len().min(3000)]);
    page.shot("finding-hostile");
    page.set("form[action$='/confirm'] textarea[name=note]", "浏览器测试确认");
    page.click_to("form[action$='/confirm'] button[type=submit]", "/console/findings/");
    page.wait_text("已并入案件");
    page.shot("finding-confirmed");

    // The case: seal its bundle, download it, verify it here.
    page.click_to("a[href^='/console/cases/']", "/console/cases/");
    assert!(page.url().contains("/console/cases/"), "case page: {}", page.url());
    let case_url = page.url();
    page.shot("case");
    page.click_to("form[action$='/bundle'] button[type=submit]", "/console/cases/");
    let text = page.wait_text(".wacz");
    page.shot("case-sealed");
    let downloads = station.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    page.tab
        .call_method(headless_chrome::protocol::cdp::Browser::SetDownloadBehavior {
            behavior: headless_chrome::protocol::cdp::Browser::SetDownloadBehaviorBehaviorOption::Allow,
            browser_context_id: None,
            download_path: Some(downloads.to_str().unwrap().to_string()),
            events_enabled: None,
        })
        .unwrap();
    page.click("a[href^='/console/bundles/']");
    let bundle = console_driver::wait_for_file(&downloads, "wacz");
    let bytes = std::fs::read(&bundle).unwrap();
    let sha = sha256_hex(&bytes);
    assert!(text.contains(&sha), "the page shows the downloaded bundle's SHA-256 {sha}:\n{text}");
    let report = evidence::bundle::verify_bundle(&bytes, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "the downloaded bundle verifies: {:?}", report.failures().collect::<Vec<_>>());

    // The other sections render for staff (kept for layout review).
    for (path, name, needle) in [
        ("notices", "notices", "下架通知"),
        ("shops", "shops", "店铺"),
        ("plans", "plans", "e2e-double11"),
        ("", "dashboard-after", "总览"),
    ] {
        page.goto(&station.url(path));
        page.wait_text(needle);
        page.shot(name);
    }

    // An enforcement officer: no supervision pages; a case outside their bureau is not there.
    let officer_browser = console_driver::browser();
    let mut officer = Page::new(&officer_browser, "enforcement");
    officer.sign_in(&station, "zhifa", &station.enforcement_password);
    assert!(officer.url().ends_with("/console/cases"), "enforcement lands on cases: {}", officer.url());
    officer.shot("cases");
    officer.goto(&station.url("findings"));
    officer.wait_text("无权访问");
    officer.goto(&case_url);
    let ours = text.contains("330100");
    officer.wait_text(if ours { "案件" } else { "未找到" });
    officer.shot("case-of-another-bureau");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
