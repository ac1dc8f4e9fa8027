//! Content-addressed, write-once storage of artifacts, keyed by SHA-256.
//!
//! Layout: `<root>/sha256/ab/cdef…` (the first two hex digits fan out the
//! directory). A blob is written to a temporary file in the same directory,
//! fsynced, then renamed into place, so a crash never leaves a half-written
//! blob under its final name; an existing blob is never rewritten.
//!
//! Durability trade-off: with [`BlobStore::with_fsync`]`(false)` a blob is
//! written and renamed without waiting for the disk; the store remembers it and
//! [`BlobStore::sync`] flushes everything written since the last sync (files
//! and their directories). A crash between `put` and `sync` can lose those
//! blobs — never corrupt one that is there, since `get` re-hashes — so a
//! caller must `sync` before recording anywhere that a digest is stored.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, shown and serialized as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Digest, BlobError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BlobError::BadDigest(s.to_string()))?;
        Ok(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("`{0}` is not a SHA-256 digest (64 hex digits)")]
    BadDigest(String),
    #[error("blob {digest} not found in `{root}`")]
    NotFound { digest: Digest, root: PathBuf },
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    Corrupt { digest: Digest, actual: Digest },
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The content-addressed store under one directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// fsync each blob before renaming it into place (the default).
    fsync: bool,
    /// Blobs written without fsync since the last [`BlobStore::sync`] (shared by clones).
    unsynced: Arc<Mutex<Vec<PathBuf>>>,
}

impl BlobStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, BlobError> {
        let root = root.into();
        let dir = root.join("sha256");
        fs::create_dir_all(&dir).map_err(|source| BlobError::Io { action: "create", path: dir, source })?;
        Ok(BlobStore { root, fsync: true, unsynced: Arc::default() })
    }

    /// Whether each `put` waits for the disk (`true`, the default) or leaves
    /// it to an explicit [`BlobStore::sync`] (`false`: much faster for many
    /// small blobs; see the module docs for what a crash can lose).
    pub fn with_fsync(mut self, fsync: bool) -> BlobStore {
        self.fsync = fsync;
        self
    }

    pub fn fsyncs_each_blob(&self) -> bool {
        self.fsync
    }

    /// Makes every blob written so far durable: fsyncs the blobs written
    /// without fsync since the last sync, then their directories (so the
    /// renames survive a crash too). A no-op when nothing is pending.
    ///
    /// The fsyncs run on [`SYNC_THREADS`] threads at once: the filesystem
    /// journal commits concurrent fsyncs together, which is many times faster
    /// than one after the other.
    pub fn sync(&self) -> Result<(), BlobError> {
        let pending = std::mem::take(&mut *self.unsynced.lock().unwrap_or_else(|e| e.into_inner()));
        if pending.is_empty() {
            return Ok(());
        }
        let mut dirs: Vec<PathBuf> = pending.iter().filter_map(|p| p.parent().map(Path::to_path_buf)).collect();
        dirs.push(self.root.join("sha256"));
        dirs.sort();
        dirs.dedup();
        let result = fsync_all(&pending, |f| f.sync_data()).and_then(|()| fsync_all(&dirs, |f| f.sync_all()));
        if result.is_err() {
            // Nothing is known to be durable: keep it all for the next attempt.
            self.unsynced.lock().unwrap_or_else(|e| e.into_inner()).extend(pending);
        }
        result
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path_of(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(&hex[2..])
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path_of(digest).is_file()
    }

    /// Stores `bytes` and returns their digest. Storing the same bytes again is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let digest = Digest::of(bytes);
        let path = self.path_of(&digest);
        if path.is_file() {
            return Ok(digest);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        fs::create_dir_all(&dir).map_err(|source| BlobError::Io { action: "create", path: dir.clone(), source })?;
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), unique()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.fsync {
                f.sync_data()?;
            }
            fs::rename(&tmp, &path)
        };
        if let Err(source) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(BlobError::Io { action: "write", path, source });
        }
        if !self.fsync {
            self.unsynced.lock().unwrap_or_else(|e| e.into_inner()).push(path);
        }
        Ok(digest)
    }

    /// Reads a blob back, checking that its content still hashes to its name.
    pub fn get(&self, digest: &Digest) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(digest);
        let bytes = fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                BlobError::NotFound { digest: *digest, root: self.root.clone() }
            } else {
                BlobError::Io { action: "read", path: path.clone(), source }
            }
        })?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(BlobError::Corrupt { digest: *digest, actual });
        }
        Ok(bytes)
    }
}

/// Threads [`BlobStore::sync`] fsyncs on.
pub const SYNC_THREADS: usize = 32;

/// Opens and syncs every path, [`SYNC_THREADS`] at a time; the first error wins.
fn fsync_all(paths: &[PathBuf], sync: fn(&fs::File) -> std::io::Result<()>) -> Result<(), BlobError> {
    let chunk = paths.len().div_ceil(SYNC_THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<(), BlobError> {
                    for path in part {
                        fs::File::open(path)
                            .and_then(|f| sync(&f))
                            .map_err(|source| BlobError::Io { action: "sync", path: path.clone(), source })?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(BlobError::Io { action: "sync", path: PathBuf::new(), source: std::io::Error::other("sync thread panicked") })
            })
        })
    })
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_roundtrip_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d1 = store.put(b"hello").unwrap();
        let d2 = store.put(b"hello").unwrap();
        assert_eq!(d1, d2);
        assert_eq!(d1.to_hex(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.get(&d1).unwrap(), b"hello");
    }

    #[test]
    fn corrupt_blob_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = store.put(b"hello").unwrap();
        std::fs::write(store.path_of(&d), b"jello").unwrap();
        assert!(matches!(store.get(&d), Err(BlobError::Corrupt { .. })));
    }

    #[test]
    fn unsynced_blobs_are_readable_and_synced_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap().with_fsync(false);
        assert!(!store.fsyncs_each_blob());
        let d = store.put(b"fast").unwrap();
        assert_eq!(store.get(&d).unwrap(), b"fast");
        assert_eq!(store.unsynced.lock().unwrap().len(), 1);
        store.clone().sync().unwrap();
        assert!(store.unsynced.lock().unwrap().is_empty(), "clones share the pending list");
        store.sync().unwrap();
    }

    #[test]
    fn missing_blob_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = Digest::of(b"absent");
        assert!(matches!(store.get(&d), Err(BlobError::NotFound { .. })));
    }
}
