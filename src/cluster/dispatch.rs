//! The control plane's side of one crawl job: pages go out as tasks, results
//! come back into the crawl loop's channel as if a local page worker had
//! sent them, and are acked once the loop has committed them.
//!
//! A result is taken when its page is still pending in the frontier and no
//! other result for it was taken; anything else (a task done twice, a result
//! for a page committed before a restart) is acked and dropped. A result that
//! arrives before this run handed its page out (sent before a restart) is
//! kept until the loop asks for that page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, message::PublishMessage, AckKind};
use evidence::BlobStore;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::artifacts::{digests_of, Artifacts};
use super::bus::{self, Cluster};
use super::permits::PermitService;
use super::wire::{AdapterSource, JobDescriptor, Task, TaskResult, INLINE_HEADER, RESULT_OBJECT_HEADER};
use super::{job_error, lock, ClusterError};
use crate::adapters::Adapter;
use crate::crawl::CrawlError;
use crate::fetch::{FetchConfig, HostGates};
use crate::store::{FrontierEntry, JobFrontier, JobRecord, PageOutcome, PageResult};

/// How long a task's publication is retried (the server restarting, a
/// cluster electing a new leader) before the job stops with the error.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(120);

/// Results taken at once (their artifacts downloaded in parallel).
const TAKING_AT_ONCE: usize = 32;

/// Where the crawl loop's results go.
pub type Results = mpsc::Sender<Result<PageResult, CrawlError>>;

pub struct JobDispatch {
    shared: Arc<Shared>,
    /// A fresh id per run of the control plane: a task re-published after a
    /// restart is a new message, never taken for a duplicate of the old one.
    incarnation: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    permits: PermitService,
}

struct Shared {
    cluster: Cluster,
    job: String,
    artifacts: Artifacts,
    blobs: BlobStore,
    frontier: JobFrontier,
    results: Results,
    state: Mutex<State>,
    /// Acks and deletions of committed results going on.
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    /// Handed out in this run and not answered yet.
    outstanding: HashMap<u64, Outstanding>,
    /// Taken and not committed yet: seq → (the result message, objects to delete once committed).
    accepted: HashMap<u64, (jetstream::Message, Vec<String>)>,
    /// Taken before this run handed their page out.
    early: HashMap<u64, PageResult>,
    /// Being taken now (artifacts on their way): a second result for one of these is dropped.
    taking: std::collections::HashSet<u64>,
}

