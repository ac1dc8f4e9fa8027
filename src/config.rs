//! Settings shared by every command: where the data lives.

use std::path::{Path, PathBuf};

/// The data directory's layout. Everything spotcheck keeps lives under one root.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    /// The database's cache, bytes: what bounds the memory the stored data takes.
    db_cache: u64,
}

impl DataDir {
    pub const DEFAULT: &'static str = "spotcheck-data";

    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into(), db_cache: crate::store::DEFAULT_CACHE_BYTES }
    }

    /// The same directory with a database cache of `mib` MiB (see [`Store::open_with_cache`]).
    ///
    /// [`Store::open_with_cache`]: crate::store::Store::open_with_cache
    pub fn with_db_cache_mib(mut self, mib: u64) -> DataDir {
        self.db_cache = mib.saturating_mul(1024 * 1024);
        self
    }

    /// Opens the station's database with this directory's cache size.
    pub fn open_store(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        crate::store::Store::open_with_cache(&self.db(), self.db_cache)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database (listings, shops, jobs, frontiers).
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Content-addressed artifacts (raw responses, capture records).
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The station's signing key (`station.key`, mode 0600) and public key.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// Evidence bundles written by `spotcheck evidence bundle` and the demo.
    pub fn bundles(&self) -> PathBuf {
        self.root.join("bundles")
    }
}

/// Who is capturing: the station (this machine's id in signed checkpoints and
/// capture records) and the operators on whose behalf it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub station: String,
    pub operators: Vec<String>,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity { station: "station-1".to_string(), operators: Vec::new() }
    }
}
