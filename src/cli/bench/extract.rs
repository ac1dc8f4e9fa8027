//! `spotcheck bench extract`: placeholder until the extraction benchmark lands (issue 9, in progress).

#[derive(Debug, clap::Args)]
pub struct BenchExtractArgs {}

pub async fn run(_args: BenchExtractArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench extract is not built yet")
}
