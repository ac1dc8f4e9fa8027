//! The staff console (issue 8): server-rendered pages for supervision staff,
//! enforcement staff and admins, served by `spotcheck serve` under `/console/`.
//!
//! - [`users`] and [`sessions`]: console accounts (Argon2id passwords) and
//!   cookie sessions kept server-side; [`login`] signs in and out, with a
//!   lock-out after repeated failures.
//! - [`auth`]: the [`auth::Viewer`] extractor (who is asking; pages check the
//!   role) and [`auth::Posted`] for every form that changes anything (same
//!   origin, and the session's CSRF token).
//! - [`layout`] and [`charts`]: the shell and inline SVG charts, built with
//!   maud, which escapes every value spliced into a page — a crawled title
//!   holding `<script>` shows as text. The CSP allows our own stylesheet and
//!   script only (no inline script), so even a slip could not run one.
//! - One module per section: [`dashboard`], [`plans`], [`findings`],
//!   [`cases`], [`notices`], [`shops`], [`reports`]. Each owns its routes
//!   (`routes()`); pages read the same stores the API does ([`ApiState`]) and
//!   own no data.

pub mod auth;
pub mod cases;
pub mod charts;
pub mod dashboard;
pub mod desk;
pub mod error;
pub mod evidence_view;
pub mod findings;
pub mod layout;
pub mod listing;
pub mod live;
pub mod login;
pub mod notices;
pub mod paging;
pub mod plan_edit;
pub mod plan_form;
pub mod plan_history;
pub mod plan_run;
pub mod plans;
pub mod reference;
pub mod report_scope;
pub mod reports;
pub mod sessions;
pub mod shops;
pub mod text;
pub mod users;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::api::ApiState;
use crate::config::DataDir;
pub use error::ConsoleError;
pub use sessions::Sessions;
pub use users::{ConsoleUsers, User};

/// The Content-Security-Policy of every console response: our own stylesheet,
/// script and images only; no inline script, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console's handlers share; cheap to clone.
#[derive(Clone)]
pub struct ConsoleState {
    /// The API's stores (findings, cases, notices, follow-ups, listings, sealing).
    pub api: ApiState,
    pub users: ConsoleUsers,
    pub sessions: Sessions,
    pub data: DataDir,
    /// Plan book and runner; `None`: plan pages answer "未启用计划运行"
    /// (see [`ConsoleState::with_plans`]).
    pub plans: Option<desk::PlanDesk>,
    pub(crate) throttle: login::Throttle,
}

/// What can stop the console from opening its trees.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Users(#[from] users::UserError),
    #[error(transparent)]
    Sessions(#[from] sessions::SessionError),
}

impl ConsoleState {
    /// Opens the accounts and sessions in the API's database.
    pub fn open(api: ApiState, data: DataDir) -> Result<ConsoleState, OpenError> {
        let db = api.store.db();
        Ok(ConsoleState {
            users: ConsoleUsers::open(db)?,
            sessions: Sessions::open(db)?,
            api,
            data,
            plans: None,
            throttle: login::Throttle::default(),
        })
    }

    /// The console with plan pages that list, edit and run plans through `desk`.
    pub fn with_plans(mut self, desk: desk::PlanDesk) -> ConsoleState {
        self.plans = Some(desk);
        self
    }
}

/// The console's routes, to merge with the API's router.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .merge(login::routes())
        .merge(dashboard::routes())
        .merge(plans::routes())
        .merge(findings::routes())
        .merge(cases::routes())
        .merge(notices::routes())
        .merge(shops::routes())
        .merge(reports::routes())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", include_str!("static/console.css"))
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", include_str!("static/console.js"))
}

fn static_file(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// Headers every console response carries; pages are never cached (they
/// show who is signed in and what they may see).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A download (a standalone report) may set its own, stricter-in-kind policy.
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
