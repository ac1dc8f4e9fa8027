//! The plan desk: what the console needs to list, edit and run plans — the
//! runner (which holds the scheduler and the run summaries), the plan book of
//! the data directory, and the adapter names plans compile against. `None`
//! in [`ConsoleState::plans`] when `spotcheck serve` runs without plan runs;
//! the plan pages then say so.

use chrono::{DateTime, Utc};

use super::error::ConsoleError;
use super::ConsoleState;
use crate::plans::{Plan, PlanBook, PlanRunner, RunSummary, Stage};

/// Plans of the data directory and the runner that runs them. Cheap to clone.
#[derive(Clone)]
pub struct PlanDesk {
    pub runner: PlanRunner,
    pub book: PlanBook,
    pub adapters: Vec<String>,
}

impl PlanDesk {
    /// The desk of `runner`: its data directory's plan book and its adapters.
    pub fn new(runner: PlanRunner) -> PlanDesk {
        let book = runner.book();
        let mut adapters = runner.adapter_names();
        adapters.sort();
        PlanDesk { runner, book, adapters }
    }

    pub fn adapter_refs(&self) -> Vec<&str> {
        self.adapters.iter().map(String::as_str).collect()
    }

    /// Every plan file that compiles, sorted by id; and each file that does
    /// not, with its first problem.
    pub fn plans(&self) -> (Vec<Plan>, Vec<(String, String)>) {
        let mut plans = Vec::new();
        let mut broken = Vec::new();
        for (file, compiled) in self.book.list(&self.adapter_refs()) {
            match compiled {
                Ok(plan) => plans.push(plan),
                Err(problems) => {
                    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    broken.push((
                        name,
                        problems
                            .first()
                            .map(|p| format!("第 {} 行第 {} 列：{}", p.line, p.column, p.message))
                            .unwrap_or_default(),
                    ));
                }
            }
        }
        (plans, broken)
    }

    /// The plan `id`, or 404; a plan file that no longer compiles is a 400 naming its first problem.
    pub fn plan(&self, id: &str) -> Result<Plan, ConsoleError> {
        match self.book.get(id, &self.adapter_refs()) {
            None => Err(ConsoleError::not_found("抽查计划")),
            Some(Ok(plan)) => Ok(plan),
            Some(Err(problems)) => Err(ConsoleError::BadRequest(format!(
                "计划文件有误，需在服务器上修正：{}",
                problems
                    .first()
                    .map(|p| format!("第 {} 行第 {} 列：{}", p.line, p.column, p.message))
                    .unwrap_or_default()
            ))),
        }
    }

    /// The run `run_id` of plan `plan`, or 404.
    pub fn run(&self, plan: &str, run_id: u64) -> Result<RunSummary, ConsoleError> {
        match self.runner.summary(run_id).map_err(ConsoleError::internal)? {
            Some(s) if s.plan == plan => Ok(s),
            _ => Err(ConsoleError::not_found("计划运行")),
        }
    }
}

/// A stage in Chinese, and its step (1 to 3).
pub fn stage(stage: Stage) -> (&'static str, u64) {
    match stage {
        Stage::Gathering => ("采集", 1),
        Stage::Drawing => ("抽样", 2),
        Stage::Flagging => ("规则筛查", 3),
    }
}

/// A plan run going on in this process, as the live rows show it.
#[derive(Debug, Clone)]
pub struct RunNow {
    pub plan: String,
    pub run_id: u64,
    pub stage: &'static str,
    /// 1 to 3: gathering, drawing, flagging.
    pub step: u64,
    pub jobs: Vec<String>,
    pub started_at: DateTime<Utc>,
}

/// The plan runs of this process (none without a desk).
pub fn live_runs(state: &ConsoleState) -> Vec<RunNow> {
    let Some(desk) = &state.plans else { return Vec::new() };
    desk.runner
        .live()
        .into_iter()
        .map(|r| {
            let (stage, step) = stage(r.stage);
            RunNow { plan: r.plan, run_id: r.run_id, stage, step, jobs: r.jobs, started_at: r.started_at }
        })
        .collect()
}

/// The desk, or the page that says plan runs are not enabled.
pub fn desk(state: &ConsoleState) -> Result<&PlanDesk, ConsoleError> {
    state
        .plans
        .as_ref()
        .ok_or_else(|| ConsoleError::BadRequest("未启用计划运行：本服务启动时没有配置抽查计划运行器。".into()))
}

/// Report scopes the desk knows: runs (newest first), plans, campaign tags.
#[derive(Default)]
pub struct DeskChoices {
    pub runs: Vec<(String, String)>,
    pub plans: Vec<(String, String)>,
    pub campaigns: Vec<(String, String)>,
}

pub fn report_choices(state: &ConsoleState) -> Result<DeskChoices, ConsoleError> {
    let Some(desk) = &state.plans else { return Ok(DeskChoices::default()) };
    let (plans, _) = desk.plans();
    let mut tags: Vec<String> = plans.iter().filter_map(|p| p.campaign.clone()).collect();
    let summaries = desk.runner.all_summaries().map_err(ConsoleError::internal)?;
    tags.extend(summaries.iter().filter_map(|s| s.campaign.clone()));
    tags.sort();
    tags.dedup();
    let runs = summaries
        .iter()
        .rev()
        .map(|s| {
            let label =
                format!("{} · 运行 #{} · {} · {}", s.title, s.run_id, super::layout::time(&s.started_at), run_state(s));
            (format!("run:{}", s.run_id), label)
        })
        .collect();
    Ok(DeskChoices {
        runs,
        plans: plans.iter().map(|p| (format!("plan:{}", p.id), format!("{}（{}）", p.title, p.id))).collect(),
        campaigns: tags.into_iter().map(|t| (format!("campaign:{t}"), t)).collect(),
    })
}

/// A run's state in Chinese.
pub fn run_state(s: &RunSummary) -> &'static str {
    match s.state() {
        "running" if s.finished_at.is_none() => "运行中或已中断",
        "succeeded" => "成功",
        _ => "失败",
    }
}
