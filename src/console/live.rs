//! Live progress of what is running now: crawl jobs (their counters are
//! committed with every page) and plan runs of this process (their stage and
//! jobs), as rows of a page and as the JSON `static/console.js` polls
//! (`/console/live.json`: `{"version", "items": [{"id", "value", "max", "text"}]}`).
//!
//! The version names the set of running things; when it changes (a run
//! started or ended) the polling page reloads to show the new state.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::auth::Viewer;
use super::error::ConsoleError;
use super::layout;
use super::reference::blocking;
use super::ConsoleState;
use crate::store::{JobRecord, JobStatus};

/// A running job not updated for this long is shown as stalled, not live
/// (its process was probably stopped; a resume continues it).
pub const STALE_AFTER: Duration = Duration::minutes(10);

/// One progress bar: what console.js updates.
#[derive(Debug, Clone, Serialize)]
pub struct LiveItem {
    pub id: String,
    pub value: u64,
    pub max: u64,
    pub text: String,
}

/// A running thing with what the page shows beside its bar.
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub item: LiveItem,
    pub kind: &'static str,
    pub label: String,
    pub link: Option<String>,
    pub started: DateTime<Utc>,
    /// The plan run it belongs to, for a run's own page.
    pub run: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct LiveState {
    pub version: String,
    pub items: Vec<LiveItem>,
}

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/live.json", get(live_json))
}

async fn live_json(State(state): State<ConsoleState>, viewer: Viewer) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let rows = blocking(move || rows(&state)).await?;
    let body = LiveState { version: version(&rows), items: rows.into_iter().map(|r| r.item).collect() };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Everything running now: plan runs first, then crawl jobs.
pub fn rows(state: &ConsoleState) -> Result<Vec<LiveRow>, ConsoleError> {
    let now = Utc::now();
    let mut out = super::desk::live_runs(state);
    let job_runs: Vec<(String, u64)> =
        out.iter().flat_map(|r| r.jobs.iter().map(move |j| (j.clone(), r.run_id))).collect();
    let mut rows: Vec<LiveRow> = out.drain(..).map(run_row).collect();
    for job in state.api.store.jobs()? {
        if job.status == JobStatus::Running && now - job.updated_at < STALE_AFTER {
            let run = job_runs.iter().find(|(id, _)| *id == job.id).map(|(_, run)| *run);
            rows.push(job_row(&job, run));
        }
    }
    Ok(rows)
}

fn run_row(run: super::desk::RunNow) -> LiveRow {
    let text = format!("阶段：{} · 采集作业 {} 个", run.stage, run.jobs.len());
    LiveRow {
        item: LiveItem { id: format!("run-{}", run.run_id), value: run.step, max: 3, text },
        kind: "计划运行",
        label: format!("{}（运行 #{}）", run.plan, run.run_id),
        link: Some(format!("/console/plans/{}/runs/{}", run.plan, run.run_id)),
        started: run.started_at,
        run: Some(run.run_id),
    }
}

fn job_row(job: &JobRecord, run: Option<u64>) -> LiveRow {
    let c = &job.counters;
    let text = format!(
        "已完成 {} / {} 页 · 商品 {} 个 · 错误 {} · 候选 {}",
        c.pages,
        c.queued.max(c.pages),
        c.listings(),
        c.errors,
        c.candidates
    );
    let label = match &job.spec.plan_id {
        Some(plan) => format!("{} · 计划 {plan}", job.spec.adapter),
        None => job.spec.adapter.clone(),
    };
    LiveRow {
        item: LiveItem { id: format!("job-{}", job.id), value: c.pages, max: c.queued.max(c.pages).max(1), text },
        kind: "采集作业",
        label,
        link: Some(format!("/console/reports?scope=job:{}", job.id)),
        started: job.created_at,
        run,
    }
}

/// Names the set of running things (16 hex digits).
pub fn version(rows: &[LiveRow]) -> String {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.item.id.as_str()).collect();
    ids.sort_unstable();
    hex::encode(&Sha256::digest(ids.join("\n").as_bytes())[..8])
}

/// The rows with their progress bars, polled while the page is open.
pub fn panel(rows: &[LiveRow], version: &str) -> Markup {
    html! {
        div.panel data-live="/console/live.json" data-version=(version) {
            @if rows.is_empty() {
                p.muted { "当前没有运行中的计划或采集作业。" }
            } @else {
                table {
                    thead { tr { th { "类型" } th { "名称" } th { "开始" } th { "进度" } } }
                    tbody {
                        @for row in rows {
                            tr id=(row.item.id) {
                                td { (layout::badge("info", row.kind)) }
                                td {
                                    @if let Some(link) = &row.link { a href=(link) { (row.label) } } @else { (row.label) }
                                }
                                td { (layout::time(&row.started)) }
                                td {
                                    progress value=(row.item.value) max=(row.item.max.max(1)) {}
                                    " " span.live-text { (row.item.text) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The `n` most recent crawl job runs, newest first.
pub fn recent_jobs(state: &ConsoleState, n: usize) -> Result<Vec<JobRecord>, ConsoleError> {
    let mut jobs = state.api.store.jobs()?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at));
    jobs.truncate(n);
    Ok(jobs)
}
