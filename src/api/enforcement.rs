//! The handlers under `/api/enforcement/v1`: a bureau's enforcement staff
//! (执法稽查) read the cases routed to their bureau, with their notices, and
//! record outcomes (立案, 处罚, 不予处罚, 移送公安, 结案).
//!
//! A token is bound to one bureau: another bureau's case is answered exactly
//! like a case that does not exist (404), so case ids do not leak.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::auth::principal;
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

fn enforcement(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(&state.tokens, &state.limiter, headers, Role::Enforcement)
}

fn ours(who: &Principal, case: &Case) -> bool {
    who.bureau.as_deref() == Some(case.bureau.code.as_str())
}

/// The case `id` if it is the token's bureau's; any other is "not found".
fn own_case(state: &ApiState, who: &Principal, id: &str) -> Result<Case, ApiError> {
    match state.triage.cases.get(id)? {
        Some(case) if ours(who, &case) => Ok(case),
        _ => Err(ApiError::not_found("case", id)),
    }
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
        request::text("note", &parsed.note, true)?;
        if parsed.status == CaseStatus::Opened {
            return Err(ApiError::BadBody("`opened` is where a case starts, not an outcome".into()));
        }
        own_case(&state, who, id)?;
        let case = state.triage.cases.set_outcome(id, parsed.status, &parsed.note, &who.actor(), Utc::now())?;
        Written::ok(case)
    })
    .await
}
