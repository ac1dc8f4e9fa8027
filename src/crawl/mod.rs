//! Crawl jobs: the loop that drives fetch → extract → store over a frontier.
//!
//! One task owns the job: it dispatches frontier entries to at most
//! `concurrency` page workers ([`page::process`]) and commits each result in
//! one store transaction. Because the frontier, the seen-set and the counters
//! are all committed with the page, a job killed at any moment resumes where
//! it stopped: pages in flight are fetched again, pages already committed
//! never are.
//!
//! Group commit: workers store captures without an fsync per file; results
//! that are ready are made durable together by one [`evidence::BlobStore::sync`]
//! running in the background, and only then committed. While one sync runs,
//! the loop keeps dispatching and collecting the next batch, so fetching never
//! waits on the disk. A committed listing therefore never points at a capture
//! that a power loss could take away.

pub(crate) mod page;
mod progress;
pub(crate) mod scope;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::OptionFuture;
use serde::Serialize;
use tokio::sync::mpsc;
use url::Url;

pub use progress::Progress;

/// Most results collected at once from the workers before a sync is started.
pub const MAX_BATCH: usize = 256;

use crate::adapters::{Adapter, FetchMode};
use crate::browser::{BrowserConfig, BrowserPool};
use crate::cluster::JobDispatch;
use crate::fetch::{FetchConfig, FetchContext, FetchError, Fetcher, HostGates, Politeness};
use crate::store::{JobRecord, JobSpec, PageResult, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("seed `{url}` is not a valid http(s) url: {reason}")]
    BadSeed { url: String, reason: String },
    #[error("a crawl needs at least one seed url or search keyword")]
    NoSeeds,
    #[error("search keywords need a search url template with `{{keyword}}` in it")]
    NoSearchUrl,
    #[error("adapter `{0}` is not known")]
    UnknownAdapter(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("evidence store: {0}")]
    Blobs(#[from] evidence::BlobError),
    #[error(transparent)]
    Browser(#[from] crate::browser::BrowserError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("the capture sync task stopped: {0}")]
    SyncTask(String),
    /// The station's own disk failed (full, read-only, I/O error). The job
    /// stops without blaming any page: every page committed so far is kept,
    /// the pages in flight are fetched again when the same command resumes.
    #[error(
        "cannot write to `{}`: {reason}; the crawl stopped and kept every page committed so far: \
         make room (or fix the data directory) and run the same command to resume",
        dir.display()
    )]
    Storage { dir: std::path::PathBuf, reason: String },
}

impl CrawlError {
    /// A failure of the station's own storage said as [`CrawlError::Storage`]
    /// (naming the directory); every other error as it is.
    fn storage_said_plainly(self, store: &Store) -> CrawlError {
        use evidence::BlobError;
        let blob = |e: &BlobError| match e {
            BlobError::Io { action, path, source } => Some(CrawlError::Storage {
                dir: path.parent().map_or_else(|| path.clone(), std::path::Path::to_path_buf),
                reason: format!("{} (cannot {action} `{}`)", crate::store::io_reason(source), path.display()),
            }),
            _ => None,
        };
        let storage = match &self {
            CrawlError::Store(e) => e
                .io_error()
                .map(|io| CrawlError::Storage { dir: store.path().to_path_buf(), reason: crate::store::io_reason(io) }),
            CrawlError::Blobs(e) | CrawlError::Fetch(FetchError::Store { source: e, .. }) => blob(e),
            _ => None,
        };
        storage.unwrap_or(self)
    }
}

/// How a job runs (not part of what it is: changing these does not make a new job).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Pages in flight at once.
    pub concurrency: usize,
    /// Overrides the adapter's politeness for the seed hosts (`Politeness::unlimited()` for benchmarks).
    pub politeness: Option<Politeness>,
    pub fetch: FetchConfig,
    /// Show no progress (JSON output, tests).
    pub quiet: bool,
    /// Hand the pages to workers over NATS instead of fetching them here
    /// (this process stays the job's control plane: store, ledger, commits).
    pub cluster: Option<crate::cluster::Cluster>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions { concurrency: 8, politeness: None, fetch: FetchConfig::default(), quiet: false, cluster: None }
    }
}

/// What one run of a job did.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub job: JobRecord,
    pub resumed: bool,
    /// Stopped early by Ctrl-C; run the same command again to resume.
    pub interrupted: bool,
    /// Stopped by `max_pages` with pages still pending.
    pub limited: bool,
    pub pages_this_run: u64,
    pub elapsed_secs: f64,
    pub pages_per_sec: f64,
}

