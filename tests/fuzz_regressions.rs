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

/// One test per target whose function takes the input alone.
macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), spotcheck::fuzzing::$target);
            }
        )*
    };
}

replay_tests!(
    adapter_file,
    rule_file,
    plan_file,
    html_extract,
    value_parsers,
    json_ld,
    bundle_verify,
    webhook_verify,
    api_body
);

#[test]
fn bundle_edit() {
    let report = evidence::bundle::verify_bundle(BUNDLE, &evidence::bundle::VerifyOptions::default());
    assert!(report.ok(), "the base bundle does not verify: {:?}", report.failures().collect::<Vec<_>>());
    replay("bundle_edit", |edits| spotcheck::fuzzing::bundle_edit(BUNDLE, edits));
}
