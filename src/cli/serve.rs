//! `spotcheck serve`: the web console (`/console/`) and the API (platforms,
//! staff, enforcement, admin) over the
//! station's database, the notices outbox worker that delivers webhooks while
//! the server runs, and verification rounds (`--verify-every`) that re-crawl
//! what platforms say they removed, and plan runs: the schedule
//! (`--schedule-every`) and the console's "run now".
//!
//! Like `spotcheck market serve`, it binds first and prints
//! `listening on http://HOST:PORT` as the first stdout line, so scripts and
//! tests can start it on port 0 and read where it went. Ctrl-C (or SIGTERM) stops taking
//! requests, stops the worker (an attempt cut short is retried by the next
//! run: deliveries are at least once) and flushes the database.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::server::ServerLimits;
use crate::api::{self, ApiState, RateLimit};
use crate::cases::{merge, Triage};
use crate::config::{DataDir, Identity};
use crate::console::desk::PlanDesk;
use crate::console::{self, ConsoleState, Sessions};
use crate::notices::{DeliveryConfig, OutboxWorker, PlatformRegistry};
use crate::sealing::Station;

/// Flags of `spotcheck serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub addr: SocketAddr,
    /// The platform registry (`[[platform]]` tables); without it no key authenticates and no webhook is sent.
    #[arg(long, value_name = "FILE")]
    pub platforms: Option<PathBuf>,
    /// Routing table for confirmations (the format of `rules/data/routing.toml`); default: the built-in one.
    #[arg(long, value_name = "TOML")]
    pub routing: Option<PathBuf>,
    /// Findings confirmed within this many days of a case's last finding join it (并案).
    #[arg(long, default_value_t = merge::DEFAULT_WINDOW_DAYS)]
    pub window_days: i64,
    /// Requests a key or token may make per second, sustained.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
    /// Requests a key or token may make at once before the rate applies.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: u32,
    /// Do not run the webhook outbox worker (another process delivers).
    #[arg(long)]
    pub no_outbox: bool,
    /// The first webhook retry waits up to this many milliseconds (doubling per attempt, full jitter).
    #[arg(long, default_value_t = 2000)]
    pub webhook_backoff_ms: u64,
    /// How often the outbox worker looks for due events, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub outbox_poll_ms: u64,
    /// Run a verification round (`notices verify`) every this many seconds; 0: never.
    #[arg(long, default_value_t = 300)]
    pub verify_every: u64,
    /// Days after a verified removal before the listing is looked at again for relisting.
    #[arg(long, default_value_t = 7)]
    pub relist_after_days: i64,
    /// Look for due plan runs (`plans/<id>.toml` in the data directory) every this many seconds; 0: never (the console can still run a plan by hand).
    #[arg(long, default_value_t = 30)]
    pub schedule_every: u64,
    /// Seconds a client has to send a request's head (slow clients are cut off; also the idle keep-alive limit).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds from a request's head to its answer, upload included (408 beyond).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// Connections open at once, from everyone.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Connections open at once from one IP address.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_ip: u64,
    /// How plan runs crawl.
    #[command(flatten, next_help_heading = "Plan runs")]
    pub plans: super::plans::RunnerArgs,
}

impl ServeArgs {
    fn rate_limit(&self) -> RateLimit {
        let burst = std::num::NonZeroU32::new(self.burst).unwrap_or(std::num::NonZeroU32::MIN);
        RateLimit { period: Duration::from_secs(1) / self.rate.max(1), burst }
    }

    fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(self.header_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_ip: usize::try_from(self.max_connections_per_ip).unwrap_or(usize::MAX),
            ..ServerLimits::default()
        }
    }

    fn delivery(&self) -> DeliveryConfig {
        DeliveryConfig {
            base_backoff: Duration::from_millis(self.webhook_backoff_ms),
            poll_interval: Duration::from_millis(self.outbox_poll_ms.max(1)),
            ..DeliveryConfig::default()
        }
    }
}

/// Opens the store and the station (bundles are sealed with its key, as by
/// the CLI), binds, prints the address and serves until Ctrl-C.
pub async fn run(args: ServeArgs, data: &DataDir, identity: &Identity) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on `{}`", args.addr))?;
    serve(listener, args, data, identity, |addr| {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
        // Scripts read the one stdout line; people read this.
        eprintln!("console at http://{addr}/console/ (accounts: `spotcheck users add`)");
        Ok(())
    })
    .await
}

