//! A named tree: byte keys in order, each write its own transaction.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadableTable, ReadableTableMetadata, TableDefinition, TableError};

use crate::db::Inner;
use crate::{Error, IVec, Result};

type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A named, ordered map of byte keys to byte values. Cheap to clone.
#[derive(Clone)]
pub struct Tree {
    pub(crate) inner: Arc<Inner>,
    name: Arc<str>,
}

/// Why a [`Tree::compare_and_swap`] did not swap: the value found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareAndSwapError {
    pub current: Option<IVec>,
    pub proposed: Option<IVec>,
}

impl std::fmt::Display for CompareAndSwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "compare and swap conflict")
    }
}

impl std::error::Error for CompareAndSwapError {}

/// Writes applied together by [`Tree::apply_batch`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub(crate) ops: Vec<(IVec, Option<IVec>)>,
}

impl Batch {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<IVec>) {
        self.ops.push((key.as_ref().into(), Some(value.into())));
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.ops.push((key.as_ref().into(), None));
    }
}

impl Tree {
    pub(crate) fn new(inner: Arc<Inner>, name: &str) -> Tree {
        Tree { inner, name: Arc::from(name) }
    }

    pub(crate) fn definition(&self) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
        TableDefinition::new(&self.name)
    }

    pub(crate) fn same_store(&self, other: &Tree) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The tree's name.
    pub fn name(&self) -> IVec {
        self.name.as_bytes().into()
    }

    /// The table as of now, or `None` if nothing was ever written to it.
    fn snapshot(&self) -> Result<Option<Table>> {
        let tx = self.inner.read()?;
        match tx.open_table(self.definition()) {
            Ok(table) => Ok(Some(table)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>> {
        let Some(table) = self.snapshot()? else { return Ok(None) };
        Ok(table.get(key.as_ref())?.map(|v| v.value().into()))
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Stores `value` under `key`; the value it replaced.
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl Into<IVec>) -> Result<Option<IVec>> {
        let value: IVec = value.into();
        self.inner.write(|tx| {
            let mut table = tx.open_table(self.definition())?;
            let old = table.insert(key.as_ref(), &value[..])?;
            Ok(old.map(|v| v.value().into()))
        })
    }

    /// Removes `key`; the value it had.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>> {
        self.inner.write(|tx| {
            let mut table = tx.open_table(self.definition())?;
            let old = table.remove(key.as_ref())?;
            Ok(old.map(|v| v.value().into()))
        })
    }

    /// Sets `key` to `new` (or removes it, for `None`) if its value is `old`
    /// (`None`: absent); otherwise changes nothing and says what is there.
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<impl AsRef<[u8]>>,
        new: Option<impl Into<IVec>>,
    ) -> Result<std::result::Result<(), CompareAndSwapError>> {
        let key = key.as_ref();
        let new: Option<IVec> = new.map(Into::into);
        self.inner.write_if(|tx| {
            let mut table = tx.open_table(self.definition())?;
            let current = table.get(key)?.map(|v| v.value().into());
            if current.as_deref() != old.as_ref().map(AsRef::as_ref) {
                return Ok((Err(CompareAndSwapError { current, proposed: new.clone() }), false));
            }
            match &new {
                Some(value) => drop(table.insert(key, &value[..])?),
                None => drop(table.remove(key)?),
            }
            Ok((Ok(()), true))
        })
    }

    /// Applies every write in `batch` in one transaction.
    pub fn apply_batch(&self, batch: Batch) -> Result<()> {
        self.inner.write(|tx| {
            let mut table = tx.open_table(self.definition())?;
            for (key, value) in &batch.ops {
                match value {
                    Some(value) => drop(table.insert(&key[..], &value[..])?),
                    None => drop(table.remove(&key[..])?),
                }
            }
            Ok(())
        })
    }

    /// Removes everything in the tree.
    pub fn clear(&self) -> Result<()> {
        self.inner.write(|tx| {
            tx.delete_table(self.definition())?;
            Ok(())
        })
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<usize> {
        self.inner.flush()?;
        Ok(0)
    }

    /// The number of keys (counted by the store, not by walking them).
    pub fn len(&self) -> usize {
        let count = || -> Result<u64> { Ok(self.snapshot()?.map(|t| t.len()).transpose()?.unwrap_or(0)) };
        count().map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn first(&self) -> Result<Option<(IVec, IVec)>> {
        let Some(table) = self.snapshot()? else { return Ok(None) };
        let entry = table.first()?.map(|(k, v)| (k.value().into(), v.value().into()));
        Ok(entry)
    }

    pub fn last(&self) -> Result<Option<(IVec, IVec)>> {
        let Some(table) = self.snapshot()? else { return Ok(None) };
        let entry = table.last()?.map(|(k, v)| (k.value().into(), v.value().into()));
        Ok(entry)
    }

    /// Every entry, in key order (a snapshot: later writes are not seen).
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// The entries whose keys fall in `range`, in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().into()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().into()),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.range_owned(own(range.start_bound()), own(range.end_bound()))
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let prefix = prefix.as_ref();
        let end = successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        self.range_owned(Bound::Included(prefix.into()), end)
    }

    fn range_owned(&self, start: Bound<IVec>, end: Bound<IVec>) -> Iter {
        fn borrow(b: &Bound<IVec>) -> Bound<&[u8]> {
            match b {
                Bound::Included(k) => Bound::Included(&k[..]),
                Bound::Excluded(k) => Bound::Excluded(&k[..]),
                Bound::Unbounded => Bound::Unbounded,
            }
        }
        // redb panics on a range whose start is after its end; sled yields nothing.
        if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) = (&start, &end) {
            let touching = s == e && !(matches!(start, Bound::Included(_)) && matches!(end, Bound::Included(_)));
            if s > e || touching {
                return Iter::Done;
            }
        }
        let range = || -> Result<Option<RedbRange>> {
            let Some(table) = self.snapshot()? else { return Ok(None) };
            Ok(Some(table.range::<&[u8]>((borrow(&start), borrow(&end)))?))
        };
        match range() {
            Ok(Some(range)) => Iter::Range(Box::new(range)),
            Ok(None) => Iter::Done,
            Err(e) => Iter::Failed(Some(e)),
        }
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
fn successor(prefix: &[u8]) -> Option<IVec> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end.into());
        }
    }
    None
}

