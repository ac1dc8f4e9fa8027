//! `spotcheck bench seal`: how fast evidence is sealed and checked —
//! SHA-256 throughput against `sha256sum`, content-addressed writes (hash +
//! write + one sync), bundles written per second and bundles verified per
//! second — on a synthetic station in a temporary directory.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use evidence::finding::{FindingRecord, Matched};
use evidence::{CaptureManifest, CaptureRecord, Digest, RequestRecord, ResponseRecord};
use rand::{RngCore, SeedableRng};
use serde::Serialize;

use crate::config::{DataDir, Identity};
use crate::sealing::{BundleOptions, BundleWork, Station};

#[derive(Debug, clap::Args)]
pub struct BenchSealArgs {
    /// Megabytes hashed in the SHA-256 comparison.
    #[arg(long, default_value_t = 512)]
    pub hash_mib: usize,
    /// Captures stored in the synthetic station.
    #[arg(long, default_value_t = 2000)]
    pub captures: usize,
    /// Size of each captured body, KiB.
    #[arg(long, default_value_t = 128)]
    pub body_kib: usize,
    /// Captures (each with a finding) per bundle.
    #[arg(long, default_value_t = 10)]
    pub per_bundle: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print nothing: the caller (the suite) reports the figures.
    #[arg(skip)]
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
pub struct SealBench {
    pub sha256_mb_per_sec: f64,
    /// `sha256sum` over the same bytes from the page cache (none if not installed).
    pub sha256sum_mb_per_sec: Option<f64>,
    pub store_captures: usize,
    pub store_mb: f64,
    /// Hashing and writing the bodies and records, plus one sync, per second.
    pub store_mb_per_sec: f64,
    pub bundles: usize,
    pub bundle_mb: f64,
    pub bundles_per_sec: f64,
    pub bundle_mb_per_sec: f64,
    pub verified_per_sec: f64,
    pub verify_mb_per_sec: f64,
}

pub async fn run(args: BenchSealArgs) -> anyhow::Result<SealBench> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;

    // 1. SHA-256 against sha256sum over the same bytes.
    let mut buf = vec![0u8; args.hash_mib << 20];
    rng.fill_bytes(&mut buf);
    let t = Instant::now();
    let digest = Digest::of(&buf);
    let sha256_mb_per_sec = mb(buf.len()) / t.elapsed().as_secs_f64();
    let file = tmp.path().join("hash.bin");
    std::fs::File::create(&file).and_then(|mut f| f.write_all(&buf)).context("cannot write the hash sample")?;
    let sha256sum_mb_per_sec = sha256sum(&file, &digest, buf.len());
    drop(buf);
    let _ = std::fs::remove_file(&file);

    // 2. Captures into the content-addressed store, then into the ledger.
    let data = DataDir::new(tmp.path().join("station"));
    let store = data.open_store()?;
    let identity = Identity { station: "bench-1".into(), operators: vec!["bench".into()] };
    let station = Station::open(&data, &store, &identity)?;
    let blobs = station.blobs.clone().with_fsync(false);
    let mut body = vec![0u8; args.body_kib << 10];
    let mut ids = Vec::with_capacity(args.captures);
    let mut manifests = Vec::with_capacity(args.captures);
    let mut stored = 0usize;
    let t = Instant::now();
    for i in 0..args.captures {
        rng.fill_bytes(&mut body);
        let body_sha256 = blobs.put(&body)?;
        let record = synthetic_record(i, body_sha256, body.len());
        let json = record.to_canonical_json();
        let id = blobs.put(&json)?;
        stored += body.len() + json.len();
        manifests.push(CaptureManifest::of(id, &record).to_entry());
        ids.push(id);
    }
    blobs.sync()?;
    let store_secs = t.elapsed().as_secs_f64();
    station.ledger.append(manifests)?;
    let findings: Vec<FindingRecord> = ids.iter().enumerate().map(|(i, id)| synthetic_finding(i, id)).collect();
    station.ledger.append(findings.iter().map(FindingRecord::to_entry).collect())?;
    station.ledger.flush()?;

    // 3. Bundles: write, then verify each from its file.
    let bundles_dir = data.bundles();
    let work: Vec<BundleWork> = findings
        .chunks(args.per_bundle.max(1))
        .enumerate()
        .map(|(n, chunk)| BundleWork {
            findings: chunk.to_vec(),
            captures: Vec::new(),
            attachments: Vec::new(),
            options: BundleOptions {
                out: bundles_dir.join(format!("b{n}.wacz")),
                title: format!("bench bundle {n}"),
                purpose: None,
                tsa_url: None,
                chromium: None,
            },
        })
        .collect();
    let t = Instant::now();
    let summaries = station.seal_bundles(&store, work).await?;
    let bundle_secs = t.elapsed().as_secs_f64();
    let bundle_bytes: u64 = summaries.iter().map(|s| s.bytes).sum();
    let t = Instant::now();
    for s in &summaries {
        let bytes = std::fs::read(&s.path)?;
        let report = evidence::bundle::verify_bundle(&bytes, &Default::default());
        anyhow::ensure!(report.ok(), "bundle {} does not verify", s.path.display());
    }
    let verify_secs = t.elapsed().as_secs_f64();