impl Drop for JobDispatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl JobDispatch {
    /// Publishes the job's descriptor, opens its results consumer and starts
    /// serving its permits. `gates` hold the job's politeness (its seed hosts
    /// set from the adapter), as the embedded fetcher's would.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        cluster: &Cluster,
        key: &str,
        job: &JobRecord,
        adapter: &Adapter,
        fetch: &FetchConfig,
        gates: HostGates,
        frontier: JobFrontier,
        blobs: BlobStore,
        results: Results,
    ) -> Result<JobDispatch, ClusterError> {
        cluster.prepare_control_plane().await?;
        let lease = fetch.timeout + fetch.connect_timeout + Duration::from_secs(5);
        let descriptor = JobDescriptor {
            job: key.to_string(),
            job_id: job.id.clone(),
            spec: job.spec.clone(),
            adapter: AdapterSource {
                name: adapter.name.clone(),
                file: adapter.source.display().to_string(),
                text: adapter.text.as_deref().map(str::to_string),
            },
            fetch: fetch.clone(),
            permit_lease_ms: lease.as_millis() as u64,
        };
        let bytes = serde_json::to_vec(&descriptor).map_err(|e| job_error(key, e))?;
        if bytes.len() + 1024 > cluster.max_payload() {
            return Err(job_error(
                key,
                format!(
                    "its descriptor (adapter `{}` included) is {} bytes, over the server's message limit",
                    adapter.name,
                    bytes.len()
                ),
            ));
        }
        cluster
            .jobs()
            .await?
            .put(key, bytes.into())
            .await
            .map_err(|e| ClusterError::nats(format!("publish the descriptor of job {key}"), e))?;

        let permits = PermitService::start(cluster.client.clone(), key, Arc::new(gates), lease).await?;
        let stream = cluster.stream(bus::RESULTS).await?;
        let consumer = stream
            .get_or_create_consumer(
                &bus::results_consumer(key),
                consumer::pull::Config {
                    durable_name: Some(bus::results_consumer(key)),
                    filter_subject: bus::result_subject(key),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(300),
                    max_ack_pending: 100_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| ClusterError::nats(format!("open the results consumer of job {key}"), e))?;
        let advisories = cluster
            .client
            .subscribe(format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}", bus::TASKS, bus::WORKERS))
            .await
            .map_err(|e| ClusterError::nats("subscribe to max-delivery advisories", e))?;

        let shared = Arc::new(Shared {
            cluster: cluster.clone(),
            job: key.to_string(),
            artifacts: cluster.artifacts().await?,
            blobs,
            frontier,
            results,
            state: Mutex::default(),
            background: Mutex::default(),
        });
        let take = tokio::spawn(Arc::clone(&shared).take_results(consumer));
        let give_up = tokio::spawn(Arc::clone(&shared).give_up_on_dead_tasks(advisories));
        // Longer than a task may take while its worker lives (ack wait × deliveries), at least 2 minutes.
        let config = cluster.config();
        let patience = (config.ack_wait * (config.max_deliver.max(1) as u32 + 1)).max(Duration::from_secs(120));
        let resend = tokio::spawn(Arc::clone(&shared).resend_lost(patience));
        Ok(JobDispatch {
            shared,
            incarnation: crate::cluster::worker::short_id(),
            tasks: vec![take, give_up, resend],
            permits,
        })
    }

    /// Hands page `seq` to the workers (or to the loop at once, when its
    /// result came in before it was asked for).
    pub async fn submit(&self, seq: u64, entry: FrontierEntry) -> Result<(), ClusterError> {
        let s = &self.shared;
        let early = {
            let mut state = lock(&s.state);
            let early = state.early.remove(&seq);
            if early.is_none() {
                // Before publishing: a fast worker's result must find it outstanding.
                let (sent, connection) = (Instant::now(), s.cluster.connections());
                state.outstanding.insert(seq, Outstanding { url: entry.url.clone(), stream_seq: 0, sent, connection });
            }
            early
        };
        if let Some(result) = early {
            let _ = s.results.send(Ok(result)).await;
            return Ok(());
        }
        let published = s.publish(seq, entry, &self.incarnation).await;
        if published.is_err() {
            lock(&s.state).outstanding.remove(&seq);
        }
        published
    }

    /// The loop committed these pages: ack their results and delete their artifacts.
    pub async fn committed(&self, seqs: impl IntoIterator<Item = u64>) {
        let s = &self.shared;
        let done: Vec<_> = {
            let mut state = lock(&s.state);
            seqs.into_iter().filter_map(|seq| state.accepted.remove(&seq)).collect()
        };
        // In the background: the loop goes on committing meanwhile. A result
        // whose ack is lost is delivered again later and dropped as committed.
        let shared = Arc::clone(s);
        let acks = tokio::spawn(async move {
            futures::stream::iter(done)
                .for_each_concurrent(TAKING_AT_ONCE, |(message, objects)| {
                    let shared = &shared;
                    async move {
                        if let Err(e) = message.double_ack().await {
                            tracing::debug!(error = %e, "cannot ack a committed result");
                        }
                        shared.artifacts.delete(objects).await;
                    }
                })
                .await;
        });
        let mut background = lock(&s.background);
        background.retain(|task| !task.is_finished());
        background.push(acks);
    }

    /// The job is finished: remove its descriptor, results consumer and any task left.
    pub async fn finish(self) {
        let s = &self.shared;
        let acks: Vec<_> = lock(&s.background).drain(..).collect();
        for task in acks {
            let _ = task.await;
        }
        if let Ok(stream) = s.cluster.stream(bus::TASKS).await {
            let _ = stream.purge().filter(bus::task_subject(&s.job)).await;
        }
        if let Ok(stream) = s.cluster.stream(bus::RESULTS).await {
            let _ = stream.delete_consumer(&bus::results_consumer(&s.job)).await;
            // Results of tasks done twice, which no one will take now.
            let _ = stream.purge().filter(bus::result_subject(&s.job)).await;
        }
        if let Ok(jobs) = s.cluster.jobs().await {
            let _ = jobs.delete(&s.job).await;
        }
        tracing::debug!(job = %s.job, permits_held = self.permits.held(), "cluster job finished");
    }
}

/// A page handed out and not answered yet.
struct Outstanding {
    url: String,
    /// The task's sequence in the task stream (0 until published).
    stream_seq: u64,
    /// When it was last published, and on which connection.
    sent: Instant,
    connection: u64,
}

/// A result message read: the result, the objects it came in, and the artifacts it carried.
struct Decoded {
    result: TaskResult,
    objects: Vec<String>,
    inline: Vec<(evidence::Digest, bytes::Bytes)>,
}

