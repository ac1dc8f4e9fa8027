//! Helpers for the evidence bundle tests (`tests/evidence_bundle.rs`): the
//! real binaries, a demo station built once per test binary, a plain ZIP
//! writer for outsiders' edits and a re-sealer for insiders' edits (who hold
//! the station key), and small encoders so that the tests need nothing the
//! `spotcheck` package does not already depend on.
//!
//! Include it with `#[path = "support/bundle.rs"] mod bundle;`.

// A failed setup is a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use evidence::bundle::SignedData;
use evidence::keys::StationKey;
use evidence::wacz::{self, DataPackage, DigestToSign, PackageLimits, PackageMeta, WaczWriter};
use serde_json::Value;

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a command printed, for assertion messages.
pub fn printed(out: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}--- stderr\n{}", out.status, text(&out.stdout), text(&out.stderr))
}

pub fn spotcheck_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spotcheck"))
}

/// `evidence-verify` belongs to the `evidence` package, so cargo does not
/// build it for this test: it is taken from beside the spotcheck binary, and
/// built there (once) when missing or older than the `evidence` sources.
pub fn verifier_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let spotcheck = spotcheck_bin();
        let profile_dir = spotcheck.parent().expect("the binary's directory").to_path_buf();
        let bin = profile_dir.join("evidence-verify");
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("evidence");
        let stale = match std::fs::metadata(&bin).and_then(|m| m.modified()) {
            Err(_) => true,
            Ok(built) => {
                newest_mtime(&sources.join("src")).is_some_and(|src| src > built)
                    || newest_mtime(&sources.join("Cargo.toml")).is_some_and(|src| src > built)
            }
        };
        if stale {
            let target_dir = profile_dir.parent().expect("the target directory");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
            let mut cmd = Command::new(&cargo);
            cmd.args(["build", "-p", "evidence", "--bin", "evidence-verify", "--manifest-path"])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            // A cargo that held the target directory's lock while tests run
            // would make this wait forever: the deadline turns that into a failure.
            let out = run_with_deadline(cmd, Duration::from_secs(600));
            assert!(out.status.success(), "building evidence-verify failed:\n{}", printed(&out));
        }
        assert!(bin.exists(), "no evidence-verify at {}", bin.display());
        bin
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a directory").map(|e| e.expect("a directory entry")) {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy a file");
        }
    }
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.filter_map(Result::ok).filter_map(|e| newest_mtime(&e.path())).max()
}

/// Runs a command with a deadline: a verifier that hangs is a failed test,
/// not a hung suite. Returns the output (stdout, stderr, status).
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Output {
    let child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.expect("wait for the child"),
        Err(_) => {
            // Only the child this function started, by its id.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {deadline:?}");
        }
    }
}

/// The exit code, failing the test if the process died of a signal (a crash).
pub fn exit_code(status: &ExitStatus, what: &str) -> i32 {
    match status.code() {
        Some(code) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            panic!("{what}: killed by signal {:?} (a crash)", status.signal())
        }
    }
}

/// `evidence-verify [extra…] --json FILE`: the exit code and the parsed report.
pub fn verify_json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let mut cmd = Command::new(verifier_bin());
    cmd.args(extra).arg("--json").arg(file);
    let out = run_with_deadline(cmd, Duration::from_secs(60));
    let code = exit_code(&out.status, "evidence-verify");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("evidence-verify --json printed no JSON ({e}):\n{}", printed(&out)));
    (code, report)
}

/// The `(check, file)` pairs that failed in a verifier report.
pub fn failures(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("a `checks` array")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| (c["check"].as_str().unwrap_or("?").to_string(), c["file"].as_str().unwrap_or("?").to_string()))
        .collect()
}

