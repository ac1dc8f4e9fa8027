//! `--nats URL` (crawl, plans run, serve: this process becomes the control
//! plane of its jobs) and `spotcheck worker --nats URL`. See DEPLOY.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::cluster::{run_worker, Cluster, ClusterConfig, WorkerOptions};

/// How a control plane reaches its workers.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Hand pages to crawl workers over NATS JetStream (`spotcheck worker
    /// --nats URL` on any machine) instead of fetching them here; this process
    /// keeps the frontier, the store and the ledger. Several URLs of one
    /// cluster comma-separated.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// How long a worker may hold a task without word before JetStream gives
    /// it to another worker (a worker sends word every third of it while busy).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub ack_wait: Duration,
    /// Deliveries of one task before the page is recorded as failed.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_deliver: i64,
    /// Copies of spotcheck's streams and buckets when they are first created (3 on a 3-node cluster).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub replicas: u64,
}

impl ClusterArgs {
    fn config(&self, url: &str) -> ClusterConfig {
        ClusterConfig {
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            replicas: self.replicas as usize,
            ..ClusterConfig::new(url)
        }
    }

    /// Connected when `--nats` was given (failing at once if the server cannot be reached).
    pub async fn connect(&self) -> anyhow::Result<Option<Cluster>> {
        let Some(url) = &self.nats else { return Ok(None) };
        let cluster = Cluster::connect(self.config(url), false).await?;
        cluster.prepare_control_plane().await?;
        Ok(Some(cluster))
    }
}

/// `spotcheck worker`
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The NATS server (or several of one cluster, comma-separated). The
    /// worker waits for it, and for a control plane, and survives restarts of both.
    #[arg(long, value_name = "URL")]
    pub nats: String,
    /// Tasks in progress at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,
    /// Where captures wait for upload (default: a fresh directory under the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// The worker's name in logs and results (default: host name and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Stop after taking this many tasks.
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u64>,
    /// Bytes of a page's artifacts sent inside its result message (the rest,
    /// and anything bigger, go through the object store); 0 sends all through it.
    #[arg(long, value_name = "BYTES", default_value_t = crate::cluster::INLINE_BUDGET)]
    pub inline_budget: usize,
    /// Print what the worker did as JSON when it stops.
    #[arg(long)]
    pub json: bool,
}

pub async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let name = args.name.clone().unwrap_or_else(default_name);
    let temporary;
    let scratch = match &args.scratch {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("spotcheck-worker-")
                .tempdir()
                .context("cannot make a scratch directory")?;
            temporary.path().to_path_buf()
        }
    };
    eprintln!("worker {name}: connecting to {}", args.nats);
    let cluster = Cluster::connect(ClusterConfig::new(&args.nats), true).await?;
    eprintln!("worker {name}: connected");
    let options = WorkerOptions {
        name,
        concurrency: args.concurrency as usize,
        scratch,
        max_tasks: args.max_tasks,
        inline_budget: args.inline_budget,
    };
    let report = run_worker(cluster, options).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "worker {}: {} tasks done, {} handed back, {} dropped, {} artifacts uploaded in {:.1} s",
            report.name,
            report.tasks_done,
            report.tasks_handed_back,
            report.tasks_dropped,
            report.artifacts_uploaded,
            report.elapsed_secs
        );
    }
    Ok(())
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}
