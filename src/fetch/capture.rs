//! Turning a finished exchange into an [`evidence::CaptureRecord`] and storing
//! it: the raw body and the record's canonical JSON go into the
//! [`evidence::BlobStore`]; the capture id is the digest of that JSON.

use evidence::{BlobStore, CaptureRecord, Digest, Hop, RequestRecord, ResponseRecord};

use super::exchange::{header_pairs, Exchange};
use super::{FetchConfig, FetchContext, FetchError};

/// Everything about one fetch that is not in the final exchange.
pub(crate) struct CaptureParts<'a> {
    pub requested: &'a url::Url,
    pub hops: Vec<Hop>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub config: &'a FetchConfig,
    pub ctx: &'a FetchContext,
}

/// Builds the record of `last` (the final response) within its fetch.
pub(crate) fn record(last: &Exchange, parts: CaptureParts<'_>) -> CaptureRecord {
    CaptureRecord {
        version: CaptureRecord::VERSION,
        url: parts.requested.to_string(),
        final_url: last.url.to_string(),
        redirect_chain: parts.hops,
        request: RequestRecord { method: "GET".to_string(), headers: last.request_headers.clone() },
        response: ResponseRecord {
            status: last.status,
            http_version: last.http_version.clone(),
            headers: header_pairs(&last.headers),
            body_sha256: Digest::of(&last.body),
            body_len: last.body.len() as u64,
            truncated: last.truncated,
        },
        resolved_ip: last.remote_addr.map(|a| a.to_string()),
        tls_peer_cert_sha256: last.tls_peer_cert_sha256.clone(),
        started_at: parts.started_at,
        finished_at: last.finished_at,
        time_source: "system".to_string(),
        tool: crate::TOOL.to_string(),
        station: parts.config.station.clone(),
        operators: parts.config.operators.clone(),
        job_id: parts.ctx.job_id.clone(),
        plan_id: parts.ctx.plan_id.clone(),
        robots_override: parts.ctx.robots_override.clone(),
        artifacts: Vec::new(),
    }
}

/// Stores the raw body and the record; returns the capture id. File I/O runs
/// on the blocking pool so it never stalls the crawl's async workers.
pub(crate) async fn store(blobs: &BlobStore, body: bytes::Bytes, record: &CaptureRecord) -> Result<Digest, FetchError> {
    let json = record.to_canonical_json();
    let root = blobs.root().to_path_buf();
    let blobs = blobs.clone();
    let url = record.final_url.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<Digest, evidence::BlobError> {
        blobs.put(&body)?;
        blobs.put(&json)
    })
    .await;
    match stored {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(source)) => Err(FetchError::Store { url, source }),
        // The closure does not panic; a join error means the runtime is shutting down.
        Err(e) => Err(FetchError::Store {
            url,
            source: evidence::BlobError::Io {
                action: "write",
                path: root,
                source: std::io::Error::other(e.to_string()),
            },
        }),
    }
}
