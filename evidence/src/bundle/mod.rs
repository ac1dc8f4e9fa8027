//! Evidence bundles: a WACZ 1.1.1 package (so web-archive tools open and
//! replay it) that also carries everything needed to check it offline — the
//! capture records, the findings, the ledger entries with inclusion proofs
//! against a signed checkpoint, timestamp tokens, the station's public key, a
//! custody log and the human-readable extraction record. FORMAT.md specifies
//! the layout byte for byte; [`verify`] is the reference verifier.

pub mod verify;
#[cfg(feature = "station")]
mod write;

use serde::{Deserialize, Serialize};

pub use verify::{verify_bundle, Check, VerifyOptions, VerifyReport};
#[cfg(feature = "station")]
pub use write::{write_bundle, BundleError, BundleRequest, BundleSummary, CaptureContext};

/// `WARC-Target-URI` of an artifact's `resource` record.
pub fn artifact_uri(role: &str, final_url: &str) -> String {
    format!("urn:spotcheck:{role}:{final_url}")
}

/// Paths inside a bundle (besides the WACZ ones in [`crate::wacz`]). WACZ
/// tools expect every file exactly one directory deep, so ours sit flat in
/// `spotcheck/`.
pub mod paths {
    pub const WARC: &str = "archive/data.warc";
    pub const MANIFEST: &str = "spotcheck/bundle.json";
    /// `spotcheck/capture-<id>.json`.
    pub const CAPTURE_PREFIX: &str = "spotcheck/capture-";
    pub const FINDINGS: &str = "spotcheck/findings.json";
    pub const ENTRIES: &str = "spotcheck/ledger-entries.jsonl";
    pub const PROOFS: &str = "spotcheck/ledger-proofs.json";
    pub const CHECKPOINT: &str = "spotcheck/checkpoint.txt";
    pub const CHECKPOINT_SIG: &str = "spotcheck/checkpoint.sig";
    /// `spotcheck/checkpoint-<n>.tst`, n from 1.
    pub const TOKEN_PREFIX: &str = "spotcheck/checkpoint-";
    pub const TOKEN_SUFFIX: &str = ".tst";
    pub const PUBLIC_KEY: &str = "spotcheck/station.pub.pem";
    /// `spotcheck/attachment-<sha256>.<ext>`: a sealed file named by the first
    /// subject of a custody entry (a live session's timeline, …).
    pub const ATTACHMENT_PREFIX: &str = "spotcheck/attachment-";
    pub const CUSTODY: &str = "spotcheck/custody.jsonl";
    pub const REPORT_HTML: &str = "spotcheck/report.html";
    pub const REPORT_PDF: &str = "spotcheck/report.pdf";
}

/// The format of `spotcheck/bundle.json`.
pub const FORMAT: &str = "spotcheck-bundle/1";

/// `spotcheck/bundle.json`: what the bundle holds and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub created: String,
    pub station: String,
    pub operators: Vec<String>,
    pub tool: String,
    /// Fingerprint of the station key (`sha256:<hex>` of its DER).
    pub key: String,
    /// Size of the ledger checkpoint the proofs are against.
    pub checkpoint_size: u64,
    pub captures: Vec<ManifestCapture>,
    pub findings: Vec<String>,
    /// Sequence numbers of the ledger entries included.
    pub ledger_entries: Vec<u64>,
    /// Further sealed files (e.g. a live session's timeline), by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestCapture {
    /// SHA-256 of the capture record (its file is `spotcheck/capture-<id>.json`).
    pub id: String,
    pub url: String,
    pub final_url: String,
    /// `WARC-Record-ID` of the final response in `archive/data.warc`.
    pub response_record: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
}

/// One inclusion proof in `spotcheck/ledger-proofs.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryProof {
    pub seq: u64,
    /// Audit path, leaf side first, as hex.
    pub path: Vec<String>,
}

/// `signedData` of `datapackage-digest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedData {
    /// The `hash` of `datapackage-digest.json`, the string that is signed.
    pub hash: String,
    pub created: String,
    pub software: String,
    /// `ed25519`.
    #[serde(rename = "signatureAlgorithm")]
    pub signature_algorithm: String,
    /// Base64 of the station key's SubjectPublicKeyInfo DER.
    #[serde(rename = "publicKey")]
    pub public_key: String,
    /// `sha256:<hex>` of that DER.
    #[serde(rename = "keyFingerprint")]
    pub key_fingerprint: String,
    /// Base64 Ed25519 signature over the UTF-8 bytes of `hash`.
    pub signature: String,
}

/// Path of capture record `id`.
pub fn capture_path(id: &str) -> String {
    format!("{}{id}.json", paths::CAPTURE_PREFIX)
}

/// Path of an attachment: `spotcheck/attachment-<sha256>.<ext>`.
pub fn attachment_path(sha256: &str, ext: &str) -> String {
    format!("{}{sha256}.{ext}", paths::ATTACHMENT_PREFIX)
}

/// Path of the `n`th timestamp token (from 1).
pub fn token_path(n: usize) -> String {
    format!("{}{n}{}", paths::TOKEN_PREFIX, paths::TOKEN_SUFFIX)
}
