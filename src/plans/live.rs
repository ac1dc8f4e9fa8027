//! The plan runs going on in this process, for a console to show: each
//! run's stage and its crawl job ids (whose page counters `Store::job` reads).
//! Memory only: what a run did is recorded in its `RunSummary`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Gathering,
    Drawing,
    Flagging,
}

/// A run going on in this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveRun {
    pub plan: String,
    pub run_id: u64,
    pub stage: Stage,
    /// Crawl job ids so far (read their counters with `Store::job`).
    pub jobs: Vec<String>,
    pub started_at: DateTime<Utc>,
}

impl LiveRun {
    /// A run about to gather.
    pub fn starting(plan: &str, run_id: u64, started_at: DateTime<Utc>) -> LiveRun {
        LiveRun { plan: plan.into(), run_id, stage: Stage::Gathering, jobs: Vec::new(), started_at }
    }
}

/// The runs going on, by run id.
#[derive(Debug, Default)]
pub(crate) struct LiveRuns(Mutex<BTreeMap<u64, LiveRun>>);

impl LiveRuns {
    fn runs(&self) -> MutexGuard<'_, BTreeMap<u64, LiveRun>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lists `run` until its [`LiveEntry`] (from [`LiveRuns::enter`]) is dropped.
    pub fn announce(&self, run: LiveRun) {
        self.runs().insert(run.run_id, run);
    }

    /// Lists `run` (unless announced already) for as long as the entry lives.
    pub fn enter(self: &Arc<Self>, run: LiveRun) -> LiveEntry {
        let run_id = run.run_id;
        self.runs().entry(run_id).or_insert(run);
        LiveEntry(LiveHandle { runs: Arc::clone(self), run_id })
    }

    pub fn list(&self) -> Vec<LiveRun> {
        self.runs().values().cloned().collect()
    }

    pub fn contains(&self, run_id: u64) -> bool {
        self.runs().contains_key(&run_id)
    }
}

/// Changes one run's entry.
#[derive(Clone)]
pub(crate) struct LiveHandle {
    runs: Arc<LiveRuns>,
    run_id: u64,
}

impl LiveHandle {
    pub fn update(&self, change: impl FnOnce(&mut LiveRun)) {
        if let Some(run) = self.runs.runs().get_mut(&self.run_id) {
            change(run);
        }
    }
}

/// A run's entry, removed when dropped.
pub(crate) struct LiveEntry(pub LiveHandle);

impl Drop for LiveEntry {
    fn drop(&mut self) {
        self.0.runs.runs().remove(&self.0.run_id);
    }
}
