//! Writing a bundle: gather the captures, findings and ledger proofs, build
//! the WARC, index, page list, report and manifest, and seal the package.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{artifact_uri, capture_path, paths, token_path, EntryProof, Manifest, ManifestCapture, SignedData, FORMAT};
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::custody::CustodyEvent;
use crate::finding::FindingRecord;
use crate::keys::StationKey;
use crate::ledger::{Entry, EntryKind, Ledger, LedgerError};
use crate::report::{self, ReportInput};
use crate::wacz::{self, PackageMeta, PageEntry, WaczWriter};
use crate::warc::{RecordSpec, RecordType, WarcWriter};
use crate::{Artifact, BlobStore, CaptureRecord, Digest};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("capture `{id}`: {source}")]
    Capture { id: String, source: crate::BlobError },
    #[error("capture record `{id}` is not readable: {reason}")]
    BadCapture { id: String, reason: String },
    #[error("capture `{0}` has no entry in the ledger's signed checkpoint; it cannot be proven")]
    CaptureNotInLedger(String),
    #[error("finding `{0}` has no entry in the ledger's signed checkpoint; record it before bundling")]
    FindingNotInLedger(String),
    #[error("a bundle needs at least one capture or finding")]
    Empty,
    #[error("attachment `{0}` is not named by a custody entry in the ledger's signed checkpoint")]
    AttachmentNotInLedger(String),
    #[error("attachment `{hash}`: extension `{ext}` must be 1-8 letters or digits")]
    BadAttachmentExtension { hash: String, ext: String },
    #[error("the checkpoint's stored signature is not 64 bytes of base64")]
    BadCheckpointSignature,
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Warc(#[from] crate::warc::WarcError),
    #[error(transparent)]
    Wacz(#[from] wacz::WaczError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("cannot write the report to `{path}`: {source}")]
    ReportFile { path: PathBuf, source: std::io::Error },
}

/// What spotcheck knows about a capture that the capture itself does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureContext {
    pub platform: Option<String>,
    pub shop: Option<String>,
    pub uscc: Option<String>,
}

