//! Opening the store, the write path every change takes, and durability.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redb::{Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::{Error, IVec, Result, Tree, FILE_NAME};

/// How to open a store: `Config::new().path(dir).cache_capacity(bytes).open()`.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    cache_capacity: u64,
    flush_every_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    /// 64 MiB of cache, a durable commit every 500 ms, in `./db`.
    pub fn new() -> Config {
        Config { path: PathBuf::from("db"), cache_capacity: 64 << 20, flush_every_ms: Some(500) }
    }

    /// The directory the store lives in (created if missing).
    pub fn path(mut self, dir: impl AsRef<Path>) -> Config {
        self.path = dir.as_ref().to_path_buf();
        self
    }

    /// Bytes of memory for cached pages: what bounds the store's memory.
    pub fn cache_capacity(mut self, bytes: u64) -> Config {
        self.cache_capacity = bytes;
        self
    }

    /// How often writes are made durable in the background; `None`: only on [`Db::flush`].
    pub fn flush_every_ms(mut self, ms: Option<u64>) -> Config {
        self.flush_every_ms = ms;
        self
    }

    pub fn open(&self) -> Result<Db> {
        Db::open(self)
    }
}

/// Opens the store in `dir` with the default [`Config`].
pub fn open(dir: impl AsRef<Path>) -> Result<Db> {
    Config::new().path(dir).open()
}

/// The open store. Cheap to clone; the file closes when the last clone (and
/// every [`Tree`] from it) is dropped, after a last durable commit.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
    default: Tree,
}

impl std::ops::Deref for Db {
    type Target = Tree;

    /// The default tree, as in sled.
    fn deref(&self) -> &Tree {
        &self.default
    }
}

pub(crate) struct Inner {
    db: redb::Database,
    file: PathBuf,
    /// Commits since the last durable one.
    dirty: AtomicBool,
    /// The write failure (kind, message) after which redb takes no more
    /// writes: later errors repeat it, so "disk full" is not lost.
    failed: std::sync::Mutex<Option<(std::io::ErrorKind, String)>>,
}

/// The table `generate_id` counts in.
const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("__kv_meta");
const DEFAULT_TREE: &str = "__default";

thread_local! {
    /// Whether this thread is inside a write transaction (redb's writer lock
    /// is not re-entrant: a second write on the same thread would wait forever).
    static IN_WRITE: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as writing while it lives.
pub(crate) struct WriteGuard(());

impl WriteGuard {
    pub(crate) fn enter() -> Result<WriteGuard> {
        if IN_WRITE.with(|w| w.replace(true)) {
            return Err(Error::Unsupported(
                "a write was started inside a transaction on the same thread; do it inside the transaction".into(),
            ));
        }
        Ok(WriteGuard(()))
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        IN_WRITE.with(|w| w.set(false));
    }
}

impl Db {
    fn open(config: &Config) -> Result<Db> {
        let dir = &config.path;
        std::fs::create_dir_all(dir)?;
        let file = dir.join(FILE_NAME);
        if !file.exists() && dir.join("conf").exists() && dir.join("db").exists() {
            return Err(Error::Unsupported(format!(
                "`{}` holds a database in the old format (sled) that this version does not read; \
                 move it aside and start a new data directory",
                dir.display()
            )));
        }
        let cache = usize::try_from(config.cache_capacity).unwrap_or(usize::MAX);
        let db = redb::Builder::new().set_cache_size(cache).create(&file)?;
        let inner = Arc::new(Inner { db, file, dirty: AtomicBool::new(false), failed: Default::default() });
        if let Some(ms) = config.flush_every_ms {
            spawn_flusher(Arc::downgrade(&inner), Duration::from_millis(ms.max(1)));
        }
        let default = Tree::new(inner.clone(), DEFAULT_TREE);
        Ok(Db { inner, default })
    }

    /// The tree called `name` (created by its first write).
    pub fn open_tree(&self, name: impl AsRef<[u8]>) -> Result<Tree> {
        let name =
            std::str::from_utf8(name.as_ref()).map_err(|_| Error::Unsupported("a tree's name must be UTF-8".into()))?;
        if name.starts_with("__kv") {
            return Err(Error::Unsupported(format!("tree name `{name}` is reserved")));
        }
        Ok(Tree::new(self.inner.clone(), name))
    }

    /// Removes a tree and everything in it; whether it was there.
    pub fn drop_tree(&self, name: impl AsRef<[u8]>) -> Result<bool> {
        let tree = self.open_tree(name)?;
        self.inner.write(|tx| Ok(tx.delete_table(tree.definition())?))
    }

    /// The names of the trees that hold (or held) something.
    pub fn tree_names(&self) -> Vec<IVec> {
        let names = || -> Result<Vec<IVec>> {
            let tx = self.inner.db.begin_read()?;
            let tables = tx.list_tables()?;
            Ok(tables
                .map(|t| redb::TableHandle::name(&t).as_bytes().into())
                .filter(|n: &IVec| !n.starts_with(b"__kv"))
                .collect())
        };
        names().unwrap_or_default()
    }

    /// A number never handed out before by this store, across restarts too.
    pub fn generate_id(&self) -> Result<u64> {
        self.inner.write(next_id)
    }

    /// Makes every write so far durable; returns 0 (sled returned bytes written).
    pub fn flush(&self) -> Result<usize> {
        self.inner.flush()?;
        Ok(0)
    }

    /// The size of the store's file.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(std::fs::metadata(&self.inner.file)?.len())
    }
}

