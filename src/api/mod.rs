//! The platform-facing HTTP API (issue 7): platforms poll their notices and
//! report what they did about them.
//!
//! - [`platform`]: the handlers under `/api/platform/v1`;
//! - [`auth`]: bearer keys ([`crate::notices::ApiKeys`]) and a token bucket per key;
//! - [`errors`]: the one error shape, `{"error": {"code", "message"}}`;
//! - [`openapi`]: the OpenAPI 3.1 document, checked against [`ROUTES`] by the tests.
//!
//! The API owns no data: it is a thin layer over [`NoticeStore`], whose
//! platform-facing methods only accept a platform proven by a key.

pub mod auth;
pub mod errors;
pub mod openapi;
pub mod platform;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::notices::{ApiKeys, NoticeError, NoticeStore, PlatformRegistry};
pub use auth::{Limiter, RateLimit};
pub use errors::ApiError;

/// The largest request body accepted: a disposition is a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route the router serves, as `(method, path)`; the OpenAPI document
/// must describe exactly these (tests/api.rs checks both ways, and that each
/// one answers on the router).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/platform/v1/notices"),
    ("GET", "/api/platform/v1/notices/{id}"),
    ("POST", "/api/platform/v1/notices/{id}/ack"),
    ("POST", "/api/platform/v1/notices/{id}/disposition"),
];

/// What the handlers share; cheap to clone (sled handles and an `Arc`).
#[derive(Clone)]
pub struct ApiState {
    pub notices: NoticeStore,
    pub keys: ApiKeys,
    pub limiter: Limiter,
    /// The database the notices live in, flushed before a write is answered:
    /// a platform that was told "recorded" does not send it again, so sled's
    /// 200 ms flush window must not be able to lose it.
    db: sled::Db,
}

impl ApiState {
    /// Opens the notice store and the API keys in `db` (the store's database).
    pub fn open(db: &sled::Db, registry: PlatformRegistry, rate_limit: RateLimit) -> Result<ApiState, NoticeError> {
        Ok(ApiState {
            notices: NoticeStore::open(db)?,
            keys: ApiKeys::open(db, registry)?,
            limiter: Limiter::new(rate_limit),
            db: db.clone(),
        })
    }

    /// Makes the writes answered so far durable.
    pub(crate) async fn flush(&self) -> Result<(), ApiError> {
        self.db.flush_async().await.map(|_| ()).map_err(|e| ApiError::Internal(NoticeError::Db(e)))
    }
}

/// The whole API as one router.
pub fn app(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/platform/v1/notices", get(platform::list))
        .route("/api/platform/v1/notices/{id}", get(platform::get))
        .route("/api/platform/v1/notices/{id}/ack", post(platform::ack))
        .route("/api/platform/v1/notices/{id}/disposition", post(platform::disposition))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute(format!("{method} {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
