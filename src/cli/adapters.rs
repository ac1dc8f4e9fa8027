//! `spotcheck adapters check [DIR]` and `spotcheck extract --adapter NAME FILE|URL`.
//!
//! `check` loads every adapter file and prints every problem as
//! `file:line:col: message`; `extract` runs one adapter on one saved page and
//! prints what it found as pretty JSON: one listing object for an item page,
//! an array of shops for a shop page, an array of links for a search page
//! (`--all` prints everything the page yielded).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use url::Url;

use crate::adapters::{Adapter, AdapterSet, Extracted};
use crate::config::DataDir;
use crate::fetch::{FetchConfig, FetchContext, Fetcher};
use crate::model::PageKind;

/// `spotcheck adapters check [DIR]`
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Directory of adapter files (`*.toml`); without it, the built-in adapters are checked.
    pub dir: Option<PathBuf>,
}

/// `spotcheck extract --adapter NAME FILE|URL`
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// The adapter to read the page with (built-in, or from `--adapters`).
    #[arg(long)]
    pub adapter: String,
    /// A saved page (file path) or a URL to fetch.
    pub target: String,
    /// The page's URL, for page-kind matching and relative links (default: the file's `file://` URL).
    #[arg(long, value_name = "URL")]
    pub url_as: Option<Url>,
    /// A directory of adapter files that add to or override the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub adapters: Option<PathBuf>,
    /// Print everything the page yielded (kind, listings, shops, links).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub network: crate::cli::network::NetworkArgs,
}

/// Check adapter files; prints problems (or one summary line per adapter).
/// Returns whether everything was fine.
pub fn check(args: &CheckArgs) -> anyhow::Result<bool> {
    let (set, problems) = match &args.dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("adapter directory `{}` does not exist", dir.display());
            }
            AdapterSet::load_dir(dir)
        }
        None => AdapterSet::builtin_checked(),
    };
    for problem in &problems {
        println!("{problem}");
    }
    for adapter in set.iter() {
        println!("{}", summary(adapter));
    }
    if problems.is_empty() && set.is_empty() {
        println!("no adapter files found");
    }
    Ok(problems.is_empty())
}

/// One line about a loaded adapter.
pub fn summary(adapter: &Adapter) -> String {
    let kinds: Vec<&str> = adapter.page_kinds().iter().map(|k| k.as_str()).collect();
    format!(
        "ok {} {} (platform `{}`, pages: {}, fetch: {}, from {})",
        adapter.name,
        adapter.version,
        adapter.platform,
        kinds.join(", "),
        adapter.fetch.as_str(),
        adapter.source.display()
    )
}

/// The built-in adapters plus the good files in `dir` (which override by
/// name). A bad file is reported on stderr and skipped: it never takes the
/// others down.
pub fn adapter_set(dir: Option<&Path>) -> anyhow::Result<AdapterSet> {
    let mut set = AdapterSet::builtin();
    if let Some(dir) = dir {
        if !dir.is_dir() {
            bail!("adapter directory `{}` does not exist", dir.display());
        }
        let (local, problems) = AdapterSet::load_dir(dir);
        for problem in &problems {
            eprintln!("warning: skipped: {problem}");
        }
        set.merge(local);
    }
    Ok(set)
}

/// The adapter called `name`, or an error listing the known ones.
pub fn find_adapter(set: &AdapterSet, name: &str) -> anyhow::Result<Arc<Adapter>> {
    set.get(name).with_context(|| format!("no adapter named `{name}` (known: {})", set.names().join(", ")))
}

/// Run `spotcheck extract`. A URL is fetched like a crawl fetches it (robots.txt,
/// the adapter's politeness, limits) and its capture is stored in `data`.
pub async fn extract(args: &ExtractArgs, data: &DataDir) -> anyhow::Result<()> {
    let set = adapter_set(args.adapters.as_deref())?;
    let adapter = find_adapter(&set, &args.adapter)?;
    if args.target.starts_with("http://") || args.target.starts_with("https://") {
        let url = Url::parse(&args.target).with_context(|| format!("invalid url `{}`", args.target))?;
        let config = FetchConfig { network: args.network.policy(), ..FetchConfig::default() };
        let fetcher = Fetcher::new(config, evidence::BlobStore::open(data.blobs())?)?;
        if let Some(host) = url.host_str() {
            fetcher.set_politeness(host, adapter.politeness);
        }
        let fetched = fetcher.fetch(&url, &FetchContext::default()).await?;
        eprintln!(
            "capture {} ({} bytes, http {})",
            fetched.capture_id, fetched.capture.response.body_len, fetched.status
        );
        if !fetched.is_success() {
            bail!("`{url}` answered http status {}", fetched.status);
        }
        println!("{}", render(&adapter, &fetched.final_url, &fetched.body, args.all)?);
        return Ok(());
    }
    let path = Path::new(&args.target);
    let body = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let url = match &args.url_as {
        Some(url) => url.clone(),
        None => {
            let absolute =
                std::fs::canonicalize(path).with_context(|| format!("cannot resolve `{}`", path.display()))?;
            Url::from_file_path(&absolute)
                .map_err(|()| anyhow::anyhow!("cannot make a file URL of `{}`", absolute.display()))?
        }
    };
    println!("{}", render(&adapter, &url, &body, args.all)?);
    Ok(())
}

/// What `extract` prints for one page body read from `url`.
pub fn render(adapter: &Adapter, url: &Url, body: &[u8], all: bool) -> anyhow::Result<String> {
    let extracted: Extracted = adapter.extract(url, body)?;
    let json = if all {
        serde_json::to_string_pretty(&extracted)?
    } else {
        match extracted.kind {
            PageKind::Item => match extracted.listings.first() {
                Some(listing) => serde_json::to_string_pretty(listing)?,
                None => bail!("`{url}` is an item page but yielded no listing"),
            },
            PageKind::Shop => serde_json::to_string_pretty(&extracted.shops)?,
            PageKind::Search => serde_json::to_string_pretty(&extracted.links)?,
            PageKind::Live => serde_json::to_string_pretty(&extracted.listings)?,
        }
    };
    Ok(json)
}
