//! `spotcheck bench …`: every stage measured on this machine, and against
//! the tools a user would otherwise pick (Scrapy, extruct, `sha256sum`).
//!
//! One file per stage; `suite` runs them all and prints one table. Nothing
//! here runs in the test command: benchmarks are run by hand and their
//! figures go into README.md and BENCHMARKS.md.

pub mod api;
pub mod browser;
pub mod crawl;
pub mod extract;
pub mod peers;
pub mod proc;
pub mod seal;
pub mod soak;
pub mod suite;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Crawl the sample marketplace with politeness off and report pages/s, CPU and memory.
    Crawl(crawl::BenchCrawlArgs),
    /// Measure sealing: SHA-256 against sha256sum, capture writes, bundles written and verified per second.
    Seal(seal::BenchSealArgs),
    /// Browser captures per minute and memory per tab with 1, 2, 4 … tabs.
    Browser(browser::BenchBrowserArgs),
    /// Notices pulled per second and latency percentiles of the platform API, with wrk.
    Api(api::BenchApiArgs),
    /// spotcheck against a Scrapy spider on the sample marketplace, run alternately (A B A B …).
    Peers(peers::BenchPeersArgs),
    /// The generic extractor's time per page against extruct on the real pages.
    Extract(extract::BenchExtractArgs),
    /// The whole suite, one table (under 15 minutes on 2 cores).
    All(suite::BenchAllArgs),
    /// Everything at once for a long while (serve with plan runs, webhooks, staff work, wrk), watching memory and errors.
    Soak(soak::BenchSoakArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<bool> {
    match command {
        BenchCommand::Crawl(args) => {
            crawl::crawl(args).await?;
        }
        BenchCommand::Seal(args) => {
            seal::run(args).await?;
        }
        BenchCommand::Browser(args) => {
            browser::run(args).await?;
        }
        BenchCommand::Api(args) => {
            api::run(args).await?;
        }
        BenchCommand::Peers(args) => {
            peers::run(args).await?;
        }
        BenchCommand::Extract(args) => {
            extract::run(args).await?;
        }
        BenchCommand::All(args) => {
            suite::run(args).await?;
        }
        BenchCommand::Soak(args) => {
            // The verdict decides the exit status: a soak that did not hold fails.
            return Ok(soak::run(args).await?.verdict().is_ok());
        }
    }
    Ok(true)
}