/// Serves on `listener` until Ctrl-C: the API, the console, the outbox
/// worker and verification rounds. `listening` is called once everything is
/// open, with the bound address (the demo prints its console line there).
pub async fn serve(
    listener: tokio::net::TcpListener,
    args: ServeArgs,
    data: &DataDir,
    identity: &Identity,
    listening: impl FnOnce(SocketAddr) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let registry = match &args.platforms {
        Some(path) => PlatformRegistry::load(path)?,
        None => PlatformRegistry::default(),
    };
    let store = data.open_store()?;
    let triage = Triage::configured(&store, args.routing.as_deref(), args.window_days)?;
    let station = Station::open(data, &store, identity)
        .with_context(|| format!("cannot open the station key in `{}`", data.keys().display()))?;
    let state =
        ApiState::open(&store, registry.clone(), triage, args.rate_limit())?.with_station(data.clone(), station);
    let worker = if args.no_outbox {
        None
    } else {
        Some(OutboxWorker::spawn(state.notices.outbox().clone(), Arc::new(registry), args.delivery())?)
    };
    let verification = if args.verify_every == 0 {
        None
    } else {
        let fetch = args.plans.network.fetch_config(identity);
        let relist_after = chrono::Duration::days(args.relist_after_days.max(0));
        let verifier = super::notices::verifier(&store, data, identity, fetch, relist_after)?;
        Some(tokio::spawn(verifier.run_every(Duration::from_secs(args.verify_every))))
    };
    let mut plans = args.plans.clone();
    if plans.history.is_none() {
        // An imported spot-check history, when there is one, weights plan runs' draws by risk.
        let imported = data.root().join(crate::console::shops::HISTORY_FILE);
        plans.history = imported.exists().then_some(imported);
    }
    let runner = super::plans::runner_on(&plans, store.clone(), data, identity, None).await?;
    let schedule = (args.schedule_every > 0)
        .then(|| tokio::spawn(runner.clone().schedule_loop(runner.book(), Duration::from_secs(args.schedule_every))));
    let console = ConsoleState::open(state.clone(), data.clone())
        .context("cannot open the console's accounts")?
        .with_plans(PlanDesk::new(runner));
    let sweeper = tokio::spawn(sweep_sessions(console.sessions.clone()));
    let app = api::app(state).merge(console::router(console));

    let addr = listener.local_addr().context("cannot read the bound address")?;
    // Handlers first: a Ctrl-C sent the moment the address is read must stop
    // us gracefully, not kill us by default.
    let stop = shutdown_signal().context("cannot install the Ctrl-C / SIGTERM handlers")?;
    listening(addr).context("cannot write to stdout")?;

    let served = api::server::serve(listener, app, args.limits(), stop).await.context("the api server stopped");
    sweeper.abort();
    if let Some(schedule) = schedule {
        // A run cut short keeps its lease until it expires; the next start takes it over (recorded).
        schedule.abort();
    }
    if let Some(rounds) = verification {
        // A round cut short leaves its notices due; the next run checks them.
        rounds.abort();
    }
    if let Some(worker) = worker {
        worker.abort();
        // The worker ends at its next await point; a panic in it would show here.
        if let Err(e) = worker.await {
            if !e.is_cancelled() {
                tracing::warn!("outbox worker ended badly: {e}");
            }
        }
    }
    store.db().flush().context("cannot flush the database")?;
    served
}

/// Removes expired console sessions every ten minutes.
async fn sweep_sessions(sessions: Sessions) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(e) = sessions.sweep(chrono::Utc::now()) {
            tracing::warn!("cannot sweep console sessions: {e}");
        }
    }
}

impl ServeArgs {
    /// The defaults of `spotcheck serve`, listening on `addr` (the demo's `--serve`).
    pub fn defaults(addr: SocketAddr) -> anyhow::Result<ServeArgs> {
        use clap::{Args, FromArgMatches};
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let mut args = ServeArgs::from_arg_matches(&command.try_get_matches_from(["serve"])?)?;
        args.addr = addr;
        Ok(args)
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what service managers send);
/// the handlers are registered when this is called, not when first polled.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
