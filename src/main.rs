use std::process::ExitCode;

use clap::Parser;
use spotcheck::cli::{self, Cli};

/// jemalloc, not glibc's malloc: a long-running server's freed memory goes
/// back to the system instead of staying in per-thread arenas (RELIABILITY.md, "Memory").
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator's own figures, logged at debug level on `spotcheck::memory`
/// when that target is on (`SPOTCHECK_LOG=info,spotcheck::memory=debug`):
/// what the program holds (`allocated_kib`) next to what the allocator keeps
/// from the system (`resident_kib`), so a growing RSS can be told apart from a
/// growing heap. `spotcheck bench soak` reads them.
#[cfg(all(unix, not(target_env = "musl")))]
fn log_heap_every(every: std::time::Duration) {
    use tikv_jemalloc_ctl::{epoch, stats};
    if !tracing::enabled!(target: "spotcheck::memory", tracing::Level::DEBUG) {
        return;
    }
    let kib = |bytes: tikv_jemalloc_ctl::Result<usize>| bytes.map_or(0, |b| b / 1024);
    let log = move || {
        // The figures are a snapshot taken when the epoch advances.
        if epoch::advance().is_ok() {
            tracing::debug!(
                target: "spotcheck::memory",
                allocated_kib = kib(stats::allocated::read()),
                active_kib = kib(stats::active::read()),
                metadata_kib = kib(stats::metadata::read()),
                resident_kib = kib(stats::resident::read()),
                retained_kib = kib(stats::retained::read()),
                "heap"
            );
        }
    };
    // The first line before the command runs, so it heads the log.
    log();
    let report = move || loop {
        std::thread::sleep(every);
        log();
    };
    if let Err(e) = std::thread::Builder::new().name("heap-stats".into()).spawn(report) {
        tracing::warn!("cannot start the heap statistics thread: {e}");
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPOTCHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,headless_chrome=error")),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; plain text for a log file, which
        // people grep and `bench soak` reads.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    #[cfg(all(unix, not(target_env = "musl")))]
    log_heap_every(std::time::Duration::from_secs(10));
    // The blocking pool runs extraction and blob writes: CPU-bound work on a few
    // cores, so a few threads per core (not tokio's default of 512) keep the
    // thread count, and the memory each thread's allocator arena holds, small.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(4 * cores).build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
