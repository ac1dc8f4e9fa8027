//! What travels over NATS, as JSON: a job's descriptor, page tasks, their
//! results, and politeness permits.

use serde::{Deserialize, Serialize};

use crate::fetch::FetchConfig;
use crate::store::{FrontierEntry, JobSpec, PageResult};

/// Header of a result message whose JSON was too big for one message: the
/// object (in the artifact store) that holds it.
pub const RESULT_OBJECT_HEADER: &str = "Spotcheck-Result-Object";

/// Header of a result message that carries artifacts after its JSON: the
/// JSON's length in bytes. The artifacts follow in [`TaskResult::inline`]'s order.
pub const INLINE_HEADER: &str = "Spotcheck-Json-Length";

/// Everything a worker needs to process a job's pages, put in the jobs
/// bucket under the job id by the control plane when the job starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobDescriptor {
    /// The job on the bus: the station's store id and the job id (job ids
    /// are only unique within one data directory).
    pub job: String,
    /// The job id, as recorded in every capture.
    pub job_id: String,
    pub spec: JobSpec,
    pub adapter: AdapterSource,
    /// The control plane's fetch settings (network policy included): workers
    /// fetch exactly as the embedded mode would.
    pub fetch: FetchConfig,
    /// How long a granted politeness permit lasts when it is not released.
    pub permit_lease_ms: u64,
}

/// The adapter a job runs, as text so every worker runs the same rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterSource {
    pub name: String,
    /// Where the control plane loaded it from (for error messages).
    pub file: String,
    /// The adapter file; `None` for the built-in `generic` adapter (code).
    pub text: Option<String>,
}

/// One page to fetch and extract.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub job: String,
    pub seq: u64,
    pub entry: FrontierEntry,
}

/// What a worker made of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResult {
    pub job: String,
    pub result: PageResult,
    /// Which worker, and on which delivery of the task (for the log).
    pub worker: String,
    pub delivered: i64,
    /// Small artifacts carried in the message itself, after the JSON; the
    /// others are in the object store under their SHA-256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<Inline>,
}

/// One artifact carried in a result message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inline {
    pub sha256: evidence::Digest,
    pub len: usize,
}

/// A worker asking for a permit to send one request to `host`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PermitRequest {
    pub host: String,
    /// How long the worker waits for the answer; a permit granted later is
    /// dropped at once instead of being held for nobody.
    pub wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermitReply {
    Granted { id: u64 },
    Refused { reason: String },
}

/// A worker done with a permit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: u64,
}