/// Runs (or resumes) the job for `spec` until its frontier is empty, its page
/// limit is reached, or Ctrl-C. An adapter with `fetch = "browser"` gets a
/// browser pool of [`BrowserConfig::default`] for the job ([`run_job_with_browser`] to choose).
pub async fn run_job(
    store: &Store,
    blobs: evidence::BlobStore,
    adapter: Arc<Adapter>,
    spec: JobSpec,
    options: &RunOptions,
) -> Result<JobReport, CrawlError> {
    run_job_with_browser(store, blobs, adapter, spec, options, None).await
}

/// [`run_job`] with the browser pool to render `fetch = "browser"` pages in
/// (launched once per job when `None` and the adapter needs one; unused otherwise).
pub async fn run_job_with_browser(
    store: &Store,
    blobs: evidence::BlobStore,
    adapter: Arc<Adapter>,
    spec: JobSpec,
    options: &RunOptions,
    browser: Option<BrowserPool>,
) -> Result<JobReport, CrawlError> {
    match run(store, blobs, adapter, spec, options, browser).await {
        Ok(report) => Ok(report),
        Err(e) => {
            // Keep what was committed before the failure (the store makes it durable on its own within 200 ms).
            let _ = store.flush();
            Err(e.storage_said_plainly(store))
        }
    }
}

