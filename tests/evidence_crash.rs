//! Crash safety of the evidence: a station killed with SIGKILL while capturing
//! or while sealing a bundle leaves a ledger that verifies, no artifact the
//! ledger names missing or altered, and no half-written bundle under its name.
//!
//! The kills land at named failpoints (`SPOTCHECK_FAILPOINT`): the process says
//! on stderr that it reached the point and waits, and the test kills it there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use evidence::ledger::EntryKind;

#[path = "../evidence/tests/support/tsa.rs"]
mod tsa;
use spotcheck::market::{self, Market, MarketConfig};
use spotcheck::store::Store;

fn spotcheck(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spotcheck"));
    // The test marketplace is on loopback: allowed explicitly.
    c.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1");
    c.arg("--data-dir").arg(data);
    c
}

/// Runs `command` until it reports reaching `failpoint`, then kills it with SIGKILL.
fn kill_at(mut command: Command, failpoint: &str) {
    let name = failpoint.split('@').next().unwrap_or(failpoint);
    command.env("SPOTCHECK_FAILPOINT", failpoint).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let wanted = format!("failpoint {name} reached");
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line == wanted {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return;
        }
        seen.push(line);
    }
    let status = child.wait().unwrap();
    panic!("the process ended ({status}) without reaching `{failpoint}`: {}", seen.join("\n"));
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `evidence ledger verify --artifacts --json` passes; returns its report.
fn ledger_verifies(data: &Path) -> serde_json::Value {
    let out = ok(spotcheck(data).args(["evidence", "ledger", "verify", "--artifacts", "--json"]).output().unwrap());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_killed_between_ledger_and_commit_leaves_a_verifiable_ledger_and_resumes() {
    let market = Arc::new(Market::new(MarketConfig { seed: 3, listings: 300, count_hits: false }));
    let (addr, _server) = market::serve(Arc::clone(&market), ([127, 0, 0, 1], 0).into()).await.unwrap();
    let base = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let entry = market.entry_urls(&base).into_iter().find(|(a, _)| a == "sample-mall").unwrap().1.to_string();
    let dir = tempfile::tempdir().unwrap();
    let crawl = || {
        let mut c = spotcheck(dir.path());
        c.args([
            "crawl",
            "--adapter",
            "sample-mall",
            "--seed-url",
            &entry,
            "--concurrency",
            "4",
            "--no-politeness",
            "--json",
        ]);
        c
    };
    let crawl_thread = crawl();
    // Killed after sealing the captures of the 5th batch, before committing its pages.
    tokio::task::spawn_blocking(move || kill_at(crawl_thread, "crawl-after-ledger-append@5")).await.unwrap();

    // Whatever survived verifies, and every committed page rests on a sealed capture.
    ledger_verifies(dir.path());
    {
        let store = Store::open(&dir.path().join("db")).unwrap();
        let job = &store.jobs().unwrap()[0];
        let sealed = store.ledger().len().unwrap();
        assert!(job.counters.pages > 0, "batches before the kill were committed");
        assert!(
            job.counters.pages <= sealed,
            "{} pages committed but only {sealed} captures sealed",
            job.counters.pages
        );
        all_listings_sealed(&store);
    }

    // The same command resumes; afterwards every stored listing's capture is sealed.
    let out = ok(crawl().stdin(Stdio::null()).output().unwrap());
    let resumed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resumed["resumed"], true);
    ledger_verifies(dir.path());
    let store = Store::open(&dir.path().join("db")).unwrap();
    let listings = all_listings_sealed(&store);
    assert_eq!(listings, market.truth(&base).filter(|t| t.listing.platform == "sample-mall").count());
}

/// Every stored listing's capture has a capture entry in the ledger; returns the listings.
fn all_listings_sealed(store: &Store) -> usize {
    let mut listings = 0;
    for listing in store.latest_listings() {
        let listing = listing.unwrap();
        let capture = listing.capture_id.clone().unwrap();
        let about = store.ledger().entries_about(&capture).unwrap();
        assert!(
            about.iter().any(|seq| store.ledger().entry(*seq).unwrap().kind == EntryKind::Capture),
            "{} rests on capture {capture}, which is not in the ledger",
            listing.key()
        );
        listings += 1;
    }
    listings
}

/// A demo station (crawled, flagged, sealed) in a temporary directory.
fn demo_station(root: &Path) -> std::path::PathBuf {
    // A small demo may miss its score bar; only its station matters here.
    let out = spotcheck(root)
        .args(["demo", "--listings", "200", "--pictures", "0", "--no-enforcement", "--json"])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["sealed"]["findings_sealed"].as_u64().unwrap() > 0, "{summary}");
    root.join("demo")
}

