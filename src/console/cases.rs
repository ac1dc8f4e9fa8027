//! 案件: the cases a person may see (staff and admins all, enforcement only
//! its bureau's — another bureau's case is "not found", as in the API), one
//! case with its jurisdiction, findings, audit log, notices and sealed
//! bundles, and the acts on it: seal the evidence bundle and download it,
//! issue the notices (staff), record the outcome (enforcement). Every act is
//! the API's own function, acting as the signed-in person.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{Posted, Viewer};
use super::error::ConsoleError;
use super::layout::{badge, page, time, Nav};
use super::listing::{page_of, path_id, Params};
use super::notices::notice_rows;
use super::text::{cell, clip, LONG};
use super::ConsoleState;
use crate::access::Role;
use crate::api::staff::{notice_view, IssueBody, MAX_DEADLINE_HOURS};
use crate::api::{bundles, enforcement};
use crate::cases::merge::MergeReason;
use crate::cases::{Case, CaseStatus};

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/cases", get(list))
        .route("/console/cases/{id}", get(detail))
        .route("/console/cases/{id}/bundle", post(seal))
        .route("/console/cases/{id}/notices", post(issue))
        .route("/console/cases/{id}/outcome", post(outcome))
        .route("/console/bundles/{bundle_id}", get(download))
}

const READERS: &[Role] = &[Role::Staff, Role::Admin, Role::Enforcement];
/// Who seals a case's bundle and downloads it.
const SEALERS: &[Role] = &[Role::Staff, Role::Enforcement];

/// Whether `viewer` may see `case`: staff and admins any, enforcement its bureau's.
pub fn may_see(viewer: &Viewer, case: &Case) -> bool {
    viewer.user.role != Role::Enforcement || enforcement::in_bureau(viewer.user.bureau.as_deref(), case)
}

/// Case `id` if `viewer` may see it; otherwise, like a missing one, 404.
pub fn visible_case(state: &ConsoleState, viewer: &Viewer, id: &str) -> Result<Case, ConsoleError> {
    viewer.require(READERS)?;
    path_id(id, "案件")?;
    match state.api.triage.cases.get(id)? {
        Some(case) if may_see(viewer, &case) => Ok(case),
        _ => Err(ConsoleError::not_found("案件")),
    }
}

pub fn status_badge(status: CaseStatus) -> Markup {
    let kind = match status {
        CaseStatus::Opened => "warn",
        CaseStatus::Filed => "info",
        CaseStatus::Closed => "muted",
        _ => "ok",
    };
    badge(kind, status.label())
}

async fn list(State(state): State<ConsoleState>, viewer: Viewer, params: Params) -> Result<Response, ConsoleError> {
    viewer.require(READERS)?;
    let status: Option<CaseStatus> = params.parsed("status", "状态")?;
    let bureau = params.get("bureau");
    let found = page_of(state.api.triage.cases.all(), params.page()?, |c| {
        Ok(may_see(&viewer, c)
            && status.is_none_or(|s| s == c.status)
            && bureau.is_none_or(|b| c.bureau.code.starts_with(b)))
    })?;
    let body = html! {
        form.filters method="get" action="/console/cases" {
            label { "状态 " select name="status" {
                option value="" { "全部" }
                @for s in CaseStatus::ALL { option value=(s.as_str()) selected[status == Some(s)] { (s.label()) } }
            } }
            @if viewer.user.role != Role::Enforcement {
                label { "管辖机关代码 " input type="text" name="bureau" value=[bureau] placeholder="3301"; }
            }
            button type="submit" { "筛选" }
        }
        table {
            thead { tr { th { "案件" } th { "立案时间" } th { "管辖机关" } th { "店铺" } th.num { "线索" } th { "状态" } } }
            tbody { @for c in &found.rows {
                tr {
                    td { a href={ "/console/cases/" (c.id) } { (c.id) } }
                    td { (time(&c.opened_at)) }
                    td { (clip(&c.bureau.name, 60)) " " code { (clip(&c.bureau.code, 12)) } }
                    td.crawled { (cell(&c.shops.iter().filter_map(|s| s.shop.as_ref()?.name.clone()).collect::<Vec<_>>().join("、"))) }
                    td.num { (c.findings.len()) }
                    td { (status_badge(c.status)) }
                }
            } }
        }
        (found.pager("/console/cases", &params))
    };
    Ok(page(&viewer, Nav::Cases, "案件", body).into_response())
}

