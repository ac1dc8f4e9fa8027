//! The HTTP API (issue 7), one axum app with three audiences:
//!
//! - [`platform`]: platforms poll their notices and report what they did
//!   (`/api/platform/v1`, API keys of [`crate::notices::ApiKeys`]);
//! - [`staff`]: supervision staff triage findings, read cases, issue a case's
//!   notices and follow each notice up (`/api/staff/v1`, `staff` tokens of
//!   [`crate::access::AccessTokens`]);
//! - [`enforcement`]: a bureau's enforcement staff read its cases, record
//!   outcomes, and have a case's evidence bundle sealed and download it
//!   (`/api/enforcement/v1`, `enforcement` tokens bound to a bureau);
//! - [`admin`]: platforms' API keys issued, listed and revoked
//!   (`/api/admin/v1`, `admin` tokens).
//!
//! Shared: [`auth`] (bearer secrets, a token bucket per key or token),
//! [`errors`] (the one error shape, `{"error": {"code", "message"}}`),
//! [`request`] (bounded bodies, queries, paging), [`replay`] (Idempotency-Key
//! on the people's writes), [`bundles`] (sealing with the station, finding a
//! bundle's file from what was recorded) and [`openapi`] (the OpenAPI 3.1 document, checked
//! against [`ROUTES`] by the tests). The API owns no data: it is a thin layer
//! over the stores, and who may call what is the table [`ROUTES`].

pub mod admin;
pub mod auth;
pub mod bundles;
pub mod enforcement;
pub mod errors;
pub mod openapi;
mod openapi_schemas;
pub mod platform;
pub mod replay;
pub mod request;
pub mod server;
pub mod staff;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use crate::access::{AccessError, AccessTokens, Role};
use crate::cases::Triage;
use crate::config::DataDir;
use crate::notices::{ApiKeys, NoticeError, NoticeStore, PlatformRegistry};
use crate::sealing::Station;
use crate::store::Store;
use crate::verification::{FollowUps, VerifyError};
pub use auth::{Limiter, RateLimit};
pub use bundles::Sealing;
pub use errors::ApiError;

/// The largest request body accepted: a disposition or a note is a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// No authentication (health, the OpenAPI document).
    Public,
    /// A platform's API key.
    Platform,
    /// A person's token of this role.
    Token(Role),
}