async fn run(
    store: &Store,
    blobs: evidence::BlobStore,
    adapter: Arc<Adapter>,
    spec: JobSpec,
    options: &RunOptions,
    browser: Option<BrowserPool>,
) -> Result<JobReport, CrawlError> {
    if !spec.keywords.is_empty() && !spec.search_url.as_deref().is_some_and(|t| t.contains("{keyword}")) {
        return Err(CrawlError::NoSearchUrl);
    }
    let start_urls = spec.start_urls();
    if start_urls.is_empty() {
        return Err(CrawlError::NoSeeds);
    }
    let seeds = start_urls
        .iter()
        .map(|s| match Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
            Ok(u) => Err(CrawlError::BadSeed { url: s.clone(), reason: format!("scheme `{}`", u.scheme()) }),
            Err(e) => Err(CrawlError::BadSeed { url: s.clone(), reason: e.to_string() }),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let (mut job, resumed) = store.begin_job(&spec, rand::random())?;
    let frontier = store.frontier(&job.id)?;
    let blobs = blobs.with_fsync(false); // durable by group commit, see the module docs
    let concurrency = options.concurrency.max(1);
    let (tx, mut rx) = mpsc::channel::<Result<PageResult, CrawlError>>(concurrency);
    let pages = match &options.cluster {
        None => {
            Pages::Local(Arc::new(local_pages(&spec, &seeds, adapter, options, browser, &job, blobs.clone()).await?))
        }
        Some(cluster) => {
            let gates = HostGates::new(options.fetch.default_politeness);
            let politeness = options.politeness.unwrap_or(adapter.politeness);
            for host in seeds.iter().filter_map(Url::host_str) {
                gates.set(host, politeness);
            }
            let fetch = &options.fetch;
            let (frontier, blobs, tx) = (frontier.clone(), blobs.clone(), tx.clone());
            let key = format!("{}-{}", store.instance_id()?, job.id);
            Pages::Cluster(JobDispatch::start(cluster, &key, &job, &adapter, fetch, gates, frontier, blobs, tx).await?)
        }
    };

    let mut progress = Progress::new(options.quiet);
    progress.start(&job, resumed);
    let started = Instant::now();
    let pages_at_start = job.counters.pages;
    let mut cursor = 0u64;
    // Pages are fetching (`inflight`), fetched and waiting for the next
    // capture sync (`ready`), or fetched and covered by the sync now running
    // (`syncing`); they are committed when that sync is done.
    let mut inflight = 0usize;
    let mut ready: Vec<PageResult> = Vec::new();
    let mut syncing: Vec<PageResult> = Vec::new();
    let mut sync: Option<tokio::task::JoinHandle<Result<(), evidence::BlobError>>> = None;
    let mut interrupted = false;
    let mut limited = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    loop {
        // Hand out work while there is room and budget (and the results
        // waiting for a sync are not piling up behind a slow disk).
        while !interrupted && inflight < concurrency && ready.len() < MAX_BATCH {
            let uncommitted = inflight + ready.len() + syncing.len();
            if let Some(max) = spec.max_pages {
                if job.counters.pages + uncommitted as u64 >= max {
                    limited = frontier.pending_len() > uncommitted;
                    break;
                }
            }
            let Some(next) = frontier.pending_from(cursor).next() else {
                break;
            };
            let (seq, entry) = next?;
            cursor = seq + 1;
            inflight += 1;
            match &pages {
                Pages::Local(ctx) => {
                    let (ctx, tx) = (Arc::clone(ctx), tx.clone());
                    tokio::spawn(async move {
                        let result = page::process(ctx, seq, entry).await;
                        // The receiver only goes away when the job loop has ended.
                        let _ = tx.send(result).await;
                    });
                }
                Pages::Cluster(dispatch) => dispatch.submit(seq, entry).await?,
            }
        }
        // Start a sync for what is ready, unless one is running: its results
        // wrote their captures before they were sent, so before this sync starts.
        if sync.is_none() && !ready.is_empty() {
            syncing = std::mem::take(&mut ready);
            let pending = blobs.clone();
            sync = Some(tokio::task::spawn_blocking(move || pending.sync()));
        }
        if inflight == 0 && sync.is_none() {
            if !interrupted && !limited && store.draw_sample(&mut job, &frontier)? > 0 {
                continue;
            }
            break;
        }
        tokio::select! {
            Some(result) = rx.recv(), if inflight > 0 => {
                inflight -= 1;
                ready.push(result?);
                while ready.len() < MAX_BATCH && inflight > 0 {
                    match rx.try_recv() {
                        Ok(result) => {
                            inflight -= 1;
                            ready.push(result?);
                        }
                        Err(_) => break,
                    }
                }
            }
            Some(done) = OptionFuture::from(sync.as_mut()), if sync.is_some() => {
                sync = None;
                done.map_err(|e| CrawlError::SyncTask(e.to_string()))??;
                // The captures are durable: record them in the ledger (one
                // transaction, made durable with every commit before it, one
                // fsync per batch), then commit the pages that rest on them.
                let entries = syncing.iter().filter_map(|r| r.capture.as_ref()).map(|c| c.to_entry()).collect();
                store.ledger().append(entries).map_err(StoreError::from)?;
                store.ledger().flush().map_err(StoreError::from)?;
                evidence::failpoint("crawl-after-ledger-append");
                let mut committed = Vec::with_capacity(syncing.len());
                for result in syncing.drain(..) {
                    store.commit_page(&mut job, &frontier, &result)?;
                    committed.push(result.seq);
                }
                if let Pages::Cluster(dispatch) = &pages {
                    dispatch.committed(committed).await;
                }
                progress.update(&job);
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
            }
        }
    }
    progress.finish();
    if !interrupted {
        store.finish_job(&mut job)?;
        if let Pages::Cluster(dispatch) = pages {
            dispatch.finish().await;
        }
    } else {
        store.flush()?;
    }
    let elapsed = started.elapsed();
    let pages_this_run = job.counters.pages - pages_at_start;
    Ok(JobReport {
        pages_per_sec: per_sec(pages_this_run, elapsed),
        job,
        resumed,
        interrupted,
        limited,
        pages_this_run,
        elapsed_secs: elapsed.as_secs_f64(),
    })
}

/// Where a job's pages are fetched and extracted.
enum Pages {
    /// Here, by page workers on this runtime.
    Local(Arc<page::PageContext>),
    /// By workers over NATS; this process is the control plane.
    Cluster(JobDispatch),
}

/// This process's page workers' context: the job's fetcher (with the
/// adapter's politeness for the seed hosts) and its browser if it needs one.
async fn local_pages(
    spec: &JobSpec,
    seeds: &[Url],
    adapter: Arc<Adapter>,
    options: &RunOptions,
    browser: Option<BrowserPool>,
    job: &JobRecord,
    blobs: evidence::BlobStore,
) -> Result<page::PageContext, CrawlError> {
    let browser = match (adapter.fetch, browser) {
        (FetchMode::Browser, None) => Some(
            BrowserPool::launch(BrowserConfig { network: options.fetch.network.clone(), ..BrowserConfig::default() })
                .await?,
        ),
        (FetchMode::Browser, pool) => pool,
        (FetchMode::Http, _) => None,
    };
    let fetcher = Fetcher::new(options.fetch.clone(), blobs)?;
    let politeness = options.politeness.unwrap_or(adapter.politeness);
    for host in seeds.iter().filter_map(Url::host_str) {
        fetcher.set_politeness(host, politeness);
    }
    Ok(page::PageContext {
        scope: scope::Scope::new(spec, seeds),
        adapter,
        fetcher,
        browser,
        fetch: FetchContext {
            job_id: Some(job.id.clone()),
            plan_id: spec.plan_id.clone(),
            robots_override: spec.robots_override.clone(),
        },
    })
}

fn per_sec(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}
