//! 抽查计划: the plans of the data directory with their next run times and
//! last outcome, one plan's page (definition, running now, runs, scheduling
//! history) and "run now". Creating and editing: [`super::plan_edit`]; a
//! run's page and draw files: [`super::plan_run`].

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};

use super::auth::{Posted, Viewer};
use super::desk::{desk, run_state, PlanDesk};
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::paging::{page_of, pager};
use super::reference::{blocking, catalogue, class_name};
use super::{live, plan_history, ConsoleState};
use crate::plans::{Plan, RunSummary, Schedule};

/// Plans per page of the list.
const PLANS_PAGE: usize = 50;
/// Runs and history records per page of a plan.
const RUNS_PAGE: usize = 20;
const HISTORY_PAGE: usize = 50;
/// Upcoming run times shown per plan.
const NEXT_RUNS: usize = 3;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/plans", get(list))
        .route("/console/plans/{id}", get(detail))
        .route("/console/plans/{id}/run", post(run_now))
        .merge(super::plan_edit::routes())
        .merge(super::plan_run::routes())
}

/// A plan's schedule in words.
pub fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Manual => "仅手动".into(),
        Schedule::Cron { expr, .. } => format!("定时 {expr}（北京时间）"),
    }
}

/// Whether a run of the plan is going on (in this process, or holding an unexpired lease).
fn running(desk: &PlanDesk, plan: &str) -> Result<bool, ConsoleError> {
    if desk.runner.live().iter().any(|r| r.plan == plan) {
        return Ok(true);
    }
    let lease = desk.runner.scheduler().lease(plan).map_err(ConsoleError::internal)?;
    Ok(lease.is_some_and(|l| l.expires > Utc::now()))
}

fn outcome_badge(s: &RunSummary) -> Markup {
    match s.state() {
        "succeeded" => layout::badge("ok", "成功"),
        "failed" => layout::badge("bad", "失败"),
        _ => layout::badge("warn", run_state(s)),
    }
}

struct Row {
    plan: Plan,
    last: Option<RunSummary>,
    running: bool,
}

async fn list(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    let page = page_of(&q, "page")?;
    let desk = desk(&state)?.clone();
    let (rows, broken, total) = blocking(move || {
        let (plans, broken) = desk.plans();
        let total = plans.len();
        let mut rows = Vec::new();
        for plan in plans.into_iter().skip((page - 1) * PLANS_PAGE).take(PLANS_PAGE) {
            let last = desk.runner.summaries(&plan.id).map_err(ConsoleError::internal)?.pop();
            let running = running(&desk, &plan.id)?;
            rows.push(Row { plan, last, running });
        }
        Ok((rows, broken, total))
    })
    .await?;
    let catalogue = catalogue()?;
    let now = Utc::now();
    let body = html! {
        p { a.button href="/console/plans/new" { "新建计划" } }
        @if !broken.is_empty() {
            div.panel {
                h2.error { "有误的计划文件（未列出，不会运行）" }
                ul { @for (file, problem) in &broken { li { code { (file) } "：" (problem) } } }
            }
        }
        @if rows.is_empty() {
            p.muted { "尚无抽查计划。" }
        } @else {
            table {
                thead { tr { th { "计划" } th { "专项" } th { "平台" } th { "类别" } th { "运行时间" } th { "接下来 3 次运行" } th { "最近运行" } } }
                tbody {
                    @for row in &rows {
                        @let p = &row.plan;
                        tr {
                            td {
                                a href={ "/console/plans/" (p.id) } { (p.title) } br;
                                span.muted { (p.id) }
                                @if row.running { " " (layout::badge("info", "运行中")) }
                            }
                            td { (p.campaign.as_deref().unwrap_or("—")) }
                            td { (p.platforms.join("、")) }
                            td { @for c in &p.classes { div { (class_name(catalogue, c)) } } }
                            td { (schedule_text(&p.schedule)) }
                            td.next-runs {
                                @let next = p.schedule.next_n(now, NEXT_RUNS);
                                @if next.is_empty() { span.muted { "—" } }
                                @for t in &next { div { (layout::time(t)) } }
                            }
                            td {
                                @if let Some(s) = &row.last {
                                    a href={ "/console/plans/" (p.id) "/runs/" (s.run_id) } { (layout::time(&s.started_at)) }
                                    " " (outcome_badge(s))
                                } @else { span.muted { "从未运行" } }
                            }
                        }
                    }
                }
            }
            (pager("/console/plans", "page", page, total.div_ceil(PLANS_PAGE)))
        }
    };
    Ok(layout::page(&viewer, Nav::Plans, "抽查计划", body))
}

struct Detail {
    plan: Plan,
    runs: Vec<RunSummary>,
    runs_total: usize,
    history: Vec<crate::plans::RunRecord>,
    history_total: usize,
    running: bool,
    live: Vec<live::LiveRow>,
}

async fn detail(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    let (runs_page, history_page) = (page_of(&q, "runs")?, page_of(&q, "history")?);
    let desk = desk(&state)?.clone();
    let d = blocking(move || {
        let plan = desk.plan(&id)?;
        let mut runs = desk.runner.summaries(&plan.id).map_err(ConsoleError::internal)?;
        runs.reverse();
        let runs_total = runs.len();
        let runs = runs.into_iter().skip((runs_page - 1) * RUNS_PAGE).take(RUNS_PAGE).collect();
        let mut history = desk.runner.scheduler().history(&plan.id).map_err(ConsoleError::internal)?;
        history.reverse();
        let history_total = history.len();
        let history = history.into_iter().skip((history_page - 1) * HISTORY_PAGE).take(HISTORY_PAGE).collect();
        let running = running(&desk, &plan.id)?;
        let live = live::rows(&state)?
            .into_iter()
            .filter(|r| r.run.is_some_and(|id| desk.runner.live().iter().any(|l| l.run_id == id && l.plan == plan.id)))
            .collect();
        Ok(Detail { plan, runs, runs_total, history, history_total, running, live })
    })
    .await?;
    let title = format!("抽查计划：{}", d.plan.title);
    Ok(layout::page(&viewer, Nav::Plans, &title, detail_body(&viewer, &d, runs_page, history_page)?))
}

