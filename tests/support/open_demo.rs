//! A `spotcheck demo` station stopped before its own triage (`--no-enforcement`),
//! so every finding is open and no notice exists: where the triage, case and
//! API tests start. Shared by tests/cases.rs and tests/api_staff.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the demo (300 listings, no browser) in a new temporary directory and
/// returns it with the demo's data directory (`<tmp>/demo`). The demo's own
/// exit status is not the point (at 300 listings a rule may miss its precision
/// bar); its data is.
pub fn open_findings_demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(["demo", "--listings", "300", "--pictures", "0", "--live-seconds", "0", "--no-enforcement"])
        .output()
        .unwrap();
    let data = dir.path().join("demo");
    assert!(data.join("db").exists(), "demo stored nothing: {}", String::from_utf8_lossy(&out.stderr));
    (dir, data)
}

/// Copies the directory `from` (a demo's data, or its `db`) to `to`, so each
/// test works on its own copy. Not every test file that shares this uses it.
#[allow(dead_code)]
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
