//! `spotcheck market serve`: the sample marketplace on loopback, with optional
//! exports of its ground truth and reference data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use url::Url;

use crate::market::{self, Market, MarketConfig, MarketError};

/// Flags of `spotcheck market serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct MarketServeArgs {
    /// Generator seed: the same seed serves the same site, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of listings over both platforms (generated on demand; 1,000,000 is fine).
    #[arg(long, default_value_t = 2000)]
    pub listings: u64,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Write the ground truth (JSON Lines: one listing with its `violations` per line).
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Write the CCC certificate registry (CSV: number,holder,product,models,status,expiry).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Write the past spot-check history (CSV: uscc,company,date,product,result).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// Binds, writes the requested exports (streamed), prints
/// `listening on http://HOST:PORT` as the first line of stdout, and serves until Ctrl-C.
pub async fn serve(args: MarketServeArgs) -> anyhow::Result<()> {
    let market = Arc::new(Market::new(MarketConfig { seed: args.seed, listings: args.listings, count_hits: false }));
    // Bind first: the truth's URLs carry the real port.
    let (addr, server) = market::serve(Arc::clone(&market), args.addr).await?;
    let base = Url::parse(&format!("http://{addr}/")).with_context(|| format!("cannot make a base url of `{addr}`"))?;

    let exports = Arc::clone(&market);
    let (truth, registry, history) = (args.truth.clone(), args.registry.clone(), args.history.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        if let Some(path) = &truth {
            export(path, |out| exports.write_truth(&base, out))?;
        }
        if let Some(path) = &registry {
            export(path, |out| exports.write_registry(out))?;
        }
        if let Some(path) = &history {
            export(path, |out| exports.write_history(out))?;
        }
        Ok(())
    })
    .await
    .context("the export task failed")??;

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}").context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);

    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.context("cannot listen for ctrl-c")?,
        result = server => result.context("the sample marketplace stopped")?,
    }
    Ok(())
}

/// Streams one export into `path`.
fn export(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<u64, MarketError>) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?;
    let mut out = BufWriter::new(file);
    let rows = write(&mut out).with_context(|| format!("cannot write `{}`", path.display()))?;
    tracing::info!(path = %path.display(), rows, "export written");
    Ok(())
}
