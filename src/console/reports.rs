//! 抽查报告: a scope (a plan run, a plan, a campaign, a crawl job, or
//! everything) → the 抽查结果 shown in the console, and downloads of it and
//! of its public version 抽查结果公示 through the renderers of
//! [`crate::reports`] (HTML / CSV / JSON, as attachments).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::auth::Viewer;
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::paging::{page_of, pager};
use super::reference::{blocking, catalogue};
use super::report_scope::{self, Choices, ScopeChoice};
use super::{charts, ConsoleState};
use crate::reports::{self, csv_rows, percent_text, Breakdown, PublicReport, ReportError, SpotCheckReport};

/// Failing listings per page of the inline report.
const PAGE: usize = 50;
/// The standalone report HTML uses inline styles and must never run a script.
const DOWNLOAD_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/reports", get(view)).route("/console/reports/download", get(download))
}

async fn view(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    let page = page_of(&q, "page")?;
    let chosen = match q.get("scope").map(String::as_str) {
        None | Some("") => None,
        Some(text) => Some(report_scope::parse(text)?),
    };
    let (choices, report) = blocking(move || {
        let choices = report_scope::choices(&state)?;
        let report = chosen.map(|c| build(&state, &c).map(|r| (c, r))).transpose()?;
        Ok((choices, report))
    })
    .await?;
    let body = html! {
        (picker(&choices, report.as_ref().map(|(c, _)| c)))
        @if let Some((choice, report)) = &report { (shown(choice, report, page)) }
    };
    Ok(layout::page(&viewer, Nav::Reports, "抽查报告", body))
}

/// Builds the report of `choice` from what is stored now.
pub fn build(state: &ConsoleState, choice: &ScopeChoice) -> Result<SpotCheckReport, ConsoleError> {
    let catalogue = catalogue()?;
    reports::build(&state.api.store, &state.api.triage.findings, &choice.scope, catalogue).map_err(|e| match e {
        ReportError::Store(crate::store::StoreError::JobNotFound(_)) => ConsoleError::not_found("采集作业"),
        ReportError::NoJobsForPlan(_) => ConsoleError::BadRequest("该计划尚无采集作业，还没有可以报告的结果。".into()),
        other => report_scope::other_error(other),
    })
}

fn picker(choices: &Choices, chosen: Option<&ScopeChoice>) -> Markup {
    let selected = chosen.map(|c| c.value.as_str()).unwrap_or("");
    html! {
        form.panel method="get" action="/console/reports" {
            label for="scope" { "报告范围" }
            " "
            select #scope name="scope" {
                option value="all" selected[selected == "all"] { "全部已存储商品" }
                @for (group, options) in &choices.groups {
                    @if !options.is_empty() {
                        optgroup label=(group) {
                            @for (value, label) in options {
                                option value=(value) selected[selected == value] { (label) }
                            }
                        }
                    }
                }
            }
            " "
            button type="submit" { "查看" }
        }
    }
}

fn download_link(choice: &ScopeChoice, format: &str, public: bool, label: &str) -> Markup {
    let href = format!(
        "/console/reports/download?scope={}&format={format}&public={}",
        url::form_urlencoded::byte_serialize(choice.value.as_bytes()).collect::<String>(),
        u8::from(public)
    );
    html! { a href=(href) download { (label) } }
}

