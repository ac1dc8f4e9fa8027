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
use chrono::SecondsFormat;
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
use crate::sealing::BundleOptions;

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

/// `POST /api/enforcement/v1/cases/{id}/bundle`: seals a fresh bundle of the
/// case's findings (captures and pictures with them), records it on the case;
/// 201 with the bundle and its download path. No PDF is printed.
pub async fn seal(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    let acting = state.clone();
    replay::run_async(&state, input, Role::Enforcement, |who, id, _| async move {
        let case = own_case(&acting, &who, &id)?;
        let sealing = acting.sealing.as_ref().ok_or(ApiError::SealingUnavailable)?;
        // Nanoseconds in the name: two seals in one second never share a file.
        let stamp = Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true).replace([':', '-', '.'], "");
        let options = BundleOptions {
            out: sealing.bundle_dir().join(format!("{}-{stamp}.wacz", case.id)),
            title: format!("案件 {} 网络抽查电子证据", case.id),
            purpose: None,
            tsa_url: None,
            chromium: None,
        };
        let summary = bundles::notifier(&acting, sealing, who.actor()).seal_bundle(&case.id, options).await?;
        let download = bundles::download_path(&summary.id);
        Written::created(SealedBundle { bundle: BundleView::from(summary), download })
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
