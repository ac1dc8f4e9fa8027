//! A [`Rendered`] page as evidence: every file content-addressed in the blob
//! store and one [`CaptureRecord`] naming them, stored as canonical JSON whose
//! digest is the capture id, the same shape as an HTTP capture so the
//! ledger, bundles and verifiers treat both alike.

use evidence::{Artifact, BlobStore, CaptureRecord, Digest, RequestRecord, ResponseRecord};

use super::{BrowserError, Rendered};
use crate::fetch::{FetchConfig, FetchContext};

/// Stores the page's files and its capture record; returns the capture id and record.
///
/// The body blob is the main document as received when Chromium handed it
/// over, else the rendered DOM (the record's `artifacts` say which files exist).
/// File I/O runs on the blocking pool.
pub async fn seal(
    rendered: &Rendered,
    blobs: &BlobStore,
    fetch: &FetchConfig,
    ctx: &FetchContext,
) -> Result<(Digest, CaptureRecord), BrowserError> {
    let url = rendered.final_url.to_string();
    // Serialising plain strings and numbers cannot fail.
    let network_log = serde_json::to_vec_pretty(&rendered.network).unwrap_or_default();
    let body = rendered.document.clone().unwrap_or_else(|| rendered.dom.clone().into_bytes());
    let files: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        ("dom", "text/html; charset=utf-8", rendered.dom.clone().into_bytes()),
        ("screenshot", "image/png", rendered.screenshot_png.clone()),
        ("mhtml", "multipart/related", rendered.mhtml.clone()),
        ("network-log", "application/json", network_log),
    ];
    let artifacts: Vec<Artifact> = files
        .iter()
        .map(|(role, media_type, bytes)| Artifact {
            role: role.to_string(),
            media_type: media_type.to_string(),
            sha256: Digest::of(bytes),
            bytes: bytes.len() as u64,
        })
        .collect();
    let record = CaptureRecord {
        version: CaptureRecord::VERSION,
        url: rendered.requested_url.to_string(),
        final_url: url.clone(),
        redirect_chain: Vec::new(),
        request: RequestRecord {
            method: "GET".to_string(),
            headers: vec![("User-Agent".to_string(), rendered.user_agent.clone())],
        },
        response: ResponseRecord {
            status: rendered.status.unwrap_or(0),
            http_version: "browser".to_string(),
            headers: rendered.response_headers.clone(),
            body_sha256: Digest::of(&body),
            body_len: body.len() as u64,
            truncated: false,
        },
        resolved_ip: rendered.remote_addr.clone(),
        tls_peer_cert_sha256: None,
        started_at: rendered.started_at,
        finished_at: rendered.finished_at,
        time_source: "system".to_string(),
        tool: format!("{} {}", crate::TOOL, rendered.browser_version),
        station: fetch.station.clone(),
        operators: fetch.operators.clone(),
        job_id: ctx.job_id.clone(),
        plan_id: ctx.plan_id.clone(),
        robots_override: ctx.robots_override.clone(),
        artifacts,
    };
    let json = record.to_canonical_json();
    let store = blobs.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<Digest, evidence::BlobError> {
        store.put(&body)?;
        for (_, _, bytes) in &files {
            store.put(bytes)?;
        }
        store.put(&json)
    })
    .await;
    match stored {
        Ok(Ok(id)) => Ok((id, record)),
        Ok(Err(source)) => Err(BrowserError::Store { url, source }),
        Err(e) => Err(BrowserError::Task { url, reason: e.to_string() }),
    }
}
