//! Case evidence bundles over the API: sealing one on demand (the station's
//! key, ledger and blobs, see [`Sealing`]), describing it without the
//! server's paths ([`BundleView`]), and finding a bundle's file again by its
//! id from what was recorded, never from the request.
//!
//! A bundle is found through the ledger's subject index: every bundle sealed
//! for a case has a custody entry naming the case and the bundle id, and the
//! case's audit log holds `"{bundle id} sha256:{hex} {path}"` (written by
//! [`crate::cases::notify::Notifier::seal_bundle`]). So bundles sealed by the
//! CLI are found too, and an id never becomes a path.

use std::io::{Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use evidence::bundle::BundleSummary;
use evidence::custody::CustodyEvent;
use evidence::ledger::EntryKind;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::errors::ApiError;
use crate::cases::notify::{Notifier, BUNDLE_SEALED};
use crate::cases::Case;
use crate::config::DataDir;
use crate::sealing::Station;

/// What sealing over the API needs besides the stores: the data directory
/// (bundles go to `bundles/cases/` as with the CLI) and the opened station.
#[derive(Clone)]
pub struct Sealing {
    pub data: DataDir,
    pub station: Arc<Station>,
}

impl Sealing {
    /// Where case bundles are written (as `spotcheck notices issue` does).
    pub fn bundle_dir(&self) -> PathBuf {
        self.data.bundles().join("cases")
    }
}

/// A sealed bundle as clients see it: no server path.
#[derive(Debug, Clone, Serialize)]
pub struct BundleView {
    pub id: String,
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

impl From<BundleSummary> for BundleView {
    fn from(s: BundleSummary) -> BundleView {
        BundleView {
            id: s.id,
            sha256: s.sha256,
            bytes: s.bytes,
            files: s.files,
            captures: s.captures,
            findings: s.findings,
            ledger_entries: s.ledger_entries,
            timestamp_tokens: s.timestamp_tokens,
            pdf: s.pdf,
        }
    }
}

/// Where enforcement downloads bundle `id`.
pub fn download_path(id: &str) -> String {
    format!("/api/enforcement/v1/bundles/{id}")
}

/// The notifier over the API's stores, acting as `actor`.
pub fn notifier<'a>(state: &'a super::ApiState, sealing: &'a Sealing, actor: String) -> Notifier<'a> {
    Notifier {
        store: &state.store,
        station: &sealing.station,
        cases: &state.triage.cases,
        findings: &state.triage.findings,
        notices: &state.notices,
        actor,
    }
}

/// Seals a fresh bundle of `case`'s findings (captures and pictures with
/// them) into the case bundle directory, recorded on the case; no PDF.
pub async fn seal_case(state: &super::ApiState, case: &Case, actor: String) -> Result<BundleView, ApiError> {
    let sealing = state.sealing.as_ref().ok_or(ApiError::SealingUnavailable)?;
    // Nanoseconds in the name: two seals in one second never share a file.
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true).replace([':', '-', '.'], "");
    let options = crate::sealing::BundleOptions {
        out: sealing.bundle_dir().join(format!("{}-{stamp}.wacz", case.id)),
        title: format!("案件 {} 网络抽查电子证据", case.id),
        purpose: None,
        tsa_url: None,
        chromium: None,
    };
    let summary = notifier(state, sealing, actor).seal_bundle(&case.id, options).await?;
    Ok(BundleView::from(summary))
}

/// The bundles recorded on `case` as `(id, lowercase hex SHA-256)`, oldest first.
pub fn sealed_on(case: &Case) -> Vec<(String, String)> {
    case.audit
        .iter()
        .filter(|a| a.action == BUNDLE_SEALED)
        .filter_map(|a| {
            let id = a.detail.split(' ').next()?;
            check_id(id).ok()?;
            parse_detail(id, &a.detail).map(|(sha, _)| (id.to_string(), sha))
        })
        .collect()
}

/// `B` + 14 digits + `-` + 8 lowercase hex: the only ids looked up.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    let b = id.as_bytes();
    let ok = b.len() == 24
        && b[0] == b'B'
        && b[1..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'-'
        && b[16..].iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadBundleId(id.chars().take(64).collect()))
    }
}

/// A bundle as recorded on its case.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub id: String,
    pub case: Case,
    /// Lowercase hex.
    pub sha256: String,
    pub path: PathBuf,
}

/// Reads `"{id} sha256:{hex} {path}"` of the audit entry of bundle `id`.
fn parse_detail(id: &str, detail: &str) -> Option<(String, PathBuf)> {
    let mut parts = detail.splitn(3, ' ');
    let (named, digest, path) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = digest.strip_prefix("sha256:")?;
    let well_formed = hex.len() == 64 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    (named == id && well_formed && !path.is_empty()).then(|| (hex.to_string(), PathBuf::from(path)))
}

