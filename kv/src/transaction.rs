//! Transactions over one or more trees of a store, with sled's shape:
//! `(&a, &b).transaction(|(a, b)| { a.insert(..)?; b.remove(..)?; Ok(()) })`.
//!
//! The closure runs once, in one redb write transaction; returning `Ok`
//! commits everything it did, returning an error (or [`abort`]) drops it all.

use std::cell::RefCell;
use std::rc::Rc;

use redb::{ReadableTable, WriteTransaction};

use crate::db::{Inner, WriteGuard};
use crate::{Error, IVec, Tree};

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TransactionError<E = ()> {
    /// The closure aborted with this.
    Abort(E),
    /// The store failed.
    Storage(Error),
}

/// What a transaction's closure may fail with.
#[derive(Debug)]
pub enum ConflictableTransactionError<E = ()> {
    Abort(E),
    Storage(Error),
    /// Kept for sled's shape; this store never has conflicts (one writer at a time).
    Conflict,
}

/// What one operation inside a transaction may fail with.
#[derive(Debug)]
pub enum UnabortableTransactionError {
    Conflict,
    Storage(Error),
}

pub type TransactionResult<T, E = ()> = Result<T, TransactionError<E>>;
pub type ConflictableTransactionResult<T, E = ()> = Result<T, ConflictableTransactionError<E>>;
pub type UnabortableTransactionResult<T> = Result<T, UnabortableTransactionError>;

/// Ends the transaction, dropping its writes, with `e`.
pub fn abort<A, E>(e: E) -> ConflictableTransactionResult<A, E> {
    Err(ConflictableTransactionError::Abort(e))
}

impl<E> From<Error> for ConflictableTransactionError<E> {
    fn from(e: Error) -> Self {
        ConflictableTransactionError::Storage(e)
    }
}

impl<E> From<UnabortableTransactionError> for ConflictableTransactionError<E> {
    fn from(e: UnabortableTransactionError) -> Self {
        match e {
            UnabortableTransactionError::Conflict => ConflictableTransactionError::Conflict,
            UnabortableTransactionError::Storage(e) => ConflictableTransactionError::Storage(e),
        }
    }
}

