//! `spotcheck worker --nats URL`: takes page tasks from the work queue,
//! fetches and extracts each exactly as the embedded crawl does
//! ([`crate::crawl::page::process`]), puts the capture's artifacts in the
//! object store, publishes the result, and only then acks the task.
//!
//! A task that cannot be done for a reason that is not the page's (the
//! worker's scratch disk, no politeness permit while the control plane is
//! away) is handed back with a delay; one whose job is gone is dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, message::PublishMessage, AckKind};
use evidence::BlobStore;
use futures::StreamExt;
use serde::Serialize;
use url::Url;

use super::artifacts::{digests_of, Artifacts};
use super::bus::{self, Cluster};
use super::permits::PermitClient;
use super::wire::{Inline, JobDescriptor, Task, TaskResult, INLINE_HEADER, RESULT_OBJECT_HEADER};
use super::{job_error, lock, ClusterError};
use crate::adapters::{Adapter, AdapterSet, FetchMode};
use crate::browser::{BrowserConfig, BrowserPool};
use crate::crawl::page::PageContext;
use crate::crawl::scope::Scope;
use crate::fetch::{FetchContext, Fetcher};

/// Artifacts up to this many bytes in all travel inside the result message
/// (the rest through the object store): a typical page's record and body
/// then cost the bus one message instead of a dozen object-store calls.
pub const INLINE_BUDGET: usize = 512 << 10;

/// Longest a worker keeps one task: longer than any fetch with its retries
/// and a permit wait (10 minutes) together.
const TASK_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Job contexts a worker keeps (each holds a connection pool and robots cache).
const MAX_JOBS_CACHED: usize = 16;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Name in the log and in every result (default: host name and pid).
    pub name: String,
    /// Tasks in progress at once.
    pub concurrency: usize,
    /// Where captures wait for upload (emptied as they go).
    pub scratch: PathBuf,
    /// Stop after this many tasks (tests, draining a worker).
    pub max_tasks: Option<u64>,
    /// Bytes of artifacts a result may carry itself ([`INLINE_BUDGET`]; 0:
    /// every artifact through the object store).
    pub inline_budget: usize,
}

/// What a worker did, printed when it stops.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerReport {
    pub name: String,
    pub tasks_done: u64,
    pub tasks_handed_back: u64,
    pub tasks_dropped: u64,
    pub artifacts_uploaded: u64,
    pub elapsed_secs: f64,
}

struct Worker {
    cluster: Cluster,
    options: WorkerOptions,
    artifacts: Artifacts,
    scratch: BlobStore,
    ack_wait: Duration,
    jobs: Mutex<HashMap<String, Arc<PageContext>>>,
    taken: AtomicU64,
    done: AtomicU64,
    handed_back: AtomicU64,
    dropped: AtomicU64,
    uploaded: AtomicU64,
}

