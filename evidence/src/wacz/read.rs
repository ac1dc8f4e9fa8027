//! Reading a package made elsewhere, within limits, and auditing it against
//! its own `datapackage.json`.
//!
//! Everything is checked before it is trusted: the entry count before any
//! entry is read, each declared size before reading and the actual bytes
//! while reading (a ZIP may lie about sizes), names for absolute paths, `..`,
//! backslashes, NUL and duplicates, and encryption. Every error names the entry.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::path::Path;

use zip::ZipArchive;

use super::{hash_label, DataPackage, DataPackageDigest, WaczError, DATAPACKAGE_PATH, DIGEST_PATH};

/// Caps applied by [`read_package`].
#[derive(Debug, Clone, Copy)]
pub struct PackageLimits {
    pub max_entries: usize,
    /// Uncompressed bytes of one entry.
    pub max_file_bytes: u64,
    /// Uncompressed bytes of all entries together.
    pub max_total_bytes: u64,
}

impl Default for PackageLimits {
    fn default() -> PackageLimits {
        PackageLimits { max_entries: 10_000, max_file_bytes: 2 << 30, max_total_bytes: 4 << 30 }
    }
}

/// The files of a package, in ZIP order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub files: Vec<(String, Vec<u8>)>,
}

/// A listed resource whose bytes do not match `datapackage.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMismatch {
    pub path: String,
    pub expected_hash: String,
    pub actual_hash: String,
    pub expected_bytes: u64,
    pub actual_bytes: u64,
}

/// How a package's files compare to its `datapackage.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageAudit {
    /// Files present but not listed (other than the two datapackage files).
    pub unlisted: Vec<String>,
    /// Listed resources with no file.
    pub missing: Vec<String>,
    /// Listed more than once.
    pub listed_twice: Vec<String>,
    pub mismatched: Vec<ResourceMismatch>,
    /// Whether `datapackage-digest.json`'s hash matches `datapackage.json`'s bytes
    /// (`false` when the digest file is absent).
    pub datapackage_digest_ok: bool,
}

impl PackageAudit {
    /// True when every file is listed, present and intact and the digest matches.
    pub fn is_clean(&self) -> bool {
        self.unlisted.is_empty()
            && self.missing.is_empty()
            && self.listed_twice.is_empty()
            && self.mismatched.is_empty()
            && self.datapackage_digest_ok
    }
}

impl Package {
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, b)| b.as_slice())
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(p, _)| p.as_str())
    }

    fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, WaczError> {
        let bytes = self.get(path).ok_or_else(|| WaczError::Missing { path: path.to_string() })?;
        serde_json::from_slice(bytes).map_err(|source| WaczError::Json { path: path.to_string(), source })
    }

    /// The parsed `datapackage.json`.
    pub fn datapackage(&self) -> Result<DataPackage, WaczError> {
        self.json(DATAPACKAGE_PATH)
    }

    /// The parsed `datapackage-digest.json`.
    pub fn datapackage_digest(&self) -> Result<DataPackageDigest, WaczError> {
        self.json(DIGEST_PATH)
    }

    /// Re-hashes every file against `datapackage.json` and the latter against
    /// `datapackage-digest.json`.
    pub fn audit(&self) -> Result<PackageAudit, WaczError> {
        let dp = self.datapackage()?;
        let mut audit = PackageAudit::default();
        let mut listed = HashSet::new();
        for res in &dp.resources {
            if !listed.insert(res.path.as_str()) {
                audit.listed_twice.push(res.path.clone());
                continue;
            }
            match self.get(&res.path) {
                None => audit.missing.push(res.path.clone()),
                Some(bytes) => {
                    let actual_hash = hash_label(bytes);
                    if actual_hash != res.hash || bytes.len() as u64 != res.bytes {
                        audit.mismatched.push(ResourceMismatch {
                            path: res.path.clone(),
                            expected_hash: res.hash.clone(),
                            actual_hash,
                            expected_bytes: res.bytes,
                            actual_bytes: bytes.len() as u64,
                        });
                    }
                }
            }
        }
        audit.unlisted = self
            .paths()
            .filter(|p| *p != DATAPACKAGE_PATH && *p != DIGEST_PATH && !listed.contains(p))
            .map(str::to_string)
            .collect();
        audit.datapackage_digest_ok = match (self.get(DIGEST_PATH), self.get(DATAPACKAGE_PATH)) {
            (Some(_), Some(dp_bytes)) => self.datapackage_digest()?.hash == hash_label(dp_bytes),
            _ => false,
        };
        Ok(audit)
    }
}

