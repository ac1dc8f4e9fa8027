//! Evidence bundles hold up: a bundle sealed by the real `spotcheck` binary
//! from a real demo station verifies with both verifiers and with ordinary
//! tools (unzip, warcio, wacz, sha256sum, openssl), and every alteration an
//! outsider or an insider holding the station key can make is caught by the
//! named check, without the verifier ever crashing or hanging.
//!
//! The demo station is built once per test binary (see `support/bundle.rs`);
//! commands that open its store are serialised, verification runs in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

#[path = "support/bundle.rs"]
mod bundle;
#[path = "../evidence/tests/support/tsa.rs"]
mod tsa;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bundle::{
    demo, exit_code, failures, files_of, find, get, get_mut, other_key, passed, printed, reseal, run_with_deadline,
    text, unbase64, verifier_bin, verify_json, write_zip,
};
use evidence::checkpoint::Checkpoint;
use evidence::Digest;
use serde_json::Value;

type Files = Vec<(String, Vec<u8>)>;

const DIGEST: &str = "datapackage-digest.json";
const DATAPACKAGE: &str = "datapackage.json";
const WARC: &str = "archive/data.warc";
const ENTRIES: &str = "spotcheck/ledger-entries.jsonl";
const FINDINGS: &str = "spotcheck/findings.json";
const MANIFEST: &str = "spotcheck/bundle.json";
const CHECKPOINT: &str = "spotcheck/checkpoint.txt";
const CHECKPOINT_SIG: &str = "spotcheck/checkpoint.sig";
const PUBLIC_KEY: &str = "spotcheck/station.pub.pem";

/// The checks a bundle without timestamp tokens must pass.
const CHECKS: [&str; 10] = [
    "package",
    "files",
    "datapackage-digest",
    "signature",
    "key",
    "checkpoint",
    "inclusion",
    "warc",
    "capture",
    "findings",
];

fn fresh() -> Vec<u8> {
    std::fs::read(&demo().bundle).expect("the fresh bundle")
}

/// Writes `bytes` to a new file in a fresh temporary directory.
fn file_with(bytes: &[u8], name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    (dir, path)
}

/// Verifies `bytes` with `evidence-verify --json [extra…]`.
fn verify_bytes(bytes: &[u8], extra: &[&str]) -> (i32, Value) {
    let (_dir, path) = file_with(bytes, "bundle.wacz");
    verify_json(&path, extra)
}

/// `spotcheck evidence verify [extra…] FILE` (it opens no station).
fn spotcheck_verify(file: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bundle::spotcheck_bin());
    cmd.arg("--data-dir").arg(&demo().data).args(["evidence", "verify"]).args(extra).arg(file);
    run_with_deadline(cmd, Duration::from_secs(60))
}

fn evidence_verify(file: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(verifier_bin());
    cmd.args(extra).arg(file);
    run_with_deadline(cmd, Duration::from_secs(60))
}

fn has(fails: &[(String, String)], check: &str, file: &str) -> bool {
    fails.iter().any(|(c, f)| c == check && f == file)
}

// ---------------------------------------------------------------------------
// 1. A fresh bundle verifies, with and without the pinned station key.

#[test]
fn a_fresh_bundle_verifies_with_both_verifiers_and_only_under_its_own_key() {
    let demo = demo();
    let wrong = other_key().public().fingerprint();
    for (name, run) in [
        ("spotcheck evidence verify", spotcheck_verify as fn(&Path, &[&str]) -> std::process::Output),
        ("evidence-verify", evidence_verify),
    ] {
        for extra in [vec![], vec!["--key", demo.fingerprint.as_str()]] {
            let out = run(&demo.bundle, &extra);
            assert_eq!(exit_code(&out.status, name), 0, "{name} {extra:?}:\n{}", printed(&out));
            let said = text(&out.stdout);
            assert!(said.contains("\nVERIFIED") && !said.contains("NOT VERIFIED"), "{name} {extra:?}:\n{said}");
            assert!(!said.contains("FAILED"), "{name} {extra:?}:\n{said}");
            if extra.is_empty() {
                assert!(said.contains("not pinned"), "an unpinned key is reported as such:\n{said}");
            } else {
                assert!(said.contains("the expected station key"), "{said}");
            }
        }
        let out = run(&demo.bundle, &["--key", &wrong]);
        assert_eq!(exit_code(&out.status, name), 1, "{name} with a wrong key:\n{}", printed(&out));
        let said = text(&out.stdout);
        assert!(said.contains("NOT VERIFIED"), "{said}");
        let failed: Vec<&str> = said.lines().filter(|l| l.trim_start().starts_with("FAILED ")).collect();
        assert_eq!(failed.len(), 1, "only the key check fails:\n{said}");
        assert!(failed[0].contains(" key ") && failed[0].contains(&wrong), "{said}");
    }

    // The JSON report says what was verified.
    let (code, report) = verify_json(&demo.bundle, &["--key", &demo.fingerprint]);
    assert_eq!(code, 0, "{report:#}");
    assert!(failures(&report).is_empty(), "{report:#}");
    let ok = passed(&report);
    for check in CHECKS {
        assert!(ok.iter().any(|c| c == check), "check `{check}` ran and passed: {report:#}");
    }
    assert_eq!(report["key_fingerprint"], demo.fingerprint.as_str());
    assert_eq!(report["captures"], 2, "{report:#}");
    assert_eq!(report["findings"], 2, "{report:#}");
    assert!(report["ledger_entries"].as_u64().unwrap() >= 5, "2 captures, 2 findings, 1 custody event: {report:#}");
    assert!(report["bundle_id"].as_str().is_some_and(|id| id.starts_with('B')), "{report:#}");
    assert_eq!(report["timestamps"].as_array().map(Vec::len), Some(0));

    let (code, report) = verify_json(&demo.bundle, &["--key", &wrong]);
    assert_eq!(code, 1);
    assert_eq!(failures(&report), vec![("key".to_string(), DIGEST.to_string())], "{report:#}");

    // Both verifiers run the same checks with the same verdicts.
    for extra in [vec!["--json"], vec!["--json", "--key", wrong.as_str()]] {
        let ours = spotcheck_verify(&demo.bundle, &extra);
        let theirs = evidence_verify(&demo.bundle, &extra);
        let ours: Value = serde_json::from_slice(&ours.stdout).expect("spotcheck evidence verify --json");
        let theirs: Value = serde_json::from_slice(&theirs.stdout).expect("evidence-verify --json");
        assert_eq!(ours["checks"], theirs["checks"], "{extra:?}");
    }

    // evidence-verify tells an unreadable bundle or a bad command line (2)
    // from a failed check (1).
    let missing = demo.out.join("no-such-bundle.wacz");
    for args in [vec![missing.to_str().unwrap()], vec![], vec!["--frobnicate", demo.bundle.to_str().unwrap()]] {
        let out = run_with_deadline(
            {
                let mut cmd = Command::new(verifier_bin());
                cmd.args(&args);
                cmd
            },
            Duration::from_secs(60),
        );
        assert_eq!(exit_code(&out.status, "evidence-verify"), 2, "{args:?}:\n{}", printed(&out));
    }
}