/// What to put in a bundle.
#[derive(Debug, Clone)]
pub struct BundleRequest {
    pub id: String,
    pub title: String,
    pub purpose: Option<String>,
    pub station: String,
    pub operators: Vec<String>,
    pub tool: String,
    pub created: DateTime<Utc>,
    /// Captures to include; the captures of `findings` are added.
    pub captures: Vec<Digest>,
    pub findings: Vec<FindingRecord>,
    /// Keyed by capture id (hex).
    pub context: BTreeMap<String, CaptureContext>,
    /// Sealed blobs to carry as files, with their file extension; each must be
    /// the first subject of a custody entry in the ledger (e.g. a live session).
    pub attachments: Vec<(Digest, String)>,
    /// Chromium to print the report to PDF with, when available.
    pub chromium: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct BundleSummary {
    pub id: String,
    pub path: PathBuf,
    /// `sha256:<hex>` of the whole file.
    pub sha256: String,
    pub bytes: u64,
    pub files: usize,
    pub captures: usize,
    pub findings: usize,
    pub ledger_entries: usize,
    pub timestamp_tokens: usize,
    pub pdf: bool,
}

struct Gathered {
    record_bytes: Vec<u8>,
    record: CaptureRecord,
    body: Vec<u8>,
    /// The record's artifacts with their bytes, in the record's order.
    artifacts: Vec<(Artifact, Vec<u8>)>,
}

/// Writes the bundle for `req` to `dest` (atomically: a crash leaves either
/// no file or the whole one), with proofs against `checkpoint`.
pub fn write_bundle(
    dest: &Path,
    req: &BundleRequest,
    blobs: &BlobStore,
    ledger: &Ledger,
    key: &StationKey,
    checkpoint: &SignedCheckpoint,
) -> Result<BundleSummary, BundleError> {
    let cp = Checkpoint::parse(&checkpoint.text)?;
    let mut ids: Vec<Digest> = Vec::new();
    for id in req
        .captures
        .iter()
        .copied()
        .chain(req.findings.iter().filter_map(|f| f.capture.as_deref().and_then(|c| Digest::from_hex(c).ok())))
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() && req.findings.is_empty() {
        return Err(BundleError::Empty);
    }
    let captures = ids.iter().map(|id| gather(blobs, id)).collect::<Result<Vec<_>, _>>()?;

    // The ledger entries of exactly these captures and findings, and of this
    // bundle's own custody events, within the checkpoint — nothing about other
    // findings or bundles that share a capture.
    let finding_ids: BTreeSet<&str> = req.findings.iter().map(|f| f.id.as_str()).collect();
    let capture_hex: BTreeSet<String> = ids.iter().map(Digest::to_hex).collect();
    let attachment_hex: BTreeSet<String> = req.attachments.iter().map(|(d, _)| d.to_hex()).collect();
    let belongs = |e: &Entry| match e.kind {
        EntryKind::Capture => capture_hex.contains(&e.subject),
        EntryKind::Finding => finding_ids.contains(e.subject.as_str()),
        // This bundle's own sealing event, and the pictures taken of its findings.
        EntryKind::Custody => {
            e.body.get("detail").and_then(|d| d.as_str()) == Some(req.id.as_str())
                || e.body.pointer("/subjects/0").and_then(|s| s.as_str()).is_some_and(|a| attachment_hex.contains(a))
                || (e.body.get("action").and_then(|a| a.as_str()) == Some("pictured")
                    && e.body.pointer("/subjects/0").and_then(|s| s.as_str()).is_some_and(|f| finding_ids.contains(f)))
        }
        EntryKind::Export => false,
    };
    let mut seqs = BTreeSet::new();
    let subjects = capture_hex
        .iter()
        .map(String::as_str)
        .chain(finding_ids.iter().copied())
        .chain(attachment_hex.iter().map(String::as_str));
    for subject in subjects {
        for seq in ledger.entries_about(subject)?.into_iter().filter(|s| *s < cp.size) {
            if belongs(&ledger.entry(seq)?) {
                seqs.insert(seq);
            }
        }
    }
    let sealed: Vec<Entry> = seqs.iter().map(|s| ledger.entry(*s)).collect::<Result<_, _>>()?;
    for id in &capture_hex {
        if !sealed.iter().any(|e| e.kind == EntryKind::Capture && e.subject == *id) {
            return Err(BundleError::CaptureNotInLedger(id.clone()));
        }
    }
    for f in &finding_ids {
        if !sealed.iter().any(|e| e.kind == EntryKind::Finding && e.subject == *f) {
            return Err(BundleError::FindingNotInLedger(f.to_string()));
        }
    }
    let mut attachments = Vec::new();
    for (hash, ext) in &req.attachments {
        if ext.is_empty() || ext.len() > 8 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BundleError::BadAttachmentExtension { hash: hash.to_hex(), ext: ext.clone() });
        }
        if !sealed.iter().any(|e| e.kind == EntryKind::Custody && e.subject == hash.to_hex()) {
            return Err(BundleError::AttachmentNotInLedger(hash.to_hex()));
        }
        let bytes = blobs.get(hash).map_err(|source| BundleError::Capture { id: hash.to_hex(), source })?;
        attachments.push((super::attachment_path(&hash.to_hex(), ext), bytes));
    }
    let entries = sealed;
    let mut entry_lines = Vec::new();
    let mut proofs = Vec::new();
    for &seq in &seqs {
        let bytes = ledger.entry_bytes(seq)?;
        entry_lines.extend_from_slice(&bytes);
        entry_lines.push(b'\n');
        let path = ledger.inclusion_proof(seq, cp.size)?.iter().map(Digest::to_hex).collect();
        proofs.push(EntryProof { seq, path });
    }
    let tokens = ledger.tokens(cp.size)?;

    // The web archive: every capture as request/response/metadata records.
    let mut warc = WarcWriter::new(Vec::new());
    warc.write_warcinfo(
        req.created,
        "data.warc",
        &[("software", req.tool.as_str()), ("format", "WARC File Format 1.1"), ("isPartOf", req.id.as_str())],
    )?;
    let mut manifest_captures = Vec::new();
    let mut pages = Vec::new();
    for (id, c) in ids.iter().zip(&captures) {
        let records = warc.write_capture_as_stored(&c.record, &c.record_bytes, &c.body)?;
        // Rendered DOM, screenshot, MHTML, network log: resources concurrent to the response.
        for (artifact, bytes) in &c.artifacts {
            let uri = artifact_uri(&artifact.role, &c.record.final_url);
            let mut spec = RecordSpec::new(RecordType::Resource, c.record.finished_at, &artifact.media_type, bytes);
            spec.target_uri = Some(&uri);
            spec.concurrent_to = Some(&records.response.id);
            spec.payload_offset = Some(0);
            warc.write_record(&spec)?;
        }
        let ctx = req.context.get(&id.to_hex()).cloned().unwrap_or_default();
        manifest_captures.push(ManifestCapture {
            id: id.to_hex(),
            url: c.record.url.clone(),
            final_url: c.record.final_url.clone(),
            response_record: records.response.id.clone(),
            platform: ctx.platform,
            shop: ctx.shop,
            uscc: ctx.uscc,
        });
        pages.push(PageEntry {
            id: id.to_hex(),
            url: c.record.final_url.clone(),
            ts: c.record.started_at,
            title: None,
        });
    }
    let warc_bytes = warc.into_inner();
    let index = wacz::render_cdxj(&wacz::cdxj_entries("data.warc", &warc_bytes)?);

    let created = req.created.to_rfc3339_opts(SecondsFormat::Secs, true);
    let manifest = Manifest {
        format: FORMAT.to_string(),
        id: req.id.clone(),
        title: req.title.clone(),
        purpose: req.purpose.clone(),
        created: created.clone(),
        station: req.station.clone(),
        operators: req.operators.clone(),
        tool: req.tool.clone(),
        key: key.public().fingerprint(),
        checkpoint_size: cp.size,
        captures: manifest_captures,
        findings: req.findings.iter().map(|f| f.id.clone()).collect(),
        ledger_entries: seqs.iter().copied().collect(),
        attachments: attachments.iter().map(|(p, _)| p.clone()).collect(),
    };
    let custody = custody_log(&entries, &captures);
    let mut custody_lines = Vec::new();
    for event in &custody {
        custody_lines.extend_from_slice(&json(event));
        custody_lines.push(b'\n');
    }

    let mut files: Vec<(String, Vec<u8>)> = vec![
        (paths::WARC.to_string(), warc_bytes),
        (wacz::INDEX_PATH.to_string(), index),
        (wacz::PAGES_PATH.to_string(), wacz::pages_jsonl(&req.title, &pages)),
        (paths::MANIFEST.to_string(), pretty(&manifest)),
    ];
    for (id, c) in ids.iter().zip(&captures) {
        files.push((capture_path(&id.to_hex()), c.record_bytes.clone()));
    }
    files.push((paths::FINDINGS.to_string(), pretty(&req.findings)));
    files.push((paths::ENTRIES.to_string(), entry_lines));
    files.push((paths::PROOFS.to_string(), pretty(&proofs)));
    files.push((paths::CHECKPOINT.to_string(), checkpoint.text.as_bytes().to_vec()));
    let signature =
        checkpoint.signature_bytes().filter(|s| s.len() == 64).ok_or(BundleError::BadCheckpointSignature)?;
    files.push((paths::CHECKPOINT_SIG.to_string(), signature));
    for (n, token) in tokens.iter().enumerate() {
        files.push((token_path(n + 1), token.clone()));
    }
    files.push((paths::PUBLIC_KEY.to_string(), key.public().to_pem().into_bytes()));
    files.push((paths::CUSTODY.to_string(), custody_lines));
    files.extend(attachments);

    // The human-readable record lists every file above with its hash.
    let input = report_input(req, &cp, key, &tokens, &ids, &captures, &files, &custody);
    let html = report::render_html(&input);
    let pdf = match &req.chromium {
        Some(chromium) => Some(render_pdf(&html, chromium, dest)?),
        None => None,
    };
    files.push((paths::REPORT_HTML.to_string(), html.into_bytes()));
    let has_pdf = pdf.is_some();
    if let Some(pdf) = pdf {
        files.push((paths::REPORT_PDF.to_string(), pdf));
    }

    let file_count = files.len() + 2;
    let mut package = WaczWriter::new(PackageMeta {
        title: req.title.clone(),
        description: req.purpose.clone(),
        created: req.created,
        software: req.tool.clone(),
        main_page_url: pages.first().map(|p| p.url.clone()),
        main_page_date: pages.first().map(|p| p.ts),
    });
    for (path, bytes) in files {
        package.add_file(path, bytes)?;
    }
    let public = key.public();
    let sha256 = package.write_to(dest, |digest| {
        let signed = SignedData {
            hash: digest.hash.clone(),
            created: digest.created.clone(),
            software: req.tool.clone(),
            signature_algorithm: "ed25519".into(),
            public_key: base64::engine::general_purpose::STANDARD.encode(public.to_der()),
            key_fingerprint: public.fingerprint(),
            signature: base64::engine::general_purpose::STANDARD.encode(key.sign(digest.hash.as_bytes())),
        };
        Ok(Some(serde_json::to_value(signed)?))
    })?;
    let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(BundleSummary {
        id: req.id.clone(),
        path: dest.to_path_buf(),
        sha256,
        bytes,
        files: file_count,
        captures: ids.len(),
        findings: req.findings.len(),
        ledger_entries: seqs.len(),
        timestamp_tokens: tokens.len(),
        pdf: has_pdf,
    })
}