/// Hands out the next id from the meta table, in the transaction `tx`.
fn next_id(tx: &WriteTransaction) -> Result<u64> {
    let mut meta = tx.open_table(META)?;
    let current = match meta.get(b"next_id".as_slice())? {
        Some(v) => {
            let bytes: [u8; 8] = v.value().try_into().map_err(|_| Error::Corruption("the id counter".into()))?;
            u64::from_be_bytes(bytes)
        }
        None => 0,
    };
    meta.insert(b"next_id".as_slice(), (current + 1).to_be_bytes().as_slice())?;
    Ok(current)
}

impl Inner {
    /// Runs `f` in a write transaction and commits what it did (made durable
    /// by the next flush).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&WriteTransaction) -> Result<R>) -> Result<R> {
        self.write_if(|tx| f(tx).map(|r| (r, true)))
    }

    /// Like [`Inner::write`], but `f` says whether to commit (`true`) or drop
    /// its changes (`false`).
    pub(crate) fn write_if<R>(&self, f: impl FnOnce(&WriteTransaction) -> Result<(R, bool)>) -> Result<R> {
        let _guard = WriteGuard::enter()?;
        let write = || -> Result<R> {
            let tx = self.begin_write()?;
            let (result, commit) = f(&tx)?;
            if commit {
                self.commit(tx)?;
            } else {
                tx.abort()?;
            }
            Ok(result)
        };
        write().map_err(|e| self.note(e))
    }

    /// Remembers the first I/O failure, and answers redb's "an earlier write
    /// failed" with it, so the caller learns what failed (e.g. no space left).
    pub(crate) fn note(&self, e: Error) -> Error {
        let Error::Io(io) = &e else { return e };
        let Ok(mut failed) = self.failed.lock() else { return e };
        if !crate::error::PreviousWriteFailed::is(io) {
            failed.get_or_insert_with(|| (io.kind(), io.to_string()));
            return e;
        }
        match &*failed {
            Some((kind, message)) => Error::Io(std::io::Error::new(
                *kind,
                format!("{message} (an earlier write failed; reopen the database to recover)"),
            )),
            None => e,
        }
    }

    /// A write transaction whose commit is not durable by itself. Call under a [`WriteGuard`].
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::None)?;
        Ok(tx)
    }

    pub(crate) fn commit(&self, tx: WriteTransaction) -> Result<()> {
        tx.commit()?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// One durable commit, which makes every commit before it durable too.
    pub(crate) fn flush(&self) -> Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let durable = || -> Result<()> {
            let _guard = WriteGuard::enter()?;
            let mut tx = self.db.begin_write()?;
            tx.set_durability(Durability::Immediate)?;
            // Saves the allocator's state, so a crash is recovered without a full scan.
            tx.set_quick_repair(true);
            tx.commit()?;
            Ok(())
        };
        durable().map_err(|e| {
            self.dirty.store(true, Ordering::Release);
            self.note(e)
        })
    }

    pub(crate) fn read(&self) -> Result<redb::ReadTransaction> {
        Ok(self.db.begin_read()?)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle: what is not yet durable is made so (as sled did on drop).
        let _ = self.flush();
    }
}

/// Makes the writes durable every `every`, until the store is closed.
fn spawn_flusher(inner: Weak<Inner>, every: Duration) {
    let spawned = std::thread::Builder::new().name("kv-flush".into()).spawn(move || loop {
        std::thread::sleep(every);
        let Some(inner) = inner.upgrade() else { return };
        // A failure leaves the writes marked not durable; the next flush, or
        // an explicit one that can report it, tries again.
        let _ = inner.flush();
    });
    // Without the thread, writes become durable on flush and on close only.
    drop(spawned);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IVec;

    #[test]
    fn ids_only_grow_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let db = open(dir.path()).unwrap();
            (db.generate_id().unwrap(), db.generate_id().unwrap())
        };
        assert_eq!(first, (0, 1));
        let db = open(dir.path()).unwrap();
        assert_eq!(db.generate_id().unwrap(), 2);
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _db = open(dir.path()).unwrap();
        assert!(matches!(open(dir.path()), Err(Error::Locked)));
    }

    #[test]
    fn a_sled_directory_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("conf"), "segment_size: 524288").unwrap();
        std::fs::write(dir.path().join("db"), [0u8; 16]).unwrap();
        let err = open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("old format (sled)"), "{err}");
    }

    #[test]
    fn writes_survive_closing_without_an_explicit_flush() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Config::new().path(dir.path()).flush_every_ms(None).open().unwrap();
            db.open_tree("t").unwrap().insert("k", "v").unwrap();
        }
        let db = open(dir.path()).unwrap();
        assert_eq!(db.open_tree("t").unwrap().get("k").unwrap(), Some(IVec::from("v")));
        assert_eq!(db.open_tree("t").unwrap().len(), 1);
    }

    #[test]
    fn tree_names_and_drop_tree() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path()).unwrap();
        db.open_tree("a").unwrap().insert("k", "v").unwrap();
        db.open_tree("b").unwrap().insert("k", "v").unwrap();
        db.generate_id().unwrap();
        assert_eq!(db.tree_names(), vec![IVec::from("a"), IVec::from("b")]);
        assert!(db.drop_tree("a").unwrap());
        assert!(!db.drop_tree("a").unwrap());
        assert_eq!(db.tree_names(), vec![IVec::from("b")]);
        assert!(db.open_tree("__kv_meta").is_err());
    }

    #[test]
    fn the_default_tree_is_the_db_itself() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path()).unwrap();
        db.insert("k", "v").unwrap();
        assert_eq!(db.get("k").unwrap(), Some(IVec::from("v")));
    }
}
