//! The one error shape every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`.
//!
//! Clients integrate against codes, not prose, so each variant has a stable
//! `code`; the message is for the person reading logs. Store failures become a
//! 500 with a generic message (the detail goes to our log, not to the
//! client), and nothing a client sends can reach that branch.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::access::AccessError;
use crate::cases::notify::NotifyError;
use crate::cases::CaseError;
use crate::findings::TriageError;
use crate::notices::NoticeError;
use crate::store::StoreError;
use crate::verification::VerifyError;

/// A failure the client cannot cause (database, ledger, encoding).
pub type Internal = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything an API request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or malformed `authorization: bearer` header")]
    MissingKey,
    #[error("unknown or revoked api key or token for this api")]
    InvalidKey,
    #[error("a `{role}` token may not use this endpoint")]
    Forbidden { role: crate::access::Role },
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("bad cursor `{0}`")]
    BadCursor(String),
    #[error("bad limit `{0}`: expected an integer from 1 to 500")]
    BadLimit(String),
    #[error("bad query: {0}")]
    BadQuery(String),
    #[error("bad request body: {0}")]
    BadBody(String),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("missing `idempotency-key` header")]
    MissingIdempotencyKey,
    #[error("bad `idempotency-key` header: 1 to 255 visible ascii characters expected")]
    BadIdempotencyKey,
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("no route for `{0}`")]
    NoRoute(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("idempotency key `{0}` was already used with a different request")]
    IdempotencyConflict(String),
    #[error("{0}")]
    InvalidTransition(String),
    #[error("{0}")]
    FindingInCase(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    CaseClosed(String),
    #[error("{0}")]
    NoFindings(String),
    #[error("bad bundle id `{0}`: `B` + 14 digits + `-` + 8 lowercase hex expected")]
    BadBundleId(String),
    #[error("bundle `{0}` is recorded but its file is no longer on this server; seal a fresh one")]
    BundleGone(String),
    #[error("this server cannot seal evidence (no station key configured)")]
    SealingUnavailable,
    #[error("the request took longer than {0} s (a slow upload, or a server too busy)")]
    RequestTimeout(u64),
    #[error("internal error")]
    Internal(#[source] Internal),
}

impl ApiError {
    pub fn internal(e: impl Into<Internal>) -> ApiError {
        ApiError::Internal(e.into())
    }

    pub fn not_found(what: &'static str, id: &str) -> ApiError {
        ApiError::NotFound { what, id: id.to_string() }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingKey => "missing_api_key",
            ApiError::InvalidKey => "invalid_api_key",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BadCursor(_) => "bad_cursor",
            ApiError::BadLimit(_) => "bad_limit",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::BadBody(_) => "bad_body",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::MissingIdempotencyKey => "missing_idempotency_key",
            ApiError::BadIdempotencyKey => "bad_idempotency_key",
            ApiError::NotFound { .. } => "not_found",
            ApiError::NoRoute(_) => "no_route",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::IdempotencyConflict(_) => "idempotency_conflict",
            ApiError::InvalidTransition(_) => "invalid_transition",
            ApiError::FindingInCase(_) => "finding_in_case",
            ApiError::Conflict(_) => "conflict",
            ApiError::CaseClosed(_) => "case_closed",
            ApiError::NoFindings(_) => "no_findings",
            ApiError::BadBundleId(_) => "bad_bundle_id",
            ApiError::BundleGone(_) => "bundle_gone",
            ApiError::SealingUnavailable => "sealing_unavailable",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadCursor(_)
            | ApiError::BadLimit(_)
            | ApiError::BadQuery(_)
            | ApiError::BadBody(_)
            | ApiError::MissingIdempotencyKey
            | ApiError::BadIdempotencyKey
            | ApiError::BadBundleId(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound { .. } | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyConflict(_)
            | ApiError::InvalidTransition(_)
            | ApiError::FindingInCase(_)
            | ApiError::Conflict(_)
            | ApiError::CaseClosed(_)
            | ApiError::NoFindings(_) => StatusCode::CONFLICT,
            ApiError::BundleGone(_) => StatusCode::GONE,
            ApiError::SealingUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Every code the API can answer with, for the OpenAPI document.
    pub const CODES: &'static [&'static str] = &[
        "missing_api_key",
        "invalid_api_key",
        "forbidden",
        "rate_limited",
        "bad_cursor",
        "bad_limit",
        "bad_query",
        "bad_body",
        "body_too_large",
        "missing_idempotency_key",
        "bad_idempotency_key",
        "not_found",
        "no_route",
        "method_not_allowed",
        "idempotency_conflict",
        "invalid_transition",
        "finding_in_case",
        "conflict",
        "case_closed",
        "no_findings",
        "bad_bundle_id",
        "bundle_gone",
        "sealing_unavailable",
        "request_timeout",
        "internal",
    ];
}

/// The store's errors as the platform may see them: "not found" covers
/// another platform's notice too, so ids do not leak.
impl From<NoticeError> for ApiError {
    fn from(e: NoticeError) -> ApiError {
        match e {
            NoticeError::NotFound(id) => ApiError::NotFound { what: "notice", id },
            NoticeError::UnknownPlatform(id) => ApiError::NotFound { what: "platform", id },
            NoticeError::KeyNotFound(id) => ApiError::NotFound { what: "api key", id },
            NoticeError::BadCursor(c) => ApiError::BadCursor(c),
            NoticeError::IdempotencyConflict { key, .. } => ApiError::IdempotencyConflict(key),
            other => ApiError::internal(other),
        }
    }
}

impl From<TriageError> for ApiError {
    fn from(e: TriageError) -> ApiError {
        match e {
            TriageError::NotFound(id) => ApiError::NotFound { what: "finding", id },
            e @ TriageError::NoReason(_) => ApiError::BadBody(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> ApiError {
        match e {
            CaseError::NotFound(id) => ApiError::NotFound { what: "case", id },
            CaseError::Triage(e) => e.into(),
            e @ CaseError::NoNote(_) => ApiError::BadBody(e.to_string()),
            e @ CaseError::Transition { .. } => ApiError::InvalidTransition(e.to_string()),
            e @ CaseError::InCase { .. } => ApiError::FindingInCase(e.to_string()),
            e @ CaseError::Conflict(_) => ApiError::Conflict(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

/// Notifying: the case's state and contents are the client's business (404,
/// 409); sealing, ledger and store failures are ours.
impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> ApiError {
        match e {
            NotifyError::NoCase(id) => ApiError::NotFound { what: "case", id },
            e @ NotifyError::Closed { .. } => ApiError::CaseClosed(e.to_string()),
            e @ NotifyError::NoFindings(_) => ApiError::NoFindings(e.to_string()),
            NotifyError::Case(e) => e.into(),
            NotifyError::Notice(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<evidence::ledger::LedgerError> for ApiError {
    fn from(e: evidence::ledger::LedgerError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %e, "api request failed");
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