/// Every route the router serves, as `(method, path, audience)`: the
/// authorization matrix as data. The OpenAPI document must describe exactly
/// these (tests/api.rs checks both ways, and that each one answers on the
/// router); tests/api_staff.rs calls every route with every kind of
/// credential and checks the answer against the audience.
pub const ROUTES: &[(&str, &str, Audience)] = &[
    ("GET", "/healthz", Audience::Public),
    ("GET", "/api/openapi.json", Audience::Public),
    ("GET", "/api/platform/v1/notices", Audience::Platform),
    ("GET", "/api/platform/v1/notices/{id}", Audience::Platform),
    ("POST", "/api/platform/v1/notices/{id}/ack", Audience::Platform),
    ("POST", "/api/platform/v1/notices/{id}/disposition", Audience::Platform),
    ("GET", "/api/staff/v1/findings", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/findings/{id}", Audience::Token(Role::Staff)),
    ("POST", "/api/staff/v1/findings/{id}/confirm", Audience::Token(Role::Staff)),
    ("POST", "/api/staff/v1/findings/{id}/dismiss", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/rules/stats", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/cases", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/cases/{id}", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/notices", Audience::Token(Role::Staff)),
    ("GET", "/api/staff/v1/notices/{id}", Audience::Token(Role::Staff)),
    ("POST", "/api/staff/v1/cases/{id}/notices", Audience::Token(Role::Staff)),
    ("GET", "/api/enforcement/v1/cases", Audience::Token(Role::Enforcement)),
    ("GET", "/api/enforcement/v1/cases/{id}", Audience::Token(Role::Enforcement)),
    ("GET", "/api/enforcement/v1/cases/{id}/notices", Audience::Token(Role::Enforcement)),
    ("POST", "/api/enforcement/v1/cases/{id}/outcome", Audience::Token(Role::Enforcement)),
    ("POST", "/api/enforcement/v1/cases/{id}/bundle", Audience::Token(Role::Enforcement)),
    ("GET", "/api/enforcement/v1/bundles/{bundle_id}", Audience::Token(Role::Enforcement)),
    ("GET", "/api/admin/v1/platforms/{platform}/keys", Audience::Token(Role::Admin)),
    ("POST", "/api/admin/v1/platforms/{platform}/keys", Audience::Token(Role::Admin)),
    ("DELETE", "/api/admin/v1/keys/{key_id}", Audience::Token(Role::Admin)),
];

/// What can stop the API from opening its stores.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Notices(#[from] NoticeError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Verification(#[from] VerifyError),
    #[error("cannot open the idempotency tree: {0}")]
    Db(#[from] kv::Error),
}

/// What the handlers share; cheap to clone (store handles and `Arc`s).
#[derive(Clone)]
pub struct ApiState {
    pub notices: NoticeStore,
    pub keys: ApiKeys,
    pub tokens: AccessTokens,
    /// Findings and cases, and the routing and merge window confirmations use.
    pub triage: Arc<Triage>,
    pub limiter: Limiter,
    /// Our verification of each notice (re-crawls), read by staff.
    pub followups: FollowUps,
    /// The station's store: listings, the ledger.
    pub store: Store,
    /// Sealing bundles; `None` (sealing answers 503) until [`ApiState::with_station`].
    pub sealing: Option<Sealing>,
    replays: replay::Replays,
    /// The database everything lives in, flushed before a write is answered:
    /// a client that was told "recorded" does not send it again, so the store's
    /// 200 ms flush window must not be able to lose it.
    db: kv::Db,
}

impl ApiState {
    /// Opens the notices, keys, tokens and idempotency records in the store's
    /// database; `triage` (see [`Triage::configured`]) holds the findings and
    /// cases of the same store.
    pub fn open(
        store: &Store,
        registry: PlatformRegistry,
        triage: Triage,
        rate_limit: RateLimit,
    ) -> Result<ApiState, OpenError> {
        let db = store.db();
        Ok(ApiState {
            notices: NoticeStore::open(db)?,
            keys: ApiKeys::open(db, registry)?,
            tokens: AccessTokens::open(db)?,
            triage: Arc::new(triage),
            limiter: Limiter::new(rate_limit),
            followups: FollowUps::open(db)?,
            store: store.clone(),
            sealing: None,
            replays: replay::Replays::open(db)?,
            db: db.clone(),
        })
    }

    /// Lets the API seal case bundles with `station` (opened on the same
    /// store) into `data`'s `bundles/cases/`, as the CLI does.
    pub fn with_station(mut self, data: DataDir, station: Station) -> ApiState {
        self.sealing = Some(Sealing { data, station: Arc::new(station) });
        self
    }

    /// Makes the writes answered so far durable.
    pub(crate) async fn flush(&self) -> Result<(), ApiError> {
        // A durable commit waits for the disk: off the async workers.
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush()).await.map_err(ApiError::internal)?;
        flushed.map(|_| ()).map_err(ApiError::internal)
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
        .route("/api/staff/v1/findings", get(staff::findings))
        .route("/api/staff/v1/findings/{id}", get(staff::finding))
        .route("/api/staff/v1/findings/{id}/confirm", post(staff::confirm))
        .route("/api/staff/v1/findings/{id}/dismiss", post(staff::dismiss))
        .route("/api/staff/v1/rules/stats", get(staff::rule_stats))
        .route("/api/staff/v1/cases", get(staff::cases))
        .route("/api/staff/v1/cases/{id}", get(staff::case))
        .route("/api/staff/v1/cases/{id}/notices", post(staff::issue_notices))
        .route("/api/staff/v1/notices", get(staff::notices))
        .route("/api/staff/v1/notices/{id}", get(staff::notice))
        .route("/api/enforcement/v1/cases", get(enforcement::cases))
        .route("/api/enforcement/v1/cases/{id}", get(enforcement::case))
        .route("/api/enforcement/v1/cases/{id}/notices", get(enforcement::notices))
        .route("/api/enforcement/v1/cases/{id}/outcome", post(enforcement::outcome))
        .route("/api/enforcement/v1/cases/{id}/bundle", post(enforcement::seal))
        .route("/api/enforcement/v1/bundles/{bundle_id}", get(enforcement::download))
        .route("/api/admin/v1/platforms/{platform}/keys", get(admin::keys).post(admin::issue))
        .route("/api/admin/v1/keys/{key_id}", delete(admin::revoke))
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
