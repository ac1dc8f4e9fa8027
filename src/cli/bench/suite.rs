//! `spotcheck bench all`: placeholder until the suite lands (issue 9, in progress).

#[derive(Debug, clap::Args)]
pub struct BenchAllArgs {}

pub async fn run(_args: BenchAllArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench all is not built yet")
}