fn some_findings(data: &Path, n: usize) -> Vec<String> {
    let out = ok(spotcheck(data).args(["evidence", "findings", "--json"]).output().unwrap());
    out.lines()
        .take(n)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_bundle_killed_while_sealing_leaves_no_bundle_and_a_verifiable_ledger() {
    let root = tempfile::tempdir().unwrap();
    let data = demo_station(root.path());
    let findings = some_findings(&data, 5);
    let out = root.path().join("case.wacz");
    let bundle = || {
        let mut c = spotcheck(&data);
        c.args(["evidence", "bundle", "--pdf", "never", "--pictures", "never", "--out"]).arg(&out);
        for f in &findings {
            c.args(["--finding", f]);
        }
        c
    };
    let exports_before = exports(&data);
    for failpoint in ["seal-after-custody", "bundle-before-rename"] {
        kill_at(bundle(), failpoint);
        assert!(!out.exists(), "killed at {failpoint}: no bundle may appear under its name");
        ledger_verifies(&data);
        assert_eq!(exports(&data), exports_before, "killed at {failpoint}: no export was recorded");
    }
    // Run again: the bundle is written, recorded and verifies.
    ok(bundle().stdin(Stdio::null()).output().unwrap());
    assert!(out.exists());
    let verdict =
        ok(Command::new(env!("CARGO_BIN_EXE_spotcheck")).args(["evidence", "verify"]).arg(&out).output().unwrap());
    assert!(verdict.contains("VERIFIED"), "{verdict}");
    assert_eq!(exports(&data), exports_before + 1, "the finished bundle's export is recorded once");
    ledger_verifies(&data);
}

#[test]
fn notices_killed_after_the_bundle_are_issued_on_the_rerun_over_a_bundle_that_verifies() {
    let root = tempfile::tempdir().unwrap();
    let data = demo_station(root.path());
    let finding = some_findings(&data, 1).remove(0);
    ok(spotcheck(&data).args(["findings", "confirm", &finding]).output().unwrap());
    let case = serde_json::from_str::<serde_json::Value>(&ok(spotcheck(&data)
        .args(["findings", "show", &finding])
        .output()
        .unwrap()))
    .unwrap()["case"]
        .as_str()
        .unwrap()
        .to_string();
    let issue = || {
        let mut c = spotcheck(&data);
        c.args(["notices", "issue", "--case", &case, "--pdf", "never", "--json"]);
        c
    };
    let notices = || ok(spotcheck(&data).args(["notices", "list", "--json"]).output().unwrap());
    kill_at(issue(), "notify-after-bundle");
    assert_eq!(notices(), "", "killed before any notice: none exists");
    ledger_verifies(&data);

    // The rerun seals a fresh bundle and issues the notice over it.
    let issued: serde_json::Value = serde_json::from_str(&ok(issue().stdin(Stdio::null()).output().unwrap())).unwrap();
    let bundle = std::path::PathBuf::from(issued["bundle"]["path"].as_str().unwrap());
    let sha = evidence::Digest::of(&std::fs::read(&bundle).unwrap()).to_hex();
    let ids: Vec<&str> = issued["notices"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(!ids.is_empty());
    for n in issued["notices"].as_array().unwrap() {
        assert_eq!(n["evidence_sha256"], sha.as_str(), "the notice names the bundle that exists");
    }
    let verdict =
        ok(Command::new(env!("CARGO_BIN_EXE_spotcheck")).args(["evidence", "verify"]).arg(&bundle).output().unwrap());
    assert!(verdict.contains("VERIFIED"), "{verdict}");
    // A third run issues nothing new and seals nothing.
    let again: serde_json::Value = serde_json::from_str(&ok(issue().stdin(Stdio::null()).output().unwrap())).unwrap();
    assert!(again["bundle"].is_null());
    assert_eq!(again["already"], ids.len());
    assert_eq!(notices().lines().count(), ids.len());
    ledger_verifies(&data);
}

/// Ledger entries recording an export.
fn exports(data: &Path) -> usize {
    let store = Store::open(&data.join("db")).unwrap();
    let ledger = store.ledger();
    (0..ledger.len().unwrap()).filter(|s| ledger.entry(*s).unwrap().kind == EntryKind::Export).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_with_a_tsa_ends_with_a_timestamped_checkpoint() {
    let authority = tsa::TestTsa::start(tsa::KeyKind::EcP256);
    let market = Arc::new(Market::new(MarketConfig { seed: 5, listings: 40, count_hits: false }));
    let (addr, _server) = market::serve(Arc::clone(&market), ([127, 0, 0, 1], 0).into()).await.unwrap();
    let base = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let entry = market.entry_urls(&base).into_iter().find(|(a, _)| a == "sample-duo").unwrap().1.to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut crawl = spotcheck(dir.path());
    crawl.args([
        "crawl",
        "--adapter",
        "sample-duo",
        "--seed-url",
        &entry,
        "--no-politeness",
        "--tsa-url",
        &authority.url,
    ]);
    let out = tokio::task::spawn_blocking(move || crawl.output().unwrap()).await.unwrap();
    let text = ok(out);
    assert!(text.contains("sealed: ledger checkpoint"), "{text}");
    let report = ledger_verifies(dir.path());
    assert_eq!(report["checkpoints"], 1, "{report}");
    assert_eq!(report["tokens"], 1, "the checkpoint was timestamped: {report}");

    // A second checkpoint over the same entries is the same one, not a new token.
    let again = ok(spotcheck(dir.path())
        .args(["evidence", "ledger", "checkpoint", "--tsa-url", &authority.url])
        .output()
        .unwrap());
    assert!(again.starts_with("spotcheck-checkpoint/1"), "{again}");
    assert_eq!(ledger_verifies(dir.path())["tokens"], 1);
}
