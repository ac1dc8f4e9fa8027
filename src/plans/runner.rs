//! Running plans: [`PlanRunner`] takes a plan from its lease to its findings.
//!
//! A run has three stages ([`Stage`], see [`super::stages`]):
//! 1. **gathering**: one crawl job per platform of the plan (its seed URLs on
//!    that platform, its keywords through a configured search URL, the plan's
//!    politeness), `JobSpec::plan_id` = the plan; then the listings those jobs
//!    captured are the population;
//! 2. **drawing**: the plan's stratified, optionally risk-weighted "双随机"
//!    draw with a fresh random seed, written to
//!    `<data>/plans/runs/<plan>/<run id>/{draw.json,draw.csv,candidates.jsonl}`
//!    (`spotcheck sample verify DIR` redoes it); a sample size of at least the
//!    candidates draws them all and the summary says it was a census;
//! 3. **flagging**: the rules over the drawn listings, findings recorded.
//!
//! The run holds the plan's lease ([`Scheduler`]) throughout and renews it
//! every third of its ttl; it ends with [`Scheduler::finish`]. Its
//! [`RunSummary`] is stored when it starts and when it ends
//! ([`RunSummaries`]). Runs going on in this process are listed by
//! [`PlanRunner::live`] with their crawl job ids from the moment each job
//! begins (the id is computed from the spec with `Store::job_id_for`), so a
//! console can read each job's counters with `Store::job`.
//!
//! [`PlanRunner::schedule_loop`] reloads the [`PlanBook`] every round and asks
//! the scheduler about each plan ([`PlanRunner::round`], with an explicit
//! `now` for tests); started runs are spawned on tokio.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::book::PlanBook;
use super::compile::Plan;
use super::live::{LiveHandle, LiveRun, LiveRuns, Stage};
use super::runs::{RunSummaries, RunSummary, SummaryError, Trigger};
use super::scheduler::{Begin, Lease, RunOutcome, RunTicket, Scheduler, SchedulerError};
use super::stages;
use crate::adapters::AdapterSet;
use crate::config::{DataDir, Identity};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error(transparent)]
    Summary(#[from] SummaryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("plan `{plan}`: platform `{platform}` has no adapter")]
    UnknownPlatform { plan: String, platform: String },
    #[error(
        "plan `{plan}`: platform `{platform}` has no seed URL among the plan's, and no search URL for its keywords"
    )]
    NoStart { plan: String, platform: String },
    #[error("plan `{plan}`, platform `{platform}`: the crawl failed: {source}")]
    Crawl { plan: String, platform: String, source: Box<crate::crawl::CrawlError> },
    #[error("plan `{plan}`, platform `{platform}`: the crawl was interrupted")]
    Interrupted { plan: String, platform: String },
    #[error("plan `{plan}`: the crawl captured no listing of the plan to draw from")]
    NothingToDraw { plan: String },
    #[error("cannot open the evidence store: {0}")]
    Blobs(#[from] evidence::BlobError),
    #[error(transparent)]
    Sampling(#[from] crate::sampling::SamplingError),
    #[error("cannot load the rules: {0}")]
    Rules(#[from] crate::rules::RulesError),
    #[error("cannot read the spot-check history `{}`: {detail}", .path.display())]
    History { path: PathBuf, detail: String },
    #[error("a plan run needs a tokio runtime to be spawned on")]
    NoRuntime,
    #[error("a plan run's task failed: {0}")]
    Task(String),
}

/// How the runner runs plans.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Pages in flight per crawl job.
    pub concurrency: usize,
    /// No rate limit at all (only for servers you run yourself: the sample marketplace).
    pub politeness_off: bool,
    /// How long a run's lease lasts without renewal (a crashed run blocks its plan this long).
    pub lease_ttl: chrono::Duration,
    /// Adapter name → search URL with `{keyword}`, for plans with keywords.
    pub search_urls: BTreeMap<String, String>,
    /// Stop each crawl job after this many pages.
    pub max_pages: Option<u64>,
    /// Past spot-check results CSV (`uscc,company,date,product,result`): risk weights and `shop.repeat_offender`.
    pub history: Option<PathBuf>,
    /// The operator's network allowances, for every plan (each plan's own `allow_hosts` are added).
    pub network: crate::fetch::NetworkPolicy,
    /// Crawl through workers over NATS (this process is the control plane).
    pub cluster: Option<crate::cluster::Cluster>,
    /// The seed of every draw, instead of a fresh random one (`plans run --seed`).
    pub draw_seed: Option<crate::sampling::Seed>,
}

impl Default for RunnerOptions {
    fn default() -> RunnerOptions {
        RunnerOptions {
            concurrency: 8,
            politeness_off: false,
            lease_ttl: chrono::Duration::minutes(10),
            search_urls: BTreeMap::new(),
            max_pages: None,
            history: None,
            network: crate::fetch::NetworkPolicy::default(),
            cluster: None,
            draw_seed: None,
        }
    }
}

/// What one scheduling round did for one plan.
pub struct RoundStart {
    pub plan: String,
    pub begin: Begin,
    /// The spawned run, when `begin` started one.
    pub run: Option<tokio::task::JoinHandle<Result<RunSummary, RunnerError>>>,
}

/// Runs plans. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct PlanRunner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    data: DataDir,
    identity: Identity,
    adapters: AdapterSet,
    options: RunnerOptions,
    scheduler: Scheduler,
    summaries: RunSummaries,
    live: Arc<LiveRuns>,
    /// Counts the runs this process finished (see [`PlanRunner::wait`]).
    finished: tokio::sync::watch::Sender<u64>,
}

