//! The station's own disk failing: a data directory on a small tmpfs that
//! fills up mid-crawl, one that is read-only, and a bundle exported to a full
//! disk. Each ends with a clear error naming the directory and the cause (no
//! panic, exit status 1), nothing corrupted, and — once there is room again —
//! the same command finishing the job.
//!
//! These tests mount tmpfs file systems, so they need root (the test machine
//! and CI run as root). Without the right to mount they FAIL with a message
//! saying so; `SPOTCHECK_SKIP_DISK_FAULTS=1` skips them instead, loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use evidence::ledger::EntryKind;
use spotcheck::store::Store;

#[path = "support/site.rs"]
mod site;
#[path = "support/station.rs"]
mod station;
use site::{start_site, Site};
use station::{
    all_listings_sealed, blobs_rehash, bundle_verifies, exports, ledger_verifies, ok, some_findings, spotcheck, Census,
};

/// A tmpfs mounted on a directory of its own, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB, or `None` when the tests are skipped on purpose.
    fn mount(kib: u64) -> Option<Tmpfs> {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("mnt");
        Tmpfs::mount_at(parent, dir, kib)
    }

    /// Mounts it on `dir` (created) inside `parent`, which it keeps.
    fn mount_at(parent: tempfile::TempDir, dir: PathBuf, kib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(&dir).unwrap();
        let out =
            Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"]).arg(&dir).output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir, _parent: parent }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                if std::env::var_os("SPOTCHECK_SKIP_DISK_FAULTS").is_some_and(|v| v == "1") {
                    eprintln!("\n*** SKIPPED: disk-fault test: cannot mount a tmpfs ({why}); SPOTCHECK_SKIP_DISK_FAULTS=1 ***\n");
                    return None;
                }
                panic!(
                    "the disk-fault tests mount a tmpfs and need root (`mount -t tmpfs` failed: {why}); \
                     run them as root, or set SPOTCHECK_SKIP_DISK_FAULTS=1 to skip them"
                );
            }
        }
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "remount {options}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still holds a file there does not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// The failure every test expects: exit status 1, no panic, the message on stderr.
fn failed_clearly(output: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "exit status 1: {stderr}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    for needle in needles {
        // The OS says "No space left on device"; our own messages are lowercase.
        assert!(stderr.to_lowercase().contains(&needle.to_lowercase()), "the error says `{needle}`: {stderr}");
    }
    stderr
}

fn crawl(data: &Path, site: &Site) -> Command {
    let mut c = spotcheck(data);
    c.env("SPOTCHECK_ALLOW_HOSTS", site.host_port());
    c.args(["crawl", "--adapter", "sample-mall", "--seed-url", &site.entry("sample-mall")]);
    c.args(["--concurrency", "4", "--no-politeness", "--json"]);
    c
}

