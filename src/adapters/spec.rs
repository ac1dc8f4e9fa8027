//! The adapter file as written: serde shapes of the TOML, every table
//! `deny_unknown_fields`, with spans kept on every value the loader checks.
//!
//! Nothing here is validated beyond its TOML type; `compile.rs` checks the
//! meaning (selectors parse, regexes compile, fields exist …) and builds the
//! runtime rules.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::fetch::Politeness;
use crate::model::{CertificateKind, PageKind};

use super::FetchMode;

/// The top of an adapter file, without its `[[pages]]` (read one by one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderSpec {
    pub format: Spanned<i64>,
    pub name: Spanned<String>,
    pub platform: Spanned<String>,
    pub version: String,
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub fetch: FetchMode,
    #[serde(default)]
    pub wait_for: Option<Spanned<String>>,
    #[serde(default)]
    pub politeness: Option<Politeness>,
}

/// What the body of a page is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum DocumentSpec {
    /// An HTML page (CSS extractors; JSON paths need `state`).
    #[default]
    Html,
    /// A JSON API response (JSON paths run on the body).
    Json,
}

/// One `[[pages]]` entry, without its `fields`, `links` and `certificates`
/// (read one by one so each gets its own error).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageSpec {
    pub kind: PageKind,
    /// Regex on the URL's path + query; named groups are values (`item_id` …).
    pub url: Spanned<String>,
    #[serde(default)]
    pub document: DocumentSpec,
    /// Where the page's embedded JSON state object is.
    #[serde(default)]
    pub state: Option<Spanned<StateSpec>>,
    /// A JSON path to the page's list of products (a live room's cart, a
    /// showcase): one listing per element, the fields' JSON paths run on each
    /// element (`$` is the element). Missing from the JSON: adapter drift.
    #[serde(default)]
    pub items: Option<Spanned<String>>,
}

/// The JSON object a page embeds in a `<script>`, e.g.
/// `<script>window.__INITIAL_STATE__ = {...};</script>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateSpec {
    /// CSS selector of the candidate script elements.
    #[serde(default = "default_script")]
    pub script: Spanned<String>,
    /// Text that precedes the JSON in the script (`window.__INITIAL_STATE__ =`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Or a regex whose group `json` (or group 1) starts the JSON.
    #[serde(default)]
    pub regex: Option<Spanned<String>>,
}

fn default_script() -> Spanned<String> {
    Spanned::new(0..0, "script".to_string())
}

/// One extractor, with the field-level options (`required`, `or`) that are
/// only allowed on the first extractor of a field's chain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FieldSpec {
    pub css: Option<Spanned<String>>,
    pub attr: Option<Spanned<String>>,
    pub json: Option<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
    pub spec: Option<Spanned<Keys>>,
    pub url_group: Option<Spanned<String>>,
    #[serde(rename = "const")]
    pub constant: Option<Spanned<String>>,
    pub table: Option<Spanned<TableSpec>>,
    pub json_table: Option<Spanned<JsonTableSpec>>,
    pub all: Option<Spanned<bool>>,
    pub join: Option<String>,
    /// Exact-value replacements before parsing (`{ "true" = "无货" }`).
    pub map: Option<std::collections::BTreeMap<String, String>>,
    /// Put the value into a text before parsing: `{}` is the value
    /// (`"https://item.jd.com/{}.html"`).
    pub template: Option<Spanned<String>>,
    pub parse: Option<Spanned<String>>,
    pub required: Option<Spanned<bool>>,
    pub or: Option<Vec<Spanned<FieldSpec>>>,
}

/// A key/value table in HTML: within each `rows` element, the `key` matches
/// are zipped with the `value` matches (`tr` > `th`/`td`, or `dl` > `dt`/`dd`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TableSpec {
    pub rows: Spanned<String>,
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

/// A key/value table in JSON: `path` yields either objects (their members are
/// the entries), `{key, value}` objects named by `key`/`value`, or with
/// `split` strings such as `"品牌：Apple"` (split at the first `split`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JsonTableSpec {
    pub path: Spanned<String>,
    pub key: Option<String>,
    pub value: Option<String>,
    pub split: Option<Spanned<String>>,
}

/// A `[[pages.certificates]]` entry: numbers of one kind, from named spec
/// keys, selectors, JSON paths, and/or a regex (on those values or the raw page).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CertificateSpec {
    pub kind: CertificateKind,
    pub spec: Option<Spanned<Keys>>,
    pub css: Option<Spanned<String>>,
    pub attr: Option<Spanned<String>>,
    pub json: Option<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
}

/// A `[[pages.links]]` entry: where to find links to follow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkSpec {
    pub css: Option<Spanned<String>>,
    /// Attribute holding the URL (default `href` for CSS links).
    pub attr: Option<Spanned<String>>,
    pub json: Option<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
    /// `{}` is replaced by the found value (`/duo/item/{}`).
    pub template: Option<String>,
    /// The kind of page linked; by default, what the adapter's URL patterns say.
    pub kind: Option<PageKind>,
}

/// One key or a list of keys: `spec = "品牌"` or `spec = ["生产厂家", "制造商"]`.
#[derive(Debug, Clone, Default)]
pub(super) struct Keys(pub Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Keys, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Keys, E> {
                Ok(Keys(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = seq.next_element::<String>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_any(KeysVisitor)
    }
}