/// The names of the checks that passed.
pub fn passed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("a `checks` array")
        .iter()
        .filter(|c| c["ok"] == true)
        .map(|c| c["check"].as_str().unwrap_or("?").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// The demo station.

/// A station that ran `spotcheck demo`, shared by every test of the binary.
pub struct Demo {
    _dir: tempfile::TempDir,
    /// The `--data-dir` the evidence commands take (`<dir>/demo`).
    pub data: PathBuf,
    /// Where tests write their bundles.
    pub out: PathBuf,
    /// `spotcheck evidence findings --json`, one value per finding.
    pub findings: Vec<Value>,
    /// The station key fingerprint as `spotcheck evidence key` prints it.
    pub fingerprint: String,
    /// A bundle of two findings on two captures, no timestamp.
    pub bundle: PathBuf,
    /// One store is open at a time (the store locks it): every command that opens
    /// the station takes this.
    lock: Mutex<()>,
}

const STATION_PREFIX: &str = "evidence-bundle-station-";

fn remove_old_stations(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else { return };
    for entry in entries.filter_map(Result::ok) {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old && entry.file_name().to_string_lossy().starts_with(STATION_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(Demo::build)
}

impl Demo {
    fn build() -> Demo {
        // Statics are never dropped, so the station lives under cargo's
        // per-target scratch directory, and stations left there by earlier
        // runs (over an hour old, so no run of now) are removed.
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_old_stations(scratch);
        let dir = tempfile::Builder::new().prefix(STATION_PREFIX).tempdir_in(scratch).expect("tempdir");
        let root = dir.path().to_path_buf();
        // 200 listings is too few for every price baseline, so the demo may
        // report itself failed on precision; what matters here is that it
        // crawled, flagged, sealed and signed a checkpoint.
        let out = Command::new(spotcheck_bin())
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .arg("--data-dir")
            .arg(&root)
            // No browser pictures: the bundles under test hold exactly their findings' captures.
            .args(["demo", "--listings", "200", "--pictures", "0"])
            .output()
            .expect("run spotcheck demo");
        exit_code(&out.status, "spotcheck demo");
        let data = root.join("demo");
        assert!(data.join("keys").join("station.key").exists(), "the demo made no station key:\n{}", printed(&out));
        let bundles = root.join("bundles");
        std::fs::create_dir_all(&bundles).expect("bundle dir");
        let mut demo = Demo {
            _dir: dir,
            data,
            out: bundles,
            findings: Vec::new(),
            fingerprint: String::new(),
            bundle: PathBuf::new(),
            lock: Mutex::new(()),
        };

        let listed = demo.spotcheck_ok(&["evidence", "findings", "--json"]);
        demo.findings =
            text(&listed.stdout).lines().map(|l| serde_json::from_str(l).expect("a finding as JSON")).collect();
        assert!(demo.findings.len() >= 2, "the demo recorded too few findings:\n{}", printed(&listed));

        let key = demo.spotcheck_ok(&["evidence", "key"]);
        demo.fingerprint = text(&key.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fingerprint").map(|f| f.trim().to_string()))
            .unwrap_or_else(|| panic!("`evidence key` printed no fingerprint:\n{}", printed(&key)));
        assert!(demo.fingerprint.starts_with("sha256:") && demo.fingerprint.len() == 71, "{}", demo.fingerprint);

        let (a, b) = demo.two_findings_on_two_captures();
        demo.bundle = demo.out.join("fresh.wacz");
        demo.seal(&[&a, &b], &demo.bundle, None);
        demo
    }

    /// Runs `spotcheck --data-dir <data> args…` holding the station lock.
    pub fn spotcheck(&self, args: &[&str]) -> Output {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Command::new(spotcheck_bin())
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .output()
            .expect("run spotcheck")
    }

    pub fn spotcheck_ok(&self, args: &[&str]) -> Output {
        let out = self.spotcheck(args);
        assert!(out.status.success(), "spotcheck {} failed:\n{}", args.join(" "), printed(&out));
        out
    }

    /// Two finding ids whose captures differ.
    pub fn two_findings_on_two_captures(&self) -> (String, String) {
        let first = &self.findings[0];
        let second = self
            .findings
            .iter()
            .find(|f| f["capture"] != first["capture"] && f["capture"].is_string())
            .expect("two findings on different captures");
        (first["id"].as_str().unwrap().to_string(), second["id"].as_str().unwrap().to_string())
    }

    /// `spotcheck evidence bundle --finding … --out OUT --pdf never [--tsa-url URL]`.
    pub fn seal(&self, findings: &[&str], out: &Path, tsa_url: Option<&str>) -> Output {
        let mut args = vec!["evidence", "bundle"];
        for f in findings {
            args.extend(["--finding", f]);
        }
        let out_str = out.to_str().expect("UTF-8 path");
        args.extend(["--out", out_str, "--pdf", "never", "--pictures", "never"]);
        if let Some(url) = tsa_url {
            args.extend(["--tsa-url", url]);
        }
        let done = self.spotcheck_ok(&args);
        assert!(out.exists(), "no bundle at {}:\n{}", out.display(), printed(&done));
        done
    }

    /// Copies the station (store, blobs, keys) to `dest` while no command
    /// has its store open.
    pub fn copy_station(&self, dest: &Path) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        copy_dir(&self.data, dest);
    }

    /// The station's private key, as an insider would load it.
    pub fn station_key(&self) -> StationKey {
        StationKey::load(&self.data.join("keys").join(StationKey::PRIVATE_FILE)).expect("load the station key")
    }
}

// ---------------------------------------------------------------------------
// Packages.

/// The files of a package in ZIP order (read with the product's bounded reader).
pub fn files_of(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    wacz::read_package_bytes(zip, &PackageLimits::default()).expect("a readable package").files
}

pub fn get<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    files.iter().find(|(p, _)| p == path).map(|(_, b)| b.as_slice()).unwrap_or_else(|| panic!("no `{path}`"))
}

pub fn get_mut<'a>(files: &'a mut [(String, Vec<u8>)], path: &str) -> &'a mut Vec<u8> {
    files.iter_mut().find(|(p, _)| p == path).map(|(_, b)| b).unwrap_or_else(|| panic!("no `{path}`"))
}

