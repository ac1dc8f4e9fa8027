//! Declarative site adapters: how to read one platform's pages.
//!
//! An adapter is a TOML file (`site-adapters/<name>.toml`, format 1) that says,
//! per page kind (search, item, shop, live), which URLs are that kind and where
//! on the page each field is: CSS selectors (text or attribute), regex
//! captures, JSON paths (RFC 9535) into an embedded `<script>` state object or
//! a JSON API body, key/value spec tables, constants and URL groups, each
//! with a value parser (`yuan`, `fen`, `count` …) and a fallback chain. A
//! `required` field that no extractor finds is *adapter drift*: an error that
//! names the field and what was tried, never a silently empty listing.
//!
//! The life of an adapter mirrors a compiler's:
//! - [`spec`] — the file's shape (serde, `deny_unknown_fields`, spans kept);
//! - [`compile`] — validation with file:line:column [`Problem`]s (every
//!   problem in every file at once) and compilation of selectors, regexes and
//!   JSON paths, once, into [`rules`];
//! - [`extract`] — evaluation on a page: one HTML parse, then the rules,
//!   giving [`Extracted`] listings, shops and links with provenance.
//!
//! ```text
//! format = 1
//! name = "sample-mall"
//! [[pages]]
//! kind = "item"
//! url = '^/mall/item/(?P<item_id>\d+)$'
//! [pages.fields]
//! title = { css = "h1.title", required = true }
//! price = { css = ".price", parse = "yuan", or = [{ json = "$.price", parse = "fen" }] }
//! ```
//! The format is documented field by field in `site-adapters/README.md`.

mod builtin;
mod compile;
mod extract;
pub mod generic;
pub mod parsers;
mod rules;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::fetch::Politeness;
use crate::model::{Listing, PageKind, Shop};

pub use compile::FORMAT;

/// How pages of a platform must be fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FetchMode {
    /// Plain HTTP: the served HTML (or JSON) holds the data.
    #[default]
    Http,
    /// A headless browser: the page needs its scripts run (see `wait_for`).
    Browser,
}

impl FetchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchMode::Http => "http",
            FetchMode::Browser => "browser",
        }
    }
}

pub use crate::diagnostics::Problem;

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// No page pattern of the adapter matches the URL (or its host is not the adapter's).
    #[error("adapter `{adapter}` has no page kind for `{url}`")]
    NoPageKind { adapter: String, url: String },
    /// A `document = "json"` page whose body is not JSON.
    #[error("`{url}` is not a JSON document: {reason}")]
    NotJson { url: String, reason: String },
    /// Pathologically deep HTML, refused before parsing (the parser is quadratic in depth).
    #[error("`{url}` nests elements {depth} deep (more than {limit}): not parsed")]
    TooDeep { url: String, depth: usize, limit: usize },
    /// A required field was not found: the site changed, or the page is not what it seems.
    #[error("adapter drift: `{adapter}` found no required field `{field}` on `{url}` (tried {tried}){note}")]
    Drift { adapter: String, url: String, field: String, tried: String, note: &'static str },
}

/// A link found on a page, with the kind of page it leads to when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: Url,
    pub kind: Option<PageKind>,
}

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Link", 2)?;
        st.serialize_field("url", self.url.as_str())?;
        st.serialize_field("kind", &self.kind)?;
        st.end()
    }
}

/// What one page yielded. `captured_at`/`capture_id` are left for the crawler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extracted {
    pub kind: PageKind,
    pub listings: Vec<Listing>,
    pub shops: Vec<Shop>,
    pub links: Vec<Link>,
}

/// One compiled adapter: ready to classify URLs and extract pages.
#[derive(Debug)]
pub struct Adapter {
    pub name: String,
    /// The platform name written into every listing and shop.
    pub platform: String,
    pub version: String,
    /// Hosts this adapter reads; empty means any host (the sample sites on loopback).
    pub hosts: Vec<String>,
    pub politeness: Politeness,
    pub fetch: FetchMode,
    /// In browser mode, the CSS selector to wait for before reading the page.
    pub wait_for: Option<String>,
    /// The file the adapter was loaded from (`builtin:<file>` for embedded ones).
    pub source: PathBuf,
    /// The file's text (none for the [`generic`] adapter, which is code): what
    /// a cluster's control plane sends its workers, so they run the same rules.
    pub text: Option<Arc<str>>,
    pages: Vec<rules::PageRule>,
}

impl Adapter {
    /// Parse, validate and compile one adapter from its text.
    pub fn from_toml(file: &Path, text: &str) -> Result<Adapter, Vec<Problem>> {
        compile::compile(file, text)
    }

    /// The built-in [`generic`] adapter: code, not rules (it has no page rules of its own).
    fn is_generic(&self) -> bool {
        self.pages.is_empty() && self.source == Path::new(generic::SOURCE)
    }

