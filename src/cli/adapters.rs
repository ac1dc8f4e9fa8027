//! `spotcheck adapters check [DIR]` and `spotcheck extract --adapter NAME FILE|URL`.
//!
//! `check` loads every adapter file and prints every problem as
//! `file:line:col: message`; `extract` runs one adapter on one saved page and
//! prints what it found as pretty JSON: one listing object for an item page,
//! an array of shops for a shop page, an array of links for a search page
//! (`--all` prints everything the page yielded).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use url::Url;

use crate::adapters::{Adapter, AdapterSet, Extracted, Problem};
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

/// The built-in adapters plus those in `dir` (which override by name).
pub fn adapter_set(dir: Option<&Path>) -> anyhow::Result<AdapterSet> {
    let mut set = AdapterSet::builtin();
    if let Some(dir) = dir {
        let (local, problems) = AdapterSet::load_dir(dir);
        if !problems.is_empty() {
            let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
            bail!("adapter problems in `{}`:\n{}", dir.display(), lines.join("\n"));
        }
        set.merge(local);
    }
    Ok(set)
}

/// Run `spotcheck extract`.
pub fn extract(args: &ExtractArgs) -> anyhow::Result<()> {
    let set = adapter_set(args.adapters.as_deref())?;
    let Some(adapter) = set.get(&args.adapter) else {
        bail!("no adapter named `{}` (known: {})", args.adapter, set.names().join(", "));
    };
    if args.target.starts_with("http://") || args.target.starts_with("https://") {
        // TODO(integrator): fetch the URL through `crate::fetch` (with the adapter's
        // politeness), then call `render(&adapter, &final_url, &body, args.all)`.
        bail!("fetching `{}` is not wired into `extract` yet: save the page and pass the file", args.target);
    }
    let path = Path::new(&args.target);
    let body = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let url = match &args.url_as {
        Some(url) => url.clone(),
        None => {
            let absolute = std::fs::canonicalize(path).with_context(|| format!("cannot resolve `{}`", path.display()))?;
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
