//! `spotcheck serve`: the platform-facing API over the station's database.
//!
//! Like `spotcheck market serve`, it binds first and prints
//! `listening on http://HOST:PORT` as the first stdout line, so scripts and
//! tests can start it on port 0 and read where it went.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::api::{self, ApiState, RateLimit};
use crate::config::DataDir;
use crate::notices::PlatformRegistry;
use crate::store::Store;

/// Flags of `spotcheck serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub addr: SocketAddr,
    /// The platform registry (`[[platform]]` tables); without it no key authenticates.
    #[arg(long, value_name = "FILE")]
    pub platforms: Option<PathBuf>,
}

/// Opens the store, binds, prints the address and serves until Ctrl-C.
pub async fn run(args: ServeArgs, data: &DataDir) -> anyhow::Result<()> {
    let registry = match &args.platforms {
        Some(path) => PlatformRegistry::load(path)?,
        None => PlatformRegistry::default(),
    };
    let store = Store::open(&data.db())?;
    let app = api::app(ApiState::open(store.db(), registry, RateLimit::default())?);

    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on `{}`", args.addr))?;
    let addr = listener.local_addr().context("cannot read the bound address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}").context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);

    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        // An error here means no signal handler; then only a kill stops us, which is fine.
        let _ = tokio::signal::ctrl_c().await;
    });
    server.await.context("the api server stopped")?;
    store.db().flush().context("cannot flush the database")?;
    Ok(())
}