    /// The [`generic`] adapter, as [`AdapterSet::builtin`] includes it.
    fn generic() -> Adapter {
        Adapter {
            name: generic::NAME.to_string(),
            platform: "web".to_string(),
            version: "1".to_string(),
            hosts: Vec::new(),
            politeness: Politeness::default(),
            fetch: FetchMode::Http,
            wait_for: None,
            source: PathBuf::from(generic::SOURCE),
            text: None,
            pages: Vec::new(),
        }
    }

    fn page_rule(&self, url: &Url) -> Option<&rules::PageRule> {
        if !self.hosts.is_empty() {
            let host = url.host_str()?.to_ascii_lowercase();
            if !self.hosts.contains(&host) {
                return None;
            }
        }
        let target = extract::match_target(url);
        self.pages.iter().find(|p| p.url.is_match(&target))
    }

    /// The kind of page `url` is, by the adapter's URL patterns (first match wins).
    pub fn page_kind(&self, url: &Url) -> Option<PageKind> {
        if self.is_generic() {
            return Some(PageKind::Item);
        }
        self.page_rule(url).map(|p| p.kind)
    }

    /// The page kinds this adapter reads, in file order.
    pub fn page_kinds(&self) -> Vec<PageKind> {
        if self.is_generic() {
            return vec![PageKind::Item];
        }
        self.pages.iter().map(|p| p.kind).collect()
    }

    /// Read one page. Any bytes are accepted: undecodable input gives an empty
    /// result or an [`ExtractError`] for this page, never a panic.
    pub fn extract(&self, url: &Url, body: &[u8]) -> Result<Extracted, ExtractError> {
        if self.is_generic() {
            return generic::extract(url, body);
        }
        extract::extract(self, url, body)
    }
}

/// The adapters known to a run, by name.
#[derive(Debug, Clone, Default)]
pub struct AdapterSet {
    adapters: BTreeMap<String, Arc<Adapter>>,
}

impl AdapterSet {
    /// The adapters shipped in `site-adapters/`, embedded in the binary, and
    /// the [`generic`] adapter (any shop's product page).
    pub fn builtin() -> AdapterSet {
        let (set, problems) = AdapterSet::builtin_checked();
        for p in &problems {
            tracing::error!("built-in adapter problem (a bug): {p}");
        }
        set
    }

    /// The built-in adapters and their problems (none, unless a shipped file is broken).
    pub fn builtin_checked() -> (AdapterSet, Vec<Problem>) {
        let (mut set, problems) = builtin::load();
        set.adapters.insert(generic::NAME.to_string(), Arc::new(Adapter::generic()));
        (set, problems)
    }

    /// Load every `*.toml` in `dir`. Every problem in every file is returned;
    /// a file with problems is skipped, the others load.
    pub fn load_dir(dir: &Path) -> (AdapterSet, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect(),
            Err(e) => {
                let message = format!("cannot read adapter directory: {e}");
                problems.push(Problem { file: dir.to_path_buf(), line: 1, column: 1, message });
                return (AdapterSet::default(), problems);
            }
        };
        files.sort();
        let mut sources = Vec::new();
        for file in files {
            match crate::diagnostics::read_source(&file, "adapter") {
                Ok(text) => sources.push((file, text)),
                Err(problem) => problems.push(problem),
            }
        }
        let (set, more) = AdapterSet::from_sources(sources.iter().map(|(f, t)| (f.as_path(), t.as_str())));
        problems.extend(more);
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        (set, problems)
    }

    /// Compile named texts; a name used twice is a problem in the later file.
    fn from_sources<'a>(sources: impl Iterator<Item = (&'a Path, &'a str)>) -> (AdapterSet, Vec<Problem>) {
        let mut set = AdapterSet::default();
        let mut problems = Vec::new();
        for (file, text) in sources {
            match Adapter::from_toml(file, text) {
                Ok(adapter) => {
                    if let Some(first) = set.adapters.get(&adapter.name) {
                        let (line, column) = name_position(text);
                        let message = format!(
                            "duplicate adapter name `{}` (already defined in `{}`)",
                            adapter.name,
                            first.source.display()
                        );
                        problems.push(Problem { file: file.to_path_buf(), line, column, message });
                    } else {
                        set.adapters.insert(adapter.name.clone(), Arc::new(adapter));
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
        (set, problems)
    }

    /// Add `other`'s adapters; on a shared name, `other`'s wins.
    pub fn merge(&mut self, other: AdapterSet) {
        self.adapters.extend(other.adapters);
    }

    pub fn get(&self, name: &str) -> Option<Arc<Adapter>> {
        self.adapters.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.adapters.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Adapter>> {
        self.adapters.values()
    }

    pub fn is_empty(&self) -> bool {
        self.adapters.is_empty()
    }
}

/// Line and column of the `name =` key, for the duplicate-name problem.
fn name_position(text: &str) -> (usize, usize) {
    text.lines().position(|l| l.trim_start().starts_with("name")).map_or((1, 1), |i| (i + 1, 1))
}
