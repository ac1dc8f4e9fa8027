//! The connection to NATS and the JetStream resources spotcheck uses: two
//! streams, a key-value bucket and an object store, created on first use
//! with the settings in [`ClusterConfig`] (DEPLOY.md explains each).

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, object_store, stream};

use super::ClusterError;

/// Work queue of page tasks, subjects `spotcheck.task.<job>`.
pub const TASKS: &str = "SPOTCHECK_TASKS";
/// Results on their way to the control plane, subjects `spotcheck.result.<job>`.
pub const RESULTS: &str = "SPOTCHECK_RESULTS";
/// Job descriptors (what a worker needs to process a job's pages), by job id.
pub const JOBS: &str = "SPOTCHECK_JOBS";
/// Capture artifacts by SHA-256 (and oversized results), on their way to the control plane.
pub const ARTIFACTS: &str = "SPOTCHECK_ARTIFACTS";
/// The durable pull consumer every worker takes tasks from.
pub const WORKERS: &str = "workers";

pub fn task_subject(job: &str) -> String {
    format!("spotcheck.task.{job}")
}

pub fn result_subject(job: &str) -> String {
    format!("spotcheck.result.{job}")
}

pub fn permit_subject(job: &str) -> String {
    format!("spotcheck.permit.{job}")
}

pub fn release_subject(job: &str) -> String {
    format!("spotcheck.release.{job}")
}

/// The control plane's durable consumer of one job's results.
pub fn results_consumer(job: &str) -> String {
    format!("results-{job}")
}

/// Where NATS is and how JetStream should keep spotcheck's work.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `nats://host:port` (several, comma-separated, for a cluster).
    pub url: String,
    /// How long a worker may hold a task without acking (or sending
    /// progress) before JetStream hands it to another worker.
    pub ack_wait: Duration,
    /// Deliveries of one task before JetStream gives up on it; the page is
    /// then recorded as failed with the reason.
    pub max_deliver: i64,
    /// Copies of every stream and bucket (3 on a 3-node cluster).
    pub replicas: usize,
    /// Cap on each stream's and the object store's bytes (`-1`: no cap).
    pub max_bytes: i64,
    /// Artifacts and results not collected within this time are dropped
    /// (a job abandoned for good); the job re-fetches them if it resumes.
    pub max_age: Duration,
}