fn shown(choice: &ScopeChoice, r: &SpotCheckReport, page: usize) -> Markup {
    let pages = r.failing_listings.len().div_ceil(PAGE).max(1);
    let rows = r.failing_listings.iter().skip((page - 1) * PAGE).take(PAGE);
    let scope_href = url::form_urlencoded::byte_serialize(choice.value.as_bytes()).collect::<String>();
    html! {
        h2 { "抽查结果：" (choice.label) }
        p.muted {
            "生成时间 " (layout::time(&r.generated_at))
            @if let (Some(from), Some(to)) = (r.scope.from, r.scope.to) { " · 采集时间 " (layout::time(&from)) " 至 " (layout::time(&to)) }
        }
        p {
            "下载抽查结果："
            (download_link(choice, "html", false, "HTML")) " · "
            (download_link(choice, "csv", false, "CSV")) " · "
            (download_link(choice, "json", false, "JSON"))
            "　抽查结果公示："
            (download_link(choice, "html", true, "HTML")) " · "
            (download_link(choice, "csv", true, "CSV")) " · "
            (download_link(choice, "json", true, "JSON"))
        }
        div.cards {
            div.card { div.n { (r.sampled) } div.k { "抽查商品" } }
            div.card { div.n { (r.failing) } div.k { "不合格商品" } }
            div.card { div.n { (percent_text(r.failure_rate)) } div.k { "不合格率" } }
            div.card { div.n { (r.review.open_findings) } div.k { "待研判线索（不计入）" } }
            div.card { div.n { (r.review.unreviewed_listings) } div.k { "待研判商品（不计入）" } }
            div.card { div.n { (r.review.confirmed_risk_signals) } div.k { "已确认风险信号（不计入）" } }
        }
        div.grid2 {
            (breakdown("按产品类别", &r.by_class))
            (breakdown("按平台", &r.by_platform))
            (breakdown("按规则", &r.by_rule))
        }
        h2 { "不合格商品（" (r.failing) "）" }
        @if r.failing_listings.is_empty() {
            p.muted { "该范围内没有经确认的不合格商品。" }
        } @else {
            table {
                thead { tr { th { "平台" } th { "商品" } th { "类别" } th { "店铺" } th { "统一社会信用代码" } th { "地区" } th { "不合格项目" } th { "线索" } } }
                tbody {
                    @for l in rows {
                        tr {
                            td { (l.platform) }
                            td.crawled {
                                @let title = l.title.clone().unwrap_or_else(|| l.item_id.clone());
                                @if l.url.starts_with("https://") || l.url.starts_with("http://") {
                                    a href=(l.url) rel="noreferrer noopener" target="_blank" { (title) }
                                } @else { (title) }
                                @if let Some(brand) = &l.brand { br; span.muted { (brand) " " (l.model.as_deref().unwrap_or("")) } }
                            }
                            td { (l.catalogue_class) }
                            td.crawled {
                                @if let Some(shop) = &l.shop_name { (shop) }
                                @if let Some(id) = &l.shop_id { br; span.muted { (id) } }
                            }
                            td { (l.uscc.as_deref().unwrap_or("—")) }
                            td { (l.region_code.as_deref().unwrap_or("—")) }
                            td { @for rule in &l.rules { div { (rule.title) } } }
                            td { @for id in &l.finding_ids { div { a href={ "/console/findings/" (id) } { (id) } } } }
                        }
                    }
                }
            }
            (pager(&format!("/console/reports?scope={scope_href}"), "page", page, pages))
        }
    }
}

fn breakdown(title: &str, rows: &[Breakdown]) -> Markup {
    let bars: Vec<(String, u64)> =
        rows.iter().map(|b| (format!("{}（{}）", b.label, percent_text(b.rate)), b.failing)).collect();
    html! {
        div.panel {
            h2 { "不合格：" (title) }
            (charts::bars(&format!("不合格商品数（{title}）"), &bars))
            table {
                thead { tr { th { (title.trim_start_matches('按')) } th.num { "抽查" } th.num { "不合格" } th.num { "不合格率" } } }
                tbody {
                    @for b in rows {
                        tr { td { (b.label) } td.num { (b.sampled) } td.num { (b.failing) } td.num { (percent_text(b.rate)) } }
                    }
                }
            }
        }
    }
}

async fn download(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let choice = report_scope::parse(q.get("scope").map_or("all", String::as_str))?;
    let public = match q.get("public").map(String::as_str) {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(ConsoleError::BadRequest("public 参数应为 0 或 1。".into())),
    };
    let format = q.get("format").map_or("html", String::as_str).to_string();
    let (kind, ext) = match format.as_str() {
        "html" => ("text/html; charset=utf-8", "html"),
        "csv" => ("text/csv; charset=utf-8", "csv"),
        "json" => ("application/json", "json"),
        _ => return Err(ConsoleError::BadRequest("格式应为 html、csv 或 json。".into())),
    };
    let name = format!("{}{}.{ext}", choice.file_stem(), if public { "-public" } else { "" });
    let text = blocking(move || {
        let report = build(&state, &choice)?;
        render(&report, &format, public)
    })
    .await?;
    Ok(attachment(kind, &name, text))
}

/// The report in `format` (html, csv, json), internal or public.
fn render(report: &SpotCheckReport, format: &str, public: bool) -> Result<String, ConsoleError> {
    let json = |v: serde_json::Result<String>| v.map(|t| t + "\n").map_err(ConsoleError::internal);
    let csv = |v: Result<String, ReportError>| v.map_err(ConsoleError::internal);
    if public {
        let public = PublicReport::from(report);
        match format {
            "html" => Ok(reports::html::render_public(&public)),
            "csv" => csv(csv_rows::render_public(&public)),
            _ => json(serde_json::to_string_pretty(&public)),
        }
    } else {
        match format {
            "html" => Ok(reports::html::render(report)),
            "csv" => csv(csv_rows::render(report)),
            _ => json(serde_json::to_string_pretty(report)),
        }
    }
}

/// A download: never shown inline, and a standalone HTML may style itself but run nothing.
pub fn attachment(kind: &'static str, file_name: &str, body: impl Into<axum::body::Body>) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    let mut response = ([(header::CONTENT_TYPE, kind)], body.into()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOWNLOAD_CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
