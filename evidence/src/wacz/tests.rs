use chrono::TimeZone;
use serde_json::json;

use super::*;

fn meta() -> PackageMeta {
    PackageMeta {
        title: "spot check".into(),
        description: None,
        created: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 20, 0, 0).single().unwrap_or_default(),
        software: "spotcheck/test".into(),
        main_page_url: Some("https://shop.example/item".into()),
        main_page_date: None,
    }
}

fn writer() -> WaczWriter {
    let mut w = WaczWriter::new(meta());
    w.add_file("archive/data.warc", b"WARC/1.1\r\n".to_vec()).unwrap();
    w.add_file("indexes/index.cdx", b"".to_vec()).unwrap();
    w.add_file("pages/pages.jsonl", b"{}\n".to_vec()).unwrap();
    w.add_file("spotcheck/findings.json", b"[]".to_vec()).unwrap();
    w
}

fn unsigned(_: &DigestToSign) -> Result<Option<serde_json::Value>, SignError> {
    Ok(None)
}

/// Replaces every occurrence of `from` by `to` (same length) in a ZIP's bytes,
/// which renames an entry in both its local header and the central directory.
fn rename_entry(zip: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    let mut n = 0;
    while i + from.len() <= zip.len() {
        if &zip[i..i + from.len()] == from {
            zip[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
        i += 1;
    }
    assert!(n >= 2, "renamed {n} occurrences");
}

#[test]
fn same_files_give_identical_zips() {
    let a = writer().to_bytes(unsigned).unwrap();
    let b = writer().to_bytes(unsigned).unwrap();
    assert_eq!(a, b);
}

#[test]
fn package_round_trips_and_audits_clean() {
    let bytes =
        writer().to_bytes(|d| Ok(Some(json!({"hash": d.hash, "signature": "sig", "publicKey": "pk"})))).unwrap();
    let pkg = read_package_bytes(&bytes, &PackageLimits::default()).unwrap();
    let paths: Vec<&str> = pkg.paths().collect();
    assert_eq!(
        paths,
        [
            "archive/data.warc",
            "indexes/index.cdx",
            "pages/pages.jsonl",
            "spotcheck/findings.json",
            "datapackage.json",
            "datapackage-digest.json"
        ]
    );
    let audit = pkg.audit().unwrap();
    assert!(audit.is_clean(), "{audit:?}");
    let digest = pkg.datapackage_digest().unwrap();
    let signed = digest.signed_data.unwrap();
    assert_eq!(signed["created"], "2026-11-22T20:00:00Z", "created is added for wacz validate");
    assert_eq!(signed["hash"], digest.hash.as_str());
    let dp = pkg.datapackage().unwrap();
    assert_eq!(dp.wacz_version, "1.1.1");
    assert_eq!(dp.resources.len(), 4);
}

#[test]
fn a_conflicting_signed_created_is_refused() {
    let err = writer().to_bytes(|_| Ok(Some(json!({"created": "1999-01-01T00:00:00Z"})))).unwrap_err();
    assert!(matches!(err, WaczError::CreatedMismatch { .. }), "{err}");
}

#[test]
fn audit_names_a_changed_file() {
    let mut bytes = writer().to_bytes(unsigned).unwrap();
    // `[]` is findings.json's whole content; STORED, so it is in the ZIP as is.
    let pos = bytes.windows(2).position(|w| w == b"[]").unwrap();
    bytes[pos] = b'{';
    // The CRC no longer matches either: the reader refuses, naming the entry.
    let err = read_package_bytes(&bytes, &PackageLimits::default()).unwrap_err();
    assert!(err.to_string().contains("spotcheck/findings.json"), "{err}");

    // An entry replaced with consistent ZIP metadata is caught by the audit.
    let mut w = WaczWriter::new(meta());
    w.add_file("spotcheck/findings.json", b"[]".to_vec()).unwrap();
    let good = w.to_bytes(unsigned).unwrap();
    let pkg = read_package_bytes(&good, &PackageLimits::default()).unwrap();
    let mut files = pkg.files.clone();
    files[0].1 = b"{}".to_vec();
    files.push(("spotcheck/extra.txt".into(), b"x".to_vec()));
    let audit = Package { files }.audit().unwrap();
    assert_eq!(audit.mismatched.len(), 1);
    assert_eq!(audit.mismatched[0].path, "spotcheck/findings.json");
    assert_eq!(audit.unlisted, ["spotcheck/extra.txt"]);
    assert!(!audit.is_clean());
}

#[test]
fn layout_rules_are_enforced_when_adding() {
    let mut w = WaczWriter::new(meta());
    for bad in [
        "../x",
        "/abs/x.json",
        "x.json",
        "a/b/c.json",
        "archive/notes.txt",
        "pages/p.json",
        "s/datapackage.json",
        "s/.hidden",
        "s/a b.json",
    ] {
        assert!(w.add_file(bad, vec![]).is_err(), "{bad} accepted");
    }
    w.add_file("spotcheck/report.html", vec![]).unwrap();
    assert!(matches!(w.add_file("spotcheck/report.html", vec![]), Err(WaczError::Duplicate(_))));
}

#[test]
fn reader_rejects_parent_paths_duplicates_and_big_entries() {
    let limits = PackageLimits::default();
    let mut w = WaczWriter::new(meta());
    w.add_file("ab/x.json", b"1".to_vec()).unwrap();
    w.add_file("ab/y.json", b"2".to_vec()).unwrap();
    let base = w.to_bytes(unsigned).unwrap();

    let mut dotdot = base.clone();
    rename_entry(&mut dotdot, b"ab/x.json", b"../x.json");
    let err = read_package_bytes(&dotdot, &limits).unwrap_err();
    assert!(matches!(&err, WaczError::BadPath { path, .. } if path == "../x.json"), "{err}");

    // Two entries only (no datapackage.json, whose text would also be renamed).
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in ["ab/x.json", "ab/y.json"] {
        zip.start_file(name, opts).unwrap();
        std::io::Write::write_all(&mut zip, b"{}").unwrap();
    }
    let mut dup = zip.finish().unwrap().into_inner();
    rename_entry(&mut dup, b"ab/y.json", b"ab/x.json");
    let err = read_package_bytes(&dup, &limits).unwrap_err();
    assert!(matches!(&err, WaczError::Duplicate(p) if p == "ab/x.json"), "{err}");

    let small = PackageLimits { max_file_bytes: 100, ..limits };
    let err = read_package_bytes(&base, &small).unwrap_err();
    assert!(matches!(&err, WaczError::EntryTooLarge { path, .. } if path == "datapackage.json"), "{err}");

    let few = PackageLimits { max_entries: 3, ..limits };
    assert!(matches!(read_package_bytes(&base, &few), Err(WaczError::TooManyEntries { count: 4, .. })));

    let total = PackageLimits { max_total_bytes: 300, ..limits };
    assert!(matches!(read_package_bytes(&base, &total), Err(WaczError::TotalTooLarge { .. })));
}

#[test]
fn every_truncated_zip_is_an_error_not_a_panic() {
    let bytes = writer().to_bytes(unsigned).unwrap();
    for cut in 0..bytes.len() {
        assert!(read_package_bytes(&bytes[..cut], &PackageLimits::default()).is_err(), "cut at {cut}");
    }
    // Garbage and flipped bytes never panic either.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = read_package_bytes(&b, &PackageLimits::default()).map(|p| p.audit());
    }
}

#[test]
fn resource_names_stay_unique_and_valid() {
    let mut w = WaczWriter::new(meta());
    w.add_file("a/Data_1.json", vec![]).unwrap();
    w.add_file("b/data_1.json", vec![]).unwrap();
    let names: Vec<String> = w.datapackage().resources.into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["data-1.json", "b-data-1.json"]);
}

#[test]
fn reader_rejects_encrypted_entries_by_name() {
    let mut w = WaczWriter::new(meta());
    w.add_file("ab/secret.json", b"{}".to_vec()).unwrap();
    let mut bytes = w.to_bytes(unsigned).unwrap();
    // Set the "encrypted" bit (bit 0 of the general purpose flags) of the first
    // entry in its local header and its central directory record.
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    bytes[6] |= 1;
    let cd = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[cd + 8] |= 1;
    let err = read_package_bytes(&bytes, &PackageLimits::default()).unwrap_err();
    assert!(matches!(&err, WaczError::Encrypted { path } if path == "ab/secret.json"), "{err}");
}
