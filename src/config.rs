//! Settings shared by every command: where the data lives.

use std::path::{Path, PathBuf};

/// The data directory's layout. Everything spotcheck keeps lives under one root.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub const DEFAULT: &'static str = "spotcheck-data";

    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sled database (listings, shops, jobs, frontiers).
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Content-addressed artifacts (raw responses, capture records).
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }
}
