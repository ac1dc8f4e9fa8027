//! The spot-check result report on a real in-process crawl of the sample
//! marketplace: staff confirm some findings and dismiss one, and the report's
//! numbers, CSV, HTML and public version are checked against those decisions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Utc;
use spotcheck::config::{DataDir, Identity};
use spotcheck::findings::{FindingStore, Status};
use spotcheck::market::{Market, MarketConfig};
use spotcheck::reports::{self, csv_rows, html, percent, PublicReport, Scope, SpotCheckReport, RISK_SIGNALS};
use spotcheck::store::Store;

const STAFF: &str = "王伟";

/// A crawled and scored market with some findings confirmed and one dismissed.
struct Checked {
    _tmp: tempfile::TempDir,
    data: DataDir,
    store: Store,
    findings: FindingStore,
    confirmed: Vec<String>,
    dismissed: String,
    open: Vec<String>,
    captures: BTreeSet<String>,
}

async fn checked() -> Checked {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("data"));
    let identity = Identity { station: "test-station".into(), operators: vec![STAFF.into()] };
    let market = Arc::new(Market::new(MarketConfig { seed: 7, listings: 300, count_hits: false }));
    let store = Store::open(&data.db()).unwrap();
    let blobs = evidence::BlobStore::open(data.blobs()).unwrap();
    let (base, _server, _) =
        spotcheck::cli::demo::crawl_market(&market, &store, &blobs, 8, true, "plan-1", &identity).await.unwrap();
    let listings: Vec<_> = store.latest_listings().collect::<Result<_, _>>().unwrap();
    let shops: Vec<_> = store.latest_shops().collect::<Result<_, _>>().unwrap();
    let rules = spotcheck::rules::RuleSet::builtin().unwrap();
    let scored = spotcheck::rules::score::score(&rules, &market, &base, &listings, &shops).unwrap();
    let findings = FindingStore::open(&store).unwrap();
    findings.record(&scored.found).unwrap();
    let ids: Vec<String> = findings.all().map(|f| f.unwrap().id).collect();
    assert!(ids.len() > 20, "the market yields too few findings: {}", ids.len());
    let mut confirmed: Vec<String> = ids.iter().step_by(2).take(15).cloned().collect();
    let signal = findings
        .all()
        .map(|f| f.unwrap())
        .find(|f| f.rule == "price.clearly_low" && !confirmed.contains(&f.id) && f.id != ids[1])
        .expect("the market has clearly-low prices");
    confirmed.push(signal.id);
    for id in &confirmed {
        findings.set_status(id, Status::Confirmed, STAFF, "复核属实", Utc::now()).unwrap();
    }
    let dismissed = ids[1].clone();
    findings.set_status(&dismissed, Status::Dismissed, STAFF, "误报：页面已标注3C证书", Utc::now()).unwrap();
    let open: Vec<String> = ids.iter().filter(|id| !confirmed.contains(id) && **id != dismissed).cloned().collect();
    let captures = listings.iter().filter_map(|l| l.capture_id.clone()).collect();
    Checked { _tmp: tmp, data, store, findings, confirmed, dismissed, open, captures }
}

fn catalogue() -> spotcheck::rules::reference::Catalogue {
    spotcheck::rules::RuleSet::builtin().unwrap().reference.catalogue
}

fn hostile(report: &mut SpotCheckReport) {
    let first = report.failing_listings.first_mut().unwrap();
    first.title = Some("<script>alert(1)</script>\u{202E}gnp.exe\u{0007}".into());
    first.shop_name = Some("\"><img src=x onerror=alert(2)>".into());
    first.brand = Some("=HYPERLINK(\"http://evil.example\")".into());
}