/// The ground truth, once each, on sealed captures that re-hash, and a ledger that verifies.
fn complete_and_sound(data: &Path, site: &Site) {
    ledger_verifies(data);
    blobs_rehash(&data.join("blobs"));
    let store = Store::open(&data.join("db")).unwrap();
    let truth = site.truth_for("sample-mall");
    assert_eq!(all_listings_sealed(&store), truth.len());
    for t in &truth {
        let versions = store.listing_versions(&t.listing.platform, &t.listing.item_id).unwrap();
        assert_eq!(versions.len(), 1, "{}", t.listing.key());
        assert!(t.listing.diff(versions.last().unwrap()).is_empty(), "{}", t.listing.key());
    }
    assert!(Census::of(&store).repeated.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_that_fills_its_disk_stops_clearly_and_resumes_once_there_is_room() {
    let Some(disk) = Tmpfs::mount(1536) else { return };
    let site = start_site(150).await;
    let data = disk.dir.join("data");
    let data_str = data.display().to_string();
    let mut run = crawl(&data, &site);
    let output = tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap();
    let said = failed_clearly(&output, &["no space left", &data_str, "run the same command"]);
    eprintln!("a full disk: {said}");
    // Room again (the store may not even open its database on a full disk).
    disk.remount("size=256m");
    let committed = {
        let store = Store::open(&data.join("db")).unwrap();
        let job = &store.jobs().unwrap()[0];
        assert_eq!(job.counters.errors, 0, "the full disk is not blamed on the pages");
        assert!(job.counters.pages < site.truth_for("sample-mall").len() as u64, "it stopped mid-crawl");
        all_listings_sealed(&store);
        job.counters.pages
    };

    // The same command resumes and finishes, nothing corrupted.
    let mut run = crawl(&data, &site);
    let report: serde_json::Value =
        serde_json::from_str(&ok(tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap())).unwrap();
    assert_eq!(report["job"]["status"], "completed", "{report}");
    assert_eq!(report["job"]["counters"]["errors"], 0, "{report}");
    assert!(report["job"]["counters"]["pages"].as_u64().unwrap() > committed);
    complete_and_sound(&data, &site);
}

/// Only the blob store fills up (the database has room): the capture that
/// cannot be stored stops the job, and no page is recorded as failed for it
/// (a failed page is done: a resume would never fetch it again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_blob_store_blames_no_page_and_the_resume_fetches_every_one() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let blobs = data.join("blobs");
    let Some(disk) = Tmpfs::mount_at(parent, blobs.clone(), 256) else { return };
    let site = start_site(150).await;
    let mut run = crawl(&data, &site);
    let output = tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap();
    let said = failed_clearly(&output, &["no space left", &blobs.display().to_string(), "run the same command"]);
    eprintln!("a full blob store: {said}");
    let committed = {
        let store = Store::open(&data.join("db")).unwrap();
        let job = &store.jobs().unwrap()[0];
        let errors: Vec<_> = store.frontier(&job.id).unwrap().errors().collect();
        assert!(errors.is_empty(), "no page is blamed for our disk: {errors:?}");
        all_listings_sealed(&store);
        job.counters.pages
    };
    disk.remount("size=256m");
    let mut run = crawl(&data, &site);
    let out = ok(tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["resumed"].as_bool(), report["job"]["status"].as_str()), (Some(true), Some("completed")));
    assert_eq!(report["job"]["counters"]["errors"], 0, "{report}");
    assert!(report["job"]["counters"]["pages"].as_u64().unwrap() > committed);
    complete_and_sound(&data, &site);
}

/// Every file under `dir` with its length and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_dir_is_refused_before_any_work_and_left_unchanged() {
    let Some(disk) = Tmpfs::mount(64 * 1024) else { return };
    let site = start_site(30).await;
    let data = disk.dir.join("data");
    let mut run = crawl(&data, &site);
    ok(tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap());
    let before = snapshot(&data);
    let served = site.served_now();

    disk.remount("ro");
    let data_str = data.display().to_string();
    let mut flag = spotcheck(&data);
    flag.args(["flag", "--today", "2026-06-01"]);
    for mut command in [crawl(&data, &site), flag] {
        let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let said = failed_clearly(&output, &["read-only", &data_str]);
        eprintln!("a read-only disk: {said}");
    }
    assert_eq!(site.served_now(), served, "refused before fetching anything");
    disk.remount("rw");
    assert_eq!(snapshot(&data), before, "nothing in the data directory changed");
    ledger_verifies(&data);
    complete_and_sound(&data, &site);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_exported_to_a_full_disk_fails_clearly_and_leaves_nothing_under_its_name() {
    let Some(disk) = Tmpfs::mount(32) else { return };
    let site = start_site(120).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (host_port, entry) = (site.host_port(), site.entry("sample-mall"));
    let station_data = data.clone();
    tokio::task::spawn_blocking(move || station::crawl_and_flag(&station_data, &host_port, &entry)).await.unwrap();
    let findings = some_findings(&data, 5);
    assert!(!findings.is_empty());
    let out = disk.dir.join("case.wacz");
    let bundle = || station::bundle(&data, &out, &findings);
    let exported = exports(&data);
    let output = bundle().output().unwrap();
    let said = failed_clearly(&output, &["no space left", &disk.dir.display().to_string()]);
    eprintln!("a full disk under the bundle: {said}");
    assert!(!out.exists(), "no bundle under its name");
    let leftovers: Vec<_> = std::fs::read_dir(&disk.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(leftovers.is_empty(), "no partial file left behind: {leftovers:?}");
    assert_eq!(exports(&data), exported, "no export recorded");
    ledger_verifies(&data);

    disk.remount("size=64m");
    ok(bundle().output().unwrap());
    bundle_verifies(&out);
    assert_eq!(exports(&data), exported + 1);
    let store = Store::open(&data.join("db")).unwrap();
    assert_eq!(Census::of(&store).count(EntryKind::Export), exported + 1);
}