fn gather(blobs: &BlobStore, id: &Digest) -> Result<Gathered, BundleError> {
    let blob_err = |source| BundleError::Capture { id: id.to_hex(), source };
    let record_bytes = blobs.get(id).map_err(blob_err)?;
    let record: CaptureRecord = serde_json::from_slice(&record_bytes)
        .map_err(|e| BundleError::BadCapture { id: id.to_hex(), reason: e.to_string() })?;
    let body = blobs.get(&record.response.body_sha256).map_err(blob_err)?;
    let artifacts = record
        .artifacts
        .iter()
        .map(|a| blobs.get(&a.sha256).map(|bytes| (a.clone(), bytes)).map_err(blob_err))
        .collect::<Result<_, _>>()?;
    Ok(Gathered { record_bytes, record, body, artifacts })
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The custody log of a bundle: one event per ledger entry it includes
/// (captured, flagged, and the recorded custody events), in ledger order.
fn custody_log(entries: &[Entry], captures: &[Gathered]) -> Vec<CustodyEvent> {
    entries
        .iter()
        .map(|e| match e.kind {
            EntryKind::Custody | EntryKind::Export => serde_json::from_value::<CustodyEvent>(e.body.clone())
                .unwrap_or_else(|_| event(e, "custody", "", e.body.to_string())),
            EntryKind::Capture => {
                let who = captures
                    .iter()
                    .find(|c| Digest::of(&c.record_bytes).to_hex() == e.subject)
                    .map(|c| {
                        let station = c.record.station.clone().unwrap_or_default();
                        if c.record.operators.is_empty() {
                            station
                        } else {
                            format!("{station} for {}", c.record.operators.join(", "))
                        }
                    })
                    .unwrap_or_default();
                let url = e.body.get("final_url").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                event(e, "captured and sealed in the ledger", &who, url)
            }
            EntryKind::Finding => {
                let rule = e.body.get("rule").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                event(e, "finding recorded in the ledger", "rules engine", rule)
            }
        })
        .collect()
}

fn event(e: &Entry, action: &str, actor: &str, detail: String) -> CustodyEvent {
    CustodyEvent {
        at: e.at,
        actor: actor.to_string(),
        action: format!("{action} (ledger entry {})", e.seq),
        subjects: vec![e.subject.clone()],
        detail,
    }
}

#[allow(clippy::too_many_arguments)]
fn report_input(
    req: &BundleRequest,
    cp: &Checkpoint,
    key: &StationKey,
    tokens: &[Vec<u8>],
    ids: &[Digest],
    captures: &[Gathered],
    files: &[(String, Vec<u8>)],
    custody: &[CustodyEvent],
) -> ReportInput {
    let file_entry = |path: &str, bytes: &[u8], role: &str| report::FileEntry {
        path: path.to_string(),
        sha256: Digest::of(bytes).to_hex(),
        bytes: bytes.len() as u64,
        role: role.to_string(),
    };
    let cp_digest = Digest::of(cp.to_text().as_bytes());
    let timestamps = tokens
        .iter()
        .filter_map(|t| crate::timestamp::TimestampToken::from_der(t.clone()).verify(&cp_digest, None).ok())
        .map(|info| report::TimestampSummary {
            gen_time: info.gen_time,
            tsa: info.tsa_name.clone().unwrap_or(info.signer_subject.clone()),
            serial: info.serial,
        })
        .collect();
    let capture_summaries = ids
        .iter()
        .zip(captures)
        .map(|(id, c)| {
            let ctx = req.context.get(&id.to_hex()).cloned().unwrap_or_default();
            let r = &c.record;
            report::CaptureSummary {
                capture_id: id.to_hex(),
                url: r.url.clone(),
                final_url: r.final_url.clone(),
                redirect_chain: r
                    .redirect_chain
                    .iter()
                    .map(|h| format!("{} {} → {}", h.status, h.url, h.location))
                    .collect(),
                platform: ctx.platform,
                shop: ctx.shop,
                uscc: ctx.uscc,
                resolved_ip: r.resolved_ip.clone(),
                started_at: r.started_at,
                finished_at: r.finished_at,
                time_source: r.time_source.clone(),
                status: r.response.status,
                method: format!(
                    "{} {} by {}; raw response kept byte for byte as received{}",
                    r.request.method,
                    r.response.http_version,
                    r.tool,
                    if r.robots_override.is_some() {
                        "; robots.txt not consulted (recorded authorisation)"
                    } else {
                        ""
                    }
                ),
                files: [
                    file_entry(&capture_path(&id.to_hex()), &c.record_bytes, "capture record"),
                    report::FileEntry {
                        path: format!("{} (response payload)", paths::WARC),
                        sha256: r.response.body_sha256.to_hex(),
                        bytes: r.response.body_len,
                        role: if r.response.http_version == "browser" {
                            "main document as loaded by the browser".into()
                        } else {
                            "raw response body".into()
                        },
                    },
                ]
                .into_iter()
                .chain(c.artifacts.iter().map(|(a, _)| report::FileEntry {
                    path: format!("{} (resource {})", paths::WARC, artifact_uri(&a.role, &r.final_url)),
                    sha256: a.sha256.to_hex(),
                    bytes: a.bytes,
                    role: artifact_role(&a.role).into(),
                }))
                .collect(),
                screenshot: c.artifacts.iter().find(|(a, _)| a.role == "screenshot").map(|(a, bytes)| {
                    report::Screenshot {
                        path_in_bundle: format!("{} (resource {})", paths::WARC, artifact_uri(&a.role, &r.final_url)),
                        png_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
                    }
                }),
            }
        })
        .collect();
    let findings = req
        .findings
        .iter()
        .map(|f| report::FindingSummary {
            finding_id: f.id.clone(),
            rule: f.rule.clone(),
            rule_version: f.rule_version.to_string(),
            title: f.title.clone(),
            severity: f.severity.clone(),
            legal_basis: f.legal_basis.clone(),
            message: f.message.clone(),
            listing: f.listing.clone(),
            capture_id: f.capture.clone().unwrap_or_default(),
            evidence: f
                .matched
                .iter()
                .map(|m| report::MatchedText { field: m.field.clone(), text: m.text.clone(), note: m.note.clone() })
                .collect(),
        })
        .collect();
    ReportInput {
        title: req.title.clone(),
        bundle_id: req.id.clone(),
        created_at: req.created,
        station: req.station.clone(),
        operators: req.operators.clone(),
        purpose: req.purpose.clone(),
        tool: req.tool.clone(),
        key_fingerprint: key.public().fingerprint(),
        checkpoint: Some(report::CheckpointSummary {
            tree_size: cp.size,
            root_hex: cp.root.to_hex(),
            signed_at: cp.time,
        }),
        timestamps,
        captures: capture_summaries,
        findings,
        files: files.iter().map(|(p, b)| file_entry(p, b, role_of(p))).collect(),
        custody: custody
            .iter()
            .map(|c| report::CustodyEvent {
                at: c.at,
                actor: c.actor.clone(),
                action: c.action.clone(),
                detail: if c.detail.is_empty() { c.subjects.join(", ") } else { c.detail.clone() },
            })
            .collect(),
    }
}

fn artifact_role(role: &str) -> &'static str {
    match role {
        "dom" => "rendered DOM (browser)",
        "screenshot" => "full-page screenshot (PNG)",
        "mhtml" => "MHTML snapshot",
        "network-log" => "network log (every response the page loaded, with its hash)",
        _ => "capture artifact",
    }
}

