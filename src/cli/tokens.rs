//! `spotcheck tokens`: staff and enforcement API tokens. (Being built.)

use crate::config::{DataDir, Identity};

#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// List tokens (never their secrets).
    List,
}

pub async fn run(command: TokensCommand, _data: &DataDir, _identity: &Identity) -> anyhow::Result<bool> {
    match command {
        TokensCommand::List => anyhow::bail!("`tokens list` is not built yet"),
    }
}
