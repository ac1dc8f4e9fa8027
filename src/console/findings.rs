//! 线索研判: the findings list (filters by status, rule and platform, paged)
//! and one finding with its evidence beside it — the capture's screenshot,
//! the page's text with what the rule matched marked, the hashes and ledger
//! inclusion, the rule's legal basis, the triage history — and the forms to
//! confirm it (routed into a case) or dismiss it (with a reason). The same
//! domain calls as `POST /api/staff/v1/findings/{id}/confirm|dismiss`, acting
//! as the signed-in person.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use evidence::finding::FindingRecord;
use evidence::ledger::EntryKind;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{Posted, Viewer};
use super::error::ConsoleError;
use super::evidence_view::{capture_facts, capture_record, inclusion, inclusion_rows, page_text, screenshot_of};
use super::layout::{badge, page, time, Nav};
use super::listing::{page_of, path_id, Params};
use super::text::{cell, clip, LONG};
use super::ConsoleState;
use crate::api::request;
use crate::findings::Status;
use crate::model::Listing;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/findings", get(list))
        .route("/console/findings/{id}", get(detail))
        .route("/console/findings/{id}/confirm", post(confirm))
        .route("/console/findings/{id}/dismiss", post(dismiss))
        .route("/console/captures/{capture_id}/screenshot", get(screenshot))
}

/// 待研判 / 已确认 / 已排除 as a badge.
pub fn status_badge(status: Status) -> Markup {
    match status {
        Status::Open => badge("warn", "待研判"),
        Status::Confirmed => badge("bad", "已确认"),
        Status::Dismissed => badge("muted", "已排除"),
    }
}

/// The stored version of listing `platform/item_id` drawn from `capture`, else the latest.
pub fn listing_of(state: &ConsoleState, key: &str, capture: Option<&str>) -> Result<Option<Listing>, ConsoleError> {
    let Some((platform, item)) = key.split_once('/') else { return Ok(None) };
    let mut versions = state.api.store.listing_versions(platform, item)?;
    let at = versions.iter().rposition(|l| capture.is_some() && l.capture_id.as_deref() == capture);
    Ok(match at {
        Some(i) => Some(versions.swap_remove(i)),
        None => versions.pop(),
    })
}

fn platform_of(listing_key: &str) -> &str {
    listing_key.split_once('/').map_or(listing_key, |(p, _)| p)
}

async fn list(State(state): State<ConsoleState>, viewer: Viewer, params: Params) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let status: Option<Status> = params.parsed("status", "状态")?;
    let rule = params.get("rule");
    let platform = params.get("platform");
    let findings = &state.api.triage.findings;
    let stats = findings.rule_stats()?;
    let found = page_of(findings.all(), params.page()?, |f| {
        Ok(rule.is_none_or(|r| r == f.rule)
            && platform.is_none_or(|p| p == platform_of(&f.listing))
            && status.is_none_or(|s| findings.triage(&f.id).is_ok_and(|t| t.status == s)))
    })?;
    let mut rows = Vec::with_capacity(found.rows.len());
    for f in &found.rows {
        let status = findings.triage(&f.id)?.status;
        rows.push((f, status, listing_of(&state, &f.listing, f.capture.as_deref())?));
    }
    let (open, confirmed, dismissed) =
        stats.iter().fold((0, 0, 0), |(o, c, d), r| (o + r.open, c + r.confirmed, d + r.dismissed));
    let body = html! {
        div.cards {
            div.card { div.n { (open) } div.k { "待研判" } }
            div.card { div.n { (confirmed) } div.k { "已确认" } }
            div.card { div.n { (dismissed) } div.k { "已排除" } }
        }
        form.filters method="get" action="/console/findings" {
            label { "状态 " select name="status" {
                option value="" { "全部" }
                @for (v, l) in [("open", "待研判"), ("confirmed", "已确认"), ("dismissed", "已排除")] {
                    option value=(v) selected[params.get("status") == Some(v)] { (l) }
                }
            } }
            label { "规则 " select name="rule" {
                option value="" { "全部" }
                @for r in &stats { option value=(r.rule) selected[rule == Some(r.rule.as_str())] { (r.rule) } }
            } }
            label { "平台 " input type="text" name="platform" value=[platform] placeholder="mall / duo"; }
            button type="submit" { "筛选" }
        }
        table {
            thead { tr { th { "规则" } th { "商品" } th { "店铺" } th { "平台" } th.num { "价格" } th { "状态" } } }
            tbody {
                @for (f, status, l) in &rows {
                    tr {
                        td { a href={ "/console/findings/" (f.id) } { (cell(&f.title)) } }
                        td.crawled { (cell(l.as_ref().and_then(|l| l.title.as_deref()).unwrap_or(&f.listing))) }
                        td.crawled { (cell(l.as_ref().and_then(|l| l.shop.as_ref()).and_then(|s| s.name.as_deref()).unwrap_or("—"))) }
                        td { (clip(platform_of(&f.listing), 20)) }
                        td.num { @if let Some(p) = l.as_ref().and_then(|l| l.price) { "¥" (p) } @else { "—" } }
                        td { (status_badge(*status)) }
                    }
                }
            }
        }
        (found.pager("/console/findings", &params))
    };
    Ok(page(&viewer, Nav::Findings, "线索研判", body).into_response())
}

