//! Content-addressed, write-once storage of artifacts, keyed by SHA-256.
//!
//! Layout: `<root>/sha256/ab/cdef…` (the first two hex digits fan out the
//! directory). A blob is written to a temporary file in the same directory,
//! fsynced, then renamed into place, so a crash never leaves a half-written
//! blob under its final name; an existing blob is never rewritten.
//!
//! Durability trade-off: with [`BlobStore::with_fsync`]`(false)` a blob is
//! written and renamed without waiting for the disk; [`BlobStore::sync`] then
//! makes everything written so far durable with one `syncfs(2)` (data and the
//! renames, for the whole filesystem) instead of an fsync per file. A crash
//! between `put` and `sync` can lose those blobs or leave one of the wrong
//! length under its name; `get` re-hashes (so it is never trusted) and `put`
//! replaces it. A caller must `sync` before recording anywhere that a digest
//! is stored (the crawl's group commit does).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::Digest;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error(transparent)]
    BadDigest(#[from] crate::digest::BadDigest),
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
    /// Which of the 256 fan-out directories this store has made sure exist
    /// (one bit each, shared by clones), so a `put` does not ask the
    /// filesystem again every time.
    fan_out: Arc<FanOut>,
}

/// One bit per fan-out directory `00` … `ff`.
#[derive(Debug, Default)]
struct FanOut([AtomicU64; 4]);

impl FanOut {
    fn is_known(&self, index: u8) -> bool {
        self.0[usize::from(index / 64)].load(Ordering::Relaxed) & (1 << (index % 64)) != 0
    }

    fn know(&self, index: u8) {
        self.0[usize::from(index / 64)].fetch_or(1 << (index % 64), Ordering::Relaxed);
    }
}

impl BlobStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, BlobError> {
        let root = root.into();
        let dir = root.join("sha256");
        fs::create_dir_all(&dir).map_err(|source| BlobError::Io { action: "create", path: dir, source })?;
        Ok(BlobStore { root, fsync: true, unsynced: Arc::default(), fan_out: Arc::default() })
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

    /// Makes every blob written so far durable — file data and the renames
    /// that put them in place — with one `syncfs(2)` on the store's
    /// filesystem. A no-op when nothing was written without fsync since the
    /// last sync.
    pub fn sync(&self) -> Result<(), BlobError> {
        let pending = std::mem::take(&mut *self.unsynced.lock().unwrap_or_else(|e| e.into_inner()));
        if pending.is_empty() {
            return Ok(());
        }
        let result = fs::File::open(&self.root)
            .and_then(|root| nix::unistd::syncfs(&root).map_err(std::io::Error::from))
            .map_err(|source| BlobError::Io { action: "sync", path: self.root.clone(), source });
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
        // An existing blob of the right length is this content (its name is its
        // hash). One of another length is the remains of a crash before a sync
        // (renamed into place, data never flushed): it is replaced below.
        if fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64) {
            return Ok(digest);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        let fan_out = digest.0[0];
        let make_dir = || {
            fs::create_dir_all(&dir).map_err(|source| BlobError::Io { action: "create", path: dir.clone(), source })?;
            self.fan_out.know(fan_out);
            Ok::<(), BlobError>(())
        };
        if !self.fan_out.is_known(fan_out) {
            make_dir()?;
        }
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), unique()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.fsync {
                f.sync_data()?;
            }
            fs::rename(&tmp, &path)
        };
        let mut written = write();
        if written.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            // The directory went away under us (removed by hand): make it again, once.
            let _ = fs::remove_file(&tmp);
            make_dir()?;
            written = write();
        }
        if let Err(source) = written {
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
    fn a_blob_left_short_by_a_crash_is_replaced_by_the_next_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap().with_fsync(false);
        let d = store.put(b"captured page").unwrap();
        std::fs::write(store.path_of(&d), b"").unwrap(); // renamed, never flushed
        assert!(store.get(&d).is_err());
        assert_eq!(store.put(b"captured page").unwrap(), d);
        assert_eq!(store.get(&d).unwrap(), b"captured page");
        store.sync().unwrap();
    }

    #[test]
    fn a_fan_out_directory_removed_while_open_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = store.put(b"first").unwrap();
        let fan_out = store.path_of(&d).parent().unwrap().to_path_buf();
        std::fs::remove_dir_all(&fan_out).unwrap();
        // Same fan-out directory (first hex digits), which the store believes exists.
        let again = store.put(b"first").unwrap();
        assert_eq!(again, d);
        assert_eq!(store.get(&d).unwrap(), b"first");
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
