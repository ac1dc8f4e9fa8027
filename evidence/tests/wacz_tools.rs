//! WARCs and WACZ bundles written by this crate, checked by the reference
//! tools: `warcio check -v` / `warcio index` on every WARC and
//! `wacz validate` on the bundle (both from PyPI: `pip install warcio wacz`).

// Helpers outside `#[test]` functions build fixed inputs; a failure there is a test failure.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use evidence::capture::{CaptureRecord, Hop, RequestRecord, ResponseRecord};
use evidence::wacz::{
    cdxj_entries, pages_jsonl, read_package, render_cdxj, DigestToSign, PackageLimits, PackageMeta, PageEntry,
    SignError, WaczWriter,
};
use evidence::warc::{check_digests, read_records, WarcError, WarcWriter};
use evidence::Digest;

fn at(sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 19, 0, sec).single().unwrap_or_default()
}

fn capture(url: &str, version: &str, headers: &[(&str, &str)], body: &[u8], sec: u32) -> CaptureRecord {
    CaptureRecord {
        version: CaptureRecord::VERSION,
        url: url.to_string(),
        final_url: url.to_string(),
        redirect_chain: Vec::new(),
        request: RequestRecord {
            method: "GET".into(),
            headers: vec![
                ("user-agent".into(), "spotcheck/0.1".into()),
                ("accept-encoding".into(), "gzip, deflate, br".into()),
            ],
        },
        response: ResponseRecord {
            status: 200,
            http_version: version.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body_sha256: Digest::of(body),
            body_len: body.len() as u64,
            truncated: false,
        },
        resolved_ip: Some("203.0.113.7:443".into()),
        tls_peer_cert_sha256: None,
        started_at: at(sec),
        finished_at: at(sec + 1),
        time_source: "system".into(),
        tool: "spotcheck/0.1".into(),
        station: Some("station-1".into()),
        operators: vec!["inspector".into()],
        job_id: Some("job-1".into()),
        plan_id: None,
        robots_override: None,
        artifacts: Vec::new(),
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A valid gzip member holding `data` in one stored deflate block.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The synthetic captures and their bodies.
fn captures() -> Vec<(CaptureRecord, Vec<u8>)> {
    let html = b"<!doctype html><html><head><title>Plain</title></head><body>ok</body></html>".to_vec();
    let plain = capture(
        "https://shop.example/item/1",
        "HTTP/1.1",
        &[("Content-Type", "text/html; charset=utf-8"), ("Content-Length", &html.len().to_string())],
        &html,
        1,
    );

    let gz = gzip_stored(b"<html><title>Gzipped</title></html>");
    let gzipped = capture(
        "https://shop.example/item/2",
        "HTTP/1.1",
        &[("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", &gz.len().to_string())],
        &gz,
        2,
    );

    // Every byte value, and CRLF CRLF inside the body.
    let mut bin: Vec<u8> = (0..=255u8).collect();
    bin.extend_from_slice(b"\r\n\r\nHTTP/1.1 200 \r\n\r\n");
    let binary = capture(
        "https://cdn.shop.example/img/1.png",
        "HTTP/2.0",
        &[("content-type", "image/png"), ("content-length", &bin.len().to_string())],
        &bin,
        3,
    );

    let target = b"<html><title>After redirects</title></html>".to_vec();
    let mut redirected = capture(
        "https://shop.example/final",
        "HTTP/1.1",
        &[("Content-Type", "text/html"), ("Content-Length", &target.len().to_string())],
        &target,
        4,
    );
    redirected.url = "http://shop.example/start".into();
    redirected.redirect_chain = vec![
        Hop { url: "http://shop.example/start".into(), status: 301, location: "https://shop.example/start".into() },
        Hop { url: "https://shop.example/start".into(), status: 302, location: "/final".into() },
    ];

    let cafe = "<html><title>Café</title></html>".as_bytes().to_vec();
    let non_ascii = capture(
        "https://shop.example/produkt/café?q=茶",
        "HTTP/1.1",
        &[("Content-Type", "text/html; charset=utf-8"), ("Content-Length", &cafe.len().to_string())],
        &cafe,
        5,
    );

    let streamed = b"{\"items\":[1,2,3]}".to_vec();
    let mut no_length = capture(
        "https://api.shop.example/items",
        "HTTP/1.1",
        &[("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
        &streamed,
        6,
    );
    no_length.response.truncated = true;

    vec![(plain, html), (gzipped, gz), (binary, bin), (redirected, target), (non_ascii, cafe), (no_length, streamed)]
}

fn data_warc() -> Vec<u8> {
    let mut w = WarcWriter::new(Vec::new());
    w.write_warcinfo(at(0), "data.warc", &[("software", "spotcheck/0.1"), ("format", "WARC File Format 1.1")])
        .expect("warcinfo");
    for (c, body) in captures() {
        w.write_capture(&c, &body).expect("capture");
    }
    w.into_inner()
}

fn extra_warc() -> Vec<u8> {
    let mut w = WarcWriter::new(Vec::new());
    w.write_warcinfo(at(0), "screens.warc", &[("software", "spotcheck/0.1")]).expect("warcinfo");
    w.write_resource("urn:spotcheck:screenshot:item-1", at(7), "image/png", b"\x89PNG\r\n\x1a\nnot really")
        .expect("resource");
    w.write_resource("https://shop.example/item/1#screenshot", at(8), "text/plain", b"a note").expect("resource");
    w.into_inner()
}

fn signer(d: &DigestToSign) -> Result<Option<serde_json::Value>, SignError> {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let sig = key.sign(d.hash.as_bytes());
    let spki = key.verifying_key().to_public_key_der()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Some(serde_json::json!({
        "hash": d.hash,
        "signature": b64.encode(sig.to_bytes()),
        "publicKey": b64.encode(spki.as_bytes()),
        "created": d.created,
        "software": "spotcheck/0.1",
    })))
}

fn bundle() -> WaczWriter {
    let data = data_warc();
    let extra = extra_warc();
    let mut entries = cdxj_entries("data.warc", &data).expect("index data.warc");
    entries.extend(cdxj_entries("screens.warc", &extra).expect("index screens.warc"));
    let pages: Vec<PageEntry> = captures()
        .iter()
        .enumerate()
        .map(|(i, (c, _))| PageEntry {
            id: format!("page-{i}"),
            url: c.final_url.clone(),
            ts: c.started_at,
            title: Some(format!("Capture {i}")),
        })
        .collect();
    let mut w = WaczWriter::new(PackageMeta {
        title: "Spot check 2026-11-22".into(),
        description: Some("Synthetic captures".into()),
        created: at(30),
        software: "spotcheck/0.1".into(),
        main_page_url: Some("https://shop.example/item/1".into()),
        main_page_date: Some(at(1)),
    });
    w.add_file("archive/data.warc", data).expect("add");
    w.add_file("archive/screens.warc", extra).expect("add");
    w.add_file("indexes/index.cdx", render_cdxj(&entries)).expect("add");
    w.add_file("pages/pages.jsonl", pages_jsonl("Spot check pages", &pages)).expect("add");
    w.add_file("spotcheck/findings.json", br#"{"findings":[]}"#.to_vec()).expect("add");
    w.add_file("spotcheck/report.html", b"<html><body>report</body></html>".to_vec()).expect("add");
    w
}

/// Runs a tool, failing clearly when it is not installed.
fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{tool}` ({e}); install the reference tools with `pip install warcio wacz`")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn warcio_check(path: &Path) -> (bool, String) {
    run("warcio", &["check", "-v", &path.to_string_lossy()])
}

#[test]
fn bundle_passes_warcio_check_and_wacz_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("bundle.wacz");
    bundle().write_to(&dest, signer).expect("write bundle");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "bundle.wacz")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let (ok, out) = run("wacz", &["validate", "-f", &dest.to_string_lossy()]);
    assert!(ok, "wacz validate failed:\n{out}");
    assert!(out.contains("Validation succeeded"), "{out}");
    assert!(out.contains("Has signature"), "the signedData was checked for `created`:\n{out}");

    let pkg = read_package(&dest, &PackageLimits::default()).expect("read bundle");
    assert!(pkg.audit().expect("audit").is_clean());
    let pages = String::from_utf8(pkg.get("pages/pages.jsonl").expect("pages").to_vec()).expect("utf-8");
    let pages: Vec<serde_json::Value> = pages.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(pages[0]["format"], "json-pages-1.0");
    assert_eq!(pages[0]["id"], "pages");
    assert_eq!(pages.len(), 1 + captures().len());
    for page in &pages[1..] {
        for key in ["id", "url", "ts", "title"] {
            assert!(page[key].is_string(), "page lacks {key}: {page}");
        }
    }
    let dp = pkg.datapackage().expect("datapackage");
    assert_eq!(dp.main_page_url.as_deref(), Some("https://shop.example/item/1"));
    assert_eq!(dp.resources.len(), 6, "every file but the two datapackage files");
    let warcs: Vec<&str> = pkg.paths().filter(|p| p.starts_with("archive/")).collect();
    assert_eq!(warcs, ["archive/data.warc", "archive/screens.warc"]);
    for name in warcs {
        let bytes = pkg.get(name).expect("warc");
        let path = dir.path().join(name.trim_start_matches("archive/"));
        std::fs::write(&path, bytes).expect("extract");
        let records = read_records(bytes).expect("read back");
        let (ok, out) = warcio_check(&path);
        assert!(ok, "warcio check {name} failed:\n{out}");
        let with_digest = records.iter().filter(|r| r.header("WARC-Block-Digest").is_some()).count();
        assert_eq!(out.matches("digest pass").count(), with_digest, "every record verified:\n{out}");
        assert!(!out.contains("failed"), "{out}");
    }
}

#[test]
fn warcio_index_lists_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.warc");
    std::fs::write(&path, data_warc()).expect("write");
    let (ok, out) =
        run("warcio", &["index", "-f", "warc-type,warc-target-uri,http:status,offset,length", &path.to_string_lossy()]);
    assert!(ok, "warcio index failed:\n{out}");
    let rows: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    // warcinfo, then per capture: hops, response, request, metadata.
    let hops: usize = captures().iter().map(|(c, _)| c.redirect_chain.len()).sum();
    assert_eq!(rows.len(), 1 + captures().len() * 3 + hops);
    let warc = data_warc();
    let ours = read_records(&warc).expect("read");
    for (row, rec) in rows.iter().zip(&ours) {
        assert_eq!(row["warc-type"], rec.record_type());
        assert_eq!(row["offset"], rec.offset.to_string().as_str());
        // warcio counts an uncompressed record without its trailing CRLF CRLF.
        assert_eq!(row["length"], (rec.length - 4).to_string().as_str());
    }
    let statuses: Vec<&str> =
        rows.iter().filter(|r| r["warc-type"] == "response").filter_map(|r| r["http:status"].as_str()).collect();
    assert_eq!(statuses, ["200", "200", "200", "301", "302", "200", "200", "200"]);
    assert!(rows.iter().any(|r| r["warc-target-uri"] == "https://shop.example/produkt/caf%C3%A9?q=%E8%8C%B6"));
}

#[test]
fn tampering_is_caught_by_warcio_and_named_by_check_digests() {
    let warc = data_warc();
    let records = read_records(&warc).expect("read");
    let victim = records.iter().find(|r| r.record_type() == "response" && r.header("WARC-Protocol") == Some("h2"));
    let victim = victim.expect("the HTTP/2 response");
    let id = victim.record_id().to_string();
    let mut bad = warc.clone();
    let at = usize::try_from(victim.offset + victim.length).expect("fits") - 10;
    bad[at] ^= 0x20;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.warc");
    std::fs::write(&path, &bad).expect("write");
    let (ok, out) = warcio_check(&path);
    assert!(!ok, "warcio check accepted a tampered file:\n{out}");
    assert!(out.contains(&id), "{out}");

    let records = read_records(&bad).expect("still parses");
    let failures: Vec<String> = records
        .iter()
        .filter_map(|r| match check_digests(r) {
            Err(WarcError::DigestMismatch { record_id, .. }) => Some(record_id),
            Err(e) => panic!("unexpected {e}"),
            Ok(()) => None,
        })
        .collect();
    assert_eq!(failures, [id]);
}

#[test]
fn a_tampered_bundle_fails_wacz_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("bundle.wacz");
    let mut bytes = bundle().to_bytes(signer).expect("bundle");
    let needle = b"<body>report</body>";
    let pos = bytes.windows(needle.len()).position(|w| w == needle).expect("report inside");
    bytes[pos + 6] = b'R';
    std::fs::write(&dest, &bytes).expect("write");
    let (ok, out) = run("wacz", &["validate", "-f", &dest.to_string_lossy()]);
    assert!(!ok, "wacz validate accepted a tampered bundle:\n{out}");
    let err = read_package(&dest, &PackageLimits::default()).expect_err("crc mismatch");
    assert!(err.to_string().contains("spotcheck/report.html"), "{err}");
}

#[test]
fn bundles_are_deterministic() {
    let a = bundle().to_bytes(signer).expect("a");
    let b = bundle().to_bytes(signer).expect("b");
    assert_eq!(Digest::of(&a), Digest::of(&b));
    assert_eq!(a, b);
}

#[test]
fn index_matches_pywb_cdxj_indexer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.warc");
    let warc = data_warc();
    std::fs::write(&path, &warc).expect("write");
    let (ok, out) = run("cdxj-indexer", &[&path.to_string_lossy()]);
    assert!(ok, "cdxj-indexer failed:\n{out}");
    let parse = |line: &str| -> (String, String, serde_json::Value) {
        let mut parts = line.splitn(3, ' ');
        let key = parts.next().unwrap_or_default().to_string();
        let ts = parts.next().unwrap_or_default().to_string();
        let json = serde_json::from_str(parts.next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {line}"));
        (key, ts, json)
    };
    let ours = String::from_utf8(render_cdxj(&cdxj_entries("data.warc", &warc).expect("index"))).expect("utf-8");
    let ours: Vec<_> = ours.lines().map(parse).collect();
    let theirs: Vec<_> = out.lines().map(parse).collect();
    assert_eq!(ours.len(), 8, "6 final responses and 2 redirect hops");
    for line in &ours {
        assert!(theirs.contains(line), "cdxj-indexer has no line equal to {line:?}\n{out}");
    }
    for line in theirs.iter().filter(|l| !ours.contains(l)) {
        assert_eq!(line.2["mime"], "application/json", "only metadata records are left out: {line:?}");
    }
    let mut sorted = ours.clone();
    sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(sorted.iter().map(|l| &l.0).collect::<Vec<_>>(), ours.iter().map(|l| &l.0).collect::<Vec<_>>());
}
