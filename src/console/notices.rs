//! 下架通知: every notice a person may see (enforcement: those of its
//! bureau's cases) with status, deadline, the overdue flag and disputes,
//! filtered by status, overdue or disputed; one notice with its listings (the
//! URLs as text) and our verification of it — every re-crawl and its verdict.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::auth::Viewer;
use super::cases::visible_case;
use super::error::ConsoleError;
use super::layout::{badge, page, time, time_exact, Nav};
use super::listing::{page_of, path_id, Params};
use super::text::{cell, clip, LONG};
use super::ConsoleState;
use crate::access::Role;
use crate::api::staff::{notice_view, NoticeView};
use crate::notices::Disposition;
use crate::verification::{ListingState, Verdict};

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/notices", get(list)).route("/console/notices/{id}", get(detail))
}

/// The status filter's values.
const STATUSES: &[(&str, &str)] = &[
    ("pending", "待处理"),
    ("acknowledged", "已签收"),
    ("delisted", "已下架"),
    ("partially_delisted", "部分下架"),
    ("rejected", "拒绝"),
    ("disputed", "有异议"),
];

/// The filter value of a notice's state.
fn status_key(view: &NoticeView) -> &'static str {
    match &view.status.disposition {
        Some(Disposition::Delisted) => "delisted",
        Some(Disposition::PartiallyDelisted) => "partially_delisted",
        Some(Disposition::Rejected) => "rejected",
        Some(Disposition::Disputed { .. }) => "disputed",
        None if view.status.acknowledged_at.is_some() => "acknowledged",
        None => "pending",
    }
}

pub fn status_badge(view: &NoticeView) -> Markup {
    let key = status_key(view);
    let label = STATUSES.iter().find(|(k, _)| *k == key).map_or(key, |(_, l)| l);
    let kind = match key {
        "delisted" => "ok",
        "rejected" | "disputed" => "bad",
        "partially_delisted" => "warn",
        _ => "info",
    };
    html! { (badge(kind, label)) @if view.overdue { " " (badge("bad", "已逾期")) } }
}

fn dispute(view: &NoticeView) -> Option<&str> {
    match &view.status.disposition {
        Some(Disposition::Disputed { reason }) => Some(reason),
        _ => None,
    }
}

/// A table of notices (a case's, or a page of the list).
pub fn notice_rows(views: &[NoticeView]) -> Markup {
    html! {
        @if views.is_empty() { p.muted { "暂无下架通知。" } } @else {
            table {
                thead { tr { th { "通知" } th { "平台" } th { "店铺" } th { "期限" } th { "状态" } th { "异议" } } }
                tbody { @for v in views {
                    tr {
                        td { a href={ "/console/notices/" (v.notice.id) } { (v.notice.id) } }
                        td { (clip(&v.notice.draft.platform, 20)) }
                        td.crawled { (cell(&v.notice.draft.shop.name)) }
                        td { (time(&v.notice.draft.deadline)) }
                        td { (status_badge(v)) }
                        td.crawled { @if let Some(r) = dispute(v) { (cell(r)) } }
                    }
                } }
            }
        }
    }
}

