//! A browser capture's artifacts (rendered DOM, screenshot, MHTML, network
//! log) travel in the bundle as WARC resource records bound to the capture
//! record, the report shows the screenshot, and the verifier checks them.
#![cfg(feature = "station")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use chrono::Utc;
use evidence::bundle::{verify_bundle, write_bundle, BundleRequest, VerifyOptions};
use evidence::keys::StationKey;
use evidence::ledger::Ledger;
use evidence::{Artifact, BlobStore, CaptureManifest, CaptureRecord, Digest, RequestRecord, ResponseRecord};

/// A valid 1×1 PNG (red pixel).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49,
    0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

struct Station {
    _dir: tempfile::TempDir,
    blobs: BlobStore,
    ledger: Ledger,
    key: StationKey,
    out: std::path::PathBuf,
}

fn station() -> Station {
    let dir = tempfile::tempdir().unwrap();
    let db = kv::open(dir.path().join("db")).unwrap();
    let ledger = Ledger::open(&db).unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs")).unwrap();
    let (key, _) = StationKey::load_or_create(&dir.path().join("keys")).unwrap();
    let out = dir.path().join("b.wacz");
    Station { _dir: dir, blobs, ledger, key, out }
}

/// Stores a browser capture with four artifacts; returns its id.
fn browser_capture(s: &Station) -> Digest {
    let document = b"<html><body><div id=app></div><script>render()</script></body></html>".to_vec();
    let dom = "<html><body><div id=app><h1>充电宝 20000mAh</h1><span class=price>¥59.00</span></div></body></html>";
    let network = br#"[{"url":"http://shop.test/item/1","status":200,"sha256":"00"}]"#.to_vec();
    let mhtml = b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n\r\n--x--\r\n".to_vec();
    let mut artifacts = Vec::new();
    for (role, media, bytes) in [
        ("dom", "text/html", dom.as_bytes().to_vec()),
        ("screenshot", "image/png", PNG.to_vec()),
        ("mhtml", "multipart/related", mhtml),
        ("network-log", "application/json", network),
    ] {
        let sha256 = s.blobs.put(&bytes).unwrap();
        artifacts.push(Artifact { role: role.into(), media_type: media.into(), sha256, bytes: bytes.len() as u64 });
    }
    let now = Utc::now();
    let record = CaptureRecord {
        version: CaptureRecord::VERSION,
        url: "http://shop.test/item/1".into(),
        final_url: "http://shop.test/item/1".into(),
        redirect_chain: Vec::new(),
        request: RequestRecord { method: "GET".into(), headers: Vec::new() },
        response: ResponseRecord {
            status: 200,
            http_version: "browser".into(),
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body_sha256: s.blobs.put(&document).unwrap(),
            body_len: document.len() as u64,
            truncated: false,
        },
        resolved_ip: Some("127.0.0.1:80".into()),
        tls_peer_cert_sha256: None,
        started_at: now,
        finished_at: now,
        time_source: "system".into(),
        tool: "spotcheck/test (Chromium 156)".into(),
        station: Some("sta-1".into()),
        operators: vec!["甲".into(), "乙".into()],
        job_id: None,
        plan_id: None,
        robots_override: None,
        artifacts,
    };
    let id = s.blobs.put(&record.to_canonical_json()).unwrap();
    s.ledger.append(vec![CaptureManifest::of(id, &record).to_entry()]).unwrap();
    id
}

fn request(id: Digest) -> BundleRequest {
    BundleRequest {
        id: "B-test".into(),
        title: "browser capture".into(),
        purpose: None,
        station: "sta-1".into(),
        operators: vec!["甲".into(), "乙".into()],
        tool: "spotcheck/test".into(),
        created: Utc::now(),
        captures: vec![id],
        findings: Vec::new(),
        context: Default::default(),
        chromium: None,
        attachments: Vec::new(),
    }
}

fn unzip(bundle: &[u8], name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut f = zip.by_name(name).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out).unwrap();
    out
}

#[test]
fn artifacts_are_bundled_shown_and_verified() {
    let s = station();
    let id = browser_capture(&s);
    let cp = s.ledger.checkpoint(&s.key, "sta-1").unwrap();
    write_bundle(&s.out, &request(id), &s.blobs, &s.ledger, &s.key, &cp).unwrap();
    let bytes = std::fs::read(&s.out).unwrap();
    let report = verify_bundle(&bytes, &VerifyOptions::default());
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());

    // Each artifact is a resource record concurrent to the response.
    let warc = unzip(&bytes, "archive/data.warc");
    let records = evidence::warc::read_records(&warc).unwrap();
    let resources: Vec<_> = records.iter().filter(|r| r.record_type() == "resource").collect();
    assert_eq!(resources.len(), 4);
    assert!(resources.iter().any(|r| r.block == PNG && r.header("Content-Type") == Some("image/png")));
    assert!(resources.iter().all(|r| r.header("WARC-Concurrent-To").is_some()));

    // The report embeds the screenshot and lists every artifact's hash.
    let html = String::from_utf8(unzip(&bytes, "spotcheck/report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,"), "the screenshot is shown");
    assert!(html.contains(&Digest::of(PNG).to_hex()));

    // Third-party tools still accept the package and the WARC.
    let dir = tempfile::tempdir().unwrap();
    let warc_path = dir.path().join("data.warc");
    std::fs::write(&warc_path, &warc).unwrap();
    let check = Command::new("warcio").arg("check").arg(&warc_path).output().expect("warcio (pip install warcio)");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let validate = Command::new("wacz").args(["validate", "-f"]).arg(&s.out).output().expect("wacz (pip install wacz)");
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stdout));
}

#[test]
fn a_capture_whose_artifact_is_gone_cannot_be_bundled() {
    let s = station();
    let id = browser_capture(&s);
    let cp = s.ledger.checkpoint(&s.key, "sta-1").unwrap();
    // Damage the stored screenshot: the store re-hashes on read and refuses it.
    let path = s.blobs.root().join("sha256").join(&Digest::of(PNG).to_hex()[..2]).join(&Digest::of(PNG).to_hex()[2..]);
    assert!(path.exists(), "blob layout: {}", path.display());
    std::fs::write(&path, b"not the screenshot").unwrap();
    let err = write_bundle(&s.out, &request(id), &s.blobs, &s.ledger, &s.key, &cp).unwrap_err();
    assert!(err.to_string().contains(&id.to_hex()), "{err}");
    assert!(!s.out.exists());
}