async fn detail(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let case = visible_case(&state, &viewer, &id)?;
    let notices = state.api.notices.of_case(&case.id)?;
    let views = notices.into_iter().take(200).map(|n| notice_view(&state.api, n)).collect::<Result<Vec<_>, _>>()?;
    let staff = viewer.user.role != Role::Enforcement;
    let body = html! {
        p { (status_badge(case.status)) " 立案于 " (time(&case.opened_at)) }
        div.grid2 {
            div.panel {
                h2 { "管辖" }
                dl.facts {
                    dt { "管辖机关" } dd { (clip(&case.bureau.name, 100)) " " code { (clip(&case.bureau.code, 12)) } }
                    dt { "分派依据" } dd { (clip(&case.routing.reason, LONG)) }
                    @for s in case.shops.iter().take(50) {
                        dt { "店铺" }
                        dd.crawled {
                            code { (clip(&s.key, 120)) } " "
                            @if let Some(shop) = &s.shop {
                                (cell(shop.name.as_deref().unwrap_or("—")))
                                @if let Some(u) = &shop.uscc { " 统一社会信用代码 " code { (clip(u, 30)) } }
                            }
                        }
                    }
                }
                h2 { "并案线索（" (case.findings.len()) "）" }
                ul { @for f in case.findings.iter().take(200) {
                    li {
                        @if staff { a href={ "/console/findings/" (f.id) } { (f.id) } } @else { code { (f.id) } }
                        " " code { (clip(&f.rule, 60)) } " " code { (clip(&f.listing, 120)) } " " (time(&f.at))
                    }
                } }
                @for m in case.merges.iter().take(200) {
                    p.muted { (m.finding) " 因" (merge_reason(&m.reason)) "并案（其自身分派：" (clip(&m.routed_to.name, 60)) "）" }
                }
            }
            div.panel {
                h2 { "电子证据包" }
                (bundles_panel(&state, &viewer, &case))
                h2 { "下架通知" }
                (notice_rows(&views))
                @if viewer.user.role == Role::Staff && case.status.is_open() {
                    form method="post" action={ "/console/cases/" (case.id) "/notices" } {
                        (viewer.csrf_field())
                        label { "整改期限（小时）" input type="number" name="deadline_hours" value="72" min="1" max=(MAX_DEADLINE_HOURS); }
                        div.actions { button type="submit" { "封存证据并发出下架通知" } }
                    }
                }
                @if viewer.user.role == Role::Enforcement { (outcome_form(&viewer, &case)) }
            }
        }
        h2 { "操作记录" }
        table {
            thead { tr { th { "时间" } th { "操作人" } th { "操作" } th { "说明" } } }
            tbody { @for a in case.audit.iter().rev().take(200) {
                tr { td { (time(&a.at)) } td { (clip(&a.by, 80)) } td { (clip(&a.action, 60)) } td.crawled { (cell(&a.detail)) } }
            } }
        }
    };
    Ok(page(&viewer, Nav::Cases, &format!("案件 {}", case.id), body).into_response())
}

fn merge_reason(reason: &MergeReason) -> String {
    match reason {
        MergeReason::SameUscc(u) => format!("同一经营者（统一社会信用代码 {}）", clip(u, 30)),
        MergeReason::SameShop(s) => format!("同一店铺（{}）", clip(s, 120)),
        MergeReason::SameProduct(p) => format!("同一产品（品牌+型号 {}）", clip(p, 120)),
    }
}