impl Shared {
    /// Takes results in batches for ever. A batch is one pull request with
    /// a short expiry (a long-lived pull stream stalled silently when the
    /// server restarted under it); waiting is bounded, taking is not cut short
    /// (each take's own calls have deadlines).
    async fn take_results(self: Arc<Self>, consumer: consumer::Consumer<consumer::pull::Config>) {
        loop {
            let pull = consumer.fetch().max_messages(TAKING_AT_ONCE).expires(Duration::from_secs(2)).messages();
            let mut messages = match tokio::time::timeout(Duration::from_secs(5), pull).await {
                Ok(Ok(messages)) => messages,
                Ok(Err(e)) => {
                    tracing::debug!(job = %self.job, error = %e, "cannot pull results; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(_) => continue,
            };
            let mut taking = futures::stream::FuturesUnordered::new();
            loop {
                tokio::select! {
                    next = tokio::time::timeout(Duration::from_secs(5), messages.next()) => match next {
                        Ok(Some(Ok(message))) => taking.push(self.take(message)),
                        Ok(Some(Err(e))) => tracing::debug!(job = %self.job, error = %e, "results batch"),
                        Ok(None) | Err(_) => break,
                    },
                    Some(()) = taking.next(), if !taking.is_empty() => {}
                }
            }
            while taking.next().await.is_some() {}
        }
    }

    async fn take(&self, message: jetstream::Message) {
        let decoded = match self.decode(&message).await {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!(job = %self.job, error = %e, "dropping an unreadable result");
                // Acked, not terminated: nats-server 2.9 keeps a terminated message in a work queue.
                let _ = message.ack().await;
                return;
            }
        };
        let seq = decoded.result.result.seq;
        let pending = self.frontier.is_pending(seq).unwrap_or(true);
        let first = pending && {
            let mut state = lock(&self.state);
            !state.accepted.contains_key(&seq) && state.taking.insert(seq)
        };
        if !first {
            tracing::debug!(job = %self.job, seq, worker = %decoded.result.worker, "dropping a result already taken");
            let _ = message.ack().await;
            return;
        }
        self.take_first(message, decoded).await;
        lock(&self.state).taking.remove(&seq);
    }

    /// The first result for a pending page: its artifacts, then to the loop.
    async fn take_first(&self, message: jetstream::Message, decoded: Decoded) {
        let Decoded { result, mut objects, inline } = decoded;
        let seq = result.result.seq;
        let digests = result.result.capture.as_ref().map(digests_of).unwrap_or_default();
        let stored: Vec<_> = digests.iter().filter(|d| !inline.iter().any(|(i, _)| i == *d)).copied().collect();
        let kept = {
            let blobs = self.blobs.clone();
            tokio::task::spawn_blocking(move || {
                for (digest, bytes) in inline.iter().filter(|(d, _)| !blobs.contains(d)) {
                    blobs
                        .put(bytes)
                        .map_err(|e| ClusterError::Artifact { digest: digest.to_hex(), reason: e.to_string() })?;
                }
                Ok::<(), ClusterError>(())
            })
            .await
            .unwrap_or_else(|e| Err(job_error(&self.job, e)))
        };
        let fetched = match kept {
            Ok(()) => self.artifacts.download(&self.blobs, &stored).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = fetched {
            tracing::warn!(job = %self.job, seq, error = %e, "cannot take a result's artifacts");
            match e {
                // Gone for good (expired): hand the page out again.
                ClusterError::Missing { .. } => {
                    let _ = message.ack().await;
                    self.redo(seq).await;
                }
                _ => {
                    let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                }
            }
            return;
        }
        objects.extend(Artifacts::names(&stored));
        let forward = {
            let mut state = lock(&self.state);
            state.accepted.insert(seq, (message, objects));
            if state.outstanding.remove(&seq).is_some() {
                Some(result.result)
            } else {
                state.early.insert(seq, result.result);
                None
            }
        };
        if let Some(result) = forward {
            let _ = self.results.send(Ok(result)).await;
        }
    }

    /// A result message's content, and the object its JSON travelled in (if it was too big).
    async fn decode(&self, message: &jetstream::Message) -> Result<Decoded, ClusterError> {
        let header = |name| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.to_string());
        let bad = |what: String| job_error(&self.job, format!("bad result: {what}"));
        let (bytes, objects) = match header(RESULT_OBJECT_HEADER) {
            Some(name) => (bytes::Bytes::from(self.artifacts.get(&name).await?), vec![name]),
            None => (message.payload.clone(), Vec::new()),
        };
        let json_len = match header(INLINE_HEADER) {
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= bytes.len())
                .ok_or_else(|| bad(format!("{INLINE_HEADER} `{n}`")))?,
            None => bytes.len(),
        };
        let result: TaskResult = serde_json::from_slice(&bytes[..json_len]).map_err(|e| bad(e.to_string()))?;
        if result.job != self.job {
            return Err(job_error(&self.job, format!("a result of job {} on its subject", result.job)));
        }
        // The carried artifacts, each checked against its name.
        let mut inline = Vec::with_capacity(result.inline.len());
        let mut at = json_len;
        for item in &result.inline {
            let end = at
                .checked_add(item.len)
                .filter(|end| *end <= bytes.len())
                .ok_or_else(|| bad("artifacts cut short".into()))?;
            let body = bytes.slice(at..end);
            if evidence::Digest::of(&body) != item.sha256 {
                return Err(bad(format!("artifact {} does not hash to its name", item.sha256.to_hex())));
            }
            inline.push((item.sha256, body));
            at = end;
        }
        if at != bytes.len() {
            return Err(bad(format!("{} bytes after the artifacts", bytes.len() - at)));
        }
        Ok(Decoded { result, objects, inline })
    }