// ---------------------------------------------------------------------------
// 2. Ordinary tools check it without spotcheck.

/// Runs a tool (in `dir`), failing clearly when it is not installed.
fn tool(dir: &Path, program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{program}` ({e}): these tests need unzip (or python3), sha256sum, openssl and the \
             web-archive reference tools from PyPI (`pip install warcio wacz`)"
        )
    })
}

fn tool_ok(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = tool(dir, program, args);
    assert!(out.status.success(), "`{program} {}` failed:\n{}", args.join(" "), printed(&out));
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Extracts `zip` into `dir` with unzip, or Python's zipfile without it.
fn extract(zip: &Path, dir: &Path) {
    let zip = zip.to_str().unwrap();
    let unzip = Command::new("unzip").args(["-q", "-o", zip, "-d"]).arg(dir).output();
    match unzip {
        Ok(out) => assert!(out.status.success(), "unzip failed:\n{}", printed(&out)),
        Err(_) => {
            tool_ok(dir, "python3", &["-m", "zipfile", "-e", zip, "."]);
        }
    }
}

#[test]
fn ordinary_tools_check_the_bundle_without_spotcheck() {
    let demo = demo();
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path();
    extract(&demo.bundle, x);
    let bundle = demo.bundle.to_str().unwrap();

    // The web archive and the package, by the reference tools.
    let out = tool_ok(x, "warcio", &["check", "-v", WARC]);
    assert!(out.contains("response") && !out.contains("digest fail"), "warcio check -v:\n{out}");
    let out = tool_ok(x, "wacz", &["validate", "-f", bundle]);
    assert!(out.contains("Validation succeeded"), "wacz validate:\n{out}");

    // Every file hashes (sha256sum) and measures as datapackage.json says, and
    // nothing else is in the bundle.
    let dp: Value = serde_json::from_slice(&std::fs::read(x.join(DATAPACKAGE)).unwrap()).unwrap();
    let resources = dp["resources"].as_array().unwrap();
    let mut listed: Vec<String> = Vec::new();
    for r in resources {
        let path = r["path"].as_str().unwrap();
        let sum = tool_ok(x, "sha256sum", &[path]);
        let hex = sum.split_whitespace().next().unwrap();
        assert_eq!(r["hash"].as_str().unwrap(), format!("sha256:{hex}"), "{path}");
        assert_eq!(r["bytes"].as_u64().unwrap(), std::fs::metadata(x.join(path)).unwrap().len(), "{path}");
        listed.push(path.to_string());
    }
    let mut on_disk: Vec<String> = walk(x).into_iter().filter(|p| p != DATAPACKAGE && p != DIGEST).collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(on_disk, listed, "datapackage.json lists exactly the files in the bundle");
    for expected in [WARC, "indexes/index.cdx", "pages/pages.jsonl", MANIFEST, FINDINGS, ENTRIES, CHECKPOINT] {
        assert!(listed.iter().any(|p| p == expected), "{expected} is in the bundle: {listed:?}");
    }
    assert_eq!(listed.iter().filter(|p| p.starts_with("spotcheck/capture-")).count(), 2, "{listed:?}");

    let digest: Value = serde_json::from_slice(&std::fs::read(x.join(DIGEST)).unwrap()).unwrap();
    let sum = tool_ok(x, "sha256sum", &[DATAPACKAGE]);
    assert_eq!(digest["hash"].as_str().unwrap(), format!("sha256:{}", sum.split_whitespace().next().unwrap()));

    // The checkpoint signature, by openssl with the bundled public key…
    let pkeyutl = |data: &str, sig: &str| {
        tool(
            x,
            "openssl",
            &["pkeyutl", "-verify", "-pubin", "-inkey", PUBLIC_KEY, "-rawin", "-in", data, "-sigfile", sig],
        )
    };
    let out = pkeyutl(CHECKPOINT, CHECKPOINT_SIG);
    assert!(out.status.success(), "openssl verifies the checkpoint:\n{}", printed(&out));
    // …which is the station's key (the fingerprint is the SHA-256 of its DER)…
    let der = tool(x, "openssl", &["pkey", "-pubin", "-in", PUBLIC_KEY, "-outform", "DER"]);
    assert!(der.status.success(), "{}", printed(&der));
    assert_eq!(format!("sha256:{}", Digest::of(&der.stdout).to_hex()), demo.fingerprint);
    let signed = &digest["signedData"];
    assert_eq!(unbase64(signed["publicKey"].as_str().unwrap()), der.stdout, "signedData.publicKey is the bundled key");
    assert_eq!(signed["keyFingerprint"], demo.fingerprint.as_str());
    assert_eq!(signed["signatureAlgorithm"], "ed25519");
    assert_eq!(signed["hash"], digest["hash"]);
    // …and the package signature: Ed25519 over the UTF-8 bytes of `hash`.
    std::fs::write(x.join("hash.txt"), signed["hash"].as_str().unwrap()).unwrap();
    std::fs::write(x.join("hash.sig"), unbase64(signed["signature"].as_str().unwrap())).unwrap();
    let out = pkeyutl("hash.txt", "hash.sig");
    assert!(out.status.success(), "openssl verifies the package signature:\n{}", printed(&out));

    // The same commands refuse altered data (so the passes above mean something).
    let mut altered = std::fs::read(x.join(CHECKPOINT)).unwrap();
    altered[30] ^= 1;
    std::fs::write(x.join("altered.txt"), altered).unwrap();
    assert!(!pkeyutl("altered.txt", CHECKPOINT_SIG).status.success(), "openssl accepted an altered checkpoint");
    std::fs::write(x.join("hash.txt"), format!("{}0", signed["hash"].as_str().unwrap())).unwrap();
    assert!(!pkeyutl("hash.txt", "hash.sig").status.success(), "openssl accepted an altered hash");
}

/// Relative paths of the files under `root`.
fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// 3. Tampering.

/// Asserts that evidence-verify refuses `bytes` and names `check` on `file`.
fn assert_caught(bytes: &[u8], case: &str, expected: &[(&str, &str)], extra: &[&str]) -> Value {
    let (code, report) = verify_bytes(bytes, extra);
    let fails = failures(&report);
    assert_eq!(code, 1, "{case}: exit code {code}, failures {fails:?}");
    assert!(
        expected.iter().any(|(check, file)| has(&fails, check, file)),
        "{case}: expected one of {expected:?} among the failures, got {fails:?}"
    );
    report
}

#[test]
fn a_flipped_byte_in_any_file_is_named_with_its_file() {
    let original = files_of(&fresh());
    assert!(original.len() >= 16, "{:?}", original.iter().map(|(p, _)| p).collect::<Vec<_>>());
    // Sanity: rewritten untouched, the package still verifies (so what fails
    // below fails because of the flipped byte, not the rewriting).
    let (code, report) = verify_bytes(&write_zip(&original), &[]);
    assert_eq!(code, 0, "an untouched rewrite verifies: {:?}", failures(&report));

    let mut seen = Vec::new();
    for (path, bytes) in &original {
        // The byte in the middle; in datapackage-digest.json, one of the signature's.
        let at = if path == DIGEST {
            find(bytes, b"\"signature\": \"", 0).expect("a signature") + 20
        } else {
            bytes.len() / 2
        };
        let mut files = original.clone();
        get_mut(&mut files, path)[at] ^= 0x01;
        let expected: Vec<(&str, &str)> = match path.as_str() {
            DATAPACKAGE => vec![("datapackage-digest", DIGEST), ("files", DATAPACKAGE)],
            DIGEST => vec![("signature", DIGEST)],
            p => vec![("files", p)],
        };
        assert_caught(&write_zip(&files), &format!("byte {at} of {path} flipped"), &expected, &[]);
        seen.push(path.as_str());
    }
    for kind in [WARC, "indexes/index.cdx", "pages/pages.jsonl", MANIFEST, FINDINGS, ENTRIES, CHECKPOINT, PUBLIC_KEY] {
        assert!(seen.contains(&kind), "{kind} was flipped: {seen:?}");
    }
    for kind in
        ["spotcheck/capture-", "spotcheck/ledger-proofs", CHECKPOINT_SIG, "spotcheck/custody", "spotcheck/report"]
    {
        assert!(seen.iter().any(|p| p.starts_with(kind)), "{kind} was flipped: {seen:?}");
    }
}

#[test]
fn removed_or_added_files_are_named() {
    let original = files_of(&fresh());
    for (path, _) in &original {
        let files: Files = original.iter().filter(|(p, _)| p != path).cloned().collect();
        let expected: Vec<(&str, &str)> = match path.as_str() {
            DATAPACKAGE => vec![("files", DATAPACKAGE)],
            DIGEST => vec![("signature", DIGEST)],
            p => vec![("files", p)],
        };
        assert_caught(&write_zip(&files), &format!("{path} removed"), &expected, &[]);
    }

    let mut files = original.clone();
    let at = files.len() - 2;
    files.insert(at, ("spotcheck/note.txt".to_string(), b"added later\n".to_vec()));
    assert_caught(&write_zip(&files), "a file added", &[("files", "spotcheck/note.txt")], &[]);

    // A second copy of a listed file under the same name.
    let mut files = original.clone();
    let dup = files.iter().find(|(p, _)| p == FINDINGS).cloned().unwrap();
    files.insert(0, (dup.0, b"[]\n".to_vec()));
    let (code, report) = verify_bytes(&write_zip(&files), &[]);
    assert_eq!(code, 1, "a duplicated entry: {:?}", failures(&report));

    // An entry that would escape the extraction directory.
    let mut files = original;
    files.insert(0, ("spotcheck/../../escape.txt".to_string(), b"x".to_vec()));
    assert_caught(&write_zip(&files), "a path escaping the bundle", &[("package", "(zip)")], &[]);
}

#[test]
fn a_swapped_public_key_fails_on_the_checkpoint_or_the_pinned_key() {
    let demo = demo();
    let original = files_of(&fresh());
    let other = other_key();

    // The outsider's key in the bundle and in signedData, the package re-signed
    // with it: the checkpoint was signed by the station key.
    let mut files = original.clone();
    *get_mut(&mut files, PUBLIC_KEY) = other.public().to_pem().into_bytes();
    let swapped = reseal(&original, &files, &other);
    let report = assert_caught(&swapped, "public key swapped", &[("checkpoint", CHECKPOINT_SIG)], &[]);
    let fails = failures(&report);
    assert!(
        fails.iter().all(|(c, _)| c == "checkpoint"),
        "the package itself is consistent, only the checkpoint fails: {fails:?}"
    );
    assert_caught(&swapped, "public key swapped, key pinned", &[("key", DIGEST)], &["--key", &demo.fingerprint]);

    // Only signedData re-signed, the bundled PEM left: the keys disagree.
    let resigned_only = reseal(&original, &original, &other);
    assert_caught(&resigned_only, "signedData re-signed by another key", &[("key", PUBLIC_KEY)], &[]);

    // A complete forgery: a checkpoint over the same tree re-signed by the
    // outsider, naming their key. Only pinning the station key catches it.
    let mut files = original.clone();
    let mut cp = Checkpoint::parse(std::str::from_utf8(get(&original, CHECKPOINT)).unwrap()).unwrap();
    cp.key = other.public().fingerprint();
    let signed = cp.sign(&other);
    *get_mut(&mut files, CHECKPOINT_SIG) = signed.signature_bytes().unwrap();
    *get_mut(&mut files, CHECKPOINT) = signed.text.into_bytes();
    *get_mut(&mut files, PUBLIC_KEY) = other.public().to_pem().into_bytes();
    let mut manifest: Value = serde_json::from_slice(get(&files, MANIFEST)).unwrap();
    manifest["key"] = other.public().fingerprint().into();
    *get_mut(&mut files, MANIFEST) = pretty(&manifest);
    let forged = reseal(&original, &files, &other);
    let (_, report) = verify_bytes(&forged, &[]);
    assert_ne!(report["key_fingerprint"], demo.fingerprint.as_str(), "the report shows whose key signed: {report:#}");
    assert_caught(&forged, "complete forgery, key pinned", &[("key", DIGEST)], &["--key", &demo.fingerprint]);
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap();
    out.push(b'\n');
    out
}

/// The `n`th (from 0) line of a JSON-lines file, replaced by `edit`.
fn edit_line(bytes: &[u8], n: usize, edit: impl FnOnce(&str) -> String) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[n] = edit(&lines[n]);
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

/// The response record of the first capture: (start of its block, end of
/// the HTTP header = start of the body, end of the block).
fn response_body(warc: &[u8]) -> (usize, usize, usize) {
    let record = find(warc, b"WARC-Type: response", 0).expect("a response record");
    let block = find(warc, b"\r\n\r\n", record).unwrap() + 4;
    let headers = std::str::from_utf8(&warc[record..block]).unwrap();
    let len: usize = headers
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .trim()
        .parse()
        .unwrap();
    let body = find(warc, b"\r\n\r\n", block).unwrap() + 4;
    assert!(body < block + len, "the response has a body");
    (block, body, block + len)
}

/// Replaces the value of WARC header `name` after `from` (same length).
fn set_header(warc: &mut [u8], from: usize, name: &str, value: &str) {
    let at = find(warc, format!("\r\n{name}: ").as_bytes(), from).expect("the header") + name.len() + 4;
    warc[at..at + value.len()].copy_from_slice(value.as_bytes());
}

type Edit = fn(&mut Files);
/// A case: what was done, how, and the (check, file prefix) pairs that may catch it.
type Case = (&'static str, Edit, Vec<(&'static str, &'static str)>);
/// A case that captures its context.
type BoxedEdit = Box<dyn Fn(&mut Files)>;

/// An insider's alterations, each re-sealed and re-signed with the real
/// station key: only the checks beneath the package signature can catch them.
fn insider_cases() -> Vec<Case> {
    vec![
        (
            "two ledger entries swapped",
            |f| {
                let bytes = get(f, ENTRIES).to_vec();
                let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
                lines.swap(0, 1);
                *get_mut(f, ENTRIES) = [lines.join(&b'\n'), b"\n".to_vec()].concat();
            },
            vec![
                ("ledger-order", "spotcheck/ledger-entries.jsonl line 1"),
                ("inclusion", "spotcheck/ledger-entries.jsonl line 1"),
            ],
        ),
        (
            "two ledger entries swapped together with their proofs",
            |f| {
                let bytes = get(f, ENTRIES).to_vec();
                let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
                lines.swap(0, 1);
                *get_mut(f, ENTRIES) = [lines.join(&b'\n'), b"\n".to_vec()].concat();
                let mut proofs: Vec<Value> = serde_json::from_slice(get(f, "spotcheck/ledger-proofs.json")).unwrap();
                proofs.swap(0, 1);
                *get_mut(f, "spotcheck/ledger-proofs.json") = pretty(&Value::Array(proofs));
            },
            vec![("ledger-order", "spotcheck/ledger-entries.jsonl line 2")],
        ),
        (
            "bundle.json names another checkpoint size",
            |f| {
                let mut m: Value = serde_json::from_slice(get(f, MANIFEST)).unwrap();
                m["checkpoint_size"] = (m["checkpoint_size"].as_u64().unwrap() - 1).into();
                *get_mut(f, MANIFEST) = pretty(&m);
            },
            vec![("manifest", MANIFEST)],
        ),
        (
            "a ledger entry's body digest changed",
            |f| {
                let e = edit_line(get(f, ENTRIES), 0, |l| {
                    let at = l.find("\"body_sha256\":\"").expect("a capture entry first") + 15;
                    let mut s = l.to_string();
                    let c = if &l[at..=at] == "0" { "1" } else { "0" };
                    s.replace_range(at..=at, c);
                    s
                });
                *get_mut(f, ENTRIES) = e;
            },
            vec![("inclusion", "spotcheck/ledger-entries.jsonl line 1")],
        ),
        (
            "a ledger entry's time changed by one byte",
            |f| {
                let e = edit_line(get(f, ENTRIES), 1, |l| l.replacen("\"at\":\"20", "\"at\":\"21", 1));
                *get_mut(f, ENTRIES) = e;
            },
            vec![("inclusion", "spotcheck/ledger-entries.jsonl line 2")],
        ),
        (
            "a finding's matched text changed",
            |f| {
                let mut findings: Value = serde_json::from_slice(get(f, FINDINGS)).unwrap();
                let text = findings[0]["matched"][0]["text"].as_str().unwrap().to_string();
                findings[0]["matched"][0]["text"] = format!("{text}x").into();
                *get_mut(f, FINDINGS) = pretty(&findings);
            },
            vec![("findings", FINDINGS)],
        ),
        (
            "a finding's severity lowered",
            |f| {
                let mut findings: Value = serde_json::from_slice(get(f, FINDINGS)).unwrap();
                findings[1]["severity"] = "info".into();
                *get_mut(f, FINDINGS) = pretty(&findings);
            },
            vec![("findings", FINDINGS)],
        ),
        (
            "a capture record changed",
            |f| {
                let path = f.iter().find(|(p, _)| p.starts_with("spotcheck/capture-")).unwrap().0.clone();
                let record = get(f, &path).to_vec();
                let at = find(&record, b"\"status\":200", 0).expect("a 200 response") + 11;
                get_mut(f, &path)[at] = b'1';
            },
            vec![("capture", "")],
        ),
        (
            "a capture record changed and re-addressed under its new hash",
            |f| {
                let path = f.iter().find(|(p, _)| p.starts_with("spotcheck/capture-")).unwrap().0.clone();
                let old = path.trim_start_matches("spotcheck/capture-").trim_end_matches(".json").to_string();
                let mut record: Value = serde_json::from_slice(get(f, &path)).unwrap();
                record["final_url"] = "http://127.0.0.1:1/mall/item/elsewhere.html".into();
                let bytes = serde_json::to_vec(&record).unwrap();
                let new = Digest::of(&bytes).to_hex();
                let entry = f.iter_mut().find(|(p, _)| *p == path).unwrap();
                *entry = (format!("spotcheck/capture-{new}.json"), bytes);
                for file in [MANIFEST, FINDINGS] {
                    let replaced = text(get(f, file)).replace(&old, &new).into_bytes();
                    *get_mut(f, file) = replaced;
                }
            },
            vec![("capture", "")],
        ),
        (
            "a byte of a response body in the WARC changed",
            |f| {
                let warc = get_mut(f, WARC);
                let (_, body, end) = response_body(warc);
                warc[(body + end) / 2] ^= 0x01;
            },
            vec![("warc", WARC)],
        ),
        (
            "a response body changed and its WARC digests recomputed",
            |f| {
                let warc = get_mut(f, WARC);
                let (block, body, end) = response_body(warc);
                warc[(body + end) / 2] ^= 0x01;
                let block_digest = format!("sha256:{}", Digest::of(&warc[block..end]).to_hex());
                let payload_digest = format!("sha256:{}", Digest::of(&warc[body..end]).to_hex());
                let record = find(warc, b"WARC-Type: response", 0).unwrap();
                set_header(warc, record, "WARC-Block-Digest", &block_digest);
                set_header(warc, record, "WARC-Payload-Digest", &payload_digest);
            },
            vec![("capture", WARC)],
        ),
        (
            "the checkpoint's size changed",
            |f| {
                let cp = text(get(f, CHECKPOINT));
                let size: u64 = cp.lines().find_map(|l| l.strip_prefix("size: ")).unwrap().parse().unwrap();
                let changed = cp.replace(&format!("size: {size}"), &format!("size: {}", size + 1));
                *get_mut(f, CHECKPOINT) = changed.into_bytes();
            },
            vec![("checkpoint", CHECKPOINT_SIG)],
        ),
        (
            "the checkpoint's root changed",
            |f| {
                let cp = text(get(f, CHECKPOINT));
                let at = cp.find("root: ").unwrap() + 6;
                let mut changed = cp.clone();
                let c = if &cp[at..=at] == "a" { "b" } else { "a" };
                changed.replace_range(at..=at, c);
                *get_mut(f, CHECKPOINT) = changed.into_bytes();
            },
            vec![("checkpoint", CHECKPOINT_SIG)],
        ),
        (
            "an inclusion proof's hash changed",
            |f| {
                let mut proofs: Value = serde_json::from_slice(get(f, "spotcheck/ledger-proofs.json")).unwrap();
                let first = proofs[0]["path"][0].as_str().unwrap().to_string();
                let flipped = format!("{}{}", if first.starts_with('0') { '1' } else { '0' }, &first[1..]);
                proofs[0]["path"][0] = flipped.into();
                *get_mut(f, "spotcheck/ledger-proofs.json") = pretty(&proofs);
            },
            vec![("inclusion", "spotcheck/ledger-entries.jsonl line 1")],
        ),
        (
            "a finding's ledger entry dropped with its proof",
            |f| {
                let entries = text(get(f, ENTRIES));
                let keep: Vec<usize> = entries
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.contains("\"kind\":\"finding\""))
                    .map(|(n, _)| n)
                    .collect();
                let lines: Vec<&str> = entries.lines().collect();
                let mut kept = keep.iter().map(|n| lines[*n]).collect::<Vec<_>>().join("\n");
                kept.push('\n');
                *get_mut(f, ENTRIES) = kept.into_bytes();
                let proofs: Vec<Value> = serde_json::from_slice(get(f, "spotcheck/ledger-proofs.json")).unwrap();
                let kept: Vec<Value> = keep.iter().map(|n| proofs[*n].clone()).collect();
                *get_mut(f, "spotcheck/ledger-proofs.json") = pretty(&Value::Array(kept));
            },
            vec![("findings", FINDINGS)],
        ),
    ]
}

#[test]
fn insider_edits_resigned_with_the_station_key_are_caught_beneath_the_signature() {
    let demo = demo();
    let key = demo.station_key();
    let original_bytes = fresh();
    let original = files_of(&original_bytes);

    // Control: resealing the untouched files reproduces the bundle byte for
    // byte (so each case below differs only by its edit) and verifies.
    assert!(reseal(&original, &original, &key) == original_bytes, "resealing an untouched bundle is not identity");

    for (case, edit, expected) in insider_cases() {
        let mut files = original.clone();
        edit(&mut files);
        assert_ne!(files, original, "{case}: the edit changed nothing");
        let resealed = reseal(&original, &files, &key);
        let (code, report) = verify_bytes(&resealed, &["--key", &demo.fingerprint]);
        let fails = failures(&report);
        assert_eq!(code, 1, "{case}: not caught");
        assert!(
            expected.iter().any(|(check, file)| fails.iter().any(|(c, f)| c == check && f.starts_with(file))),
            "{case}: expected one of {expected:?} among the failures, got {fails:?}"
        );
        let ok = passed(&report);
        for sealed in ["files", "datapackage-digest", "signature", "key"] {
            assert!(ok.iter().any(|c| c == sealed), "{case}: the re-signed package passes `{sealed}`: {fails:?}");
        }
    }
}

/// Runs evidence-verify on `bytes`: it must exit (0, 1 or 2: never a crash,
/// never a hang) and return the code.
fn exits_cleanly(bytes: &[u8], case: &str) -> i32 {
    let (_dir, path) = file_with(bytes, "damaged.wacz");
    let out = evidence_verify(&path, &[]);
    let code = exit_code(&out.status, case);
    assert!((0..=2).contains(&code), "{case}: exit {code}\n{}", printed(&out));
    assert!(!text(&out.stderr).contains("panicked"), "{case}: {}", printed(&out));
    code
}

/// Like [`exits_cleanly`], and the bundle must be refused (exit 1 or 2).
fn refused_cleanly(bytes: &[u8], case: &str) {
    let code = exits_cleanly(bytes, case);
    assert!(code == 1 || code == 2, "{case}: accepted");
}

/// Where each entry's data lies in a ZIP written by the product (local
/// headers, STORED, sizes in the header).
fn data_ranges(zip: &[u8]) -> Vec<std::ops::Range<usize>> {
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([zip[i], zip[i + 1]]));
    let u32_at = |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]) as usize;
    let mut out = Vec::new();
    let mut at = 0;
    while zip[at..].starts_with(&[0x50, 0x4b, 0x03, 0x04]) {
        let start = at + 30 + u16_at(at + 26) + u16_at(at + 28);
        let end = start + u32_at(at + 18);
        out.push(start..end);
        at = end;
    }
    out
}

#[test]
fn damaged_zips_truncations_and_garbage_never_crash_the_verifier() {
    let bytes = fresh();
    let n = bytes.len();
    let original = files_of(&bytes);
    let data = data_ranges(&bytes);
    assert_eq!(data.len(), original.len(), "every entry's data located");
    // Flips without fixing the ZIP's CRCs: in every entry's data (first,
    // middle and last byte) the bundle is refused…
    for (range, (path, _)) in data.iter().zip(&original) {
        for at in [range.start, (range.start + range.end) / 2, range.end - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xff;
            refused_cleanly(&damaged, &format!("byte {at} of {n} ({path}) flipped, CRC not fixed"));
        }
    }
    // …and in the ZIP's own structures (local headers, central directory,
    // end record) it may be accepted only when it still yields exactly the
    // original files: a field no reader uses, such as a version or a time.
    let mut positions: Vec<usize> = (0..40).map(|i| i * n / 40).collect();
    positions.extend((0..30).chain(n - 22..n));
    if let Some(cd) = find(&bytes, &[0x50, 0x4b, 0x01, 0x02], data.last().unwrap().end) {
        positions.extend(cd..cd + 60);
    }
    for at in positions.into_iter().filter(|at| !data.iter().any(|r| r.contains(at))) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0xff;
        let case = format!("zip structure byte {at} of {n} flipped");
        if exits_cleanly(&damaged, &case) == 0 {
            let read = evidence::wacz::read_package_bytes(&damaged, &Default::default()).expect(&case);
            assert_eq!(read.files, original, "{case}: verified but holds other files");
        }
    }
    for len in [0, 1, 4, 30, 100, n / 3, n / 2, n - 100, n - 22, n - 1] {
        refused_cleanly(&bytes[..len], &format!("truncated to {len} bytes"));
    }
    // Random bytes (a fixed xorshift seed: reproducible), with and without a
    // ZIP end-of-central-directory record at the end.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    for len in [1, 64, 4096, 40_000] {
        refused_cleanly(&random(len), &format!("{len} random bytes"));
        let mut tail = random(len);
        tail.extend([
            0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0,
        ]);
        refused_cleanly(&tail, &format!("{len} random bytes and an end record"));
    }
}

// ---------------------------------------------------------------------------
// 4. A real RFC 3161 timestamp on the checkpoint.

#[test]
fn a_real_tsa_timestamp_is_bundled_verified_and_checked_by_openssl() {
    let demo = demo();
    let tsa = tsa::TestTsa::start(tsa::KeyKind::Rsa);
    let (a, _) = demo.two_findings_on_two_captures();
    let path = demo.out.join("timestamped.wacz");
    demo.seal(&[&a], &path, Some(&tsa.url));
    let original_bytes = std::fs::read(&path).unwrap();
    let original = files_of(&original_bytes);
    let token = get(&original, "spotcheck/checkpoint-1.tst").to_vec();
    assert!(!original.iter().any(|(p, _)| p == "spotcheck/checkpoint-2.tst"));

    let (code, report) = verify_json(&path, &[]);
    assert_eq!(code, 0, "{:?}", failures(&report));
    let stamps = report["timestamps"].as_array().unwrap();
    assert_eq!(stamps.len(), 1, "{report:#}");
    let gen_time = chrono::DateTime::parse_from_rfc3339(stamps[0].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - gen_time.to_utc()).num_seconds().abs() < 300, "{gen_time}");
    assert!(passed(&report).iter().any(|c| c == "timestamp"), "{report:#}");
    let out = evidence_verify(&path, &[]);
    assert!(text(&out.stdout).contains("checkpoint existed at"), "{}", printed(&out));

    // Pinned to the test CA it passes; to an unrelated CA it fails.
    let ca = tsa.ca_pem.to_str().unwrap();
    let (code, report) = verify_json(&path, &["--tsa-ca", ca, "--key", &demo.fingerprint]);
    assert_eq!(code, 0, "{:?}", failures(&report));
    let other = tsa::make_root_ca(tsa.dir(), "other", "some other root CA", tsa::KeyKind::Rsa);
    let (code, report) = verify_json(&path, &["--tsa-ca", other.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(failures(&report), vec![("timestamp".to_string(), "spotcheck/checkpoint-1.tst".to_string())]);
    let out = spotcheck_verify(&path, &["--tsa-ca", other.to_str().unwrap()]);
    assert_eq!(exit_code(&out.status, "spotcheck evidence verify"), 1, "{}", printed(&out));

    // OpenSSL agrees that the token is over the bundled checkpoint text.
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path();
    extract(&path, x);
    let out = tsa::openssl(
        x,
        &[
            "ts",
            "-verify",
            "-data",
            CHECKPOINT,
            "-in",
            "spotcheck/checkpoint-1.tst",
            "-token_in",
            "-CAfile",
            ca,
            "-untrusted",
            tsa.tsa_cert_pem.to_str().unwrap(),
        ],
    );
    assert!(out.status.success() && text(&out.stdout).contains("OK"), "openssl ts -verify:\n{}", printed(&out));
    let out = tsa::openssl(
        x,
        &["ts", "-verify", "-data", MANIFEST, "-in", "spotcheck/checkpoint-1.tst", "-token_in", "-CAfile", ca],
    );
    assert!(!out.status.success(), "openssl ts -verify accepted the token for other data:\n{}", printed(&out));

    // An insider flipping a byte of the token (its message imprint, its
    // signature) and re-signing the package is caught by `timestamp`.
    let key = demo.station_key();
    let imprint = Digest::of(get(&original, CHECKPOINT));
    let in_imprint = find(&token, &imprint.0, 0).expect("the token holds the checkpoint's digest");
    for (what, at) in [("message imprint", in_imprint + 5), ("signature", token.len() - 3)] {
        let mut files = original.clone();
        get_mut(&mut files, "spotcheck/checkpoint-1.tst")[at] ^= 0x01;
        let resealed = reseal(&original, &files, &key);
        let report = assert_caught(
            &resealed,
            &format!("token {what} flipped"),
            &[("timestamp", "spotcheck/checkpoint-1.tst")],
            &["--key", &demo.fingerprint],
        );
        let fails = failures(&report);
        assert!(fails.iter().all(|(c, _)| c == "timestamp"), "{what}: {fails:?}");
    }
    // Also as an outsider: the raw flip is caught by `files`.
    let mut files = original.clone();
    get_mut(&mut files, "spotcheck/checkpoint-1.tst")[in_imprint] ^= 0x01;
    assert_caught(&write_zip(&files), "token flipped", &[("files", "spotcheck/checkpoint-1.tst")], &[]);
}

// ---------------------------------------------------------------------------
// 5. The station's own ledger.

#[test]
fn the_demo_ledger_verifies() {
    let out = demo().spotcheck_ok(&["evidence", "ledger", "verify"]);
    let said = text(&out.stdout);
    assert!(said.contains("ledger verified") && !said.contains("FAILED"), "{said}");
    let out = demo().spotcheck_ok(&["evidence", "ledger", "verify", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["entries"].as_u64().unwrap() > 10, "{report:#}");
    assert!(report["problems"].as_array().is_some_and(Vec::is_empty), "{report:#}");
}

/// One entry of the station's ledger altered in its store (on a copy of the
/// station): `spotcheck evidence ledger verify` names the broken chain link
/// and the checkpoint whose root no longer matches.
#[test]
fn a_ledger_entry_altered_in_the_store_fails_ledger_verify() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("station");
    demo().copy_station(&copy);
    let run = |args: &[&str]| {
        Command::new(bundle::spotcheck_bin())
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .arg("--data-dir")
            .arg(&copy)
            .args(args)
            .output()
            .expect("run spotcheck")
    };
    let out = run(&["evidence", "ledger", "verify"]);
    assert!(out.status.success(), "the copied station verifies:\n{}", printed(&out));

    let seq = 10u64;
    {
        let db = kv::open(copy.join("db")).expect("open the copied store");
        let entries = db.open_tree("ledger_entries").unwrap();
        let mut entry = entries.get(seq.to_be_bytes()).unwrap().expect("entry 10").to_vec();
        let at = entry.iter().rposition(u8::is_ascii_digit).expect("a digit in the entry");
        entry[at] = if entry[at] == b'9' { b'8' } else { entry[at] + 1 };
        entries.insert(seq.to_be_bytes(), entry).unwrap();
        db.flush().unwrap();
    }
    let out = run(&["evidence", "ledger", "verify"]);
    assert_eq!(exit_code(&out.status, "ledger verify"), 1, "{}", printed(&out));
    let said = text(&out.stdout);
    assert!(said.contains("LEDGER DOES NOT VERIFY"), "{said}");
    let out = run(&["evidence", "ledger", "verify", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let problems: Vec<(&str, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["check"].as_str().unwrap(), p["at"].as_str().unwrap()))
        .collect();
    assert!(problems.contains(&("chain", "entry 11")), "the chain link after the entry breaks: {problems:?}");
    assert!(problems.iter().any(|(c, _)| *c == "root"), "the checkpoints' roots no longer match: {problems:?}");
}

// ---------------------------------------------------------------------------
// Alterations the verifier should catch. When these tests were written it
// did not: evidence-verify said VERIFIED to every case below (see each
// test's doc for what is unchecked in evidence/src/bundle/verify.rs).

/// `datapackage-digest.json` is the one file no hash covers, so each of its
/// fields must be either signed or checked. An outsider (no key) flips one
/// byte inside each field's value in turn. Unchecked when written: the
/// top-level `path` (never compared with `datapackage.json`) and
/// `signedData.created` and `signedData.software` (outside the signature,
/// which covers only `hash`, and never compared with anything; a changed
/// `created` makes `wacz validate` reject the bundle while evidence-verify
/// says VERIFIED).
#[test]
fn no_field_of_the_datapackage_digest_can_be_altered_by_an_outsider() {
    let original = files_of(&fresh());
    let digest = get(&original, DIGEST).to_vec();
    let mut accepted = Vec::new();
    for field in
        ["path", "hash", "created", "keyFingerprint", "publicKey", "signature", "signatureAlgorithm", "software"]
    {
        let mut from = 0;
        // `hash` appears twice (top level and in signedData): flip each.
        while let Some(at) = find(&digest, format!("\"{field}\": \"").as_bytes(), from) {
            let value = at + field.len() + 5;
            let mut files = original.clone();
            get_mut(&mut files, DIGEST)[value + 1] ^= 0x01;
            let (code, report) = verify_bytes(&write_zip(&files), &[]);
            assert!(code == 0 || code == 1, "{field}: exit {code}");
            if code == 0 {
                accepted.push(format!("{field} (byte {}), checks {:?}", value + 1, passed(&report)));
            }
            from = value;
        }
    }
    assert!(accepted.is_empty(), "altered datapackage-digest.json fields still VERIFIED:\n{}", accepted.join("\n"));
}

/// What the manifest says about the captures and findings is signed only by
/// the station key; where the ledger-proven records say the same thing, the
/// verifier must hold the manifest to them, and it must hold the bundle to
/// what its manifest lists. An insider edits and re-signs with the real key.
/// Unchecked when written: `captures[].url`/`final_url` against the capture
/// record, `findings` and `ledger_entries` against findings.json and
/// ledger-entries.jsonl; and `check_findings` passes an empty or shortened
/// findings.json ("0 findings match their ledger entries").
#[test]
fn the_manifest_must_agree_with_the_proven_records() {
    let demo = demo();
    let key = demo.station_key();
    let original = files_of(&fresh());
    let manifest = |f: &mut Files, edit: &dyn Fn(&mut Value)| {
        let mut m: Value = serde_json::from_slice(get(f, MANIFEST)).unwrap();
        edit(&mut m);
        *get_mut(f, MANIFEST) = pretty(&m);
    };
    let cases: Vec<(&str, BoxedEdit)> = vec![
        (
            "a capture's url and final_url in bundle.json pointed at another page",
            Box::new(move |f| {
                manifest(f, &|m| {
                    m["captures"][0]["url"] = "http://127.0.0.1:1/mall/item/1.html".into();
                    m["captures"][0]["final_url"] = "http://127.0.0.1:1/mall/item/1.html".into();
                })
            }),
        ),
        (
            "bundle.json lists no findings while findings.json holds two",
            Box::new(move |f| manifest(f, &|m| m["findings"] = serde_json::json!([]))),
        ),
        (
            "a finding bundle.json lists dropped from findings.json",
            Box::new(|f| {
                let mut v: Value = serde_json::from_slice(get(f, FINDINGS)).unwrap();
                v.as_array_mut().unwrap().remove(1);
                *get_mut(f, FINDINGS) = pretty(&v);
            }),
        ),
        ("every finding dropped from findings.json", Box::new(|f| *get_mut(f, FINDINGS) = b"[]\n".to_vec())),
        (
            "bundle.json lists other ledger entries than the bundle holds",
            Box::new(move |f| manifest(f, &|m| m["ledger_entries"] = serde_json::json!([0, 1]))),
        ),
    ];
    let mut accepted = Vec::new();
    for (case, edit) in cases {
        let mut files = original.clone();
        edit(&mut files);
        assert_ne!(files, original, "{case}: the edit changed nothing");
        let (code, report) = verify_bytes(&reseal(&original, &files, &key), &["--key", &demo.fingerprint]);
        if code == 0 {
            accepted.push(case);
        } else {
            assert_eq!(code, 1, "{case}");
            let fails = failures(&report);
            assert!(
                fails.iter().any(
                    |(c, _)| ["manifest", "findings", "capture", "inclusion", "ledger-order"].contains(&c.as_str())
                ),
                "{case}: {fails:?}"
            );
        }
    }
    assert!(accepted.is_empty(), "re-signed bundles that VERIFIED though inconsistent:\n{}", accepted.join("\n"));
}
