//! WARC 1.1 records: writing a capture as `response`/`request`/`metadata`
//! records, and reading them back to re-check their digests.
//!
//! Everything here is deterministic: the same input gives byte-identical
//! output, so a bundle can be rebuilt and compared, and record ids do not
//! depend on a random source.
//!
//! Choices a third party needs (also in FORMAT.md):
//!
//! - Records are uncompressed (`.warc`), `WARC/1.1`, fields ending in CRLF,
//!   each record followed by CRLF CRLF.
//! - `WARC-Block-Digest` and `WARC-Payload-Digest` are `sha256:` followed by
//!   64 lowercase hex digits. `warcio check` accepts hex, base32 and base64
//!   (it converts any of them to base32 before comparing); hex is what
//!   warcio.js / browsertrix write for SHA-256 and what the rest of this crate
//!   and the CDXJ index use, so one spelling of a digest appears everywhere.
//! - `WARC-Record-ID` is `<urn:uuid:…>`, a version-8 UUID made from the first
//!   16 bytes of a SHA-256 over the record's offset, type, target, date and
//!   block digest (see [`record_id`]).
//! - `WARC-Date` is RFC 3339 UTC with microseconds (`2026-11-22T19:52:11.123456Z`).
//! - How HTTP messages are rebuilt from a [`CaptureRecord`] is in [`http`].

#![forbid(unsafe_code)]

pub mod http;
pub mod read;

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};

use crate::capture::CaptureRecord;
use crate::Digest;

pub use http::{http_redirect_block, http_request_block, http_response_block, warc_protocol};
pub use read::{check_digests, read_records, read_records_with, ReadLimits, WarcRecord};

/// Errors from writing, reading or checking WARC records.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    #[error("cannot write warc record at offset {offset}: {source}")]
    Write {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("warc field `{name}` cannot be written: {reason}")]
    InvalidField { name: String, reason: &'static str },
    #[error("body given for {url} does not match its capture record: expected sha256 {expected} ({expected_len} bytes), got {actual} ({actual_len} bytes)")]
    BodyMismatch { url: String, expected: Digest, expected_len: u64, actual: Digest, actual_len: u64 },
    #[error("malformed warc record at offset {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("warc record at offset {offset}: header section is larger than {limit} bytes")]
    HeaderTooLarge { offset: u64, limit: usize },
    #[error("warc record at offset {offset}: more than {limit} header fields")]
    TooManyFields { offset: u64, limit: usize },
    #[error("warc file has more than {limit} records")]
    TooManyRecords { limit: usize },
    #[error("warc record at offset {offset} is truncated: its block needs {needed} bytes, {available} remain")]
    Truncated { offset: u64, needed: u64, available: u64 },
    #[error("warc record {record_id} at offset {offset} has no WARC-Block-Digest")]
    MissingDigest { record_id: String, offset: u64 },
    #[error("warc record {record_id} at offset {offset}: {field} `{value}` is not a sha256 digest in hex or base32")]
    UnsupportedDigest { record_id: String, offset: u64, field: &'static str, value: String },
    #[error("warc record {record_id} at offset {offset}: {field} says {expected} but the content hashes to {actual}")]
    DigestMismatch { record_id: String, offset: u64, field: &'static str, expected: String, actual: String },
}

/// The WARC record types this writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    Warcinfo,
    Request,
    Response,
    Metadata,
    Resource,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Warcinfo => "warcinfo",
            RecordType::Request => "request",
            RecordType::Response => "response",
            RecordType::Metadata => "metadata",
            RecordType::Resource => "resource",
        }
    }
}

/// Content-Type of a request record's block.
pub const HTTP_REQUEST_TYPE: &str = "application/http;msgtype=request";
/// Content-Type of a response record's block.
pub const HTTP_RESPONSE_TYPE: &str = "application/http;msgtype=response";

