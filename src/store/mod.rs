//! Durable state in the store (`kv`, one redb file): listings and shops (every distinct version kept),
//! crawl jobs and their frontiers.
//!
//! Trees:
//! - `listing_versions` `platform \0 item_id \0 version(u32 BE)` → Listing JSON
//! - `listing_heads`    `platform \0 item_id` → latest version (u32 BE) ‖ SHA-256 of its content
//! - `shop_versions` / `shop_heads`: the same for shops
//! - `jobs`             job id → [`JobRecord`] JSON; `job_runs` spec fingerprint → latest job id
//! - `job/<id>/queue`, `job/<id>/seen`, `job/<id>/candidates`, `job/<id>/errors`: one job's frontier
//!
//! Everything one fetched page changes is committed in one transaction
//! ([`Store::commit_page`]), so a crash leaves either all of a page's effects or none.

mod jobs;
mod versioned;

use std::path::{Path, PathBuf};

use kv::Tree;

pub use jobs::{Counters, FrontierEntry, JobFrontier, JobRecord, JobSpec, JobStatus, PageOutcome, PageResult};
pub use versioned::Stored;

use crate::model::{Listing, Shop};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at `{}`: {}", path.display(), db_reason(source))]
    Open {
        path: PathBuf,
        #[source]
        source: kv::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] kv::Error),
    #[error("corrupt record under key `{key}` in tree `{tree}`: {detail}")]
    Corrupt { tree: String, key: String, detail: String },
    #[error("job `{0}` not found")]
    JobNotFound(String),
    #[error(transparent)]
    Ledger(#[from] evidence::ledger::LedgerError),
}

impl StoreError {
    /// The operating system's error underneath, when the database's own
    /// storage failed (disk full, read-only, I/O error), not its contents.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            StoreError::Open { source: kv::Error::Io(e), .. }
            | StoreError::Db(kv::Error::Io(e))
            | StoreError::Ledger(evidence::ledger::LedgerError::Db(kv::Error::Io(e))) => Some(e),
            _ => None,
        }
    }
}

/// What went wrong with a file system, in words (lowercase, for messages):
/// a full or read-only disk said plainly, anything else as the OS says it.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull => "no space left on device".to_string(),
        std::io::ErrorKind::ReadOnlyFilesystem => "read-only file system".to_string(),
        std::io::ErrorKind::PermissionDenied => format!("permission denied ({e})"),
        _ => e.to_string(),
    }
}

fn db_reason(e: &kv::Error) -> String {
    match e {
        kv::Error::Io(io) => io_reason(io),
        e => e.to_string(),
    }
}

impl From<kv::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: kv::transaction::TransactionError<StoreError>) -> StoreError {
        match e {
            kv::transaction::TransactionError::Abort(e) => e,
            kv::transaction::TransactionError::Storage(e) => StoreError::Db(e),
        }
    }
}

/// The open database. Cheap to clone (the handles are reference-counted).
#[derive(Clone)]
pub struct Store {
    /// The database's directory (for messages).
    path: PathBuf,
    db: kv::Db,
    listing_versions: Tree,
    listing_heads: Tree,
    shop_versions: Tree,
    shop_heads: Tree,
    jobs: Tree,
    job_runs: Tree,
    /// The evidence ledger lives in the same database, so a page's commit can
    /// never survive a crash that its capture's ledger entry did not (the store
    /// recovers a prefix of the writes).
    ledger: evidence::ledger::Ledger,
}

/// The database cache [`Store::open`] gives the store: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How long [`Store::open`] waits for a database lock held by a handle that is closing.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl Store {
    /// Opens (creating if needed) the database in `dir`. Fails clearly if
    /// another spotcheck process holds it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the database with a cache of `cache_bytes`. The cache bounds the
    /// memory the stored data takes, however much is stored (RELIABILITY.md,
    /// "Memory").
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        // The store locks its file; a handle closed a moment ago in this
        // process can keep the lock until its background flusher lets go, so
        // a busy lock is retried for a short while before it is an error.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match kv::Config::new().path(dir).cache_capacity(cache_bytes).flush_every_ms(Some(200)).open() {
                Ok(db) => break db,
                Err(kv::Error::Locked) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(source) => return Err(StoreError::Open { path: dir.to_path_buf(), source }),
            }
        };
        Ok(Store {
            path: dir.to_path_buf(),
            listing_versions: db.open_tree("listing_versions")?,
            listing_heads: db.open_tree("listing_heads")?,
            shop_versions: db.open_tree("shop_versions")?,
            shop_heads: db.open_tree("shop_heads")?,
            jobs: db.open_tree("jobs")?,
            job_runs: db.open_tree("job_runs")?,
            ledger: evidence::ledger::Ledger::open(&db)?,
            db,
        })
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The evidence ledger (in this database).
    /// A random id of this data directory, made once: on a bus shared with
    /// other stations (a cluster) it tells this store's jobs from theirs.
    pub fn instance_id(&self) -> Result<String, StoreError> {
        let meta = self.db.open_tree("meta")?;
        let fresh = hex::encode(rand::random::<[u8; 6]>());
        // The first writer wins; everyone reads what won.
        let _ = meta.compare_and_swap("instance_id", None as Option<&[u8]>, Some(fresh.as_bytes()))?;
        let id = meta.get("instance_id")?.map(|v| String::from_utf8_lossy(&v).into_owned());
        Ok(id.unwrap_or(fresh))
    }

    pub fn ledger(&self) -> &evidence::ledger::Ledger {
        &self.ledger
    }

    /// The database, for stages that keep their own trees in it.
    pub fn db(&self) -> &kv::Db {
        &self.db
    }

    /// Writes everything buffered to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The latest version of every listing, in key order.
    pub fn latest_listings(&self) -> impl Iterator<Item = Result<Listing, StoreError>> + '_ {
        versioned::latest(&self.listing_heads, &self.listing_versions, "listing_versions")
    }

    /// Every stored version of one listing, oldest first.
    pub fn listing_versions(&self, platform: &str, item_id: &str) -> Result<Vec<Listing>, StoreError> {
        versioned::versions(&self.listing_versions, &versioned::identity(platform, item_id), "listing_versions")
    }

    pub fn listing_count(&self) -> usize {
        self.listing_heads.len()
    }

    /// The number of listing versions stored (≥ the number of listings).
    pub fn listing_version_count(&self) -> usize {
        self.listing_versions.len()
    }

    pub fn latest_shops(&self) -> impl Iterator<Item = Result<Shop, StoreError>> + '_ {
        versioned::latest(&self.shop_heads, &self.shop_versions, "shop_versions")
    }

    /// Every stored version of one shop, oldest first.
    pub fn shop_versions(&self, platform: &str, shop_id: &str) -> Result<Vec<Shop>, StoreError> {
        versioned::versions(&self.shop_versions, &versioned::identity(platform, shop_id), "shop_versions")
    }

    pub fn shop_count(&self) -> usize {
        self.shop_heads.len()
    }

    /// The number of shop versions stored (≥ the number of shops).
    pub fn shop_version_count(&self) -> usize {
        self.shop_versions.len()
    }
}

#[cfg(test)]
mod tests;
