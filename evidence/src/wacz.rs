//! WACZ 1.1.1 packages (<https://specs.webrecorder.net/wacz/1.1.1/>): the
//! CDXJ index and page list, a deterministic ZIP writer that seals the
//! package with `datapackage.json` and a signed `datapackage-digest.json`,
//! and a bounded reader for verifying packages made elsewhere.
//!
//! Layout rules (checked by [`WaczWriter::add_file`]) follow what both the
//! spec and `wacz validate` (py-wacz 0.6) accept; see FORMAT.md.

#![forbid(unsafe_code)]

pub mod cdxj;
pub mod read;
pub mod write;

use serde::{Deserialize, Serialize};

pub use cdxj::{cdxj_entries, pages_jsonl, render_cdxj, surt, CdxjEntry, PageEntry};
pub use read::{read_package, read_package_bytes, Package, PackageAudit, PackageLimits, ResourceMismatch};
pub use write::{DigestToSign, PackageMeta, SignError, WaczWriter};

/// The WACZ version written and expected.
pub const WACZ_VERSION: &str = "1.1.1";
/// Where the index goes.
pub const INDEX_PATH: &str = "indexes/index.cdx";
/// Where the page list goes.
pub const PAGES_PATH: &str = "pages/pages.jsonl";
pub const DATAPACKAGE_PATH: &str = "datapackage.json";
pub const DIGEST_PATH: &str = "datapackage-digest.json";

/// Errors from building, writing or reading a package.
#[derive(Debug, thiserror::Error)]
pub enum WaczError {
    #[error("package path `{path}` is not allowed: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("package path `{0}` is given twice")]
    Duplicate(String),
    #[error("cannot index `{file}`: {source}")]
    Index {
        file: String,
        #[source]
        source: Box<crate::warc::WarcError>,
    },
    #[error("signing `{hash}` failed: {source}")]
    Sign {
        hash: String,
        #[source]
        source: SignError,
    },
    #[error("the signature's `created` ({signed}) differs from datapackage.json's ({created}); `wacz validate` rejects that")]
    CreatedMismatch { created: String, signed: String },
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("zip error in `{path}`: {source}")]
    Zip {
        path: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("package has {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("package entry `{path}` is {size} bytes, more than the per-file limit of {limit}")]
    EntryTooLarge { path: String, size: u64, limit: u64 },
    #[error("package entries add up to more than the limit of {limit} bytes (at `{path}`)")]
    TotalTooLarge { path: String, limit: u64 },
    #[error("package entry `{path}` is encrypted")]
    Encrypted { path: String },
    #[error("package entry #{index} has a name that is not UTF-8")]
    NameNotUtf8 { index: usize },
    #[error("`{path}` is missing from the package")]
    Missing { path: String },
    #[error("`{path}` is not valid JSON of the expected shape: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One entry of `datapackage.json`'s `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    pub path: String,
    /// `sha256:<hex>`.
    pub hash: String,
    pub bytes: u64,
}

/// `datapackage.json`, fields in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPackage {
    pub profile: String,
    pub wacz_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    #[serde(rename = "mainPageUrl", default, skip_serializing_if = "Option::is_none")]
    pub main_page_url: Option<String>,
    #[serde(rename = "mainPageDate", default, skip_serializing_if = "Option::is_none")]
    pub main_page_date: Option<String>,
    pub resources: Vec<Resource>,
}

/// `datapackage-digest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataPackageDigest {
    pub path: String,
    /// `sha256:<hex>` of the `datapackage.json` bytes.
    pub hash: String,
    #[serde(rename = "signedData", default, skip_serializing_if = "Option::is_none")]
    pub signed_data: Option<serde_json::Value>,
}

/// `sha256:<hex>` of `bytes` (the spelling used in `datapackage.json`).
pub fn hash_label(bytes: &[u8]) -> String {
    crate::warc::sha256_label(bytes)
}

/// Checks a package path against the layout rules: `dir/name` exactly one
/// level deep (py-wacz's validator compares only the last two components of
/// each file's path), portable characters, no `datapackage*.json` names, and
/// only WARCs in `archive/`, indexes in `indexes/`, `.jsonl` in `pages/`.
pub fn check_package_path(path: &str) -> Result<(), WaczError> {
    let bad = |reason| Err(WaczError::BadPath { path: path.to_string(), reason });
    if path.starts_with('/') || path.contains('\\') {
        return bad("absolute or backslashed paths are not allowed");
    }
    if path.split('/').any(|c| c == ".." || c == ".") {
        return bad("`.` and `..` components are not allowed");
    }
    let Some((dir, name)) = path.split_once('/') else {
        return bad("files must be one directory deep (`dir/name`)");
    };
    if dir.is_empty() || name.is_empty() || name.contains('/') {
        return bad("files must be one directory deep (`dir/name`)");
    }
    let portable = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !portable(dir) || !portable(name) || name.starts_with('.') {
        return bad("only A-Z a-z 0-9 . - _ are allowed, and names may not start with `.`");
    }
    if name == DATAPACKAGE_PATH || name == DIGEST_PATH {
        return bad("datapackage.json and datapackage-digest.json are written by the package itself");
    }
    let ok = match dir {
        "archive" => name.ends_with(".warc") || name.ends_with(".warc.gz"),
        "indexes" => [".cdx", ".cdxj", ".cdx.gz", ".idx"].iter().any(|e| name.ends_with(e)),
        "pages" => name.ends_with(".jsonl"),
        _ => true,
    };
    if !ok {
        return bad("archive/ holds only .warc(.gz), indexes/ only CDXJ indexes, pages/ only .jsonl");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
