//! What plan runs did: one [`RunSummary`] per run, durable in the store's
//! database (tree `plan_run_summaries`, key: the run id as u64
//! big-endian, value: JSON), written when the run starts and again when it
//! ends, so a run the process did not live to finish is still on record
//! (`finished_at: None`, no error). Reports read the drawn listings from here
//! (`crate::reports::Scope::Run`, `Scope::Campaign`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use kv::Tree;
use serde::{Deserialize, Serialize};

use super::due::Decision;

const TREE: &str = "plan_run_summaries";

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("plan run database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt plan run summary under run id {run_id}: {detail}")]
    Corrupt { run_id: u64, detail: String },
}

/// How a run came to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Trigger {
    /// The schedule decided it (on time, or standing for missed runs).
    Schedule { decision: Decision },
    /// Someone started it (`plans run`, the console).
    Hand,
}

/// One plan run: who started it, what it crawled, drew and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub plan: String,
    pub title: String,
    pub run_id: u64,
    pub campaign: Option<String>,
    /// The holder of the lease (station and pid for the scheduler, the person by hand).
    pub started_by: String,
    pub trigger: Trigger,
    /// The crawl job runs, one per platform, in the plan's platform order.
    pub jobs: Vec<String>,
    /// The draw's seed (64 hex digits), once drawn.
    pub seed: Option<String>,
    /// What the plan asked for.
    pub sample_size: usize,
    /// Listings the jobs captured (the population drawn from).
    pub candidates: usize,
    pub drawn: usize,
    /// No more candidates than the sample size: every one was drawn (a census, not a sample).
    pub census: bool,
    /// The drawn listings' keys (`platform/item_id`), in draw order per stratum.
    pub drawn_keys: Vec<String>,
    /// Where `draw.json`, `draw.csv` and `candidates.jsonl` are.
    pub draw_dir: Option<PathBuf>,
    pub findings_new: u64,
    pub findings_known: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the run failed (`None`: it succeeded, or is still going).
    pub error: Option<String>,
}

impl RunSummary {
    pub fn succeeded(&self) -> bool {
        self.finished_at.is_some() && self.error.is_none()
    }

    /// `running`, `succeeded` or `failed`.
    pub fn state(&self) -> &'static str {
        match (&self.finished_at, &self.error) {
            (None, _) => "running",
            (Some(_), None) => "succeeded",
            (Some(_), Some(_)) => "failed",
        }
    }
}

/// The run summaries. Cheap to clone.
#[derive(Clone)]
pub struct RunSummaries {
    tree: Tree,
}

impl RunSummaries {
    /// Opens the tree in the store's database (`Store::db()`).
    pub fn open(db: &kv::Db) -> Result<RunSummaries, SummaryError> {
        Ok(RunSummaries { tree: db.open_tree(TREE)? })
    }

    /// Stores (or replaces) `summary` and flushes.
    pub fn put(&self, summary: &RunSummary) -> Result<(), SummaryError> {
        let json = serde_json::to_vec(summary)
            .map_err(|e| SummaryError::Corrupt { run_id: summary.run_id, detail: e.to_string() })?;
        self.tree.insert(summary.run_id.to_be_bytes(), json)?;
        self.tree.flush()?;
        Ok(())
    }

    pub fn get(&self, run_id: u64) -> Result<Option<RunSummary>, SummaryError> {
        self.tree.get(run_id.to_be_bytes())?.map(|v| parse(run_id, &v)).transpose()
    }

    /// Every run, oldest first.
    pub fn all(&self) -> Result<Vec<RunSummary>, SummaryError> {
        self.tree
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let run_id = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                parse(run_id, &v)
            })
            .collect()
    }

    /// The runs of `plan`, oldest first.
    pub fn of_plan(&self, plan: &str) -> Result<Vec<RunSummary>, SummaryError> {
        Ok(self.all()?.into_iter().filter(|s| s.plan == plan).collect())
    }

    /// The runs of plans tagged with `campaign`, oldest first.
    pub fn of_campaign(&self, campaign: &str) -> Result<Vec<RunSummary>, SummaryError> {
        Ok(self.all()?.into_iter().filter(|s| s.campaign.as_deref() == Some(campaign)).collect())
    }
}

fn parse(run_id: u64, bytes: &[u8]) -> Result<RunSummary, SummaryError> {
    serde_json::from_slice(bytes).map_err(|e| SummaryError::Corrupt { run_id, detail: e.to_string() })
}
