//! What a report covers, as the console names it in a query: `all`,
//! `job:<id>`, `plan:<id>`, `run:<run id>`, `campaign:<tag>`; and the scopes
//! the picker offers.

use super::error::ConsoleError;
use super::ConsoleState;
use crate::reports::{ReportError, Scope};

/// Jobs and runs offered by the picker (the most recent).
const OFFERED: usize = 50;

/// A parsed scope with its query value and a label for people.
#[derive(Debug, Clone)]
pub struct ScopeChoice {
    pub scope: Scope,
    pub value: String,
    pub label: String,
}

impl ScopeChoice {
    /// An ASCII file name stem for downloads (`report-plan-toys`).
    pub fn file_stem(&self) -> String {
        let safe: String = self
            .value
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
            .collect();
        format!("report-{}", safe.trim_matches('-'))
    }
}

/// A job id as the store makes them (hex and `-`), bounded.
fn job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses a scope value; a malformed one is a 400 page.
pub fn parse(text: &str) -> Result<ScopeChoice, ConsoleError> {
    let bad = |m: &str| ConsoleError::BadRequest(m.to_string());
    let (kind, id) = text.split_once(':').unwrap_or((text, ""));
    let (scope, label) = match kind {
        "all" if id.is_empty() => (Scope::All, "全部已存储商品".to_string()),
        "job" if job_id(id) => (Scope::Job(id.into()), format!("采集作业 {id}")),
        "plan" if crate::plans::safe_id(id) => (Scope::Plan(id.into()), format!("抽查计划 {id}（全部运行）")),
        "run" => match id.parse::<u64>() {
            Ok(run) => (Scope::Run(run), format!("计划运行 {run}")),
            Err(_) => return Err(bad("运行编号应为数字。")),
        },
        "campaign" if !id.trim().is_empty() && id.chars().count() <= 64 => {
            (Scope::Campaign(id.trim().into()), format!("专项行动「{}」", id.trim()))
        }
        _ => {
            return Err(bad("报告范围无效：应为 all、job:作业编号、plan:计划编号、run:运行编号或 campaign:专项标签。"))
        }
    };
    Ok(ScopeChoice { scope, value: text.to_string(), label })
}

/// The picker's options: (group label, [(value, label)]).
pub struct Choices {
    pub groups: Vec<(&'static str, Vec<(String, String)>)>,
}

pub fn choices(state: &ConsoleState) -> Result<Choices, ConsoleError> {
    let desk = super::desk::report_choices(state)?;
    let jobs = super::live::recent_jobs(state, OFFERED)?
        .iter()
        .map(|j| {
            (format!("job:{}", j.id), format!("{} · {} · {}", j.id, j.spec.adapter, super::layout::time(&j.created_at)))
        })
        .collect();
    Ok(Choices {
        groups: vec![
            ("计划运行", desk.runs.into_iter().take(OFFERED).collect()),
            ("抽查计划", desk.plans),
            ("专项行动", desk.campaigns),
            ("采集作业", jobs),
        ],
    })
}

/// Report errors that are about the request, not the system.
pub fn other_error(e: ReportError) -> ConsoleError {
    match e {
        ReportError::NoSuchRun(_) => ConsoleError::not_found("计划运行"),
        ReportError::NoRunsForCampaign(_) => {
            ConsoleError::BadRequest("该专项行动还没有成功完成的计划运行，暂无可报告的结果。".into())
        }
        other => ConsoleError::internal(other),
    }
}