impl ClusterConfig {
    pub fn new(url: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            url: url.into(),
            ack_wait: Duration::from_secs(60),
            max_deliver: 5,
            replicas: 1,
            max_bytes: -1,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// A connection to NATS with spotcheck's JetStream resources. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) config: ClusterConfig,
    /// Connections made so far (1 after the first; more after each reconnect).
    connections: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("url", &self.config.url).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects (retrying in the background if the server goes away later)
    /// and makes sure the streams and buckets exist. `wait`: keep trying the
    /// first connection too (workers started before their server).
    pub async fn connect(config: ClusterConfig, wait: bool) -> Result<Cluster, ClusterError> {
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = std::sync::Arc::clone(&connections);
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("{} {}", crate::TOOL, std::process::id()))
            .event_callback(move |event| {
                if matches!(event, async_nats::Event::Connected) {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                async {}
            })
            .max_reconnects(None)
            .request_timeout(Some(Duration::from_secs(10)));
        if wait {
            options = options.retry_on_initial_connect();
        }
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|e| ClusterError::Connect { url: config.url.clone(), reason: e.to_string() })?;
        let js = jetstream::new(client.clone());
        let cluster = Cluster { client, js, config, connections };
        cluster.ensure().await?;
        Ok(cluster)
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// How many times the connection was (re)established: a change means
    /// the server may have restarted and lost what it had just taken.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Creates what is missing; what exists is left as it is (DEPLOY.md: changing settings).
    async fn ensure(&self) -> Result<(), ClusterError> {
        let c = &self.config;
        for (name, subjects) in [(TASKS, "spotcheck.task.*"), (RESULTS, "spotcheck.result.*")] {
            let config = stream::Config {
                name: name.to_string(),
                subjects: vec![subjects.to_string()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                num_replicas: c.replicas,
                max_bytes: c.max_bytes,
                max_age: c.max_age,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            };
            self.js
                .get_or_create_stream(config)
                .await
                .map_err(|e| ClusterError::nats(format!("create stream {name}"), e))?;
        }
        if self.js.get_key_value(JOBS).await.is_err() {
            // The bucket's stream, as the client's `create_key_value` would
            // make it: that call first reads the account's reservations,
            // which nats-server 2.9 (Debian's) does not report.
            let config = stream::Config {
                name: format!("KV_{JOBS}"),
                subjects: vec![format!("$KV.{JOBS}.>")],
                max_messages_per_subject: 1,
                storage: stream::StorageType::File,
                num_replicas: c.replicas,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            };
            self.js
                .get_or_create_stream(config)
                .await
                .map_err(|e| ClusterError::nats(format!("create bucket {JOBS}"), e))?;
        }
        if self.js.get_object_store(ARTIFACTS).await.is_err() {
            let config = object_store::Config {
                bucket: ARTIFACTS.to_string(),
                storage: stream::StorageType::File,
                num_replicas: c.replicas,
                max_bytes: c.max_bytes,
                max_age: c.max_age,
                ..Default::default()
            };
            self.js
                .create_object_store(config)
                .await
                .map_err(|e| ClusterError::nats(format!("create object store {ARTIFACTS}"), e))?;
        }
        Ok(())
    }

    /// The workers' consumer of the task stream, created with this config's
    /// ack wait and deliveries (or recreated if it has other ones: tasks not
    /// yet acked stay in the work queue and are delivered again).
    pub async fn prepare_control_plane(&self) -> Result<(), ClusterError> {
        let stream = self.stream(TASKS).await?;
        let wanted = consumer::pull::Config {
            durable_name: Some(WORKERS.to_string()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: self.config.ack_wait,
            max_deliver: self.config.max_deliver,
            max_ack_pending: 10_000,
            ..Default::default()
        };
        if let Ok(mut existing) = stream.get_consumer::<consumer::pull::Config>(WORKERS).await {
            {
                let info = existing.info().await.map_err(|e| ClusterError::nats("read the workers' consumer", e))?;
                let same = info.config.ack_wait == wanted.ack_wait && info.config.max_deliver == wanted.max_deliver;
                if same {
                    return Ok(());
                }
                tracing::warn!(
                    "recreating the workers' consumer: ack wait {:?} → {:?}, max deliver {} → {}",
                    info.config.ack_wait,
                    wanted.ack_wait,
                    info.config.max_deliver,
                    wanted.max_deliver
                );
                stream
                    .delete_consumer(WORKERS)
                    .await
                    .map_err(|e| ClusterError::nats("delete the workers' consumer", e))?;
            }
        }
        stream.create_consumer(wanted).await.map_err(|e| ClusterError::nats("create the workers' consumer", e))?;
        Ok(())
    }

    pub(crate) async fn stream(&self, name: &str) -> Result<stream::Stream, ClusterError> {
        self.js.get_stream(name).await.map_err(|e| ClusterError::nats(format!("open stream {name}"), e))
    }

    pub(crate) async fn jobs(&self) -> Result<kv::Store, ClusterError> {
        self.js.get_key_value(JOBS).await.map_err(|e| ClusterError::nats(format!("open bucket {JOBS}"), e))
    }

    pub(crate) async fn artifacts(&self) -> Result<super::artifacts::Artifacts, ClusterError> {
        let store = self
            .js
            .get_object_store(ARTIFACTS)
            .await
            .map_err(|e| ClusterError::nats(format!("open object store {ARTIFACTS}"), e))?;
        Ok(super::artifacts::Artifacts::new(store))
    }

    /// The largest message the server takes (results beyond it go through the object store).
    pub(crate) fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }
}
