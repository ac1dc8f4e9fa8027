//! `spotcheck notices`: issue notices from cases, list them, verify delistings. (Being built.)

use crate::config::{DataDir, Identity};

#[derive(Debug, clap::Subcommand)]
pub enum NoticesCommand {
    /// List notices and where each stands.
    List,
}

pub async fn run(command: NoticesCommand, _data: &DataDir, _identity: &Identity) -> anyhow::Result<bool> {
    match command {
        NoticesCommand::List => anyhow::bail!("`notices list` is not built yet"),
    }
}
