//! The one error shape every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`.
//!
//! Platforms integrate against codes, not prose, so each variant has a stable
//! `code`; the message is for the person reading logs. Store failures become a
//! 500 with a generic message (the detail goes to our log, not to the
//! platform), and nothing a client sends can reach that branch.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::notices::NoticeError;

/// Everything an API request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or malformed `authorization: bearer` header")]
    MissingKey,
    #[error("unknown or revoked api key")]
    InvalidKey,
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("bad cursor `{0}`")]
    BadCursor(String),
    #[error("bad limit `{0}`: expected an integer from 1 to 500")]
    BadLimit(String),
    #[error("bad request body: {0}")]
    BadBody(String),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("missing `idempotency-key` header")]
    MissingIdempotencyKey,
    #[error("bad `idempotency-key` header: 1 to 255 visible ascii characters expected")]
    BadIdempotencyKey,
    #[error("notice `{0}` not found")]
    NotFound(String),
    #[error("no route for `{0}`")]
    NoRoute(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("idempotency key `{0}` was already used with a different request")]
    IdempotencyConflict(String),
    #[error("internal error")]
    Internal(#[source] NoticeError),
}

impl ApiError {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingKey => "missing_api_key",
            ApiError::InvalidKey => "invalid_api_key",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BadCursor(_) => "bad_cursor",
            ApiError::BadLimit(_) => "bad_limit",
            ApiError::BadBody(_) => "bad_body",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::MissingIdempotencyKey => "missing_idempotency_key",
            ApiError::BadIdempotencyKey => "bad_idempotency_key",
            ApiError::NotFound(_) => "not_found",
            ApiError::NoRoute(_) => "no_route",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::IdempotencyConflict(_) => "idempotency_conflict",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadCursor(_)
            | ApiError::BadLimit(_)
            | ApiError::BadBody(_)
            | ApiError::MissingIdempotencyKey
            | ApiError::BadIdempotencyKey => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyConflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Every code the API can answer with, for the OpenAPI document.
    pub const CODES: &'static [&'static str] = &[
        "missing_api_key",
        "invalid_api_key",
        "rate_limited",
        "bad_cursor",
        "bad_limit",
        "bad_body",
        "body_too_large",
        "missing_idempotency_key",
        "bad_idempotency_key",
        "not_found",
        "no_route",
        "method_not_allowed",
        "idempotency_conflict",
        "internal",
    ];
}

/// The store's errors as the platform may see them: "not found" covers
/// another platform's notice too, so ids do not leak.
impl From<NoticeError> for ApiError {
    fn from(e: NoticeError) -> ApiError {
        match e {
            NoticeError::NotFound(id) => ApiError::NotFound(id),
            NoticeError::BadCursor(c) => ApiError::BadCursor(c),
            NoticeError::IdempotencyConflict { key, .. } => ApiError::IdempotencyConflict(key),
            other => ApiError::Internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %e, "platform api request failed");
        }
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::MissingKey | ApiError::InvalidKey => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