impl PlanRunner {
    pub fn new(
        store: Store,
        data: DataDir,
        identity: Identity,
        adapters: AdapterSet,
        options: RunnerOptions,
    ) -> Result<PlanRunner, RunnerError> {
        let scheduler = Scheduler::open(store.db())?;
        let summaries = RunSummaries::open(store.db())?;
        let live = Arc::new(LiveRuns::default());
        let (finished, _) = tokio::sync::watch::channel(0);
        let inner = Inner { store, data, identity, adapters, options, scheduler, summaries, live, finished };
        Ok(PlanRunner { inner: Arc::new(inner) })
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The adapter names plans are compiled against.
    pub fn adapter_names(&self) -> Vec<String> {
        self.inner.adapters.names()
    }

    /// The plan book of the runner's data directory.
    pub fn book(&self) -> PlanBook {
        PlanBook::open(&self.inner.data)
    }

    /// The lease holder of this process's scheduler: station and pid.
    pub fn holder(&self) -> String {
        format!("{}/pid {}", self.inner.identity.station, std::process::id())
    }

    /// Where run `run_id` of `plan` writes its draw files.
    pub fn run_dir(&self, plan: &str, run_id: u64) -> PathBuf {
        self.book().dir().join("runs").join(plan).join(run_id.to_string())
    }

    /// Starts a run of `plan` by hand for `actor` and spawns it on the current
    /// tokio runtime; returns its run id at once, or `Err(lease)` when a run
    /// of the plan holds the lease.
    pub fn run_now(&self, plan: &Plan, actor: &str) -> Result<Result<u64, Lease>, RunnerError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RunnerError::NoRuntime)?;
        let ticket = match self.start_by_hand(plan, actor)? {
            Ok(ticket) => ticket,
            Err(lease) => return Ok(Err(lease)),
        };
        let run_id = ticket.run_id;
        // Listed from now on, before the task is first polled.
        self.inner.live.announce(LiveRun::starting(&plan.id, run_id, Utc::now()));
        runtime.spawn(self.clone().logged_run(plan.clone(), ticket));
        Ok(Ok(run_id))
    }

    /// Waits until run `run_id`, going in this process, has finished and
    /// returns its summary. A run not going here answers at once: its summary
    /// as recorded (unfinished if its process died), or `None` if there is none.
    pub async fn wait(&self, run_id: u64) -> Result<Option<RunSummary>, RunnerError> {
        let mut finished = self.inner.finished.subscribe();
        loop {
            // A run going here is listed before its summary is first stored and
            // until after it is last stored; one not going here will not change.
            let going = self.inner.live.contains(run_id);
            match self.inner.summaries.get(run_id)? {
                Some(s) if s.finished_at.is_some() || !going => return Ok(Some(s)),
                None if !going => return Ok(None),
                _ => {}
            }
            if finished.changed().await.is_err() {
                return Ok(self.inner.summaries.get(run_id)?);
            }
        }
    }

    /// Takes the plan's lease for a run by hand (then [`PlanRunner::run_ticket`]).
    pub fn start_by_hand(&self, plan: &Plan, actor: &str) -> Result<Result<RunTicket, Lease>, RunnerError> {
        Ok(self.inner.scheduler.start_by_hand(plan, actor, Utc::now(), self.inner.options.lease_ttl)?)
    }

    /// The run itself (see the module docs). A run that fails is still
    /// `Ok`: its summary carries the error and the scheduler records it as
    /// failed. `Err` means the outcome could not be recorded.
    pub async fn run_ticket(&self, plan: Plan, ticket: RunTicket) -> Result<RunSummary, RunnerError> {
        let started_at = Utc::now();
        let live = self.inner.live.enter(LiveRun::starting(&plan.id, ticket.run_id, started_at));
        let result = self.run_listed(&plan, ticket, started_at, &live.0).await;
        drop(live);
        self.inner.finished.send_modify(|n| *n += 1);
        result
    }

    /// [`PlanRunner::run_ticket`] for a spawned task: an outcome that could
    /// not be recorded is logged, since no one may be awaiting the task.
    async fn logged_run(self, plan: Plan, ticket: RunTicket) -> Result<RunSummary, RunnerError> {
        let (id, run_id) = (plan.id.clone(), ticket.run_id);
        let result = self.run_ticket(plan, ticket).await;
        if let Err(e) = &result {
            tracing::error!(plan = %id, run = run_id, "cannot record the plan run: {e}");
        }
        result
    }

    async fn run_listed(
        &self,
        plan: &Plan,
        ticket: RunTicket,
        started_at: DateTime<Utc>,
        live: &LiveHandle,
    ) -> Result<RunSummary, RunnerError> {
        let mut summary = RunSummary {
            plan: plan.id.clone(),
            title: plan.title.clone(),
            run_id: ticket.run_id,
            campaign: plan.campaign.clone(),
            started_by: ticket.lease.holder.clone(),
            trigger: ticket.decision.clone().map_or(Trigger::Hand, |decision| Trigger::Schedule { decision }),
            jobs: Vec::new(),
            seed: None,
            sample_size: plan.sample_size,
            candidates: 0,
            drawn: 0,
            census: false,
            drawn_keys: Vec::new(),
            draw_dir: None,
            findings_new: 0,
            findings_known: 0,
            started_at,
            finished_at: None,
            error: None,
        };
        self.inner.summaries.put(&summary)?;
        let ticket = Arc::new(tokio::sync::Mutex::new(ticket));
        let renewal =
            tokio::spawn(renew(self.inner.scheduler.clone(), Arc::clone(&ticket), self.inner.options.lease_ttl));
        let result = self.stages(plan, &mut summary, live).await;
        renewal.abort();
        let _ = renewal.await; // gone before the run is: it holds the database too
        summary.finished_at = Some(Utc::now());
        let outcome = match &result {
            // The scheduler's record names one job; a plan run has one per platform, comma-separated.
            Ok(()) => RunOutcome::Succeeded { job: Some(summary.jobs.join(",")) },
            Err(e) => {
                summary.error = Some(e.to_string());
                RunOutcome::Failed { error: e.to_string() }
            }
        };
        if let Err(e) = &result {
            tracing::warn!(plan = %plan.id, run = summary.run_id, "plan run failed: {e}");
        }
        self.inner.summaries.put(&summary)?;
        let ticket = ticket.lock().await;
        self.inner.scheduler.finish(&ticket, outcome, Utc::now())?;
        Ok(summary)
    }

    async fn stages(&self, plan: &Plan, summary: &mut RunSummary, live: &LiveHandle) -> Result<(), RunnerError> {
        let inner = &self.inner;
        // Gathering: one crawl job per platform.
        let specs = stages::job_specs(plan, &inner.adapters, &inner.options.search_urls, inner.options.max_pages)?;
        let blobs = evidence::BlobStore::open(inner.data.blobs())?;
        let mut jobs = Vec::new();
        for (adapter, spec) in specs {
            let platform = adapter.name.clone();
            let job_id = inner.store.job_id_for(&spec)?;
            summary.jobs.push(job_id.clone());
            inner.summaries.put(summary)?;
            live.update(|l| l.jobs.push(job_id));
            let options = self.crawl_options(plan, &adapter);
            let report =
                crate::crawl::run_job_with_browser(&inner.store, blobs.clone(), adapter.clone(), spec, &options, None)
                    .await
                    .map_err(|e| RunnerError::Crawl {
                        plan: plan.id.clone(),
                        platform: platform.clone(),
                        source: Box::new(e),
                    })?;
            if report.interrupted {
                return Err(RunnerError::Interrupted { plan: plan.id.clone(), platform });
            }
            if let Some(last) = summary.jobs.last_mut() {
                last.clone_from(&report.job.id);
            }
            jobs.push((adapter.platform.clone(), report.job));
        }
        // Drawing and flagging: CPU and disk work, off the async threads.
        live.update(|l| l.stage = Stage::Drawing);
        let runner = self.clone();
        let (plan_c, run_id) = (plan.clone(), summary.run_id);
        let dir = self.run_dir(&plan.id, run_id);
        let live_runs = live.clone();
        let done = tokio::task::spawn_blocking(move || runner.draw_and_flag(&plan_c, &jobs, &dir, &live_runs))
            .await
            .map_err(|e| RunnerError::Task(e.to_string()))??;
        summary.seed = Some(done.seed);
        summary.candidates = done.candidates;
        summary.drawn = done.drawn_keys.len();
        summary.census = done.census;
        summary.drawn_keys = done.drawn_keys;
        summary.draw_dir = Some(done.dir);
        summary.findings_new = done.recorded.new;
        summary.findings_known = done.recorded.known;
        Ok(())
    }

    fn draw_and_flag(
        &self,
        plan: &Plan,
        jobs: &[(String, crate::store::JobRecord)],
        dir: &std::path::Path,
        live: &LiveHandle,
    ) -> Result<DrawDone, RunnerError> {
        let store = &self.inner.store;
        let population = stages::population(store, jobs)?;
        let shops: Vec<crate::model::Shop> = store.latest_shops().collect::<Result<_, _>>()?;
        let rules = crate::rules::RuleSet::builtin()?;
        let today = Utc::now().with_timezone(&super::shanghai()).date_naive();
        let history = self.history()?.unwrap_or_default();
        let candidates = stages::candidates(plan, &population, &shops, &rules, &history, today);
        let seed = self.inner.options.draw_seed.unwrap_or_else(|| crate::sampling::Seed(rand::random()));
        let drawn = stages::draw_sample(plan, &candidates, seed, dir)?;
        live.update(|l| l.stage = Stage::Flagging);
        let drawn_keys: Vec<String> = drawn.draw.items().map(|(_, item)| item.key.clone()).collect();
        let keys = drawn_keys.iter().cloned().collect();
        let recorded = stages::flag_drawn(store, &rules, &population, &shops, &keys, self.history()?, today)?;
        Ok(DrawDone {
            seed: seed.to_hex(),
            candidates: candidates.len(),
            census: drawn.census,
            drawn_keys,
            dir: dir.to_path_buf(),
            recorded,
        })
    }

    fn history(&self) -> Result<Option<crate::rules::CheckHistory>, RunnerError> {
        let Some(path) = &self.inner.options.history else {
            return Ok(None);
        };
        let bad = |detail: String| RunnerError::History { path: path.clone(), detail };
        let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        crate::rules::CheckHistory::from_csv(file).map(Some).map_err(|e| bad(e.to_string()))
    }

    fn crawl_options(&self, plan: &Plan, adapter: &crate::adapters::Adapter) -> crate::crawl::RunOptions {
        let mut options = crate::crawl::RunOptions {
            concurrency: self.inner.options.concurrency,
            quiet: true,
            cluster: self.inner.options.cluster.clone(),
            ..crate::crawl::RunOptions::default()
        };
        options.fetch.station = Some(self.inner.identity.station.clone());
        options.fetch.operators = self.inner.identity.operators.clone();
        options.fetch.network = self.inner.options.network.clone().with(plan.allow_hosts.iter().cloned());
        options.politeness = if self.inner.options.politeness_off {
            Some(crate::fetch::Politeness::unlimited())
        } else if plan.politeness.rate.is_some() || plan.politeness.concurrency.is_some() {
            let mut p = adapter.politeness;
            p.rate = plan.politeness.rate.unwrap_or(p.rate);
            p.concurrency = plan.politeness.concurrency.unwrap_or(p.concurrency);
            Some(p)
        } else {
            None
        };
        options
    }

    /// The runs going on in this process, oldest first.
    pub fn live(&self) -> Vec<LiveRun> {
        self.inner.live.list()
    }

    /// The recorded runs of `plan`, oldest first.
    pub fn summaries(&self, plan: &str) -> Result<Vec<RunSummary>, RunnerError> {
        Ok(self.inner.summaries.of_plan(plan)?)
    }

    pub fn summary(&self, run_id: u64) -> Result<Option<RunSummary>, RunnerError> {
        Ok(self.inner.summaries.get(run_id)?)
    }

    /// Every recorded run, oldest first.
    pub fn all_summaries(&self) -> Result<Vec<RunSummary>, RunnerError> {
        Ok(self.inner.summaries.all()?)
    }

    /// One scheduling round at `now`: every plan of `book` that compiles is
    /// put to [`Scheduler::begin`] (holder [`PlanRunner::holder`]); started
    /// runs are spawned. Plans with problems are logged and skipped; a plan
    /// the scheduler cannot decide is logged and left for the next round.
    pub fn round(&self, book: &PlanBook, now: DateTime<Utc>) -> Vec<RoundStart> {
        let names = self.adapter_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for (file, compiled) in book.list(&names) {
            let plan = match compiled {
                Ok(plan) => plan,
                Err(problems) => {
                    for p in problems {
                        tracing::warn!(file = %file.display(), "plan skipped: {p}");
                    }
                    continue;
                }
            };
            let begin = match self.inner.scheduler.begin(&plan, &self.holder(), now, self.inner.options.lease_ttl) {
                Ok(begin) => begin,
                Err(e) => {
                    tracing::warn!(plan = %plan.id, "cannot schedule the plan: {e}");
                    continue;
                }
            };
            let run = match &begin {
                Begin::Started(ticket) => Some(tokio::spawn(self.clone().logged_run(plan.clone(), ticket.clone()))),
                Begin::Skipped(decision) => {
                    tracing::info!(plan = %plan.id, ?decision, "missed runs skipped by the plan's policy");
                    None
                }
                Begin::Waiting { .. } | Begin::Busy(_) => None,
            };
            out.push(RoundStart { plan: plan.id, begin, run });
        }
        out
    }

    /// Forever: a [`PlanRunner::round`] every `every` (on the wall clock).
    /// Runs it starts go on in the background.
    pub async fn schedule_loop(self, book: PlanBook, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every.max(std::time::Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for start in self.round(&book, Utc::now()) {
                if start.run.is_some() {
                    tracing::info!(plan = %start.plan, "plan run started by the schedule");
                }
            }
        }
    }
}

/// What the blocking half of a run produced.
struct DrawDone {
    seed: String,
    candidates: usize,
    census: bool,
    drawn_keys: Vec<String>,
    dir: PathBuf,
    recorded: crate::findings::Recorded,
}

/// Renews the run's lease every third of its ttl until aborted.
async fn renew(scheduler: Scheduler, ticket: Arc<tokio::sync::Mutex<RunTicket>>, ttl: chrono::Duration) {
    let every = (ttl / 3).to_std().unwrap_or(std::time::Duration::from_secs(60)).max(std::time::Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let mut ticket = ticket.lock().await;
        if let Err(e) = scheduler.renew(&mut ticket, Utc::now(), ttl) {
            tracing::warn!(plan = %ticket.plan, run = ticket.run_id, "cannot renew the run's lease: {e}");
            return;
        }
    }
}
