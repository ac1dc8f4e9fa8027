//! spotcheck's ordered key-value store.
//!
//! The interface is sled's (named trees of byte keys in order, transactions
//! over several trees, `compare_and_swap`, `generate_id`), because every stage
//! was written against it. The data is kept in one [redb] file, because sled
//! 0.34 keeps an in-memory record of every page it has ever written, cached or
//! not, so its memory grows with the data stored (sled issue #1093; measured in
//! RELIABILITY.md, "Memory"). redb's memory is its cache, whatever the size of
//! the file.
//!
//! Durability is sled's too: a write is visible at once and on disk within
//! `flush_every_ms` (a background thread makes one durable commit for all the
//! writes since the last), or at once after [`Db::flush`]. A crash loses at
//! most the writes since the last durable commit, and always a whole
//! transaction or none of it: the file is recovered to a commit boundary.
//!
//! One write transaction runs at a time (redb's rule). A write started on a
//! thread that is already inside a transaction would wait for itself, so it is
//! refused with [`Error::Unsupported`] instead.

mod db;
mod error;
mod ivec;
pub mod transaction;
mod tree;

pub use db::{open, Config, Db};
pub use error::{Error, Result};
pub use ivec::IVec;
pub use transaction::Transactional;
pub use tree::{Batch, CompareAndSwapError, Iter, Tree};

/// The name of the file the store keeps in its directory.
pub const FILE_NAME: &str = "spotcheck.redb";
