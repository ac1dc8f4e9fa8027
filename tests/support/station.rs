//! A station's data directory as the tests see it from outside: the real
//! binary run on it, and the checks every crash test makes afterwards (the
//! ledger verifies with its artifacts, committed listings rest on sealed
//! captures, exports counted). Shared by tests/evidence_crash.rs,
//! tests/crash_loop.rs and tests/disk_faults.rs
//! (`#[path = "support/station.rs"] mod station;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use evidence::ledger::EntryKind;
use spotcheck::store::Store;

/// The real binary with `--data-dir DATA`.
pub fn spotcheck(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spotcheck"));
    // The test marketplace is on loopback: allowed explicitly (a caller may narrow it to its port).
    c.env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1");
    c.arg("--data-dir").arg(data);
    c
}

/// Asserts the command succeeded; returns its stdout.
pub fn ok(output: Output) -> String {
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
pub fn ledger_verifies(data: &Path) -> serde_json::Value {
    let out = ok(spotcheck(data).args(["evidence", "ledger", "verify", "--artifacts", "--json"]).output().unwrap());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    report
}

/// Ledger entries of each kind, and the subjects recorded more than once per kind.
#[derive(Debug, Default)]
pub struct Census {
    pub kinds: HashMap<String, usize>,
    pub repeated: Vec<(String, String)>,
}

impl Census {
    pub fn of(store: &Store) -> Census {
        let ledger = store.ledger();
        let mut census = Census::default();
        let mut seen = std::collections::HashSet::new();
        for seq in 0..ledger.len().unwrap() {
            let entry = ledger.entry(seq).unwrap();
            let kind = format!("{:?}", entry.kind);
            *census.kinds.entry(kind.clone()).or_default() += 1;
            // Custody entries may name a subject again (sealed, exported …); the others may not.
            if entry.kind != EntryKind::Custody && !seen.insert((kind.clone(), entry.subject.clone())) {
                census.repeated.push((kind, entry.subject));
            }
        }
        census
    }

    pub fn count(&self, kind: EntryKind) -> usize {
        self.kinds.get(&format!("{kind:?}")).copied().unwrap_or(0)
    }
}

/// Ledger entries recording an export.
pub fn exports(data: &Path) -> usize {
    let store = Store::open(&data.join("db")).unwrap();
    Census::of(&store).count(EntryKind::Export)
}

/// Every stored listing's capture has a capture entry in the ledger; returns the listings.
pub fn all_listings_sealed(store: &Store) -> usize {
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

/// Every file under the blob store's `sha256/` directory whose name is a
/// digest holds exactly the bytes of that digest: no half-written blob under
/// its name. Returns how many blobs were checked.
pub fn blobs_rehash(blobs: &Path) -> usize {
    let mut checked = 0;
    let Ok(fan) = std::fs::read_dir(blobs.join("sha256")) else { return 0 };
    for dir in fan {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            // `sha256/ab/cdef…`: the fan-out directory holds the first two hex digits.
            let name = format!(
                "{}{}",
                dir.file_name().unwrap().to_string_lossy(),
                path.file_name().unwrap().to_string_lossy()
            );
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue; // a temporary file: not under a blob's name
            }
            let actual = evidence::Digest::of(&std::fs::read(&path).unwrap()).to_hex();
            assert_eq!(actual, name, "`{}` does not hold the bytes its name says", path.display());
            checked += 1;
        }
    }
    checked
}

/// Crawls the sample marketplace's mall at `entry` (a loopback server at
/// `host_port`) to the end.
pub fn crawl_mall(data: &Path, host_port: &str, entry: &str) {
    let mut crawl = spotcheck(data);
    crawl.env("SPOTCHECK_ALLOW_HOSTS", host_port);
    crawl.args(["crawl", "--adapter", "sample-mall", "--seed-url", entry, "--no-politeness"]);
    ok(crawl.output().unwrap());
}

/// `spotcheck flag` on a fixed evaluation date.
pub fn flag(data: &Path) -> Command {
    let mut c = spotcheck(data);
    c.args(["flag", "--today", "2026-06-01"]);
    c
}

/// [`crawl_mall`], then flags what was stored: a station with findings.
pub fn crawl_and_flag(data: &Path, host_port: &str, entry: &str) {
    crawl_mall(data, host_port, entry);
    ok(flag(data).output().unwrap());
}

/// The ids of the first `n` findings of the station.
pub fn some_findings(data: &Path, n: usize) -> Vec<String> {
    let out = ok(spotcheck(data).args(["evidence", "findings", "--json"]).output().unwrap());
    out.lines()
        .take(n)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

/// `evidence bundle` of `findings` to `out` (no PDF, no pictures).
pub fn bundle(data: &Path, out: &Path, findings: &[String]) -> Command {
    let mut c = spotcheck(data);
    c.args(["evidence", "bundle", "--pdf", "never", "--pictures", "never", "--out"]).arg(out);
    for f in findings {
        c.args(["--finding", f]);
    }
    c
}

/// The bundle at `path` passes the reference verifier.
pub fn bundle_verifies(path: &Path) {
    let report = evidence::bundle::verify_bundle(&std::fs::read(path).unwrap(), &Default::default());
    assert!(report.ok(), "`{}` does not verify: {}", path.display(), serde_json::to_string(&report).unwrap());
}
