//! The handlers under `/api/staff/v1`: supervision staff (网监) triage
//! findings (confirm opens or joins a case; a dismissal's reason feeds its
//! rule's false-positive rate), read cases, issue a case's notices (over a
//! freshly sealed bundle) and follow each notice up.
//!
//! The actor recorded in the triage history and the case audit log is the
//! token's person and id ([`Principal::actor`]), never a name from the body.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::Utc;
use evidence::finding::FindingRecord;
use serde::{Deserialize, Serialize};

use super::auth::principal;
use super::bundles::{self, BundleView};
use super::errors::ApiError;
use super::replay::{self, WriteInput, Written};
use super::request::{self, path_id, PathParam, QueryParams};
use super::ApiState;
use crate::access::{Principal, Role};
use crate::cases::notify::NoticeTerms;
use crate::cases::{Case, CaseStatus, Confirmed};
use crate::findings::{Change, RuleTriage, Status, StatusChange};
use crate::notices::store::NoticeStatus;
use crate::notices::{Cursor, Notice};
use crate::verification::{FollowUp, NoticeCheck};

/// A finding with where it stands in triage and the case it is in.
#[derive(Debug, Serialize)]
pub struct FindingView {
    pub finding: FindingRecord,
    pub status: Status,
    pub triage: Vec<StatusChange>,
    pub case: Option<String>,
}

/// One page of findings.
#[derive(Debug, Serialize)]
pub struct FindingPage {
    pub findings: Vec<FindingView>,
    /// Pass back as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// The body of `POST …/confirm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    #[serde(default)]
    pub note: String,
}

/// The body of `POST …/dismiss`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DismissBody {
    pub reason: String,
}

/// What a dismissal did.
#[derive(Debug, Serialize)]
pub struct Dismissed {
    pub finding: String,
    pub change: Change,
    pub status: Status,
}

/// The false-positive rate per rule.
#[derive(Debug, Serialize)]
pub struct RuleStats {
    pub rules: Vec<RuleTriage>,
}

/// One page of cases.
#[derive(Debug, Serialize)]
pub struct CasePage {
    pub cases: Vec<Case>,
    /// Pass back as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// A notice as the bureau sees it: where it stands and whether it is overdue.
#[derive(Debug, Serialize)]
pub struct NoticeView {
    #[serde(flatten)]
    pub notice: Notice,
    pub status: NoticeStatus,
    /// Past its deadline with no disposition reported.
    pub overdue: bool,
}

/// One notice with our follow-up: the latest verdict and every re-crawl.
#[derive(Debug, Serialize)]
pub struct NoticeDetail {
    #[serde(flatten)]
    pub view: NoticeView,
    pub follow_up: FollowUp,
    /// Oldest first; empty until a verification round looked at the notice.
    pub checks: Vec<NoticeCheck>,
}

/// The body of `POST /api/staff/v1/cases/{id}/notices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// Hours the platforms have to act: a whole number (JSON Schema counts
    /// `48.0` as the integer 48, so it is read as a number and checked).
    #[serde(default = "default_deadline_hours")]
    pub deadline_hours: f64,
}

/// The CLI's default: three days.
fn default_deadline_hours() -> f64 {
    72.0
}

/// The longest deadline a notice may give: 30 days.
pub const MAX_DEADLINE_HOURS: u32 = 720;

impl IssueBody {
    /// The deadline, if it is a whole number of hours from 1 to [`MAX_DEADLINE_HOURS`].
    pub fn deadline(&self) -> Result<chrono::Duration, ApiError> {
        let hours = self.deadline_hours;
        if hours.fract() != 0.0 || !(1.0..=f64::from(MAX_DEADLINE_HOURS)).contains(&hours) {
            return Err(ApiError::BadBody(format!(
                "`deadline_hours` {hours}: a whole number from 1 to {MAX_DEADLINE_HOURS} expected"
            )));
        }
        // Exact: a whole number no larger than 720.
        Ok(chrono::Duration::hours(hours as i64))
    }
}