#[tokio::test]
async fn report_counts_what_staff_confirmed() {
    let c = checked().await;
    let report = reports::build(&c.store, &c.findings, &Scope::All, &catalogue()).unwrap();

    // Expected, from the decisions made.
    let records: BTreeMap<String, _> = c.findings.all().map(|f| f.unwrap()).map(|f| (f.id.clone(), f)).collect();
    let failures: Vec<&String> =
        c.confirmed.iter().filter(|id| !RISK_SIGNALS.contains(&records[*id].rule.as_str())).collect();
    let failing: BTreeSet<&str> = failures.iter().map(|id| records[*id].listing.as_str()).collect();
    let mut per_rule: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for id in &failures {
        per_rule.entry(records[*id].rule.as_str()).or_default().insert(records[*id].listing.as_str());
    }
    assert_eq!(report.sampled, c.store.listing_count() as u64);
    assert_eq!(report.failing, failing.len() as u64);
    assert_eq!(report.failure_rate, percent(failing.len() as u64, report.sampled));
    assert_eq!(report.review.confirmed_findings, c.confirmed.len() as u64);
    assert_eq!(report.review.confirmed_risk_signals, (c.confirmed.len() - failures.len()) as u64);
    assert!(report.review.confirmed_risk_signals > 0, "a confirmed risk signal is not a failure");
    assert!(failing.len() > 3, "enough failures to check: {failing:?}");
    assert_eq!(report.review.dismissed_findings, 1);
    assert_eq!(report.review.open_findings, c.open.len() as u64);
    let listed: BTreeSet<String> =
        report.failing_listings.iter().map(|l| format!("{}/{}", l.platform, l.item_id)).collect();
    assert_eq!(listed, failing.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
    let got_rules: BTreeMap<&str, u64> = report.by_rule.iter().map(|b| (b.key.as_str(), b.failing)).collect();
    let want_rules: BTreeMap<&str, u64> = per_rule.iter().map(|(r, l)| (*r, l.len() as u64)).collect();
    assert_eq!(got_rules, want_rules);
    for group in [&report.by_class, &report.by_platform] {
        assert_eq!(group.iter().map(|b| b.sampled).sum::<u64>(), report.sampled);
        assert_eq!(group.iter().map(|b| b.failing).sum::<u64>(), report.failing);
        for b in group {
            assert_eq!(b.rate, percent(b.failing, b.sampled), "{b:?}");
        }
    }
    // The dismissed finding's listing fails only if another of its findings was confirmed.
    let dismissed_listing = records[&c.dismissed].listing.as_str();
    assert_eq!(listed.contains(dismissed_listing), failing.contains(dismissed_listing));
    let with_uscc = report.failing_listings.iter().filter(|l| l.uscc.is_some()).count();
    assert!(with_uscc > 0, "the failing listings name their shops' USCC");
    assert!(report.failing_listings.iter().filter(|l| l.uscc.is_some()).all(|l| l.region_code.is_some()));
    assert!(report.by_class.len() > 1, "listings are classified by the catalogue: {:?}", report.by_class);
    for l in &report.failing_listings {
        assert!(!l.finding_ids.is_empty() && l.finding_ids.iter().all(|id| failures.contains(&id)), "{l:?}");
        assert!(l.rules.iter().all(|r| !RISK_SIGNALS.contains(&r.rule.as_str())), "{l:?}");
    }

    // JSON round-trips.
    let json = serde_json::to_string(&report).unwrap();
    let back: SpotCheckReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);

    // CSV parses back to the same rows.
    let csv = csv_rows::render(&report).unwrap();
    assert!(csv.starts_with("平台,商品编号,"), "{csv}");
    let rows: Vec<csv_rows::ListingRow> =
        csv::Reader::from_reader(csv.as_bytes()).deserialize().collect::<Result<_, _>>().unwrap();
    let want: Vec<csv_rows::ListingRow> = report.failing_listings.iter().map(csv_rows::ListingRow::from).collect();
    assert_eq!(rows, want);

    // HTML: charts, labels, no scripts.
    let page = html::render(&report);
    assert_eq!(page.matches("<svg").count(), 3, "one chart per class, platform and rule");
    for label in [
        "抽查结果",
        "抽查数量",
        "不合格数量",
        "不合格率",
        "产品类别",
        "平台",
        "规则",
        "店铺",
        "统一社会信用代码",
        "地区",
    ] {
        assert!(page.contains(label), "the report shows {label}");
    }
    assert!(!page.to_lowercase().contains("<script"));
    assert!(page.contains(&reports::percent_text(report.failure_rate)));
}

