//! `spotcheck users …` (being written: see issue 8).

use crate::config::DataDir;

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// List console accounts.
    List,
}

pub fn run(command: UsersCommand, _data: &DataDir) -> anyhow::Result<bool> {
    match command {
        UsersCommand::List => anyhow::bail!("not yet"),
    }
}