/// Whether `viewer` may see the notices of case `case_id` (enforcement: its bureau's).
fn may_see(state: &ConsoleState, viewer: &Viewer, case_id: &str) -> Result<bool, ConsoleError> {
    if viewer.user.role != Role::Enforcement {
        return Ok(true);
    }
    match visible_case(state, viewer, case_id) {
        Ok(_) => Ok(true),
        Err(ConsoleError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn list(State(state): State<ConsoleState>, viewer: Viewer, params: Params) -> Result<Response, ConsoleError> {
    viewer.require(&[Role::Staff, Role::Admin, Role::Enforcement])?;
    let status = params.get("status");
    if status.is_some_and(|s| !STATUSES.iter().any(|(k, _)| *k == s)) {
        return Err(ConsoleError::BadRequest("筛选条件「状态」的取值无效。".into()));
    }
    let (overdue, disputed) = (params.flag("overdue")?, params.flag("disputed")?);
    let views = state.api.notices.all().map(|n| Ok::<_, ConsoleError>(notice_view(&state.api, n?)?));
    let found = page_of(views, params.page()?, |v| {
        Ok(status.is_none_or(|s| s == status_key(v))
            && (!overdue || v.overdue)
            && (!disputed || dispute(v).is_some())
            && may_see(&state, &viewer, &v.notice.draft.case_id)?)
    })?;
    let body = html! {
        form.filters method="get" action="/console/notices" {
            label { "状态 " select name="status" {
                option value="" { "全部" }
                @for (k, l) in STATUSES { option value=(k) selected[status == Some(*k)] { (l) } }
            } }
            label { input type="checkbox" name="overdue" value="1" checked[overdue]; " 仅逾期" }
            label { input type="checkbox" name="disputed" value="1" checked[disputed]; " 仅有异议" }
            button type="submit" { "筛选" }
        }
        (notice_rows(&found.rows))
        (found.pager("/console/notices", &params))
    };
    Ok(page(&viewer, Nav::Notices, "下架通知", body).into_response())
}

fn verdict_badge(verdict: Verdict) -> Markup {
    match verdict {
        Verdict::Verified => badge("ok", "核实已下架"),
        Verdict::NotEffective => badge("bad", "下架未生效"),
        Verdict::Relisted => badge("bad", "重新上架"),
        Verdict::Inconclusive => badge("muted", "无法判定"),
    }
}

fn listing_state(state: &ListingState) -> Markup {
    match state {
        ListingState::Gone { how } => html! { (badge("ok", "已下架")) " " (clip(how, 200)) },
        ListingState::OnSale { title, price } => html! {
            (badge("bad", "在售")) " " (cell(title.as_deref().unwrap_or(""))) @if let Some(p) = price { " ¥" (clip(p, 30)) }
        },
        ListingState::Unclear { why } => html! { (badge("muted", "不明")) " " (clip(why, 200)) },
    }
}

async fn detail(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer.require(&[Role::Staff, Role::Admin, Role::Enforcement])?;
    path_id(&id, "通知")?;
    let notice = state.api.notices.get_any(&id)?.ok_or(ConsoleError::not_found("通知"))?;
    if !may_see(&state, &viewer, &notice.draft.case_id)? {
        return Err(ConsoleError::not_found("通知"));
    }
    let follow_up = state.api.followups.get(&notice)?;
    let checks = state.api.followups.checks(&notice.id)?;
    let view = notice_view(&state.api, notice)?;
    let d = &view.notice.draft;
    let body = html! {
        p { (status_badge(&view)) " 案件 " a href={ "/console/cases/" (d.case_id) } { (d.case_id) } }
        div.grid2 {
            div.panel {
                dl.facts {
                    dt { "平台" } dd { (clip(&d.platform, 40)) }
                    dt { "店铺" } dd.crawled { (cell(&d.shop.name)) @if let Some(u) = &d.shop.uscc { " " code { (clip(u, 30)) } } }
                    dt { "发出" } dd { (time_exact(&view.notice.created_at)) }
                    dt { "期限" } dd { (time_exact(&d.deadline)) }
                    dt { "签收" } dd { @if let Some(at) = &view.status.acknowledged_at { (time_exact(at)) } @else { "未签收" } }
                    dt { "平台答复" } dd {
                        @if let Some(at) = &view.status.disposition_at { (time_exact(at)) " " }
                        @if let Some(r) = dispute(&view) { "异议理由：" span.crawled { (clip(r, LONG)) } }
                    }
                    dt { "法律依据" } dd { (clip(&d.legal_basis, LONG)) }
                }
                h2 { "涉及商品（" (d.listings.len()) "）" }
                ul { @for l in d.listings.iter().take(200) {
                    li { code { (clip(&l.item_id, 60)) } " " code.url { (clip(&l.url, LONG)) } }
                } }
            }
            div.panel {
                h2 { "下架核查" }
                dl.facts {
                    dt { "最新结论" } dd { @match follow_up.verdict { Some(v) => (verdict_badge(v)), None => "尚未核查" } }
                    dt { "核查次数" } dd { (follow_up.checks) }
                    @if let Some(at) = &follow_up.overdue_at { dt { "逾期标记" } dd { (time(at)) } }
                    @if let Some(at) = &follow_up.dispute_recorded_at { dt { "异议登记" } dd { (time(at)) } }
                    @if let Some(at) = &follow_up.escalated_at { dt { "已移交执法" } dd { (time(at)) } }
                }
                @for c in checks.iter().rev().take(50) {
                    h3 { (time_exact(&c.at)) " " (verdict_badge(c.verdict)) " （" (c.reason.as_str()) "）" }
                    ul { @for l in c.listings.iter().take(200) {
                        li { code.url { (clip(&l.url, LONG)) } " " (listing_state(&l.state)) }
                    } }
                }
            }
        }
    };
    Ok(page(&viewer, Nav::Notices, &format!("通知 {}", view.notice.id), body).into_response())
}