/// What issuing a case's notices did.
#[derive(Debug, Serialize)]
pub struct IssuedNotices {
    pub case: String,
    /// The bundle sealed for them; `null` when the case had notices already.
    pub bundle: Option<BundleView>,
    pub notices: Vec<Notice>,
    /// Notices of the case that existed before this request.
    pub already: usize,
}

/// One page of notices (every platform's), in issue order.
#[derive(Debug, Serialize)]
pub struct NoticePage {
    pub notices: Vec<NoticeView>,
    /// Pass back as `cursor` to continue; on an empty page it is the cursor sent.
    pub next_cursor: String,
}

fn staff(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(&state.tokens, &state.limiter, headers, Role::Staff)
}

fn view(state: &ApiState, finding: FindingRecord) -> Result<FindingView, ApiError> {
    let triage = state.triage.findings.triage(&finding.id)?;
    let case = state.triage.cases.case_of(&finding.id)?;
    Ok(FindingView { finding, status: triage.status, triage: triage.history, case })
}

/// `GET /api/staff/v1/findings?status=&rule=&cursor=&limit=`
pub async fn findings(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Json<FindingPage>, ApiError> {
    staff(&state, &headers)?;
    let params = request::query(query)?;
    let status: Option<Status> = request::parsed(&params, "status")?;
    let rule = params.get("rule").filter(|r| !r.is_empty());
    let findings = &state.triage.findings;
    let (records, next_cursor) = request::page(
        findings.all(),
        |f| &f.id,
        params.get("cursor").map(String::as_str),
        request::limit(&params)?,
        |f| {
            Ok(rule.is_none_or(|r| r == &f.rule)
                && match status {
                    None => true,
                    Some(s) => findings.triage(&f.id)?.status == s,
                })
        },
    )?;
    let findings = records.into_iter().map(|f| view(&state, f)).collect::<Result<_, _>>()?;
    Ok(Json(FindingPage { findings, next_cursor }))
}

/// `GET /api/staff/v1/findings/{id}`
pub async fn finding(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Json<FindingView>, ApiError> {
    staff(&state, &headers)?;
    let id = path_id(path)?;
    let record = state.triage.findings.get(&id)?.ok_or_else(|| ApiError::not_found("finding", &id))?;
    Ok(Json(view(&state, record)?))
}

/// `POST /api/staff/v1/findings/{id}/confirm`: routes the finding and opens or joins a case.
pub async fn confirm(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    replay::run(&state, input, Role::Staff, |who, id, body| {
        let parsed: ConfirmBody = request::json(body)?;
        request::text("note", &parsed.note, false)?;
        let done: Confirmed = state.triage.confirm(id, &who.actor(), &parsed.note, Utc::now())?;
        Written::ok(done)
    })
    .await
}

/// `POST /api/staff/v1/findings/{id}/dismiss`: a false positive, with the reason.
pub async fn dismiss(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    replay::run(&state, input, Role::Staff, |who, id, body| {
        let parsed: DismissBody = request::json(body)?;
        request::text("reason", &parsed.reason, true)?;
        let change = state.triage.dismiss(id, &who.actor(), &parsed.reason, Utc::now())?;
        Written::ok(Dismissed { finding: id.to_string(), change, status: Status::Dismissed })
    })
    .await
}

/// `GET /api/staff/v1/rules/stats`
pub async fn rule_stats(State(state): State<ApiState>, headers: HeaderMap) -> Result<Json<RuleStats>, ApiError> {
    staff(&state, &headers)?;
    Ok(Json(RuleStats { rules: state.triage.findings.rule_stats()? }))
}

/// Cases in id order after the query's cursor, of the status asked for, that pass `keep`.
pub(crate) fn case_page(
    state: &ApiState,
    params: &std::collections::HashMap<String, String>,
    keep: impl Fn(&Case) -> bool,
) -> Result<CasePage, ApiError> {
    let status: Option<CaseStatus> = request::parsed(params, "status")?;
    let (cases, next_cursor) = request::page(
        state.triage.cases.all(),
        |c| &c.id,
        params.get("cursor").map(String::as_str),
        request::limit(params)?,
        |c| Ok(status.is_none_or(|s| s == c.status) && keep(c)),
    )?;
    Ok(CasePage { cases, next_cursor })
}

/// `GET /api/staff/v1/cases?status=&bureau=&cursor=&limit=` (`bureau`: an area-code prefix)
pub async fn cases(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Json<CasePage>, ApiError> {
    staff(&state, &headers)?;
    let params = request::query(query)?;
    let bureau = params.get("bureau").filter(|b| !b.is_empty()).cloned();
    let page = case_page(&state, &params, |c| bureau.as_ref().is_none_or(|b| c.bureau.code.starts_with(b.as_str())))?;
    Ok(Json(page))
}

/// `GET /api/staff/v1/cases/{id}`
pub async fn case(State(state): State<ApiState>, headers: HeaderMap, path: PathParam) -> Result<Json<Case>, ApiError> {
    staff(&state, &headers)?;
    let id = path_id(path)?;
    Ok(Json(state.triage.cases.get(&id)?.ok_or_else(|| ApiError::not_found("case", &id))?))
}

/// A notice with its status, overdue at `now` when past its deadline with no disposition.
pub(crate) fn notice_view(state: &ApiState, notice: Notice) -> Result<NoticeView, ApiError> {
    let status = state.notices.status_any(&notice.id)?;
    let overdue = notice.draft.deadline < Utc::now() && status.disposition.is_none();
    Ok(NoticeView { notice, status, overdue })
}

/// `GET /api/staff/v1/notices?cursor=&limit=`
pub async fn notices(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Json<NoticePage>, ApiError> {
    staff(&state, &headers)?;
    let params = request::query(query)?;
    let cursor = params.get("cursor").filter(|c| !c.is_empty()).map(|c| Cursor::parse(c)).transpose()?;
    let (notices, next) = state.notices.list_any(cursor, request::limit(&params)?)?;
    let notices = notices.into_iter().map(|n| notice_view(&state, n)).collect::<Result<_, _>>()?;
    Ok(Json(NoticePage { notices, next_cursor: next.to_string() }))
}

/// `GET /api/staff/v1/notices/{id}`: with our follow-up and its checks.
pub async fn notice(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: PathParam,
) -> Result<Json<NoticeDetail>, ApiError> {
    staff(&state, &headers)?;
    let id = path_id(path)?;
    let notice = state.notices.get_any(&id)?.ok_or_else(|| ApiError::not_found("notice", &id))?;
    let follow_up = state.followups.get(&notice)?;
    let checks = state.followups.checks(&notice.id)?;
    Ok(Json(NoticeDetail { view: notice_view(&state, notice)?, follow_up, checks }))
}

/// `POST /api/staff/v1/cases/{id}/notices`: seals the case's bundle and
/// issues one notice per platform and shop (only the missing ones when some
/// exist); 201 with what was issued. No PDF is printed, so no browser is needed.
pub async fn issue_notices(State(state): State<ApiState>, input: WriteInput) -> Result<Response, ApiError> {
    let acting = state.clone();
    replay::run_async(&state, input, Role::Staff, |who, id, body| async move {
        let parsed: IssueBody = request::json(&body)?;
        Written::created(issue(&acting, who.actor(), &id, &parsed).await?)
    })
    .await
}

/// Seals case `id`'s bundle and issues its missing notices, as `actor`.
pub async fn issue(state: &ApiState, actor: String, id: &str, body: &IssueBody) -> Result<IssuedNotices, ApiError> {
    let terms = NoticeTerms { deadline: body.deadline()?, ..NoticeTerms::default() };
    let sealing = state.sealing.as_ref().ok_or(ApiError::SealingUnavailable)?;
    let notifier = bundles::notifier(state, sealing, actor);
    let issued = notifier.issue_notices(id, &terms, &sealing.bundle_dir(), None, Utc::now()).await?;
    Ok(IssuedNotices {
        case: issued.case,
        bundle: issued.bundle.map(BundleView::from),
        notices: issued.notices,
        already: issued.already,
    })
}