fn finding(state: &ConsoleState, id: &str) -> Result<FindingRecord, ConsoleError> {
    path_id(id, "线索")?;
    state.api.triage.findings.get(id)?.ok_or(ConsoleError::not_found("线索"))
}

async fn detail(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let f = finding(&state, &id)?;
    let triage = state.api.triage.findings.triage(&f.id)?;
    let case = state.api.triage.cases.case_of(&f.id)?;
    let listing = listing_of(&state, &f.listing, f.capture.as_deref())?;
    let record = f.capture.as_deref().map(|c| capture_record(&state, c)).transpose()?.flatten();
    let shot = screenshot_of_finding(&state, &f, record.as_ref())?;
    let capture_entry = f.capture.as_deref().map(|c| inclusion(&state, c, EntryKind::Capture)).transpose()?.flatten();
    let finding_entry = inclusion(&state, &f.id, EntryKind::Finding)?;
    let body = html! {
        p { (status_badge(triage.status)) " " code { (f.id) } " 规则 " code { (f.rule) " v" (f.rule_version) } " 严重程度 " (f.severity) }
        p { (clip(&f.message, LONG)) }
        div.evidence {
            div.panel {
                h2 { "页面截图" }
                @match &shot {
                    Some(capture) => img.shot src={ "/console/captures/" (capture) "/screenshot" } alt="采集页面截图";
                    None => p.muted { "该采集没有截图（纯 HTTP 采集，尚未补拍浏览器截图）。" }
                }
                h2 { "页面文字（自采集内容提取，命中处高亮）" }
                div.crawled { (page_text(&f, listing.as_ref())) }
            }
            div.panel {
                h2 { "证据与校验" }
                dl.facts {
                    dt { "商品" } dd { code { (clip(&f.listing, 200)) } }
                    @match &f.capture {
                        Some(c) => { (capture_facts(c, record.as_ref())) (inclusion_rows("采集账本条目", &capture_entry)) }
                        None => { dt { "采集" } dd { (badge("warn", "该线索未关联采集")) } }
                    }
                    (inclusion_rows("线索账本条目", &finding_entry))
                }
                h2 { "法律依据" }
                ul { @for basis in f.legal_basis.iter().take(20) { li { (clip(basis, LONG)) } } }
                h2 { "研判记录" }
                @if triage.history.is_empty() { p.muted { "尚未研判。" } }
                ul { @for c in &triage.history {
                    li { (time(&c.at)) " " (status_badge(c.status)) " " (clip(&c.by, 100)) @if !c.reason.is_empty() { "：" (clip(&c.reason, LONG)) } }
                } }
                (decide(&viewer, &f.id, triage.status, case.as_deref()))
            }
        }
    };
    Ok(page(&viewer, Nav::Findings, &clip(&f.title, 60), body).into_response())
}