fn role_of(path: &str) -> &'static str {
    match path {
        paths::WARC => "web archive (WARC 1.1)",
        wacz::INDEX_PATH => "archive index (CDXJ)",
        wacz::PAGES_PATH => "page list",
        paths::MANIFEST => "bundle manifest",
        paths::FINDINGS => "findings",
        paths::ENTRIES => "ledger entries",
        paths::PROOFS => "inclusion proofs",
        paths::CHECKPOINT => "signed checkpoint",
        paths::CHECKPOINT_SIG => "checkpoint signature",
        paths::PUBLIC_KEY => "station public key",
        paths::CUSTODY => "custody log",
        p if p.starts_with(paths::CAPTURE_PREFIX) => "capture record",
        p if p.starts_with(paths::TOKEN_PREFIX) => "RFC 3161 timestamp token",
        p if p.starts_with(paths::ATTACHMENT_PREFIX) => "sealed attachment (e.g. live session timeline)",
        _ => "file",
    }
}

/// Prints the report with Chromium; the HTML goes to a private temporary
/// directory next to the bundle.
fn render_pdf(html: &str, chromium: &Path, dest: &Path) -> Result<Vec<u8>, BundleError> {
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = tempfile::Builder::new()
        .prefix(".report-")
        .tempdir_in(parent)
        .map_err(|source| BundleError::ReportFile { path: parent.to_path_buf(), source })?;
    let html_path = dir.path().join("report.html");
    std::fs::write(&html_path, html).map_err(|source| BundleError::ReportFile { path: html_path.clone(), source })?;
    let pdf_path = dir.path().join("report.pdf");
    report::render_pdf(&html_path, &pdf_path, chromium, Duration::from_secs(60))?;
    std::fs::read(&pdf_path).map_err(|source| BundleError::ReportFile { path: pdf_path, source })
}
