//! What can go wrong, in the store's words (redb's errors folded in).

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What redb says after a write failed: it takes no more writes until
/// reopened. [`crate::Db`] replaces it with the failure itself (`Inner::note`).
#[derive(Debug)]
pub(crate) struct PreviousWriteFailed;

impl fmt::Display for PreviousWriteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an earlier write to the database failed; reopen the database to recover")
    }
}

impl std::error::Error for PreviousWriteFailed {}

impl PreviousWriteFailed {
    pub(crate) fn is(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<PreviousWriteFailed>())
    }
}

#[derive(Debug)]
pub enum Error {
    /// The file system failed: disk full, read-only, permission, I/O.
    Io(std::io::Error),
    /// Another process (or another handle in this one) has the database open.
    Locked,
    /// The file is not a database this version can read, or is damaged.
    Corruption(String),
    /// Something this store does not do (the message says what).
    Unsupported(String),
    /// A state the store should never reach.
    ReportableBug(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Locked => write!(f, "the database is in use by another process (could not acquire lock)"),
            Error::Corruption(what) => write!(f, "the database file is damaged or not a database: {what}"),
            Error::Unsupported(what) => write!(f, "{what}"),
            Error::ReportableBug(what) => write!(f, "internal database error: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Error {
        match e {
            redb::Error::Io(io) => Error::Io(io),
            redb::Error::DatabaseAlreadyOpen => Error::Locked,
            redb::Error::Corrupted(what) => Error::Corruption(what),
            redb::Error::UpgradeRequired(v) => Error::Corruption(format!("file format version {v} needs upgrading")),
            redb::Error::PreviousIo => Error::Io(std::io::Error::other(PreviousWriteFailed)),
            redb::Error::ValueTooLarge(n) => Error::Unsupported(format!("a value of {n} bytes is too large to store")),
            other => Error::ReportableBug(other.to_string()),
        }
    }
}

/// redb has one error type per operation; all of them fold into [`Error`].
macro_rules! from_redb {
    ($($t:ty),+) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::from(redb::Error::from(e))
            }
        }
    )+};
}
from_redb!(
    redb::StorageError,
    redb::TransactionError,
    redb::TableError,
    redb::CommitError,
    redb::DatabaseError,
    redb::SetDurabilityError
);