#[tokio::test]
async fn hostile_strings_render_as_text_and_public_version_has_no_internals() {
    let c = checked().await;
    let mut report = reports::build(&c.store, &c.findings, &Scope::All, &catalogue()).unwrap();
    hostile(&mut report);
    let page = html::render(&report);
    assert!(!page.to_lowercase().contains("<script"), "a title's <script> is escaped");
    assert!(!page.contains("<img"), "a shop name's markup is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("U+202E") && page.contains("U+0007"), "bidi and control characters are shown");
    assert!(!page.contains('\u{202E}') && !page.contains('\u{0007}'));

    let public = PublicReport::from(&report);
    assert_eq!(
        (public.sampled, public.failing, public.failure_rate),
        (report.sampled, report.failing, report.failure_rate)
    );
    assert_eq!(public.items.len(), report.failing_listings.len());
    let json = serde_json::to_string(&public).unwrap();
    let csv = csv_rows::render_public(&public).unwrap();
    let page = html::render_public(&public);
    assert!(page.contains("抽查结果公示") && page.matches("<svg").count() == 3);
    assert!(!page.to_lowercase().contains("<script") && !page.contains("<img"));
    let internal_ids = c.confirmed.iter().chain(&c.open).chain([&c.dismissed]).chain(&c.captures);
    let internal_rule_ids = report.by_rule.iter().map(|b| &b.key);
    for (name, text) in [("JSON", &json), ("CSV", &csv), ("HTML", &page)] {
        for id in internal_ids.clone() {
            assert!(!text.contains(id.as_str()), "public {name} leaks {id}");
        }
        for rule in internal_rule_ids.clone() {
            assert!(
                !text.contains(&format!("（{rule}）")) && !text.contains(&format!("\"{rule}\"")),
                "public {name} leaks rule id {rule}"
            );
        }
        for word in [STAFF, "finding", "capture", "open", "dismiss", "review", "plan-1", "待复核", "发现编号", "region"]
        {
            assert!(!text.contains(word), "public {name} shows internal `{word}`");
        }
        for l in &report.failing_listings {
            assert!(!text.contains(&l.url), "public {name} leaks the item URL {}", l.url);
        }
    }
    let rows: Vec<csv_rows::PublicRow> =
        csv::Reader::from_reader(csv.as_bytes()).deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), public.items.len());
    assert!(rows[0].brand.starts_with("'="), "a formula stays text in the CSV: {}", rows[0].brand);
    assert!(rows.iter().all(|r| r.result == "不合格"));
}

#[tokio::test]
async fn job_and_plan_scopes_partition_the_crawl() {
    let c = checked().await;
    let all = reports::build(&c.store, &c.findings, &Scope::All, &catalogue()).unwrap();
    let plan = reports::build(&c.store, &c.findings, &Scope::Plan("plan-1".into()), &catalogue()).unwrap();
    assert_eq!((plan.sampled, plan.failing), (all.sampled, all.failing));
    let jobs = c.store.jobs().unwrap();
    assert!(jobs.len() > 1, "one job per platform");
    let (mut sampled, mut failing) = (0, 0);
    for job in &jobs {
        let r = reports::build(&c.store, &c.findings, &Scope::Job(job.id.clone()), &catalogue()).unwrap();
        assert_eq!(r.scope.id.as_deref(), Some(job.id.as_str()));
        sampled += r.sampled;
        failing += r.failing;
    }
    assert_eq!((sampled, failing), (all.sampled, all.failing), "sequential jobs split the listings");
    assert!(reports::build(&c.store, &c.findings, &Scope::Plan("no-such-plan".into()), &catalogue()).is_err());
    assert!(reports::build(&c.store, &c.findings, &Scope::Job("no-such-job".into()), &catalogue()).is_err());
}

#[tokio::test]
async fn the_report_command_writes_the_public_notice() {
    let c = checked().await;
    let report = reports::build(&c.store, &c.findings, &Scope::All, &catalogue()).unwrap();
    let Checked { _tmp, data, store, findings, .. } = c;
    store.flush().unwrap();
    drop((findings, store));
    let out = data.root().join("公示.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck"))
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .arg("--data-dir")
        .arg(data.root())
        .args(["report", "--public", "--format", "json", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let public: PublicReport = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let want = PublicReport::from(&report);
    assert_eq!((public.sampled, public.failing, &public.items), (want.sampled, want.failing, &want.items));
}
