//! 总览: what is running now (live), the headline counts, and where the
//! findings come from (by rule, platform, product class, and per day).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Duration, NaiveDate, Utc};
use maud::{html, Markup};

use super::auth::Viewer;
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::live::{self, LiveRow};
use super::reference::{blocking, catalogue, class_name};
use super::{charts, ConsoleState};
use crate::findings::Status;
use crate::plans::shanghai;
use crate::store::JobRecord;

/// Days the trend chart shows, today included.
const TREND_DAYS: i64 = 30;
/// Bars per breakdown chart (the largest; the rest are summed as 其他).
const TOP: usize = 12;
/// Recent crawl jobs listed.
const RECENT_JOBS: usize = 10;

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/", get(dashboard)).merge(live::routes())
}

/// The counts the dashboard shows, read in one pass over findings and listings.
#[derive(Default)]
struct Overview {
    listings: usize,
    shops: usize,
    open: u64,
    confirmed: u64,
    dismissed: u64,
    open_cases: u64,
    overdue: usize,
    by_rule: BTreeMap<String, u64>,
    by_platform: BTreeMap<String, u64>,
    by_class: BTreeMap<String, u64>,
    by_day: BTreeMap<NaiveDate, u64>,
    jobs: Vec<JobRecord>,
    live: Vec<LiveRow>,
}

/// The dashboard for staff and admins; enforcement officers (whose home is
/// their cases) are sent there, so "back to the start" works for everyone.
async fn dashboard(State(state): State<ConsoleState>, viewer: Viewer) -> Result<Response, ConsoleError> {
    if viewer.require_staff().is_err() {
        return Ok(Redirect::to(layout::home(viewer.user.role)).into_response());
    }
    let o = blocking(move || overview(&state)).await?;
    Ok(layout::page(&viewer, Nav::Dashboard, "总览", body(&o)).into_response())
}

fn overview(state: &ConsoleState) -> Result<Overview, ConsoleError> {
    let catalogue = catalogue()?;
    let store = &state.api.store;
    let mut o = Overview { listings: store.listing_count(), shops: store.shop_count(), ..Overview::default() };
    // Listing key → (class name, Shanghai capture date).
    let mut listings = BTreeMap::new();
    for listing in store.latest_listings() {
        let listing = listing?;
        let class = listing
            .catalogue_class
            .clone()
            .or_else(|| catalogue.classify(&listing).and_then(|i| catalogue.classes.get(i)).map(|c| c.id.clone()));
        let class =
            class.map_or_else(|| crate::reports::UNCLASSIFIED.to_string(), |c| class_name(catalogue, &c).into());
        let day = listing.captured_at.map(|t| t.with_timezone(&shanghai()).date_naive());
        listings.insert(listing.key(), (class, day));
    }
    let findings = &state.api.triage.findings;
    for record in findings.all() {
        let record = record?;
        match findings.triage(&record.id)?.status {
            Status::Open => o.open += 1,
            Status::Confirmed => o.confirmed += 1,
            Status::Dismissed => o.dismissed += 1,
        }
        *o.by_rule.entry(record.title.clone()).or_default() += 1;
        let platform = record.listing.split_once('/').map_or(record.listing.as_str(), |(p, _)| p);
        *o.by_platform.entry(platform.to_string()).or_default() += 1;
        let (class, day) =
            listings.get(&record.listing).cloned().unwrap_or((crate::reports::UNCLASSIFIED.into(), None));
        *o.by_class.entry(class).or_default() += 1;
        if let Some(day) = day {
            *o.by_day.entry(day).or_default() += 1;
        }
    }
    for case in state.api.triage.cases.all() {
        if case?.status.is_open() {
            o.open_cases += 1;
        }
    }
    o.overdue = state.api.notices.overdue(Utc::now()).map_err(ConsoleError::internal)?.len();
    o.jobs = live::recent_jobs(state, RECENT_JOBS)?;
    o.live = live::rows(state)?;
    Ok(o)
}

/// The largest `TOP` groups, largest first; the rest summed as 其他.
fn top(counts: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if rows.len() > TOP {
        let rest: u64 = rows.drain(TOP - 1..).map(|(_, n)| n).sum();
        rows.push(("其他".into(), rest));
    }
    rows
}

/// Findings per Shanghai day over the last `TREND_DAYS` days, oldest first.
fn trend(by_day: &BTreeMap<NaiveDate, u64>) -> Vec<(String, u64)> {
    let today = Utc::now().with_timezone(&shanghai()).date_naive();
    (0..TREND_DAYS)
        .rev()
        .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
        .map(|day| (day.format("%m-%d").to_string(), by_day.get(&day).copied().unwrap_or(0)))
        .collect()
}

fn card(n: impl std::fmt::Display, label: &str, href: &str) -> Markup {
    html! { a.card href=(href) { div.n { (n) } div.k { (label) } } }
}

fn body(o: &Overview) -> Markup {
    html! {
        h2 { "运行中" }
        (live::panel(&o.live, &live::version(&o.live)))
        div.cards {
            (card(o.listings, "已存商品", "/console/reports?scope=all"))
            (card(o.shops, "已存店铺", "/console/shops"))
            (card(o.open, "待研判线索", "/console/findings?status=open"))
            (card(o.confirmed, "已确认线索", "/console/findings?status=confirmed"))
            (card(o.dismissed, "已排除线索", "/console/findings?status=dismissed"))
            (card(o.open_cases, "办理中案件", "/console/cases"))
            (card(o.overdue, "逾期未处置通知", "/console/notices"))
        }
        div.grid2 {
            div.panel { h2 { "线索：按规则" } (charts::bars("线索数（按规则）", &top(&o.by_rule))) }
            div.panel { h2 { "线索：按平台" } (charts::bars("线索数（按平台）", &top(&o.by_platform))) }
            div.panel { h2 { "线索：按产品类别" } (charts::bars("线索数（按产品类别）", &top(&o.by_class))) }
            div.panel {
                h2 { "近 " (TREND_DAYS) " 天线索（按商品采集日期）" }
                (charts::columns("每日线索数", &trend(&o.by_day)))
            }
        }
        h2 { "最近的采集作业" }
        (jobs_table(&o.jobs))
        p {
            a href="/console/plans" { "抽查计划" } " · "
            a href="/console/findings" { "线索研判" } " · "
            a href="/console/cases" { "案件" } " · "
            a href="/console/notices" { "下架通知" } " · "
            a href="/console/reports" { "抽查报告" }
        }
    }
}

fn jobs_table(jobs: &[JobRecord]) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.muted { "尚无采集作业。" }
        } @else {
            table {
                thead { tr { th { "作业" } th { "平台" } th { "计划" } th { "开始" } th { "状态" } th.num { "页面" } th.num { "商品" } th.num { "错误" } } }
                tbody {
                    @for job in jobs {
                        tr {
                            td { a href={ "/console/reports?scope=job:" (job.id) } { (job.id) } }
                            td { (job.spec.adapter) }
                            td { @if let Some(plan) = &job.spec.plan_id { a href={ "/console/plans/" (plan) } { (plan) } } }
                            td { (layout::time(&job.created_at)) }
                            td {
                                @match job.finished_at {
                                    Some(_) => (layout::badge("ok", "已完成")),
                                    None => (layout::badge("warn", "未完成")),
                                }
                            }
                            td.num { (job.counters.pages) }
                            td.num { (job.counters.listings()) }
                            td.num { (job.counters.errors) }
                        }
                    }
                }
            }
        }
    }
}
