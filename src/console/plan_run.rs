//! One plan run: live progress while it runs; then what it did — seed,
//! candidates, drawn, census, the strata (population, allocation, drawn),
//! the drawn listings — the draw files to download (`draw.csv`,
//! `draw.json`, `candidates.jsonl`, to redo the draw with `Draw::verify`)
//! and links to the run's reports.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::auth::Viewer;
use super::desk::{desk, run_state};
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::paging::{page_of, pager};
use super::reference::{blocking, catalogue, class_name};
use super::reports::attachment;
use super::{live, ConsoleState};
use crate::plans::{RunSummary, Trigger};
use crate::sampling::Draw;

/// The files a run writes, with their content types: nothing else is served.
const FILES: &[(&str, &str)] = &[
    ("draw.csv", "text/csv; charset=utf-8"),
    ("draw.json", "application/json"),
    ("candidates.jsonl", "application/jsonl; charset=utf-8"),
];
/// Drawn listings per page.
const DRAWN_PAGE: usize = 100;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/plans/{id}/runs/{run_id}", get(run_page))
        .route("/console/plans/{id}/runs/{run_id}/files/{file}", get(download))
}

fn run_id(text: &str) -> Result<u64, ConsoleError> {
    text.parse().map_err(|_| ConsoleError::not_found("计划运行"))
}

struct RunView {
    /// `None` for a run that has just started and not yet stored its summary.
    summary: Option<RunSummary>,
    draw: Option<Result<Draw, String>>,
    live: Vec<live::LiveRow>,
    running: bool,
}

