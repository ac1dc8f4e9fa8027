//! `spotcheck bench peers`: placeholder until the peers benchmark lands (issue 9, in progress).

#[derive(Debug, clap::Args)]
pub struct BenchPeersArgs {}

pub async fn run(_args: BenchPeersArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench peers is not built yet")
}