impl From<Error> for UnabortableTransactionError {
    fn from(e: Error) -> Self {
        UnabortableTransactionError::Storage(e)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for TransactionError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransactionError::Abort(e) => write!(f, "transaction aborted: {e}"),
            TransactionError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for TransactionError<E> {}

/// One tree as a transaction sees it: reads see the transaction's own writes.
pub struct TransactionalTree {
    tx: Rc<RefCell<Option<WriteTransaction>>>,
    tree: Tree,
}

impl TransactionalTree {
    fn with<R>(
        &self,
        f: impl FnOnce(&mut redb::Table<&'static [u8], &'static [u8]>) -> crate::Result<R>,
    ) -> crate::Result<R> {
        let tx = self.tx.borrow();
        let tx = tx.as_ref().ok_or_else(|| Error::ReportableBug("transaction used after it ended".into()))?;
        let mut table = tx.open_table(self.tree.definition())?;
        f(&mut table)
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> UnabortableTransactionResult<Option<IVec>> {
        Ok(self.with(|t| Ok(t.get(key.as_ref())?.map(|v| v.value().into())))?)
    }

    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl Into<IVec>) -> UnabortableTransactionResult<Option<IVec>> {
        let value: IVec = value.into();
        Ok(self.with(|t| Ok(t.insert(key.as_ref(), &value[..])?.map(|v| v.value().into())))?)
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> UnabortableTransactionResult<Option<IVec>> {
        Ok(self.with(|t| Ok(t.remove(key.as_ref())?.map(|v| v.value().into())))?)
    }
}

/// Runs `f` once over the views `make` builds, in one write transaction of `inner`.
fn run<V, A, E>(
    inner: &Inner,
    make: impl FnOnce(&Rc<RefCell<Option<WriteTransaction>>>) -> V,
    f: impl Fn(&V) -> ConflictableTransactionResult<A, E>,
) -> TransactionResult<A, E> {
    let _guard = WriteGuard::enter().map_err(TransactionError::Storage)?;
    let storage = |e: Error| TransactionError::Storage(inner.note(e));
    let tx = inner.begin_write().map_err(storage)?;
    let cell = Rc::new(RefCell::new(Some(tx)));
    let view = make(&cell);
    let outcome = f(&view);
    drop(view);
    let tx = cell
        .borrow_mut()
        .take()
        .ok_or_else(|| TransactionError::Storage(Error::ReportableBug("transaction ended twice".into())))?;
    match outcome {
        Ok(value) => {
            inner.commit(tx).map_err(storage)?;
            Ok(value)
        }
        Err(e) => {
            // Dropping a transaction drops its writes; abort only says so sooner.
            let _ = tx.abort();
            Err(match e {
                ConflictableTransactionError::Abort(e) => TransactionError::Abort(e),
                ConflictableTransactionError::Storage(e) => storage(e),
                ConflictableTransactionError::Conflict => {
                    TransactionError::Storage(Error::ReportableBug("a transaction reported a conflict".into()))
                }
            })
        }
    }
}

/// Trees that can be written together in one transaction.
pub trait Transactional<E = ()> {
    type View;

    fn transaction<F, A>(&self, f: F) -> TransactionResult<A, E>
    where
        F: Fn(&Self::View) -> ConflictableTransactionResult<A, E>;
}

impl Tree {
    /// A transaction over this tree alone.
    pub fn transaction<F, A, E>(&self, f: F) -> TransactionResult<A, E>
    where
        F: Fn(&TransactionalTree) -> ConflictableTransactionResult<A, E>,
    {
        run(&self.inner, |tx| TransactionalTree { tx: tx.clone(), tree: self.clone() }, f)
    }
}

macro_rules! view_of {
    ($t:ident) => {
        TransactionalTree
    };
}

macro_rules! tree_ref {
    ($t:ident) => {
        &Tree
    };
}

macro_rules! transactional_tuple {
    ($first:ident $(, $rest:ident)*) => {
        impl<E> Transactional<E> for (tree_ref!($first), $(tree_ref!($rest),)*) {
            type View = (view_of!($first), $(view_of!($rest),)*);

            #[allow(non_snake_case)]
            fn transaction<F, A>(&self, f: F) -> TransactionResult<A, E>
            where
                F: Fn(&Self::View) -> ConflictableTransactionResult<A, E>,
            {
                let ($first, $($rest,)*) = *self;
                $(
                    if !$first.same_store($rest) {
                        return Err(TransactionError::Storage(Error::Unsupported(
                            "a transaction's trees must all be in one store".into(),
                        )));
                    }
                )*
                run(
                    &$first.inner,
                    |tx| (
                        TransactionalTree { tx: tx.clone(), tree: $first.clone() },
                        $(TransactionalTree { tx: tx.clone(), tree: $rest.clone() },)*
                    ),
                    f,
                )
            }
        }
    };
}

transactional_tuple!(A);
transactional_tuple!(A, B);
transactional_tuple!(A, B, C);
transactional_tuple!(A, B, C, D);
transactional_tuple!(A, B, C, D, G);
transactional_tuple!(A, B, C, D, G, H);
transactional_tuple!(A, B, C, D, G, H, I);
transactional_tuple!(A, B, C, D, G, H, I, J);
transactional_tuple!(A, B, C, D, G, H, I, J, K);
transactional_tuple!(A, B, C, D, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IVec;

    fn store() -> (tempfile::TempDir, crate::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::open(dir.path()).unwrap();
        (dir, db)
    }

    #[test]
    fn a_transaction_commits_all_its_trees_or_none() {
        let (_dir, db) = store();
        let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
        (&a, &b)
            .transaction(|(a, b)| {
                a.insert("k", "1")?;
                b.insert("k", "2")?;
                // Reads see the transaction's own writes.
                assert_eq!(a.get("k")?, Some(IVec::from("1")));
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .unwrap();
        let aborted = (&a, &b).transaction(|(a, b)| {
            a.remove("k")?;
            b.insert("k", "3")?;
            abort::<(), _>("no")
        });
        assert!(matches!(aborted, Err(TransactionError::Abort("no"))));
        assert_eq!(a.get("k").unwrap(), Some(IVec::from("1")));
        assert_eq!(b.get("k").unwrap(), Some(IVec::from("2")));
    }

    #[test]
    fn a_write_inside_a_transaction_on_the_same_thread_is_refused_not_a_deadlock() {
        let (_dir, db) = store();
        let a = db.open_tree("a").unwrap();
        let nested = a.transaction(|_| Ok::<_, ConflictableTransactionError<()>>(a.insert("k", "v")));
        let err = nested.unwrap().unwrap_err().to_string();
        assert!(err.contains("inside a transaction"), "{err}");
        assert!(a.is_empty());
        // The guard is released: writes work again.
        a.insert("k", "v").unwrap();
    }

    #[test]
    fn trees_of_two_stores_cannot_share_a_transaction() {
        let (_d1, one) = store();
        let (_d2, two) = store();
        let (a, b) = (one.open_tree("a").unwrap(), two.open_tree("b").unwrap());
        let r = (&a, &b).transaction(|_| Ok::<_, ConflictableTransactionError<()>>(()));
        assert!(matches!(r, Err(TransactionError::Storage(Error::Unsupported(_)))));
    }

    #[test]
    fn writers_on_many_threads_all_land() {
        let (_dir, db) = store();
        let t = db.open_tree("t").unwrap();
        std::thread::scope(|s| {
            for i in 0..4u32 {
                let t = t.clone();
                s.spawn(move || {
                    for j in 0..50u32 {
                        t.transaction(|tx| {
                            tx.insert(format!("{i}/{j}"), "v")?;
                            Ok::<_, ConflictableTransactionError<()>>(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(t.len(), 200);
    }
}
