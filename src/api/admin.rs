//! The handlers under `/api/admin/v1`: platforms' API keys, issued (the
//! secret is in the 201 answer and nowhere else), listed (never secrets or
//! digests) and revoked. A platform must be in the registry.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::principal;
use super::errors::ApiError;
use super::replay::{self, WriteInput, Written};
use super::request::{path_id, PathParam};
use super::ApiState;
use crate::access::{Principal, Role};
use crate::notices::keys::KeyRecord;

/// A key as the admin sees it: no secret, no digest.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub key_id: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRecord> for KeyView {
    fn from(r: KeyRecord) -> KeyView {
        KeyView { key_id: r.key_id, platform: r.platform, created_at: r.created_at, revoked_at: r.revoked_at }
    }
}

/// A platform's keys.
#[derive(Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// A new key; `secret` is shown in the first answer only.
#[derive(Debug, Serialize)]
pub struct IssuedKey {
    pub key_id: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn admin(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(&state.tokens, &state.limiter, headers, Role::Admin)
}

fn registered(state: &ApiState, platform: &str) -> Result<(), ApiError> {
    match state.keys.registry().get(platform) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("platform", platform)),
    }
}

/// `GET /api/admin/v1/platforms/{platform}/keys`
pub async fn keys(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Json<KeyList>, ApiError> {
    admin(&state, &headers)?;
    let platform = path_id(path)?;
    registered(&state, &platform)?;
    let mut keys: Vec<KeyView> = state.keys.keys(&platform)?.into_iter().map(KeyView::from).collect();
    keys.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
    Ok(Json(KeyList { keys }))
}

/// `POST /api/admin/v1/platforms/{platform}/keys`: 201 with the secret, once.
/// A repeat with the same Idempotency-Key returns the same key without its
/// secret (it was never stored).
pub async fn issue(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    replay::run(&state, input, Role::Admin, |who, platform, _| {
        registered(&state, platform)?;
        let now = Utc::now();
        let (key_id, secret) = state.keys.issue_key(platform, now)?;
        tracing::info!(key_id, platform, by = who.actor(), "platform api key issued");
        let mut issued = IssuedKey { key_id, platform: platform.to_string(), created_at: now, secret: Some(secret) };
        let body = serde_json::to_value(&issued).map_err(ApiError::internal)?;
        issued.secret = None;
        let replay = serde_json::to_value(&issued).map_err(ApiError::internal)?;
        Ok(Written { status: StatusCode::CREATED, body, replay })
    })
    .await
}

/// `DELETE /api/admin/v1/keys/{key_id}`: the key stops working at once.
pub async fn revoke(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    replay::run(&state, input, Role::Admin, |who, key_id, _| {
        state.keys.revoke(key_id, Utc::now())?;
        let record = state.keys.get(key_id)?.ok_or_else(|| ApiError::not_found("api key", key_id))?;
        tracing::info!(key_id, by = who.actor(), "platform api key revoked");
        Written::ok(KeyView::from(record))
    })
    .await
}