async fn run_page(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path((plan, run)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    let (run, page) = (run_id(&run)?, page_of(&q, "page")?);
    let desk = desk(&state)?.clone();
    let plan_id = plan.clone();
    let view = blocking(move || {
        let running = desk.runner.live().iter().any(|r| r.run_id == run && r.plan == plan);
        let summary = match desk.run(&plan, run) {
            Ok(summary) => Some(summary),
            Err(ConsoleError::NotFound { .. }) if running => None,
            Err(e) => return Err(e),
        };
        let live = live::rows(&state)?.into_iter().filter(|r| r.run == Some(run)).collect();
        let draw = summary.as_ref().and_then(|s| s.draw_dir.as_ref()).map(|dir| {
            std::fs::read_to_string(dir.join("draw.json"))
                .map_err(|e| e.to_string())
                .and_then(|json| Draw::from_json(&json).map_err(|e| e.to_string()))
        });
        Ok(RunView { summary, draw, live, running })
    })
    .await?;
    let Some(summary) = &view.summary else {
        let body = html! {
            p { a href={ "/console/plans/" (plan_id) } { "← 返回计划" } }
            p { "运行正在启动……" }
            (live::panel(&view.live, &live::version(&view.live)))
        };
        return Ok(layout::page(&viewer, Nav::Plans, &format!("{plan_id} · 运行 {run}"), body));
    };
    let title = format!("{} · 运行 {}", summary.title, summary.run_id);
    Ok(layout::page(&viewer, Nav::Plans, &title, body(summary, &view, page)?))
}

fn body(s: &RunSummary, v: &RunView, page: usize) -> Result<Markup, ConsoleError> {
    let base = format!("/console/plans/{}/runs/{}", s.plan, s.run_id);
    let catalogue = catalogue()?;
    Ok(html! {
        p { a href={ "/console/plans/" (s.plan) } { "← 返回计划" } }
        @if v.running {
            h2 { "运行进度" }
            (live::panel(&v.live, &live::version(&v.live)))
        }
        dl.facts {
            dt { "状态" } dd { @if v.running { "运行中" } @else { (run_state(s)) } }
            @if let Some(error) = &s.error { dt { "失败原因" } dd.error.crawled { (error) } }
            dt { "触发" } dd { @match &s.trigger { Trigger::Hand => { "手动（" (s.started_by) "）" }, _ => { "按计划（" (s.started_by) "）" } } }
            dt { "开始" } dd { (layout::time_exact(&s.started_at)) }
            dt { "结束" } dd { @if let Some(t) = &s.finished_at { (layout::time_exact(t)) } @else { "—" } }
            dt { "专项行动" } dd { (s.campaign.as_deref().unwrap_or("—")) }
            dt { "采集作业" } dd { @for job in &s.jobs { a href={ "/console/reports?scope=job:" (job) } { (job) } " " } }
            dt { "随机种子" } dd { code { (s.seed.as_deref().unwrap_or("—")) } }
            dt { "候选商品" } dd { (s.candidates) }
            dt { "抽中 / 样本量" } dd {
                (s.drawn) " / " (s.sample_size)
                @if s.census { " " (layout::badge("info", "全数抽取（候选不足样本量）")) }
            }
            dt { "新线索 / 已知线索" } dd { (s.findings_new) " / " (s.findings_known) }
        }
        @if s.finished_at.is_some() && s.error.is_none() {
            p {
                "本次运行的抽查报告："
                a href={ "/console/reports?scope=run:" (s.run_id) } { "查看抽查结果" } " · "
                a href={ "/console/reports/download?scope=run:" (s.run_id) "&format=html&public=0" } { "下载抽查结果 HTML" } " · "
                a href={ "/console/reports/download?scope=run:" (s.run_id) "&format=html&public=1" } { "下载抽查结果公示 HTML" }
            }
        }
        @match &v.draw {
            None => p.muted { "尚未抽样。" },
            Some(Err(e)) => p.error { "无法读取抽样记录：" (e) },
            Some(Ok(draw)) => {
                p {
                    "抽样文件（可用 spotcheck sample verify 复核）："
                    @for (name, _) in FILES { a href={ (base) "/files/" (name) } download { (name) } " " }
                }
                h2 { "分层" }
                table {
                    thead { tr { th { "产品类别" } th { "平台" } th.num { "总体" } th.num { "分配" } th.num { "抽中" } } }
                    tbody {
                        @for st in &draw.strata {
                            tr {
                                td { (class_name(catalogue, &st.class)) }
                                td { (st.platform) }
                                td.num { (st.population) }
                                td.num { (st.allocated) }
                                td.num { (st.drawn.len()) }
                            }
                        }
                    }
                }
                (drawn_table(draw, &base, page, catalogue))
            }
        }
    })
}

fn drawn_table(draw: &Draw, base: &str, page: usize, catalogue: &crate::rules::reference::Catalogue) -> Markup {
    let items: Vec<_> = draw.strata.iter().flat_map(|st| st.drawn.iter().map(move |d| (st, d))).collect();
    html! {
        h2 { "抽中的商品（" (items.len()) "）" }
        table {
            thead { tr { th { "商品" } th { "类别" } th { "平台" } th { "店铺" } th.num { "权重" } th.num { "排序键" } } }
            tbody {
                @for (st, d) in items.iter().skip((page - 1) * DRAWN_PAGE).take(DRAWN_PAGE) {
                    tr {
                        td.crawled { (d.key) }
                        td { (class_name(catalogue, &st.class)) }
                        td { (st.platform) }
                        td.crawled { (d.shop) }
                        td.num { (format!("{:.3}", d.weight)) }
                        td.num { (format!("{:.6}", d.rank_key)) }
                    }
                }
            }
        }
        (pager(base, "page", page, items.len().div_ceil(DRAWN_PAGE)))
    }
}

async fn download(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path((plan, run, file)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let run = run_id(&run)?;
    let (name, kind) = *FILES.iter().find(|(n, _)| *n == file).ok_or_else(|| ConsoleError::not_found("文件"))?;
    let desk = desk(&state)?.clone();
    let bytes = blocking(move || {
        let summary = desk.run(&plan, run)?;
        let dir = summary.draw_dir.ok_or_else(|| ConsoleError::not_found("抽样文件"))?;
        std::fs::read(dir.join(name)).map_err(|_| ConsoleError::not_found("抽样文件"))
    })
    .await?;
    Ok(attachment(kind, &format!("run-{run}-{name}"), bytes))
}
