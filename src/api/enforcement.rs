//! The handlers under `/api/enforcement/v1`: a bureau's enforcement staff
//! (执法稽查) read the cases routed to their bureau, with their notices,
//! record outcomes (立案, 处罚, 不予处罚, 移送公安, 结案), and have a case's
//! evidence bundle sealed and download it.
//!
//! A token is bound to one bureau: another bureau's case is answered exactly
//! like a case that does not exist (404), so case ids do not leak; so is
//! another bureau's bundle.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::auth::principal;
use super::bundles::{self, BundleView};
use super::errors::ApiError;
use super::replay::{self, WriteInput, Written};
use super::request::{self, path_id, PathParam, QueryParams};
use super::staff::{case_page, notice_view, CasePage, NoticeView};
use super::ApiState;
use crate::access::{Principal, Role};
use crate::cases::{Case, CaseStatus};

/// The body of `POST …/outcome`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    pub status: CaseStatus,
    pub note: String,
}

/// A case's notices.
#[derive(Debug, Serialize)]
pub struct CaseNotices {
    pub notices: Vec<NoticeView>,
}

/// A bundle sealed on request, and where to download it.
#[derive(Debug, Serialize)]
pub struct SealedBundle {
    pub bundle: BundleView,
    pub download: String,
}

fn enforcement(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(&state.tokens, &state.limiter, headers, Role::Enforcement)
}

fn ours(who: &Principal, case: &Case) -> bool {
    in_bureau(who.bureau.as_deref(), case)
}

/// Whether `case` was routed to `bureau` (none: no bureau's).
pub fn in_bureau(bureau: Option<&str>, case: &Case) -> bool {
    bureau == Some(case.bureau.code.as_str())
}

/// The case `id` if it is `bureau`'s; any other is "not found".
pub fn bureau_case(state: &ApiState, bureau: Option<&str>, id: &str) -> Result<Case, ApiError> {
    match state.triage.cases.get(id)? {
        Some(case) if in_bureau(bureau, &case) => Ok(case),
        _ => Err(ApiError::not_found("case", id)),
    }
}

/// The case `id` if it is the token's bureau's; any other is "not found".
fn own_case(state: &ApiState, who: &Principal, id: &str) -> Result<Case, ApiError> {
    bureau_case(state, who.bureau.as_deref(), id)
}

/// Records the next step of `bureau`'s case `id` with a note, as `actor`.
pub fn record_outcome(
    state: &ApiState,
    bureau: Option<&str>,
    id: &str,
    status: CaseStatus,
    note: &str,
    actor: &str,
) -> Result<Case, ApiError> {
    request::text("note", note, true)?;
    if status == CaseStatus::Opened {
        return Err(ApiError::BadBody("`opened` is where a case starts, not an outcome".into()));
    }
    bureau_case(state, bureau, id)?;
    Ok(state.triage.cases.set_outcome(id, status, note, actor, Utc::now())?)
}

/// `GET /api/enforcement/v1/cases?status=&cursor=&limit=`: the bureau's cases.
pub async fn cases(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Json<CasePage>, ApiError> {
    let who = enforcement(&state, &headers)?;
    let params = request::query(query)?;
    Ok(Json(case_page(&state, &params, |c| ours(&who, c))?))
}

/// `GET /api/enforcement/v1/cases/{id}`
pub async fn case(State(state): State<ApiState>, headers: HeaderMap, path: PathParam) -> Result<Json<Case>, ApiError> {
    let who = enforcement(&state, &headers)?;
    Ok(Json(own_case(&state, &who, &path_id(path)?)?))
}

/// `GET /api/enforcement/v1/cases/{id}/notices`
pub async fn notices(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Json<CaseNotices>, ApiError> {
    let who = enforcement(&state, &headers)?;
    let case = own_case(&state, &who, &path_id(path)?)?;
    let notices = state.notices.of_case(&case.id)?.into_iter().map(|n| notice_view(&state, n));
    Ok(Json(CaseNotices { notices: notices.collect::<Result<_, _>>()? }))
}

/// `POST /api/enforcement/v1/cases/{id}/outcome`: the next step of the case's workflow.
pub async fn outcome(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    replay::run(&state, input, Role::Enforcement, |who, id, body| {
        let parsed: OutcomeBody = request::json(body)?;
        let case = record_outcome(&state, who.bureau.as_deref(), id, parsed.status, &parsed.note, &who.actor())?;
        Written::ok(case)
    })
    .await
}

/// `POST /api/enforcement/v1/cases/{id}/bundle`: seals a fresh bundle of the
/// case's findings (captures and pictures with them), records it on the case;
/// 201 with the bundle and its download path. No PDF is printed.
pub async fn seal(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    let acting = state.clone();
    replay::run_async(&state, input, Role::Enforcement, |who, id, _| async move {
        let case = own_case(&acting, &who, &id)?;
        let bundle = bundles::seal_case(&acting, &case, who.actor()).await?;
        let download = bundles::download_path(&bundle.id);
        Written::created(SealedBundle { bundle, download })
    })
    .await
}

/// `GET /api/enforcement/v1/bundles/{bundle_id}`: the file of a bundle
/// sealed for one of the bureau's cases.
pub async fn download(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Response, ApiError> {
    let who = enforcement(&state, &headers)?;
    let id = path_id(path)?;
    bundles::check_id(&id)?;
    match bundles::recorded(&state, &id)? {
        Some(bundle) if ours(&who, &bundle.case) => bundles::download(bundle).await,
        _ => Err(ApiError::not_found("bundle", &id)),
    }
}