    let result = SealBench {
        sha256_mb_per_sec,
        sha256sum_mb_per_sec,
        store_captures: args.captures,
        store_mb: mb(stored),
        store_mb_per_sec: mb(stored) / store_secs,
        bundles: summaries.len(),
        bundle_mb: mb(bundle_bytes as usize),
        bundles_per_sec: summaries.len() as f64 / bundle_secs,
        bundle_mb_per_sec: mb(bundle_bytes as usize) / bundle_secs,
        verified_per_sec: summaries.len() as f64 / verify_secs,
        verify_mb_per_sec: mb(bundle_bytes as usize) / verify_secs,
    };
    if args.quiet {
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("sha256 (sha2 crate)     {:>8.0} MB/s", result.sha256_mb_per_sec);
        match result.sha256sum_mb_per_sec {
            Some(v) => println!("sha256sum (coreutils)   {v:>8.0} MB/s"),
            None => println!("sha256sum (coreutils)   not installed"),
        }
        println!(
            "store captures          {:>8.0} MB/s  ({} captures, {:.0} MB hashed and written, one sync)",
            result.store_mb_per_sec, result.store_captures, result.store_mb
        );
        println!(
            "seal bundles            {:>8.1} bundles/s  {:>6.0} MB/s  ({} bundles of {} findings, {:.0} MB)",
            result.bundles_per_sec, result.bundle_mb_per_sec, result.bundles, args.per_bundle, result.bundle_mb
        );
        println!(
            "verify bundles          {:>8.1} bundles/s  {:>6.0} MB/s",
            result.verified_per_sec, result.verify_mb_per_sec
        );
    }
    Ok(result)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// MB/s of `sha256sum` on `file` (warm page cache), if it is installed and agrees.
fn sha256sum(file: &std::path::Path, digest: &Digest, len: usize) -> Option<f64> {
    let _ = Command::new("sha256sum").arg(file).output().ok()?; // warm the cache
    let t = Instant::now();
    let out = Command::new("sha256sum").arg(file).output().ok()?;
    let secs = t.elapsed().as_secs_f64();
    String::from_utf8_lossy(&out.stdout).starts_with(&digest.to_hex()).then(|| mb(len) / secs)
}

fn synthetic_record(i: usize, body_sha256: Digest, len: usize) -> CaptureRecord {
    let now = Utc::now();
    let url = format!("http://bench.invalid/item/{i}");
    CaptureRecord {
        version: CaptureRecord::VERSION,
        url: url.clone(),
        final_url: url,
        redirect_chain: Vec::new(),
        request: RequestRecord { method: "GET".into(), headers: vec![("user-agent".into(), crate::TOOL.into())] },
        response: ResponseRecord {
            status: 200,
            http_version: "HTTP/1.1".into(),
            headers: vec![
                ("content-type".into(), "application/octet-stream".into()),
                ("content-length".into(), len.to_string()),
            ],
            body_sha256,
            body_len: len as u64,
            truncated: false,
        },
        resolved_ip: Some("127.0.0.1:80".into()),
        tls_peer_cert_sha256: None,
        started_at: now,
        finished_at: now,
        time_source: "system".into(),
        tool: crate::TOOL.into(),
        station: Some("bench-1".into()),
        operators: vec!["bench".into()],
        job_id: None,
        plan_id: None,
        robots_override: None,
        artifacts: Vec::new(),
    }
}

fn synthetic_finding(i: usize, capture: &Digest) -> FindingRecord {
    let listing = format!("bench/{i}");
    FindingRecord {
        id: FindingRecord::id_for("ccc.missing", 1, &listing, Some(&capture.to_hex())),
        rule: "ccc.missing".into(),
        rule_version: 1,
        severity: "high".into(),
        title: "CCC catalogue product without a certificate".into(),
        message: "bench finding".into(),
        legal_basis: vec!["强制性产品认证管理规定 第2条".into()],
        listing,
        capture: Some(capture.to_hex()),
        matched: vec![Matched { field: "title".into(), text: "充电宝".into(), span: Some([0, 9]), note: None }],
    }
}
