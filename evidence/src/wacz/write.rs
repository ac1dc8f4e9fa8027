//! Writing a package: a deterministic ZIP, sealed by `datapackage.json` and
//! `datapackage-digest.json`, put in place atomically.
//!
//! Determinism: every entry is STORED (no compression) with the fixed DOS
//! time 1980-01-01 00:00:00, Unix permissions 0644 and no extra fields, in the
//! order the files were added, followed by `datapackage.json` and
//! `datapackage-digest.json`. The same files, metadata and signature give the
//! same bytes.
//!
//! Crash safety: the ZIP is written to `.<name>.tmp-<pid>-<n>` in the
//! destination directory, fsynced, renamed over the final name, and the
//! directory is fsynced; a crash leaves either the old file or the new one,
//! never half of one under the final name.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::{
    check_package_path, hash_label, DataPackage, DataPackageDigest, Resource, WaczError, DATAPACKAGE_PATH, DIGEST_PATH,
    WACZ_VERSION,
};

/// What a signing callback may fail with.
pub type SignError = Box<dyn std::error::Error + Send + Sync>;

/// What is handed to the signing callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestToSign {
    /// `sha256:<hex>` of the `datapackage.json` bytes — the string to sign.
    pub hash: String,
    /// `datapackage.json`'s `created`; `signedData.created` must equal it.
    pub created: String,
}

/// Descriptive fields of `datapackage.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMeta {
    pub title: String,
    pub description: Option<String>,
    /// Written as `%Y-%m-%dT%H:%M:%SZ`.
    pub created: DateTime<Utc>,
    pub software: String,
    /// Written percent-encoded as in the WARC (see [`crate::warc::uri_for_warc`]).
    pub main_page_url: Option<String>,
    pub main_page_date: Option<DateTime<Utc>>,
}

/// Collects the package files, then writes the sealed ZIP.
#[derive(Debug, Clone)]
pub struct WaczWriter {
    meta: PackageMeta,
    files: Vec<(String, Vec<u8>)>,
}

impl WaczWriter {
    pub fn new(meta: PackageMeta) -> WaczWriter {
        WaczWriter { meta, files: Vec::new() }
    }

    /// Adds a file; the path must follow [`check_package_path`] and be new.
    pub fn add_file(&mut self, path: impl Into<String>, bytes: Vec<u8>) -> Result<(), WaczError> {
        let path = path.into();
        check_package_path(&path)?;
        if self.files.iter().any(|(p, _)| *p == path) {
            return Err(WaczError::Duplicate(path));
        }
        self.files.push((path, bytes));
        Ok(())
    }

    /// The files added so far, in order.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// `datapackage.json` for the files added so far.
    pub fn datapackage(&self) -> DataPackage {
        let mut names: Vec<String> = Vec::with_capacity(self.files.len());
        let resources = self
            .files
            .iter()
            .map(|(path, bytes)| {
                let name = resource_name(path, &names);
                names.push(name.clone());
                Resource { name, path: path.clone(), hash: hash_label(bytes), bytes: bytes.len() as u64 }
            })
            .collect();
        DataPackage {
            profile: "data-package".to_string(),
            wacz_version: WACZ_VERSION.to_string(),
            title: Some(self.meta.title.clone()),
            description: self.meta.description.clone(),
            created: Some(created_string(&self.meta.created)),
            software: Some(self.meta.software.clone()),
            main_page_url: self.meta.main_page_url.as_deref().map(crate::warc::uri_for_warc),
            main_page_date: self.meta.main_page_date.as_ref().map(created_string),
            resources,
        }
    }