/// Reads a package file within `limits`.
pub fn read_package(path: &Path, limits: &PackageLimits) -> Result<Package, WaczError> {
    let file =
        std::fs::File::open(path).map_err(|source| WaczError::Io { action: "open", path: path.into(), source })?;
    read_zip(std::io::BufReader::new(file), &path.display().to_string(), limits)
}

/// Reads a package held in memory within `limits`.
pub fn read_package_bytes(bytes: &[u8], limits: &PackageLimits) -> Result<Package, WaczError> {
    read_zip(std::io::Cursor::new(bytes), "(in memory)", limits)
}

fn read_zip<R: Read + Seek>(reader: R, label: &str, limits: &PackageLimits) -> Result<Package, WaczError> {
    let mut zip = ZipArchive::new(reader).map_err(|source| WaczError::Zip { path: label.to_string(), source })?;
    if zip.len() > limits.max_entries {
        return Err(WaczError::TooManyEntries { count: zip.len(), limit: limits.max_entries });
    }
    if zip.has_duplicate_names() {
        // The archive keys entries by name, so the second one is invisible
        // through it: find the name by walking the central directory.
        let start = zip.central_directory_start();
        let name = duplicate_name(zip.into_inner(), start, limits.max_entries);
        return Err(WaczError::Duplicate(name.unwrap_or_else(|| "(a central directory name)".into())));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(zip.len());
    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let (name, declared) = {
            let entry =
                zip.by_index_raw(index).map_err(|source| WaczError::Zip { path: format!("entry #{index}"), source })?;
            let name = std::str::from_utf8(entry.name_raw()).map_err(|_| WaczError::NameNotUtf8 { index })?.to_string();
            if entry.encrypted() {
                return Err(WaczError::Encrypted { path: name });
            }
            (name, entry.size())
        };
        check_entry_name(&name)?;
        if !seen.insert(name.clone()) {
            return Err(WaczError::Duplicate(name));
        }
        if declared > limits.max_file_bytes {
            return Err(WaczError::EntryTooLarge { path: name, size: declared, limit: limits.max_file_bytes });
        }
        let zip_err = |source| WaczError::Zip { path: name.clone(), source };
        let entry = zip.by_index(index).map_err(zip_err)?;
        let room = limits.max_file_bytes.min(limits.max_total_bytes.saturating_sub(total));
        let mut bytes = Vec::with_capacity(usize::try_from(declared.min(room)).unwrap_or(0).min(64 << 20));
        // One byte past the room tells a lying size header from an honest one.
        entry.take(room.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| zip_err(e.into()))?;
        let got = bytes.len() as u64;
        if got > limits.max_file_bytes {
            return Err(WaczError::EntryTooLarge { path: name, size: got, limit: limits.max_file_bytes });
        }
        if got > room || total.saturating_add(got) > limits.max_total_bytes {
            return Err(WaczError::TotalTooLarge { path: name, limit: limits.max_total_bytes });
        }
        if got != declared {
            let reason = format!("declares {declared} bytes but holds {got}");
            return Err(WaczError::Zip { path: name, source: zip::result::ZipError::InvalidArchive(reason.into()) });
        }
        total += got;
        files.push((name, bytes));
    }
    Ok(Package { files })
}

/// The first name that appears twice among the central directory records
/// starting at `start` (reads at most `max_entries` + 1 records).
fn duplicate_name<R: Read + Seek>(mut reader: R, start: u64, max_entries: usize) -> Option<String> {
    reader.seek(std::io::SeekFrom::Start(start)).ok()?;
    let mut seen = HashSet::new();
    for _ in 0..=max_entries {
        let mut fixed = [0u8; 46];
        reader.read_exact(&mut fixed).ok()?;
        if fixed[..4] != *b"PK\x01\x02" {
            return None;
        }
        let le16 = |at: usize| u64::from(u16::from_le_bytes([fixed[at], fixed[at + 1]]));
        let (name_len, extra_len, comment_len) = (le16(28), le16(30), le16(32));
        let mut name = vec![0u8; usize::try_from(name_len).ok()?];
        reader.read_exact(&mut name).ok()?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        let skip = i64::try_from(extra_len + comment_len).ok()?;
        reader.seek(std::io::SeekFrom::Current(skip)).ok()?;
    }
    None
}

/// Rejects names that could escape a directory or mean two things.
fn check_entry_name(name: &str) -> Result<(), WaczError> {
    let bad = |reason| Err(WaczError::BadPath { path: name.to_string(), reason });
    if name.is_empty() || name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return bad("empty, absolute, backslashed or NUL-containing names are not allowed");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return bad("drive-letter paths are not allowed");
    }
    if name.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
        return bad("`.`, `..` and empty components (and directory entries) are not allowed");
    }
    Ok(())
}
