use std::process::ExitCode;

use clap::Parser;
use spotcheck::cli::{self, Cli};

/// jemalloc, not glibc's malloc: a long-running server's freed memory goes
/// back to the system instead of staying in per-thread arenas (RELIABILITY.md, "Memory").
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPOTCHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,headless_chrome=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