/// One record to write. Optional fields are written only when set.
#[derive(Debug, Clone)]
pub struct RecordSpec<'a> {
    pub kind: RecordType,
    pub date: DateTime<Utc>,
    pub target_uri: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    /// `WARC-Protocol` (e.g. `h2`), the IIPC HTTP/2 extension field.
    pub protocol: Option<&'a str>,
    /// Record ids (`urn:uuid:…`, without angle brackets).
    pub concurrent_to: Option<&'a str>,
    pub refers_to: Option<&'a str>,
    /// `WARC-Filename` (warcinfo records).
    pub filename: Option<&'a str>,
    /// `WARC-Truncated` reason (`length` when the body was cut at the size limit).
    pub truncated: Option<&'a str>,
    /// Extension fields, written after the standard ones in this order.
    pub extra: Vec<(&'a str, String)>,
    pub content_type: &'a str,
    pub block: &'a [u8],
    /// Where the payload starts inside `block`, when the record has one
    /// (`WARC-Payload-Digest` is then the SHA-256 of `block[offset..]`).
    pub payload_offset: Option<usize>,
}

impl<'a> RecordSpec<'a> {
    /// A record with only the mandatory fields set.
    pub fn new(kind: RecordType, date: DateTime<Utc>, content_type: &'a str, block: &'a [u8]) -> RecordSpec<'a> {
        RecordSpec {
            kind,
            date,
            target_uri: None,
            ip_address: None,
            protocol: None,
            concurrent_to: None,
            refers_to: None,
            filename: None,
            truncated: None,
            extra: Vec::new(),
            content_type,
            block,
            payload_offset: None,
        }
    }
}

/// Where a written record landed, for indexing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// `urn:uuid:…` (the field value without the angle brackets).
    pub id: String,
    /// Byte offset of the record's `WARC/1.1` line in the file.
    pub offset: u64,
    /// Bytes of the whole record, including the trailing CRLF CRLF.
    pub length: u64,
    /// `sha256:<hex>` of the block.
    pub block_digest: String,
    /// `sha256:<hex>` of the payload, for records that have one.
    pub payload_digest: Option<String>,
}

/// The records written for one capture by [`WarcWriter::write_capture`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecords {
    /// One reduced `response` record per redirect followed, in order.
    pub redirects: Vec<RecordInfo>,
    pub response: RecordInfo,
    pub request: RecordInfo,
    /// The capture record's canonical JSON (`application/json`).
    pub metadata: RecordInfo,
}