/// An outsider's edit: the files written back as a plain, valid ZIP (STORED,
/// correct CRCs) with `datapackage.json` and its digest left as they were.
pub fn write_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let header = |sig: u32, central_entry: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central_entry {
                h.extend(20u16.to_le_bytes()); // version made by
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(0u16.to_le_bytes()); // STORED
            h.extend(0u16.to_le_bytes()); // time
            h.extend(0x21u16.to_le_bytes()); // 1980-01-01
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central_entry {
                h.extend(0u16.to_le_bytes()); // comment
                h.extend(0u16.to_le_bytes()); // disk
                h.extend(0u16.to_le_bytes()); // internal attributes
                h.extend(0u32.to_le_bytes()); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        let local = header(0x0403_4b50, false);
        let entry = header(0x0201_4b50, true);
        out.extend(local);
        out.extend(data);
        central.extend(entry);
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// An insider's edit: the files (without the two datapackage files) sealed
/// again as the product seals them, `datapackage.json` re-hashed and
/// `signedData` signed by `key`, with the package metadata of `original`.
pub fn reseal(original: &[(String, Vec<u8>)], files: &[(String, Vec<u8>)], key: &StationKey) -> Vec<u8> {
    let dp: DataPackage =
        serde_json::from_slice(get(original, wacz::DATAPACKAGE_PATH)).expect("the original datapackage.json");
    let digest: wacz::DataPackageDigest =
        serde_json::from_slice(get(original, wacz::DIGEST_PATH)).expect("the original datapackage-digest.json");
    let software = digest.signed_data.as_ref().and_then(|s| s["software"].as_str()).unwrap_or("spotcheck").to_string();
    let at = |s: &str| -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").expect("a datapackage time").and_utc()
    };
    let mut writer = WaczWriter::new(PackageMeta {
        title: dp.title.clone().unwrap_or_default(),
        description: dp.description.clone(),
        created: at(dp.created.as_deref().expect("created")),
        software: dp.software.clone().unwrap_or_default(),
        main_page_url: dp.main_page_url.clone(),
        main_page_date: dp.main_page_date.as_deref().map(at),
    });
    for (path, bytes) in files {
        if path != wacz::DATAPACKAGE_PATH && path != wacz::DIGEST_PATH {
            writer.add_file(path.clone(), bytes.clone()).expect("add a file");
        }
    }
    writer
        .to_bytes(|d: &DigestToSign| {
            let public = key.public();
            let signed = SignedData {
                hash: d.hash.clone(),
                created: d.created.clone(),
                software,
                signature_algorithm: "ed25519".into(),
                public_key: base64(&public.to_der()),
                key_fingerprint: public.fingerprint(),
                signature: base64(&key.sign(d.hash.as_bytes())),
            };
            Ok(Some(serde_json::to_value(signed)?))
        })
        .expect("seal the package")
}

/// A new, unrelated Ed25519 key (generated in a temporary directory).
pub fn other_key() -> StationKey {
    let dir = tempfile::tempdir().expect("tempdir");
    StationKey::load_or_create(dir.path()).expect("generate a key").0
}

// ---------------------------------------------------------------------------
// Base64 (standard alphabet, padded): spotcheck has no base64 dependency.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn unbase64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = B64.iter().position(|x| *x == c).unwrap_or_else(|| panic!("not base64: {c}")) as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Position of `needle` in `haystack` at or after `from`.
pub fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}
