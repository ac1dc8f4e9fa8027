//! The handlers under `/api/platform/v1`: list and read notices, acknowledge
//! them, report dispositions.
//!
//! Every extractor's rejection is taken as a `Result` and turned into an
//! [`ApiError`], so a bad path, query or body gets the one error shape and a
//! 4xx, never axum's plain-text rejections.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::authenticate;
use super::errors::ApiError;
use super::request::{self, body_bytes, idempotency_key, path_id, Body, PathParam, QueryParams};
use super::ApiState;
use crate::notices::store::{DispositionReport, NoticeStatus};
use crate::notices::{Cursor, Disposition, Notice, WireNotice};

/// One page of notices.
#[derive(Debug, Serialize, Deserialize)]
pub struct NoticePage {
    pub notices: Vec<Notice>,
    /// Pass back as `cursor` to continue; on an empty page it is the cursor sent.
    pub next_cursor: String,
}

/// A notice with where it stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct NoticeView {
    #[serde(flatten)]
    pub notice: Notice,
    pub status: NoticeStatus,
}

/// What a platform may answer, as the wire names it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispositionKind {
    Delisted,
    PartiallyDelisted,
    Rejected,
    Disputed,
}

/// The body of `POST …/disposition`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionBody {
    pub disposition: DispositionKind,
    #[serde(default)]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl DispositionBody {
    /// The store's report. A dispute must say why; the store keeps a reason
    /// only for disputes, so a reason on anything else is refused rather than
    /// silently dropped.
    fn into_report(self) -> Result<DispositionReport, ApiError> {
        let reason = self.reason.filter(|r| !r.trim().is_empty());
        let disposition = match (self.disposition, reason) {
            (DispositionKind::Disputed, Some(reason)) => Disposition::Disputed { reason },
            (DispositionKind::Disputed, None) => {
                return Err(ApiError::BadBody("a `disputed` disposition needs a `reason`".into()))
            }
            (_, Some(_)) => return Err(ApiError::BadBody("`reason` is only recorded with `disputed`".into())),
            (DispositionKind::Delisted, None) => Disposition::Delisted,
            (DispositionKind::PartiallyDelisted, None) => Disposition::PartiallyDelisted,
            (DispositionKind::Rejected, None) => Disposition::Rejected,
        };
        Ok(DispositionReport { disposition, at: self.at })
    }
}

/// `GET /api/platform/v1/notices?cursor=…&limit=…`
///
/// The body is a [`NoticePage`], written from the stored notices' bytes
/// (each is already its JSON) rather than decoded and encoded again.
pub async fn list(State(state): State<ApiState>, headers: HeaderMap, query: QueryParams) -> Result<Response, ApiError> {
    let who = authenticate(&state.keys, &state.limiter, &headers)?;
    let Query(params) = query.map_err(|e| ApiError::BadBody(format!("bad query: {}", e.body_text())))?;
    let cursor = params.get("cursor").filter(|c| !c.is_empty()).map(|c| Cursor::parse(c)).transpose()?;
    let limit = request::limit(&params)?;
    let (notices, next) = state.notices.list_wire(&who, cursor, limit)?;
    Ok(json_response(page_json(&notices, next)))
}

/// A [`NoticePage`]'s JSON from the notices' JSON, byte for byte what
/// `serde_json` writes for the page.
pub fn page_json(notices: &[WireNotice], next: Cursor) -> Vec<u8> {
    const HEAD: &[u8] = b"{\"notices\":[";
    const MID: &[u8] = b"],\"next_cursor\":\"";
    const TAIL: &[u8] = b"\"}";
    // A cursor is 11 base64url characters: nothing in it needs escaping.
    let cursor = next.to_string();
    let len =
        notices.iter().map(|n| n.json().len() + 1).sum::<usize>() + HEAD.len() + MID.len() + cursor.len() + TAIL.len();
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(HEAD);
    for (i, n) in notices.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(n.json());
    }
    body.extend_from_slice(MID);
    body.extend_from_slice(cursor.as_bytes());
    body.extend_from_slice(TAIL);
    body
}

/// A [`NoticeView`]'s JSON: the notice's object with `status` as its last member.
pub fn view_json(notice: &WireNotice, status: &NoticeStatus) -> Result<Vec<u8>, ApiError> {
    let json = notice.json();
    // A `WireNotice` is a JSON object: it ends with its closing brace.
    let open = json.strip_suffix(b"}").ok_or_else(|| ApiError::internal("a stored notice is not a JSON object"))?;
    let mut body = Vec::with_capacity(json.len() + 256);
    body.extend_from_slice(open);
    body.extend_from_slice(b",\"status\":");
    serde_json::to_writer(&mut body, status).map_err(ApiError::internal)?;
    body.push(b'}');
    Ok(body)
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// `GET /api/platform/v1/notices/{id}`
pub async fn get(State(state): State<ApiState>, headers: HeaderMap, path: PathParam) -> Result<Response, ApiError> {
    let who = authenticate(&state.keys, &state.limiter, &headers)?;
    let id = path_id(path)?;
    let notice = state.notices.get_wire(&who, &id)?;
    let status = state.notices.status_any(&id)?;
    Ok(json_response(view_json(&notice, &status)?))
}

/// What every platform write starts with: the key, the notice id, the
/// `Idempotency-Key` and the (size-limited) body.
fn write_request(
    state: &ApiState,
    headers: &HeaderMap,
    path: PathParam,
    body: Body,
) -> Result<(crate::notices::AuthenticatedPlatform, String, String, bytes::Bytes), ApiError> {
    let who = authenticate(&state.keys, &state.limiter, headers)?;
    let id = path_id(path)?;
    let key = idempotency_key(headers)?;
    let bytes = body_bytes(body)?;
    Ok((who, id, key, bytes))
}

/// `POST /api/platform/v1/notices/{id}/ack`
pub async fn ack(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
    body: Body,
) -> Result<Json<NoticeStatus>, ApiError> {
    // The body is ignored, but its size limit still applies.
    let (who, id, key, _) = write_request(&state, &headers, path, body)?;
    let status = state.notices.acknowledge(&who, &id, Some(&key), Utc::now())?;
    state.flush().await?;
    Ok(Json(status))
}

/// `POST /api/platform/v1/notices/{id}/disposition`
pub async fn disposition(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
    body: Body,
) -> Result<Json<NoticeStatus>, ApiError> {
    let (who, id, key, bytes) = write_request(&state, &headers, path, body)?;
    let parsed: DispositionBody = request::json(&bytes)?;
    let report = parsed.into_report()?;
    let status = state.notices.report(&who, &id, &report, Some(&key), Utc::now())?;
    state.flush().await?;
    Ok(Json(status))
}