type RedbRange = redb::Range<'static, &'static [u8], &'static [u8]>;
type Guards<'a> = (redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>);

/// Entries of a tree in key order (either end), each a `Result`.
pub enum Iter {
    Range(Box<RedbRange>),
    Failed(Option<Error>),
    Done,
}

type Item = Result<(IVec, IVec)>;

fn owned(item: std::result::Result<Guards<'_>, redb::StorageError>) -> Item {
    let (k, v) = item?;
    Ok((k.value().into(), v.value().into()))
}

impl Iterator for Iter {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        match self {
            Iter::Range(range) => range.next().map(owned),
            Iter::Failed(e) => e.take().map(Err),
            Iter::Done => None,
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Item> {
        match self {
            Iter::Range(range) => range.next_back().map(owned),
            Iter::Failed(e) => e.take().map(Err),
            Iter::Done => None,
        }
    }
}

impl Iter {
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<IVec>> {
        self.map(|r| r.map(|(k, _)| k))
    }

    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<IVec>> {
        self.map(|r| r.map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::open(dir.path()).unwrap();
        let tree = db.open_tree("t").unwrap();
        (dir, tree)
    }

    fn keys(iter: Iter) -> Vec<IVec> {
        iter.keys().collect::<Result<_>>().unwrap()
    }

    #[test]
    fn reads_of_a_tree_never_written_are_empty() {
        let (_dir, t) = tree();
        assert_eq!(t.get("k").unwrap(), None);
        assert_eq!(t.len(), 0);
        assert_eq!(t.first().unwrap(), None);
        assert_eq!(keys(t.iter()), Vec::<IVec>::new());
        assert_eq!(t.remove("k").unwrap(), None);
    }

    #[test]
    fn insert_returns_what_it_replaced_and_remove_what_it_removed() {
        let (_dir, t) = tree();
        assert_eq!(t.insert("k", "1").unwrap(), None);
        assert_eq!(t.insert("k", "2").unwrap(), Some(IVec::from("1")));
        assert_eq!(t.remove("k").unwrap(), Some(IVec::from("2")));
        assert!(t.is_empty());
    }

    #[test]
    fn ranges_prefixes_and_both_ends() {
        let (_dir, t) = tree();
        for k in ["a", "ab", "abc", "b", "b\u{ff}", "c"] {
            t.insert(k, k).unwrap();
        }
        t.insert([0xffu8, 0xff], "x").unwrap();
        assert_eq!(keys(t.scan_prefix("ab")), vec![IVec::from("ab"), IVec::from("abc")]);
        assert_eq!(keys(t.scan_prefix([0xffu8])), vec![vec![0xffu8, 0xff]]);
        assert_eq!(keys(t.range("ab".."b")), vec![IVec::from("ab"), IVec::from("abc")]);
        assert_eq!(keys(t.range("b"..)).len(), 4);
        assert_eq!(t.iter().next_back().unwrap().unwrap().0, vec![0xffu8, 0xff]);
        assert_eq!(t.last().unwrap().unwrap().0, vec![0xffu8, 0xff]);
        assert_eq!(t.first().unwrap().unwrap().0, IVec::from("a"));
        // A reversed or empty range is empty, not a panic.
        assert!(keys(t.range("c".."a")).is_empty());
        assert!(keys(t.range("b".."b")).is_empty());
        assert_eq!(keys(t.range("b"..="b")), vec![IVec::from("b")]);
        assert_eq!(t.len(), 7);
    }

    #[test]
    fn compare_and_swap_swaps_only_on_the_expected_value() {
        let (_dir, t) = tree();
        assert!(t.compare_and_swap("k", None::<&[u8]>, Some("1")).unwrap().is_ok());
        let lost = t.compare_and_swap("k", None::<&[u8]>, Some("2")).unwrap().unwrap_err();
        assert_eq!(lost.current, Some(IVec::from("1")));
        assert!(t.compare_and_swap("k", Some("1"), None::<IVec>).unwrap().is_ok());
        assert_eq!(t.get("k").unwrap(), None);
    }

    #[test]
    fn a_batch_applies_in_order() {
        let (_dir, t) = tree();
        let mut batch = Batch::default();
        batch.insert("a", "1");
        batch.insert("b", "2");
        batch.remove("a");
        t.apply_batch(batch).unwrap();
        assert_eq!(keys(t.iter()), vec![IVec::from("b")]);
        t.clear().unwrap();
        assert!(t.is_empty());
    }

    #[test]
    fn an_iterator_is_a_snapshot_and_writes_while_iterating_do_not_block() {
        let (_dir, t) = tree();
        t.insert("a", "1").unwrap();
        let mut iter = t.iter();
        t.insert("b", "2").unwrap();
        assert_eq!(iter.next().unwrap().unwrap().0, IVec::from("a"));
        assert!(iter.next().is_none());
    }
}
