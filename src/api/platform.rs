//! The handlers under `/api/platform/v1`: list and read notices, acknowledge
//! them, report dispositions.
//!
//! Every extractor's rejection is taken as a `Result` and turned into an
//! [`ApiError`], so a bad path, query or body gets the one error shape and a
//! 4xx, never axum's plain-text rejections.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::authenticate;
use super::errors::ApiError;
use super::request::{self, body_bytes, idempotency_key, path_id, Body, PathParam, QueryParams};
use super::ApiState;
use crate::notices::store::{DispositionReport, NoticeStatus};
use crate::notices::{Cursor, Disposition, Notice};

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
pub async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Json<NoticePage>, ApiError> {
    let who = authenticate(&state.keys, &state.limiter, &headers)?;
    let Query(params) = query.map_err(|e| ApiError::BadBody(format!("bad query: {}", e.body_text())))?;
    let cursor = params.get("cursor").filter(|c| !c.is_empty()).map(|c| Cursor::parse(c)).transpose()?;
    let limit = request::limit(&params)?;
    let (notices, next) = state.notices.list(&who, cursor, limit)?;
    Ok(Json(NoticePage { notices, next_cursor: next.to_string() }))
}

/// `GET /api/platform/v1/notices/{id}`
pub async fn get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Json<NoticeView>, ApiError> {
    let who = authenticate(&state.keys, &state.limiter, &headers)?;
    let id = path_id(path)?;
    let notice = state.notices.get(&who, &id)?;
    let status = state.notices.status(&who, &id)?;
    Ok(Json(NoticeView { notice, status }))
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