    /// Publishes page `seq`'s task, retrying through a server restart, and
    /// records where it went. The id is the same on every attempt: a publish
    /// that landed but whose ack was lost is not queued twice.
    async fn publish(&self, seq: u64, entry: FrontierEntry, run: &str) -> Result<(), ClusterError> {
        let task = Task { job: self.job.clone(), seq, entry };
        let payload = bytes::Bytes::from(serde_json::to_vec(&task).map_err(|e| job_error(&self.job, e))?);
        let id = format!("{}.{seq}.{run}", self.job);
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let message = PublishMessage::build().payload(payload.clone()).message_id(&id);
            let attempt = async {
                match self.cluster.js.send_publish(bus::task_subject(&self.job), message).await {
                    Ok(ack) => ack.await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            };
            // One attempt may hang on a connection that died under it.
            let sent = tokio::time::timeout(Duration::from_secs(10), attempt)
                .await
                .unwrap_or_else(|_| Err("no answer within 10 s".to_string()));
            match sent {
                Ok(ack) => {
                    if let Some(out) = lock(&self.state).outstanding.get_mut(&seq) {
                        out.stream_seq = ack.sequence;
                    }
                    return Ok(());
                }
                Err(e) if started.elapsed() < PUBLISH_PATIENCE => {
                    tracing::warn!(job = %self.job, seq, error = %e, "cannot publish a task yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(ClusterError::nats(format!("publish task {seq} of job {}", self.job), e)),
            }
        }
    }

    /// Publishes page `seq` again under a fresh id (its first task or result
    /// was lost), if it is still outstanding and pending.
    async fn redo(&self, seq: u64) {
        {
            let mut state = lock(&self.state);
            let Some(out) = state.outstanding.get_mut(&seq) else { return };
            (out.sent, out.connection) = (Instant::now(), self.cluster.connections());
        }
        let Ok(Some(entry)) = self.frontier.pending_entry(seq) else { return };
        let run = crate::cluster::worker::short_id();
        if let Err(e) = self.publish(seq, entry, &run).await {
            tracing::warn!(job = %self.job, seq, error = %e, "cannot hand a page out again");
        }
    }

    /// Hands out again what may have been lost: every outstanding page after
    /// a reconnect (a server killed outright can come back without the last
    /// messages and acks it took), and any page unanswered for `after`.
    async fn resend_lost(self: Arc<Self>, after: Duration) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let connection = self.cluster.connections();
            tracing::debug!(job = %self.job, connection, outstanding = lock(&self.state).outstanding.len(), "resend check");
            let lost: Vec<u64> = lock(&self.state)
                .outstanding
                .iter()
                .filter(|(_, out)| out.connection < connection || out.sent.elapsed() >= after)
                .map(|(seq, _)| *seq)
                .collect();
            if !lost.is_empty() {
                tracing::info!(job = %self.job, pages = lost.len(), "handing out again pages whose task or result may be lost");
            }
            for seq in lost {
                self.redo(seq).await;
            }
        }
    }

    /// JetStream gave up on a task (every delivery died or was handed back):
    /// the page is recorded as failed with the reason, and the job goes on.
    async fn give_up_on_dead_tasks(self: Arc<Self>, mut advisories: async_nats::Subscriber) {
        #[derive(serde::Deserialize)]
        struct Advisory {
            stream_seq: u64,
            deliveries: u64,
        }
        while let Some(message) = advisories.next().await {
            let Ok(advisory) = serde_json::from_slice::<Advisory>(&message.payload) else { continue };
            let found = {
                let mut state = lock(&self.state);
                let seq = state
                    .outstanding
                    .iter()
                    .find(|(_, out)| out.stream_seq == advisory.stream_seq)
                    .map(|(seq, _)| *seq);
                seq.and_then(|seq| state.outstanding.remove(&seq).map(|out| (seq, out.url)))
            };
            let Some((seq, url)) = found else { continue };
            if let Ok(stream) = self.cluster.stream(bus::TASKS).await {
                let _ = stream.delete_message(advisory.stream_seq).await;
            }
            let error = format!(
                "no worker finished `{url}`: JetStream delivered the task {} times and every worker died or handed it back",
                advisory.deliveries
            );
            tracing::warn!(job = %self.job, seq, "{error}");
            let failed = PageResult { seq, url, outcome: PageOutcome::Failed { error, robots: false }, capture: None };
            let _ = self.results.send(Ok(failed)).await;
        }
    }
}