/// `WARC-Date` spelling: RFC 3339, UTC, microseconds.
pub fn warc_date(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_label(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The deterministic record id (`urn:uuid:…`) of a record.
///
/// A version-8 UUID (RFC 9562 "custom") from the first 16 bytes of
/// SHA-256(`spotcheck-warc-record-id/1` NUL offset(u64 BE) type NUL target NUL
/// date NUL block-digest). The offset keeps two identical records in one file
/// apart; everything else ties the id to the content.
pub fn record_id(offset: u64, kind: RecordType, target: &str, date: &str, block_digest: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"spotcheck-warc-record-id/1\0");
    h.update(offset.to_be_bytes());
    for part in [kind.as_str(), target, date, block_digest] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}

/// Percent-encodes what may not appear in a URI (non-ASCII bytes as UTF-8,
/// controls, space and `"<>\^`{|}`), leaving existing `%XX` escapes alone, so
/// `WARC-Target-URI` is a valid RFC 3986 URI even for an IRI-like input.
pub fn uri_for_warc(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for &b in url.as_bytes() {
        let plain = b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes uncompressed WARC 1.1 records to `out`, tracking offsets.
///
/// Records after a `warcinfo` record carry its id in `WARC-Warcinfo-ID`.
pub struct WarcWriter<W: Write> {
    out: W,
    offset: u64,
    warcinfo_id: Option<String>,
}

impl<W: Write> WarcWriter<W> {
    pub fn new(out: W) -> WarcWriter<W> {
        WarcWriter { out, offset: 0, warcinfo_id: None }
    }

    /// Bytes written so far (the offset of the next record).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes one record and returns where it landed.
    pub fn write_record(&mut self, spec: &RecordSpec<'_>) -> Result<RecordInfo, WarcError> {
        let date = warc_date(&spec.date);
        let block_digest = sha256_label(spec.block);
        let payload_digest = match spec.payload_offset {
            Some(at) => Some(sha256_label(spec.block.get(at..).ok_or(WarcError::InvalidField {
                name: "WARC-Payload-Digest".into(),
                reason: "payload offset is past the end of the block",
            })?)),
            None => None,
        };
        let target = spec.target_uri.map(uri_for_warc);
        let id = record_id(self.offset, spec.kind, target.as_deref().unwrap_or(""), &date, &block_digest);

        let mut head: Vec<(&str, String)> = vec![
            ("WARC-Type", spec.kind.as_str().to_string()),
            ("WARC-Record-ID", format!("<{id}>")),
            ("WARC-Date", date),
        ];
        if let Some(t) = target {
            head.push(("WARC-Target-URI", t));
        }
        if let Some(ip) = spec.ip_address {
            head.push(("WARC-IP-Address", ip.to_string()));
        }
        if let Some(p) = spec.protocol {
            head.push(("WARC-Protocol", p.to_string()));
        }
        if let Some(c) = spec.concurrent_to {
            head.push(("WARC-Concurrent-To", format!("<{c}>")));
        }
        if let Some(r) = spec.refers_to {
            head.push(("WARC-Refers-To", format!("<{r}>")));
        }
        if spec.kind != RecordType::Warcinfo {
            if let Some(w) = &self.warcinfo_id {
                head.push(("WARC-Warcinfo-ID", format!("<{w}>")));
            }
        }
        if let Some(f) = spec.filename {
            head.push(("WARC-Filename", f.to_string()));
        }
        if let Some(t) = spec.truncated {
            head.push(("WARC-Truncated", t.to_string()));
        }
        head.extend(spec.extra.iter().cloned());
        head.push(("Content-Type", spec.content_type.to_string()));
        head.push(("WARC-Block-Digest", block_digest.clone()));
        if let Some(p) = &payload_digest {
            head.push(("WARC-Payload-Digest", p.clone()));
        }
        head.push(("Content-Length", spec.block.len().to_string()));

        let mut bytes = Vec::with_capacity(512 + spec.block.len());
        bytes.extend_from_slice(b"WARC/1.1\r\n");
        for (name, value) in &head {
            check_field(name, value)?;
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(spec.block);
        bytes.extend_from_slice(b"\r\n\r\n");

        let offset = self.offset;
        self.out.write_all(&bytes).map_err(|source| WarcError::Write { offset, source })?;
        self.offset += bytes.len() as u64;
        if spec.kind == RecordType::Warcinfo {
            self.warcinfo_id = Some(id.clone());
        }
        Ok(RecordInfo { id, offset, length: bytes.len() as u64, block_digest, payload_digest })
    }

    /// Writes a `warcinfo` record (`application/warc-fields`) describing the file.
    pub fn write_warcinfo(
        &mut self,
        date: DateTime<Utc>,
        filename: &str,
        fields: &[(&str, &str)],
    ) -> Result<RecordInfo, WarcError> {
        let mut block = Vec::new();
        for (name, value) in fields {
            check_field(name, value)?;
            block.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let mut spec = RecordSpec::new(RecordType::Warcinfo, date, "application/warc-fields", &block);
        spec.filename = Some(filename);
        self.write_record(&spec)
    }

    /// Writes the final HTTP response of a capture; `body` must be the stored
    /// body (its digest and length are checked against the record).
    pub fn write_response(&mut self, capture: &CaptureRecord, body: &[u8]) -> Result<RecordInfo, WarcError> {
        check_body(capture, body)?;
        let (block, payload_offset) = http_response_block(capture, body);
        let ip = capture.resolved_ip.as_deref().map(ip_only);
        let mut spec = RecordSpec::new(RecordType::Response, capture.started_at, HTTP_RESPONSE_TYPE, &block);
        spec.target_uri = Some(&capture.final_url);
        spec.ip_address = ip;
        spec.protocol = warc_protocol(&capture.response.http_version);
        spec.truncated = capture.response.truncated.then_some("length");
        spec.payload_offset = Some(payload_offset);
        self.write_record(&spec)
    }

    /// Writes the final HTTP request of a capture, concurrent to its response.
    pub fn write_request(
        &mut self,
        capture: &CaptureRecord,
        response_id: Option<&str>,
    ) -> Result<RecordInfo, WarcError> {
        let block = http_request_block(capture);
        let payload_offset = block.len(); // a GET has no body: the payload is empty
        let mut spec = RecordSpec::new(RecordType::Request, capture.started_at, HTTP_REQUEST_TYPE, &block);
        spec.target_uri = Some(&capture.final_url);
        spec.protocol = warc_protocol(&capture.response.http_version);
        spec.concurrent_to = response_id;
        spec.payload_offset = Some(payload_offset);
        self.write_record(&spec)
    }

    /// Writes a `metadata` record about another record.
    pub fn write_metadata(
        &mut self,
        target_uri: &str,
        date: DateTime<Utc>,
        concurrent_to: Option<&str>,
        content_type: &str,
        block: &[u8],
    ) -> Result<RecordInfo, WarcError> {
        let mut spec = RecordSpec::new(RecordType::Metadata, date, content_type, block);
        spec.target_uri = Some(target_uri);
        spec.concurrent_to = concurrent_to;
        self.write_record(&spec)
    }

    /// Writes a `resource` record (e.g. a screenshot); its payload is the whole block.
    pub fn write_resource(
        &mut self,
        target_uri: &str,
        date: DateTime<Utc>,
        content_type: &str,
        block: &[u8],
    ) -> Result<RecordInfo, WarcError> {
        let mut spec = RecordSpec::new(RecordType::Resource, date, content_type, block);
        spec.target_uri = Some(target_uri);
        spec.payload_offset = Some(0);
        self.write_record(&spec)
    }

    /// Writes a whole capture: one reduced `response` per redirect hop (only
    /// its status and `Location` were recorded, marked by the extension field
    /// `WARC-Spotcheck-Reduced: status,location`), the final `response`, its
    /// `request`, and a `metadata` record holding the capture record's
    /// canonical JSON (its SHA-256 is the capture id).
    pub fn write_capture(&mut self, capture: &CaptureRecord, body: &[u8]) -> Result<CaptureRecords, WarcError> {
        self.write_capture_as_stored(capture, &capture.to_canonical_json(), body)
    }

    /// [`WarcWriter::write_capture`] with the capture record's bytes exactly
    /// as stored (so the metadata record's block hashes to the capture id
    /// even for records written by another version).
    pub fn write_capture_as_stored(
        &mut self,
        capture: &CaptureRecord,
        record_json: &[u8],
        body: &[u8],
    ) -> Result<CaptureRecords, WarcError> {
        check_body(capture, body)?;
        let mut redirects = Vec::with_capacity(capture.redirect_chain.len());
        for hop in &capture.redirect_chain {
            let block = http_redirect_block(hop);
            let mut spec = RecordSpec::new(RecordType::Response, capture.started_at, HTTP_RESPONSE_TYPE, &block);
            spec.target_uri = Some(&hop.url);
            spec.extra.push(("WARC-Spotcheck-Reduced", "status,location".to_string()));
            spec.payload_offset = Some(block.len());
            redirects.push(self.write_record(&spec)?);
        }
        let response = self.write_response(capture, body)?;
        let request = self.write_request(capture, Some(&response.id))?;
        let metadata = self.write_metadata(
            &capture.final_url,
            capture.started_at,
            Some(&response.id),
            "application/json",
            record_json,
        )?;
        Ok(CaptureRecords { redirects, response, request, metadata })
    }
}

/// The address part of `ip:port` / `[v6]:port` (a bare address is kept).
fn ip_only(peer: &str) -> &str {
    if let Some(rest) = peer.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match peer.rsplit_once(':') {
        // Exactly one colon: IPv4 with a port. More colons: a bare IPv6 address.
        Some((addr, _)) if !addr.contains(':') => addr,
        _ => peer,
    }
}

fn check_body(capture: &CaptureRecord, body: &[u8]) -> Result<(), WarcError> {
    let actual = Digest::of(body);
    if actual != capture.response.body_sha256 || body.len() as u64 != capture.response.body_len {
        return Err(WarcError::BodyMismatch {
            url: capture.final_url.clone(),
            expected: capture.response.body_sha256,
            expected_len: capture.response.body_len,
            actual,
            actual_len: body.len() as u64,
        });
    }
    Ok(())
}

/// A field name must be a token and a value must not break the line.
fn check_field(name: &str, value: &str) -> Result<(), WarcError> {
    let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !token {
        return Err(WarcError::InvalidField { name: name.to_string(), reason: "name is not a token" });
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(WarcError::InvalidField { name: name.to_string(), reason: "value contains CR, LF or NUL" });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
