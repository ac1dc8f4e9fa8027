//! A plan's scheduling history (the scheduler's `plan_runs` records) in
//! words: started by schedule or by hand, missed runs skipped with their
//! times, finished with the outcome.

use maud::{html, Markup};

use super::layout;
use crate::plans::{Decision, RunEvent, RunOutcome, RunRecord};

/// Missed times listed per record (the rest are counted).
const TIMES_SHOWN: usize = 10;

fn times(missed: &[chrono::DateTime<chrono::Utc>], more: bool) -> Markup {
    let extra = missed.len().saturating_sub(TIMES_SHOWN);
    html! {
        @for t in missed.iter().take(TIMES_SHOWN) { span.time { (layout::time(t)) } " " }
        @if extra > 0 || more { span.muted { "等，共 " (missed.len()) @if more { "+" } " 次" } }
    }
}

fn decision(d: &Decision) -> Markup {
    match d {
        Decision::Run { scheduled_for } => html! { "按时运行（计划时间 " (layout::time(scheduled_for)) "）" },
        Decision::RunMissedOnce { missed, more_missed, .. } => {
            html! { "补运行一次，代替错过的运行：" (times(missed, *more_missed)) }
        }
        Decision::SkipMissed { missed, more_missed, .. } => {
            html! { "跳过错过的运行：" (times(missed, *more_missed)) }
        }
        Decision::Wait { .. } => html! { "等待下次运行" },
    }
}

/// (badge kind, badge text, detail) of one record.
fn describe(plan: &str, event: &RunEvent) -> (&'static str, &'static str, Markup) {
    let run_link = |id: &u64| html! { a href={ "/console/plans/" (plan) "/runs/" (id) } { "运行 " (id) } };
    match event {
        RunEvent::Enrolled => ("muted", "纳入调度", html! { "此前的运行时间不再补运行。" }),
        RunEvent::Started { run_id, decision: d, .. } => {
            ("info", "按计划启动", html! { (run_link(run_id)) "：" (decision(d)) })
        }
        RunEvent::StartedByHand { run_id, holder } => {
            ("info", "手动启动", html! { (run_link(run_id)) "，由 " (holder) " 启动" })
        }
        RunEvent::Skipped { decision: d } => ("warn", "跳过", decision(d)),
        RunEvent::Finished { run_id, outcome: RunOutcome::Succeeded { .. } } => {
            ("ok", "运行成功", html! { (run_link(run_id)) " 已完成" })
        }
        RunEvent::Finished { run_id, outcome: RunOutcome::Failed { error } } => {
            ("bad", "运行失败", html! { (run_link(run_id)) "：" span.crawled { (error) } })
        }
        RunEvent::LeaseTakenOver { from, by } => (
            "warn",
            "接管租约",
            html! { (by) " 接管了 " (from.holder) " 的过期租约（运行 " (from.run_id) "，" (layout::time(&from.expires)) " 到期）" },
        ),
    }
}

/// The records, newest first, as a table.
pub fn table(plan: &str, records: &[RunRecord]) -> Markup {
    html! {
        @if records.is_empty() {
            p.muted { "尚无调度记录。" }
        } @else {
            table {
                thead { tr { th { "时间" } th { "事件" } th { "说明" } } }
                tbody {
                    @for r in records {
                        @let (kind, label, detail) = describe(plan, &r.event);
                        tr { td { (layout::time(&r.at)) } td { (layout::badge(kind, label)) } td { (detail) } }
                    }
                }
            }
        }
    }
}
