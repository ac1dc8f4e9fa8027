//! `spotcheck plans …` (being written: see issue 8).

use crate::config::{DataDir, Identity};

#[derive(Debug, clap::Subcommand)]
pub enum PlansCommand {
    /// Check every plan file and list problems with file:line:col.
    Check,
}

pub async fn run(command: PlansCommand, _data: &DataDir, _identity: &Identity) -> anyhow::Result<bool> {
    match command {
        PlansCommand::Check => anyhow::bail!("not yet"),
    }
}
