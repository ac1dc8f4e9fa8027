use chrono::TimeZone;

use super::*;
use crate::capture::{Hop, RequestRecord, ResponseRecord};

pub(crate) fn capture(url: &str, headers: &[(&str, &str)], body: &[u8]) -> CaptureRecord {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 19, 52, 11).single().unwrap_or_default();
    CaptureRecord {
        version: CaptureRecord::VERSION,
        url: url.to_string(),
        final_url: url.to_string(),
        redirect_chain: Vec::new(),
        request: RequestRecord {
            method: "GET".into(),
            headers: vec![("user-agent".into(), "spotcheck/test".into()), ("accept".into(), "*/*".into())],
        },
        response: ResponseRecord {
            status: 200,
            http_version: "HTTP/1.1".into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body_sha256: Digest::of(body),
            body_len: body.len() as u64,
            truncated: false,
        },
        resolved_ip: Some("127.0.0.1:8080".into()),
        tls_peer_cert_sha256: None,
        started_at: at,
        finished_at: at,
        time_source: "system".into(),
        tool: "spotcheck/test".into(),
        station: None,
        operators: vec![],
        job_id: None,
        plan_id: None,
        robots_override: None,
        artifacts: Vec::new(),
    }
}

fn sample_warc() -> Vec<u8> {
    let body = b"<html><title>t</title></html>";
    let mut c = capture(
        "https://shop.example/item?id=1",
        &[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        body,
    );
    c.final_url = "https://shop.example/item?id=2".into();
    c.redirect_chain.push(Hop { url: c.url.clone(), status: 301, location: c.final_url.clone() });
    c.response.http_version = "HTTP/2.0".into();
    let mut w = WarcWriter::new(Vec::new());
    w.write_warcinfo(c.started_at, "data.warc", &[("software", "spotcheck/test")]).unwrap();
    w.write_capture(&c, body).unwrap();
    w.into_inner()
}

#[test]
fn same_input_gives_identical_bytes() {
    assert_eq!(sample_warc(), sample_warc());
}

#[test]
fn records_read_back_with_offsets_and_valid_digests() {
    let warc = sample_warc();
    let records = read_records(&warc).unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.record_type()).collect();
    assert_eq!(kinds, ["warcinfo", "response", "response", "request", "metadata"]);
    for r in &records {
        check_digests(r).unwrap();
        assert!(r.record_id().starts_with("urn:uuid:"), "{}", r.record_id());
    }
    let last = records.last().unwrap();
    assert_eq!(last.offset + last.length, warc.len() as u64);
    let resp = &records[2];
    assert_eq!(resp.header("WARC-Protocol"), Some("h2"));
    assert_eq!(resp.header("WARC-IP-Address"), Some("127.0.0.1"));
    let (status, headers) = resp.http_head().unwrap();
    assert_eq!(status, "HTTP/1.1 200 ");
    assert!(headers.iter().any(|(n, v)| n == "X-Crawler-Transfer-Encoding" && v == "chunked"));
    assert!(!headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding")));
    assert_eq!(resp.payload().unwrap(), b"<html><title>t</title></html>");
    // The request is concurrent to the response, the metadata too.
    assert_eq!(records[3].header("WARC-Concurrent-To"), Some(format!("<{}>", resp.record_id()).as_str()));
    assert_eq!(records[4].block, resp_capture_json(&warc).as_slice());
}

fn resp_capture_json(warc: &[u8]) -> Vec<u8> {
    let records = read_records(warc).unwrap();
    records[4].block.to_vec()
}

#[test]
fn a_flipped_byte_is_named_by_record() {
    let warc = sample_warc();
    let records = read_records(&warc).unwrap();
    let resp = &records[2];
    let id = resp.record_id().to_string();
    // Flip the last byte of the body (inside the payload).
    let at = (resp.offset + resp.length - 5) as usize;
    let mut bad = warc.clone();
    bad[at] ^= 0x01;
    let records = read_records(&bad).unwrap();
    let err = check_digests(&records[2]).unwrap_err();
    match &err {
        WarcError::DigestMismatch { record_id, field, .. } => {
            assert_eq!(record_id, &id);
            assert_eq!(*field, "WARC-Block-Digest");
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(err.to_string().contains(&id));
    for (i, r) in records.iter().enumerate() {
        assert_eq!(check_digests(r).is_ok(), i != 2, "record {i}");
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let warc = sample_warc();
    let boundaries: Vec<usize> = read_records(&warc).unwrap().iter().map(|r| (r.offset + r.length) as usize).collect();
    for cut in 0..warc.len() {
        let result = read_records(&warc[..cut]);
        if boundaries.contains(&cut) || cut == 0 {
            assert!(result.is_ok(), "cut at a record boundary {cut}");
        } else {
            assert!(result.is_err(), "cut at {cut} was accepted");
        }
    }
}

#[test]
fn hostile_headers_are_bounded() {
    let many = format!("WARC/1.1\r\n{}Content-Length: 0\r\n\r\n\r\n\r\n", "X-A: b\r\n".repeat(300));
    assert!(matches!(read_records(many.as_bytes()), Err(WarcError::TooManyFields { .. })));
    let huge = format!("WARC/1.1\r\nX-A: {}\r\n", "a".repeat(70_000));
    assert!(matches!(read_records(huge.as_bytes()), Err(WarcError::HeaderTooLarge { .. })));
    let big_len = "WARC/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nabc";
    assert!(matches!(read_records(big_len.as_bytes()), Err(WarcError::Truncated { .. })));
    let not_warc = "HTTP/1.1 200 OK\r\n\r\n";
    assert!(matches!(read_records(not_warc.as_bytes()), Err(WarcError::Malformed { .. })));
    let no_len = "WARC/1.1\r\nWARC-Type: resource\r\n\r\n\r\n\r\n";
    assert!(matches!(read_records(no_len.as_bytes()), Err(WarcError::Malformed { .. })));
}

#[test]
fn body_must_match_the_capture_record() {
    let c = capture("http://a.example/", &[], b"one");
    let mut w = WarcWriter::new(Vec::new());
    assert!(matches!(w.write_capture(&c, b"two"), Err(WarcError::BodyMismatch { .. })));
    assert_eq!(w.offset(), 0, "nothing written");
}

#[test]
fn record_ids_are_uuid_v8_and_differ_by_offset() {
    let a = record_id(0, RecordType::Resource, "u", "d", "sha256:00");
    let b = record_id(1, RecordType::Resource, "u", "d", "sha256:00");
    assert_ne!(a, b);
    let uuid = a.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "8");
    assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
}

#[test]
fn ip_and_uri_helpers() {
    assert_eq!(ip_only("127.0.0.1:8080"), "127.0.0.1");
    assert_eq!(ip_only("[::1]:443"), "::1");
    assert_eq!(ip_only("::1"), "::1");
    assert_eq!(uri_for_warc("https://a.example/café?q=a b"), "https://a.example/caf%C3%A9?q=a%20b");
    assert_eq!(uri_for_warc("https://a.example/%41"), "https://a.example/%41");
}

#[test]
fn field_values_cannot_inject_lines() {
    let mut w = WarcWriter::new(Vec::new());
    let err = w.write_warcinfo(Utc::now(), "x.warc", &[("a", "b\r\nWARC-Type: response")]).unwrap_err();
    assert!(matches!(err, WarcError::InvalidField { .. }));
}