    /// The whole ZIP in memory. `sign` gets the digest of `datapackage.json`
    /// and returns the `signedData` value, or `None` for an unsigned package.
    /// A `signedData` object without `created` gets the package's; one with a
    /// different `created` is refused (`wacz validate` would reject it).
    pub fn to_bytes<F>(&self, sign: F) -> Result<Vec<u8>, WaczError>
    where
        F: FnOnce(&DigestToSign) -> Result<Option<Value>, SignError>,
    {
        let datapackage = self.datapackage();
        let dp_bytes = serde_json::to_vec_pretty(&datapackage)
            .map_err(|source| WaczError::Json { path: DATAPACKAGE_PATH.into(), source })?;
        let to_sign = DigestToSign { hash: hash_label(&dp_bytes), created: created_string(&self.meta.created) };
        let signed_data = match sign(&to_sign) {
            Ok(v) => v,
            Err(source) => return Err(WaczError::Sign { hash: to_sign.hash, source }),
        };
        let signed_data = signed_data.map(|v| with_created(v, &to_sign.created)).transpose()?;
        let digest = DataPackageDigest { path: DATAPACKAGE_PATH.into(), hash: to_sign.hash.clone(), signed_data };
        let digest_bytes = serde_json::to_vec_pretty(&digest)
            .map_err(|source| WaczError::Json { path: DIGEST_PATH.into(), source })?;

        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::DEFAULT)
            .unix_permissions(0o644)
            .large_file(false);
        let all = self
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .chain([(DATAPACKAGE_PATH, dp_bytes.as_slice()), (DIGEST_PATH, digest_bytes.as_slice())]);
        for (path, bytes) in all {
            let zip_err = |source| WaczError::Zip { path: path.to_string(), source };
            let options = if bytes.len() as u64 >= u64::from(u32::MAX) { options.large_file(true) } else { options };
            zip.start_file(path, options).map_err(zip_err)?;
            zip.write_all(bytes).map_err(|e| zip_err(e.into()))?;
        }
        let cursor = zip.finish().map_err(|source| WaczError::Zip { path: "(central directory)".into(), source })?;
        Ok(cursor.into_inner())
    }

    /// Writes the package to `dest` atomically (see the module docs) and
    /// returns its bytes' `sha256:<hex>`.
    pub fn write_to<F>(&self, dest: &Path, sign: F) -> Result<String, WaczError>
    where
        F: FnOnce(&DigestToSign) -> Result<Option<Value>, SignError>,
    {
        let bytes = self.to_bytes(sign)?;
        write_atomically(dest, &bytes)?;
        Ok(hash_label(&bytes))
    }
}

/// Writes `bytes` to a temporary file beside `dest`, fsyncs it, renames it
/// into place and fsyncs the directory.
pub fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<(), WaczError> {
    fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> WaczError + 'p {
        move |source| WaczError::Io { action, path: path.to_path_buf(), source }
    }
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bundle.wacz".into());
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), unique()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        drop(f);
        crate::failpoint("bundle-before-rename");
        fs::rename(&tmp, dest).map_err(io("rename into place", dest))?;
        fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io("fsync directory", &dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn created_string(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The resource name: the file name, lowercased (as py-wacz writes it), with
/// anything outside the Data Package name pattern `[-a-z0-9._/]` as `-`; the
/// whole path so treated (with `/` as `-`) when that name is already taken.
fn resource_name(path: &str, taken: &[String]) -> String {
    let clean = |s: &str| -> String {
        s.to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-') { c } else { '-' })
            .collect()
    };
    let base = clean(path.rsplit('/').next().unwrap_or(path));
    if !taken.contains(&base) {
        return base;
    }
    let full = clean(path);
    let mut name = full.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{full}-{n}");
        n += 1;
    }
    name
}

/// Adds `created` to a `signedData` object that lacks it; refuses a different one.
fn with_created(mut value: Value, created: &str) -> Result<Value, WaczError> {
    if let Value::Object(map) = &mut value {
        match map.get("created") {
            None => {
                map.insert("created".into(), Value::String(created.to_string()));
            }
            Some(Value::String(s)) if s == created => {}
            Some(other) => {
                let signed = other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string());
                return Err(WaczError::CreatedMismatch { created: created.to_string(), signed });
            }
        }
    }
    Ok(value)
}