/// Runs until Ctrl-C (or `max_tasks`): waits for the control plane to create
/// the work queue, then takes tasks; survives the server going away.
pub async fn run_worker(cluster: Cluster, options: WorkerOptions) -> Result<WorkerReport, ClusterError> {
    let started = Instant::now();
    let scratch = BlobStore::open(&options.scratch)
        .map_err(|e| ClusterError::nats(format!("open the scratch directory {}", options.scratch.display()), e))?
        .with_fsync(false);
    let consumer = wait_for_queue(&cluster).await?;
    let ack_wait = consumer.cached_info().config.ack_wait;
    let worker = Arc::new(Worker {
        artifacts: cluster.artifacts().await?,
        cluster,
        scratch,
        ack_wait,
        jobs: Mutex::default(),
        taken: AtomicU64::new(0),
        done: AtomicU64::new(0),
        handed_back: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        options,
    });
    tracing::info!(worker = %worker.options.name, "taking tasks");
    // One lane per task in progress, each pulling one task when it is free:
    // a task is never held in a buffer, unseen, while its ack wait runs out.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..worker.options.concurrency.max(1) {
        lanes.spawn(Arc::clone(&worker).lane(consumer.clone(), stopped.clone()));
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                // The tasks in progress finish (each acks or hands back its own).
                let _ = stop.send(true);
                while lanes.join_next().await.is_some() {}
                break;
            }
            lane = lanes.join_next() => if lane.is_none() { break },
        }
    }
    Ok(WorkerReport {
        name: worker.options.name.clone(),
        tasks_done: worker.done.load(Ordering::Relaxed),
        tasks_handed_back: worker.handed_back.load(Ordering::Relaxed),
        tasks_dropped: worker.dropped.load(Ordering::Relaxed),
        artifacts_uploaded: worker.uploaded.load(Ordering::Relaxed),
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// One task, or none within a few seconds (also when the server went away
/// mid-request: its answer would never come).
async fn pull_one(consumer: &consumer::Consumer<consumer::pull::Config>) -> Result<Option<jetstream::Message>, String> {
    let pull = async {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        match batch.next().await {
            Some(Ok(message)) => Ok(Some(message)),
            Some(Err(e)) => Err(e.to_string()),
            None => Ok(None),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), pull).await.unwrap_or(Ok(None))
}

/// The workers' consumer, once a control plane has created it.
async fn wait_for_queue(cluster: &Cluster) -> Result<consumer::Consumer<consumer::pull::Config>, ClusterError> {
    let mut said = false;
    loop {
        if let Ok(stream) = cluster.stream(bus::TASKS).await {
            if let Ok(consumer) = stream.get_consumer(bus::WORKERS).await {
                return Ok(consumer);
            }
        }
        if !said {
            tracing::info!("waiting for a control plane to create the work queue");
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Worker {
    /// Pulls and handles one task at a time until told to stop or `max_tasks` are taken.
    async fn lane(
        self: Arc<Self>,
        consumer: consumer::Consumer<consumer::pull::Config>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            // A ticket for the task about to be taken, given back if none comes.
            let ticket = self.taken.fetch_add(1, Ordering::SeqCst);
            if self.options.max_tasks.is_some_and(|max| ticket >= max) {
                return;
            }
            let next = tokio::select! {
                _ = stop.changed() => return,
                next = pull_one(&consumer) => next,
            };
            match next {
                Ok(Some(message)) => self.handle(message).await,
                Ok(None) => {
                    self.taken.fetch_sub(1, Ordering::SeqCst);
                }
                Err(e) => {
                    self.taken.fetch_sub(1, Ordering::SeqCst);
                    tracing::debug!(error = %e, "cannot pull a task; trying again");
                    tokio::select! {
                        _ = stop.changed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    async fn handle(&self, message: jetstream::Message) {
        let task: Task = match serde_json::from_slice(&message.payload) {
            Ok(task) => task,
            Err(e) => {
                tracing::warn!(error = %e, "dropping an unreadable task");
                self.drop_task(&message).await;
                return;
            }
        };
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let stream_seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        let context = match self.context(&task.job).await {
            Ok(Some(context)) => context,
            Ok(None) => {
                tracing::info!(job = %task.job, seq = task.seq, "dropping a task of a job that is gone");
                self.drop_task(&message).await;
                return;
            }
            Err(e) => {
                tracing::warn!(job = %task.job, error = %e, "cannot set up the job; handing the task back");
                self.hand_back(&message).await;
                return;
            }
        };
        // Keep the task ours while it takes long (a slow host, waiting for a permit).
        let keep_alive = {
            let (every, message) = (self.ack_wait / 3, message.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every.max(Duration::from_millis(200))).await;
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            })
        };
        // However it hangs (a transfer cut by a server restart), the task goes
        // back in the end instead of being kept alive for ever.
        let outcome = tokio::time::timeout(TASK_TIMEOUT, self.process(context, &task, delivered, stream_seq))
            .await
            .unwrap_or_else(|_| Err(job_error(&task.job, "the task took longer than 20 minutes")));
        keep_alive.abort();
        match outcome {
            Ok(()) => {
                if let Err(e) = message.double_ack().await {
                    // The result is out; a second delivery publishes a duplicate the control plane drops.
                    tracing::debug!(error = %e, "cannot ack a finished task");
                }
                self.done.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(job = %task.job, seq = task.seq, url = %task.entry.url, "task done");
            }
            Err(e) => {
                tracing::warn!(job = %task.job, seq = task.seq, error = %e, "handing the task back");
                self.hand_back(&message).await;
            }
        }
    }

    /// Fetch, extract, upload, publish.
    async fn process(
        &self,
        context: Arc<PageContext>,
        task: &Task,
        delivered: i64,
        stream_seq: u64,
    ) -> Result<(), ClusterError> {
        let result = crate::crawl::page::process(context, task.seq, task.entry.clone())
            .await
            .map_err(|e| ClusterError::Job { job: task.job.clone(), reason: e.to_string() })?;
        let digests = result.capture.as_ref().map(digests_of).unwrap_or_default();
        let budget = self.options.inline_budget.min(self.cluster.max_payload() / 2);
        let (inline, mut carried) = self.carry(&digests, budget).await;
        let mut answer =
            TaskResult { job: task.job.clone(), result, worker: self.options.name.clone(), delivered, inline };
        let mut json = serde_json::to_vec(&answer).map_err(|e| job_error(&task.job, e))?;
        if json.len() + carried.len() + 4096 > self.cluster.max_payload() {
            // A big result: everything through the object store.
            (answer.inline, carried) = (Vec::new(), Vec::new());
            json = serde_json::to_vec(&answer).map_err(|e| job_error(&task.job, e))?;
        }
        let inline = &answer.inline;
        let stored: Vec<_> = digests.iter().filter(|d| !inline.iter().any(|i| i.sha256 == **d)).copied().collect();
        let uploaded = self.artifacts.upload(&self.scratch, &stored).await?;
        self.uploaded.fetch_add(uploaded as u64, Ordering::Relaxed);
        for digest in &digests {
            let _ = std::fs::remove_file(self.scratch.path_of(digest));
        }
        evidence::failpoint("worker-after-upload");

        // The same delivery of the same task publishing twice (a retried publish) is one message.
        let id = format!("{}.{}.{stream_seq}.{delivered}", task.job, task.seq);
        let message = if json.len() + 4096 > self.cluster.max_payload() {
            let name = self.artifacts.put_bytes(&json).await?;
            PublishMessage::build().header(RESULT_OBJECT_HEADER, name.as_str()).message_id(id)
        } else if !inline.is_empty() {
            let length = json.len().to_string();
            json.extend_from_slice(&carried);
            PublishMessage::build().header(INLINE_HEADER, length.as_str()).payload(json.into()).message_id(id)
        } else {
            PublishMessage::build().payload(json.into()).message_id(id)
        };
        self.cluster
            .js
            .send_publish(bus::result_subject(&task.job), message)
            .await
            .map_err(|e| ClusterError::nats("publish a result", e))?
            .await
            .map_err(|e| ClusterError::nats("publish a result", e))?;
        Ok(())
    }

    /// The artifacts (smallest first) that fit in `budget` bytes, read from
    /// scratch, to carry in the result message; and their bytes in that order.
    async fn carry(&self, digests: &[evidence::Digest], budget: usize) -> (Vec<Inline>, Vec<u8>) {
        let mut sized: Vec<(u64, evidence::Digest)> = digests
            .iter()
            .filter_map(|d| std::fs::metadata(self.scratch.path_of(d)).ok().map(|m| (m.len(), *d)))
            .collect();
        sized.sort();
        let (mut inline, mut bytes) = (Vec::new(), Vec::new());
        for (len, digest) in sized {
            if bytes.len() as u64 + len > budget as u64 {
                break;
            }
            // Gone meanwhile (another task with the same bytes uploaded it): it travels by the object store.
            let Ok(read) = tokio::fs::read(self.scratch.path_of(&digest)).await else { continue };
            inline.push(Inline { sha256: digest, len: read.len() });
            bytes.extend_from_slice(&read);
        }
        (inline, bytes)
    }

    async fn hand_back(&self, message: &jetstream::Message) {
        self.handed_back.fetch_add(1, Ordering::Relaxed);
        let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(2)))).await;
    }

    async fn drop_task(&self, message: &jetstream::Message) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        // Acked, not terminated: nats-server 2.9 keeps a terminated message in a work queue.
        let _ = message.double_ack().await;
    }

    /// The job's context (adapter, fetcher, scope, browser), built once from its descriptor.
    async fn context(&self, job: &str) -> Result<Option<Arc<PageContext>>, ClusterError> {
        if let Some(context) = lock(&self.jobs).get(job) {
            return Ok(Some(Arc::clone(context)));
        }
        let Some(bytes) = self
            .cluster
            .jobs()
            .await?
            .get(job)
            .await
            .map_err(|e| ClusterError::nats(format!("read the descriptor of job {job}"), e))?
        else {
            return Ok(None);
        };
        let descriptor: JobDescriptor =
            serde_json::from_slice(&bytes).map_err(|e| job_error(job, format!("bad descriptor: {e}")))?;
        let context = Arc::new(self.build(descriptor).await?);
        let mut jobs = lock(&self.jobs);
        if jobs.len() >= MAX_JOBS_CACHED {
            jobs.clear();
        }
        Ok(Some(Arc::clone(jobs.entry(job.to_string()).or_insert(context))))
    }

    async fn build(&self, d: JobDescriptor) -> Result<PageContext, ClusterError> {
        let adapter = match &d.adapter.text {
            Some(text) => {
                Arc::new(Adapter::from_toml(std::path::Path::new(&d.adapter.file), text).map_err(|problems| {
                    let first = problems.first().map(ToString::to_string).unwrap_or_default();
                    job_error(&d.job, format!("adapter `{}` does not compile here: {first}", d.adapter.name))
                })?)
            }
            None => AdapterSet::builtin()
                .get(&d.adapter.name)
                .ok_or_else(|| job_error(&d.job, format!("no built-in adapter `{}`", d.adapter.name)))?,
        };
        let seeds = d.spec.start_urls().iter().filter_map(|s| Url::parse(s).ok()).collect::<Vec<_>>();
        let permits = PermitClient::new(self.cluster.client.clone(), &d.job);
        let fetcher = Fetcher::with_gatekeeper(d.fetch.clone(), self.scratch.clone(), Arc::new(permits))
            .map_err(|e| job_error(&d.job, e))?;
        let browser = match adapter.fetch {
            FetchMode::Browser => Some(
                BrowserPool::launch(BrowserConfig { network: d.fetch.network.clone(), ..BrowserConfig::default() })
                    .await
                    .map_err(|e| job_error(&d.job, e))?,
            ),
            FetchMode::Http => None,
        };
        Ok(PageContext {
            scope: Scope::new(&d.spec, &seeds),
            adapter,
            fetcher,
            browser,
            fetch: FetchContext {
                job_id: Some(d.job_id.clone()),
                plan_id: d.spec.plan_id.clone(),
                robots_override: d.spec.robots_override.clone(),
            },
        })
    }
}

/// 12 hex digits, random: a run's or a worker's id.
pub(crate) fn short_id() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}