fn bundles_panel(state: &ConsoleState, viewer: &Viewer, case: &Case) -> Markup {
    let sealed = bundles::sealed_on(case);
    let key = state.api.sealing.as_ref().map(|s| format!(" --key {}", s.station.key.public().fingerprint()));
    let key = key.unwrap_or_default();
    // Sealing and downloading are for supervision and enforcement staff, not admins.
    let may_act = SEALERS.contains(&viewer.user.role);
    html! {
        @if sealed.is_empty() { p.muted { "尚未封存证据包。" } }
        ul { @for (id, sha) in sealed.iter().rev().take(20) {
            li {
                @if may_act { a href={ "/console/bundles/" (id) } download { (id) ".wacz" } } @else { code { (id) } }
                br; "SHA-256 " code { (sha) }
            }
        } }
        @if !sealed.is_empty() {
            p.hint { "下载后可离线核验：" code { "spotcheck evidence verify 文件.wacz" (key) } " 或 " code { "evidence-verify 文件.wacz" (key) } "，并核对文件的 SHA-256 与上方一致（" code { "sha256sum 文件.wacz" } "）。" }
        }
        @if may_act {
            form method="post" action={ "/console/cases/" (case.id) "/bundle" } {
                (viewer.csrf_field())
                div.actions { button.secondary type="submit" { "封存新的证据包" } }
            }
        }
    }
}

fn outcome_form(viewer: &Viewer, case: &Case) -> Markup {
    let next: Vec<CaseStatus> = CaseStatus::ALL.into_iter().filter(|s| case.status.can_become(*s)).collect();
    html! {
        @if !next.is_empty() {
            h2 { "记录处理结果" }
            form method="post" action={ "/console/cases/" (case.id) "/outcome" } {
                (viewer.csrf_field())
                label { "结果 " select name="status" { @for s in &next { option value=(s.as_str()) { (s.label()) } } } }
                label { "说明（必填）" textarea name="note" required maxlength="2000" {} }
                div.actions { button type="submit" { "记录" } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct Nothing {}

async fn seal(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> Result<Response, ConsoleError> {
    let viewer = posted.viewer;
    viewer.require(SEALERS)?;
    let case = visible_case(&state, &viewer, &id)?;
    bundles::seal_case(&state.api, &case, viewer.user.actor()).await?;
    Ok(Redirect::to(&format!("/console/cases/{}", case.id)).into_response())
}

#[derive(Debug, Deserialize)]
struct IssueForm {
    deadline_hours: String,
}

async fn issue(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<IssueForm>,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, form } = posted;
    viewer.require(&[Role::Staff])?;
    let case = visible_case(&state, &viewer, &id)?;
    let hours = form.deadline_hours.trim().parse::<u32>().ok().filter(|h| (1..=MAX_DEADLINE_HOURS).contains(h));
    let hours = hours
        .ok_or_else(|| ConsoleError::BadRequest(format!("整改期限须为 1 至 {MAX_DEADLINE_HOURS} 的整数小时。")))?;
    let body = IssueBody { deadline_hours: f64::from(hours) };
    crate::api::staff::issue(&state.api, viewer.user.actor(), &case.id, &body).await?;
    Ok(Redirect::to(&format!("/console/cases/{}", case.id)).into_response())
}

#[derive(Debug, Deserialize)]
struct OutcomeForm {
    status: String,
    #[serde(default)]
    note: String,
}

async fn outcome(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<OutcomeForm>,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, form } = posted;
    viewer.require(&[Role::Enforcement])?;
    let case = visible_case(&state, &viewer, &id)?;
    let status: CaseStatus = form.status.parse().map_err(|_| ConsoleError::BadRequest("处理结果无效。".into()))?;
    if form.note.trim().is_empty() {
        return Err(ConsoleError::BadRequest("处理结果须填写说明。".into()));
    }
    enforcement::record_outcome(
        &state.api,
        viewer.user.bureau.as_deref(),
        &case.id,
        status,
        &form.note,
        &viewer.user.actor(),
    )?;
    Ok(Redirect::to(&format!("/console/cases/{}", case.id)).into_response())
}

/// A bundle's file, as the API serves it (re-hashed first; `Repr-Digest`).
async fn download(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(bundle_id): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer.require(SEALERS)?;
    bundles::check_id(&bundle_id).map_err(|_| ConsoleError::not_found("证据包"))?;
    match bundles::recorded(&state.api, &bundle_id)? {
        Some(bundle) if may_see(&viewer, &bundle.case) => Ok(bundles::download(bundle).await?),
        _ => Err(ConsoleError::not_found("证据包")),
    }
}