/// The capture shown: the finding's own capture when it has a screenshot,
/// else the first browser picture sealed for the finding.
fn screenshot_of_finding(
    state: &ConsoleState,
    f: &FindingRecord,
    record: Option<&evidence::CaptureRecord>,
) -> Result<Option<String>, ConsoleError> {
    if let (Some(id), Some(r)) = (&f.capture, record) {
        if screenshot_of(r).is_some() {
            return Ok(Some(id.clone()));
        }
    }
    let Some(sealing) = &state.api.sealing else { return Ok(None) };
    let pictures = sealing.station.pictures_of(&f.id).map_err(ConsoleError::internal)?;
    Ok(pictures.first().map(|d| d.to_hex()))
}

/// The case link, and the confirm / dismiss forms while the finding is not in a case.
fn decide(viewer: &Viewer, id: &str, status: Status, case: Option<&str>) -> Markup {
    html! {
        @if let Some(case) = case {
            p.notice-ok { "已并入案件 " a href={ "/console/cases/" (case) } { (case) } }
        } @else {
            h2 { "研判" }
            @if status != Status::Confirmed {
                form method="post" action={ "/console/findings/" (id) "/confirm" } {
                    (viewer.csrf_field())
                    label { "确认说明（可选）" textarea name="note" maxlength="2000" {} }
                    div.actions { button type="submit" { "确认线索并立案分派" } }
                }
            }
            @if status != Status::Dismissed {
                form method="post" action={ "/console/findings/" (id) "/dismiss" } {
                    (viewer.csrf_field())
                    label { "排除理由（必填）" textarea name="reason" required maxlength="2000" {} }
                    div.actions { button.danger type="submit" { "排除（误报）" } }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
struct DismissForm {
    #[serde(default)]
    reason: String,
}

/// Free text bounded as the API bounds it.
fn bounded(label: &str, value: &str, required: bool) -> Result<(), ConsoleError> {
    request::text(label, value, required).map_err(|_| {
        ConsoleError::BadRequest(if required && value.trim().is_empty() {
            format!("{label}不能为空。")
        } else {
            format!("{label}过长。")
        })
    })
}

async fn confirm(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<ConfirmForm>,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, form } = posted;
    viewer.require_staff()?;
    let f = finding(&state, &id)?;
    bounded("确认说明", &form.note, false)?;
    state.api.triage.confirm(&f.id, &viewer.user.actor(), &form.note, Utc::now())?;
    Ok(Redirect::to(&format!("/console/findings/{}", f.id)).into_response())
}

async fn dismiss(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<DismissForm>,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, form } = posted;
    viewer.require_staff()?;
    let f = finding(&state, &id)?;
    bounded("排除理由", &form.reason, true)?;
    if let Some(case) = state.api.triage.cases.case_of(&f.id)? {
        return Err(ConsoleError::BadRequest(format!("该线索已并入案件 {case}，请在案件中记录处理结果，不能排除。")));
    }
    state.api.triage.dismiss(&f.id, &viewer.user.actor(), &form.reason, Utc::now())?;
    Ok(Redirect::to(&format!("/console/findings/{}", f.id)).into_response())
}

/// A capture's screenshot, served as the image type it was sealed with.
async fn screenshot(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(capture_id): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let record = capture_record(&state, &capture_id)?.ok_or(ConsoleError::not_found("截图"))?;
    let shot = screenshot_of(&record).ok_or(ConsoleError::not_found("截图"))?;
    let kind = super::evidence_view::image_type(&shot.media_type).ok_or(ConsoleError::not_found("截图"))?;
    let blobs = evidence::BlobStore::open(state.data.blobs()).map_err(ConsoleError::internal)?;
    let bytes = blobs.get(&shot.sha256).map_err(|_| ConsoleError::not_found("截图"))?;
    Ok(([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "private, max-age=3600")], bytes).into_response())
}
