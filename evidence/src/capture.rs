//! One fetch as it happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Digest;

/// Everything known about one HTTP exchange (after following redirects).
///
/// The record is stored as canonical JSON in the [`crate::BlobStore`]; its
/// SHA-256 is the capture id that listings and findings point at. The response
/// body is stored separately, byte for byte as received on the wire (still
/// content-encoded if the server compressed it), and referenced by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRecord {
    /// Format version of this record.
    pub version: u32,
    /// The URL the fetch was asked for.
    pub url: String,
    /// The URL of the last response (after redirects).
    pub final_url: String,
    /// Every redirect followed, in order (empty when there was none).
    pub redirect_chain: Vec<Hop>,
    pub request: RequestRecord,
    pub response: ResponseRecord,
    /// Peer address of the final response's connection, e.g. `127.0.0.1:8080`.
    pub resolved_ip: Option<String>,
    /// SHA-256 of the TLS peer's leaf certificate (DER), for https.
    pub tls_peer_cert_sha256: Option<String>,
    /// When the request was sent and the last body byte received (UTC).
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Where the time came from (`system` until a trusted source is configured).
    pub time_source: String,
    /// `spotcheck/<version>`.
    pub tool: String,
    /// The station (machine) id and the operator(s) on whose behalf it ran.
    pub station: Option<String>,
    pub operators: Vec<String>,
    pub job_id: Option<String>,
    pub plan_id: Option<String>,
    /// Why robots.txt was not consulted for this fetch (a recorded authorisation), if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robots_override: Option<String>,
    /// Further files of the same capture, content-addressed: for a browser
    /// capture the rendered DOM, full-page screenshot, MHTML snapshot and
    /// network log. Absent for plain HTTP captures (whose record bytes are
    /// unchanged by this field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

/// One redirect response that was followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    /// Header name/value pairs exactly as sent, in order.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRecord {
    pub status: u16,
    /// `HTTP/1.1`, `HTTP/2` …
    pub http_version: String,
    /// Header name/value pairs as received, in order (values lossily UTF-8).
    pub headers: Vec<(String, String)>,
    /// Digest of the body bytes as received on the wire (before content decoding).
    pub body_sha256: Digest,
    pub body_len: u64,
    /// True when the body was cut at the size limit (the digest covers what was kept).
    pub truncated: bool,
}

impl CaptureRecord {
    pub const VERSION: u32 = 1;

    /// The canonical bytes of this record (JSON, fields in declaration order).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the ledger records about a capture: enough to find and re-check every
/// file of it (the record itself is named by `capture`, its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureManifest {
    /// SHA-256 of the capture record's canonical JSON: the capture id.
    pub capture: Digest,
    pub url: String,
    pub final_url: String,
    pub status: u16,
    pub finished_at: DateTime<Utc>,
    /// The raw response body as received.
    pub body_sha256: Digest,
    pub body_len: u64,
    /// Further artifacts of the same capture (rendered DOM, screenshot, MHTML …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

/// One content-addressed file that belongs to a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// `dom`, `screenshot`, `mhtml`, `network-log`, `segment` …
    pub role: String,
    pub media_type: String,
    pub sha256: Digest,
    pub bytes: u64,
}

impl CaptureManifest {
    pub fn of(capture: Digest, record: &CaptureRecord) -> CaptureManifest {
        CaptureManifest {
            capture,
            url: record.url.clone(),
            final_url: record.final_url.clone(),
            status: record.response.status,
            finished_at: record.finished_at,
            body_sha256: record.response.body_sha256,
            body_len: record.response.body_len,
            artifacts: record.artifacts.clone(),
        }
    }

    /// The ledger entry that records this capture.
    pub fn to_entry(&self) -> crate::entry::NewEntry {
        crate::entry::NewEntry {
            kind: crate::entry::EntryKind::Capture,
            subject: self.capture.to_hex(),
            body: serde_json::to_value(self).unwrap_or_default(),
            also_about: Vec::new(),
        }
    }
}
