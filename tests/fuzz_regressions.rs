//! Replays every committed fuzz input through the same `spotcheck::fuzzing`
//! function its cargo-fuzz target calls: the seed corpora
//! (`fuzz/corpus/<target>/`) and every input that once crashed, hung or
//! broke an invariant (`fuzz/regressions/<target>/`). So a fixed crash
//! stays fixed in the ordinary `cargo test`, without cargo-fuzz or nightly.
//! See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed replay is a failed test

use std::path::{Path, PathBuf};
use std::time::Instant;

/// A valid sealed bundle, the base the `bundle_edit` target changes.
const BUNDLE: &[u8] = include_bytes!("../fuzz/seeds/bundle.wacz");

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { continue };
        files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

/// Runs `run` on every input of `target`, naming the file that fails.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for fuzz target `{target}`");
    let start = Instant::now();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
        assert!(outcome.is_ok(), "fuzz input `{}` fails again", file.display());
    }
    eprintln!("{target}: {} inputs in {:?}", files.len(), start.elapsed());
}

#[test]
fn adapter_file() {
    replay("adapter_file", spotcheck::fuzzing::adapter_file);
}

#[test]
fn rule_file() {
    replay("rule_file", spotcheck::fuzzing::rule_file);
}

#[test]
fn plan_file() {
    replay("plan_file", spotcheck::fuzzing::plan_file);
}

#[test]
fn html_extract() {
    replay("html_extract", spotcheck::fuzzing::html_extract);
}

#[test]
fn value_parsers() {
    replay("value_parsers", spotcheck::fuzzing::value_parsers);
}

#[test]
fn json_ld() {
    replay("json_ld", spotcheck::fuzzing::json_ld);
}

#[test]
fn bundle_verify() {
    replay("bundle_verify", spotcheck::fuzzing::bundle_verify);
}

#[test]
fn bundle_edit() {
    let report = evidence::bundle::verify_bundle(BUNDLE, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "the base bundle does not verify: {:?}", report.failures().collect::<Vec<_>>());
    replay("bundle_edit", |edits| spotcheck::fuzzing::bundle_edit(BUNDLE, edits));
}

#[test]
fn webhook_verify() {
    replay("webhook_verify", spotcheck::fuzzing::webhook_verify);
}

#[test]
fn api_body() {
    replay("api_body", spotcheck::fuzzing::api_body);
}