/// Bundle `id` (already checked with [`check_id`]) as recorded on its case, if any.
pub fn recorded(state: &super::ApiState, id: &str) -> Result<Option<Recorded>, ApiError> {
    let ledger = state.store.ledger();
    for seq in ledger.entries_about(id)? {
        let entry = ledger.entry(seq)?;
        if entry.kind != EntryKind::Custody {
            continue;
        }
        let Ok(event) = serde_json::from_value::<CustodyEvent>(entry.body) else { continue };
        let Some(case_id) = event.subjects.first() else { continue };
        let Some(case) = state.triage.cases.get(case_id)? else { continue };
        let found = case.audit.iter().filter(|a| a.action == BUNDLE_SEALED).find_map(|a| parse_detail(id, &a.detail));
        if let Some((sha256, path)) = found {
            return Ok(Some(Recorded { id: id.to_string(), case, sha256, path }));
        }
    }
    Ok(None)
}

/// Opens the bundle's file and checks it is still what was sealed (its
/// SHA-256), so the digest headers never promise what the body is not.
fn open_checked(bundle: &Recorded) -> Result<(std::fs::File, u64), ApiError> {
    let mut file = match std::fs::File::open(&bundle.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::BundleGone(bundle.id.clone())),
        Err(e) => return Err(io_error(bundle, e)),
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(bundle, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    if hex::encode(hasher.finalize()) != bundle.sha256 {
        return Err(ApiError::internal(format!(
            "bundle `{}` at `{}` does not hash to its recorded sha256:{}",
            bundle.id,
            bundle.path.display(),
            bundle.sha256
        )));
    }
    file.rewind().map_err(|e| io_error(bundle, e))?;
    Ok((file, len))
}

fn io_error(bundle: &Recorded, e: std::io::Error) -> ApiError {
    ApiError::internal(format!("cannot read bundle `{}` at `{}`: {e}", bundle.id, bundle.path.display()))
}

/// The bundle's file as a download: `application/zip` (a WACZ is a ZIP),
/// attachment, its length and its SHA-256 (`Repr-Digest`, RFC 9530, and hex
/// in `X-Content-SHA256`, comparable with a notice's `evidence_sha256`).
pub async fn download(bundle: Recorded) -> Result<Response, ApiError> {
    let checked = bundle.clone();
    let (file, len) = tokio::task::spawn_blocking(move || open_checked(&checked))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let stream = futures::stream::unfold(tokio::fs::File::from_std(file), |mut file| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let raw = hex::decode(&bundle.sha256).map_err(ApiError::internal)?;
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.wacz\"", bundle.id)),
        (header::CONTENT_LENGTH, len.to_string()),
        (header::HeaderName::from_static("repr-digest"), format!("sha-256=:{}:", base64_std(&raw))),
        (header::HeaderName::from_static("x-content-sha256"), bundle.sha256.clone()),
    ];
    let mut response = Body::from_stream(stream).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, HeaderValue::from_str(&value).map_err(ApiError::internal)?);
    }
    Ok(response)
}

fn base64_std(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_well_formed_bundle_ids_are_looked_up() {
        assert!(check_id("B20261122231500-0a1b2c3d").is_ok());
        for bad in [
            "",
            "B1",
            "../../etc/passwd",
            "B20261122231500-0A1B2C3D",
            "B2026112223150-0a1b2c3d/",
            "b20261122231500-0a1b2c3d",
            "B20261122231500-0a1b2c3d0",
            "B２0261122231500-0a1b2c3",
        ] {
            assert!(matches!(check_id(bad), Err(ApiError::BadBundleId(_))), "{bad:?}");
        }
    }

    #[test]
    fn an_audit_detail_names_its_bundle_digest_and_path() {
        let hex = "ab".repeat(32);
        let id = "B20261122231500-0a1b2c3d";
        let detail = format!("{id} sha256:{hex} /data/bundles/cases/C1 x.wacz");
        assert_eq!(parse_detail(id, &detail), Some((hex.clone(), PathBuf::from("/data/bundles/cases/C1 x.wacz"))));
        assert_eq!(parse_detail("B20261122231500-ffffffff", &detail), None, "another bundle's entry");
        assert_eq!(parse_detail(id, &format!("{id} sha256:{} p", &hex[..10])), None);
        assert_eq!(parse_detail(id, &format!("{id} {hex} p")), None);
    }
}
