//! `spotcheck evidence …`: the station key, the ledger, bundles and their
//! verification.

use anyhow::Context;
use clap::Subcommand;

use crate::config::{DataDir, Identity};
use crate::sealing::Station;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Show the station's public key and fingerprint (the key is generated on first use).
    Key(KeyArgs),
    /// The hash-chained ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Print the public key as PEM too.
    #[arg(long)]
    pub pem: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Re-check the whole chain, every tree node and every checkpoint signature.
    Verify(JsonArgs),
    /// Sign a checkpoint over everything recorded so far.
    Checkpoint(JsonArgs),
}

#[derive(Debug, clap::Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an evidence command; `Ok(false)` when a verification failed.
pub async fn run(command: EvidenceCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let store =
        Store::open(&data.db()).with_context(|| format!("cannot open the station in `{}`", data.root().display()))?;
    let station = Station::open(data, &store, identity)?;
    match command {
        EvidenceCommand::Key(args) => {
            let public = station.key.public();
            if station.key_created {
                println!("generated a new station key");
            }
            println!("fingerprint  {}", public.fingerprint());
            println!(
                "private key  {} (mode 0600)",
                data.keys().join(evidence::keys::StationKey::PRIVATE_FILE).display()
            );
            println!("public key   {}", data.keys().join(evidence::keys::StationKey::PUBLIC_FILE).display());
            if args.pem {
                print!("{}", public.to_pem());
            }
            Ok(true)
        }
        EvidenceCommand::Ledger(LedgerCommand::Checkpoint(args)) => {
            let signed = station.checkpoint()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&signed)?);
            } else {
                print!("{}", signed.text);
                println!("signature: {}", signed.signature);
            }
            Ok(true)
        }
        EvidenceCommand::Ledger(LedgerCommand::Verify(args)) => {
            let started = std::time::Instant::now();
            let report = station.verify_ledger()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "ledger: {} entries, {} checkpoints, {} timestamp tokens checked in {:.2}s",
                    report.entries,
                    report.checkpoints,
                    report.tokens,
                    started.elapsed().as_secs_f64()
                );
                if let Some(cp) = &report.latest {
                    println!("latest checkpoint: {} entries, root {}, signed {}", cp.size, cp.root, cp.time);
                }
                for p in &report.problems {
                    println!("FAILED {} at {}: {}", p.check, p.at, p.detail);
                }
                println!("{}", if report.ok() { "ledger verified" } else { "LEDGER DOES NOT VERIFY" });
            }
            Ok(report.ok())
        }
    }
}
