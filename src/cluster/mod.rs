//! Scale-out: crawl workers on many machines, coordinated by NATS JetStream.
//!
//! The embedded mode (one process fetches, extracts and commits) stays the
//! default. With `--nats URL` the process that runs a crawl job (`serve`,
//! `plans run`, `crawl`) becomes the job's **control plane**: it keeps the
//! frontier, the store and the ledger, and hands pages to **workers**
//! (`spotcheck worker --nats URL`, any number, on any machine) which fetch,
//! extract and capture them:
//!
//! ```text
//!  control plane (crawl loop)                      NATS JetStream                       workers
//!  frontier ─► dispatch::submit ──► Task ──► stream SPOTCHECK_TASKS (work queue) ──► worker: pull (consumer `workers`)
//!                                            KV SPOTCHECK_JOBS: JobDescriptor ─────► adapter text, fetch config
//!  permits: per-host token bucket + slots ◄── request spotcheck.permit.<job> ◄──── Fetcher's Gatekeeper, per request
//!  artifacts::download (SHA-256 checked) ◄── object store SPOTCHECK_ARTIFACTS ◄── artifacts::upload, keyed by SHA-256
//!  dispatch results loop ◄── TaskResult ◄── stream SPOTCHECK_RESULTS ◄────────────── publish, then ack the task
//!  sync blobs → ledger → commit_page → ack the result → delete its artifacts
//! ```
//!
//! What holds, and why:
//! - **Politeness per host across all workers**: a worker's fetcher asks the
//!   control plane for a permit before every request (robots.txt, redirects
//!   and retries included); the control plane grants it from the same
//!   token bucket and concurrency slots the embedded fetcher uses, so the
//!   bound is the embedded one. A permit not released within its lease (a
//!   dead worker) frees its slot when the lease ends.
//! - **Nothing stored twice**: artifacts are named by their SHA-256, and a
//!   worker skips any already in the object store (a redelivered task).
//! - **No result lost or duplicated**: a task is acked only after its result
//!   is in the results stream; a result is acked only after its page is
//!   committed; a result for a page already committed or already accepted is
//!   dropped. A worker dying mid-task leaves the task unacked, so JetStream
//!   delivers it again after the ack wait.
//! - **The control plane restarting**: the job resumes from its committed
//!   frontier (as in the embedded mode); results waiting in the stream are
//!   taken, pages in flight are handed out again; workers waiting for a permit
//!   keep their tasks alive with progress acks and retry until it is back.

mod artifacts;
mod bus;
mod dispatch;
mod permits;
mod wire;
mod worker;

pub use bus::{Cluster, ClusterConfig};
pub use dispatch::JobDispatch;
pub use worker::{run_worker, WorkerOptions, WorkerReport, INLINE_BUDGET};

/// What can go wrong talking to NATS, said with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to NATS at `{url}`: {reason}")]
    Connect { url: String, reason: String },
    #[error("NATS: cannot {action}: {reason}")]
    Nats { action: String, reason: String },
    #[error("job `{job}`: {reason}")]
    Job { job: String, reason: String },
    #[error("object {name} is not in the object store (expired or deleted)")]
    Missing { name: String },
    #[error("artifact {digest}: {reason}")]
    Artifact { digest: String, reason: String },
}

impl ClusterError {
    fn nats(action: impl Into<String>, reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::Nats { action: action.into(), reason: reason.to_string() }
    }
}

fn job_error(job: &str, reason: impl std::fmt::Display) -> ClusterError {
    ClusterError::Job { job: job.to_string(), reason: reason.to_string() }
}

/// A lock that a panic elsewhere does not poison for good.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