fn detail_body(viewer: &Viewer, d: &Detail, runs_page: usize, history_page: usize) -> Result<Markup, ConsoleError> {
    let p = &d.plan;
    let catalogue = catalogue()?;
    let base = format!("/console/plans/{}", p.id);
    Ok(html! {
        div.actions {
            a.button href={ (base) "/edit" } { "编辑计划" }
            " "
            form.inline method="post" action={ (base) "/run" } data-confirm="立即运行该计划？" {
                (viewer.csrf_field())
                button type="submit" disabled[d.running] { "立即运行" }
            }
            @if d.running { " " (layout::badge("info", "运行中")) }
            " "
            a href={ "/console/reports?scope=plan:" (p.id) } { "该计划的抽查报告" }
        }
        @if d.running {
            h2 { "运行进度" }
            (live::panel(&d.live, &live::version(&d.live)))
        }
        dl.facts {
            dt { "编号" } dd { (p.id) }
            dt { "专项行动" } dd { (p.campaign.as_deref().unwrap_or("—")) }
            dt { "平台" } dd { (p.platforms.join("、")) }
            dt { "产品类别" } dd { @if p.classes.is_empty() { "不限" } @for c in &p.classes { span.tag { (class_name(catalogue, c)) } " " } }
            dt { "关键词" } dd { @if p.keywords.is_empty() { "—" } @for k in &p.keywords { span.tag { (k) } " " } }
            dt { "起始网址" } dd { @if p.seed_urls.is_empty() { "—" } @for u in &p.seed_urls { div.crawled { (u.as_str()) } } }
            dt { "样本量" } dd { (p.sample_size) "（" (if p.weighting == crate::sampling::Weighting::Risk { "按风险加权" } else { "不加权" }) "）" }
            dt { "运行时间" } dd { (schedule_text(&p.schedule)) }
            dt { "接下来 3 次" } dd.next-runs {
                @let next = p.schedule.next_n(Utc::now(), NEXT_RUNS);
                @if next.is_empty() { "—" }
                @for t in &next { span.time { (layout::time(t)) } " " }
            }
            dt { "错过的运行" } dd { (if p.missed == crate::plans::MissedPolicy::RunOnce { "补运行一次" } else { "跳过" }) }
            dt { "访问频率" } dd {
                @match p.politeness.rate { Some(r) => { "每秒 " (r) " 次请求" }, None => "按适配器设置" }
                @if let Some(c) = p.politeness.concurrency { "，并发 " (c) }
            }
        }
        h2 { "运行记录" }
        @if d.runs.is_empty() { p.muted { "尚未运行。" } } @else {
            table {
                thead { tr { th { "运行" } th { "触发" } th { "开始" } th { "结束" } th { "状态" } th.num { "候选" } th.num { "抽中" } th.num { "新线索" } } }
                tbody {
                    @for s in &d.runs {
                        tr {
                            td { a href={ (base) "/runs/" (s.run_id) } { (s.run_id) } }
                            td {
                                @match s.trigger { crate::plans::Trigger::Hand => { "手动（" (s.started_by) "）" }, _ => "按计划" }
                            }
                            td { (layout::time(&s.started_at)) }
                            td { @if let Some(t) = &s.finished_at { (layout::time(t)) } @else { "—" } }
                            td { (outcome_badge(s)) }
                            td.num { (s.candidates) }
                            td.num { (s.drawn) }
                            td.num { (s.findings_new) }
                        }
                    }
                }
            }
            (pager(&format!("{base}?history={history_page}"), "runs", runs_page, d.runs_total.div_ceil(RUNS_PAGE)))
        }
        h2 { "调度历史" }
        (plan_history::table(&p.id, &d.history))
        (pager(&format!("{base}?runs={runs_page}"), "history", history_page, d.history_total.div_ceil(HISTORY_PAGE)))
    })
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn run_now(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<Empty>,
) -> Result<Response, ConsoleError> {
    posted.viewer.require_staff()?;
    let desk = desk(&state)?.clone();
    let plan = {
        let (desk, id) = (desk.clone(), id.clone());
        blocking(move || desk.plan(&id)).await?
    };
    let actor = format!("{} (console)", posted.viewer.user.name);
    match desk.runner.run_now(&plan, &actor).map_err(ConsoleError::internal)? {
        Ok(run_id) => Ok(Redirect::to(&format!("/console/plans/{}/runs/{run_id}", plan.id)).into_response()),
        Err(lease) => {
            let body = html! {
                p.error role="alert" {
                    "该计划已有运行中的任务（运行 " (lease.run_id) "，由 " (lease.holder) " 持有，租约至 "
                    (layout::time(&lease.expires)) "）。请等它结束后再运行。"
                }
                p {
                    a href={ "/console/plans/" (plan.id) "/runs/" (lease.run_id) } { "查看运行中的任务" } " · "
                    a href={ "/console/plans/" (plan.id) } { "返回计划" }
                }
            };
            let page = layout::page(&posted.viewer, Nav::Plans, "无法立即运行", body);
            Ok((StatusCode::CONFLICT, page).into_response())
        }
    }
}
