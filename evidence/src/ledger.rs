//! The ledger: an append-only, hash-chained log of every capture manifest,
//! finding, export and custody event, kept in the store, with signed Merkle
//! checkpoints over it.
//!
//! Each entry is stored as the exact JSON bytes that were hashed: it names
//! the SHA-256 of the entry before it (`prev`), so changing, removing or
//! reordering any entry breaks the chain, and it is a leaf of the RFC 9162
//! tree ([`crate::merkle`]) whose roots the station signs
//! ([`crate::checkpoint`]). An entry, once written, is never rewritten.
//!
//! Atomicity: a batch of entries, the tree nodes they complete, the head and
//! the subject index go in one transaction, so a kill at any moment
//! leaves either all of a batch or none of it. Durability comes from
//! [`Ledger::flush`] (callers flush before anything outside the ledger
//! depends on an entry).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use kv::transaction::{ConflictableTransactionError, TransactionError};
use kv::Transactional;
use serde::Serialize;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::keys::{PublicKey, StationKey};
use crate::merkle::{self, MemoryTree, NodeSource};
use crate::Digest;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger storage: {0}")]
    Db(#[from] kv::Error),
    #[error("ledger entry {seq} is unreadable: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("ledger has no entry {seq} (it has {size})")]
    NoEntry { seq: u64, size: u64 },
    #[error("ledger has no checkpoint of size {0}")]
    NoCheckpoint(u64),
    #[error("ledger tree node (level {level}, index {index}) is missing")]
    MissingNode { level: u32, index: u64 },
    #[error("station id: {0}")]
    Station(#[from] crate::checkpoint::CheckpointError),
}

pub use crate::entry::{Entry, EntryKind, NewEntry};

/// Where an appended entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    /// SHA-256 of the entry's bytes.
    pub hash: Digest,
}

/// The append-only log in a database (it shares the database with the
/// rest of the station's state but only touches its own `ledger_*` trees).
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    db: kv::Db,
    entries: kv::Tree,
    nodes: kv::Tree,
    meta: kv::Tree,
    checkpoints: kv::Tree,
    tokens: kv::Tree,
    subjects: kv::Tree,
    /// Serialises appends and checkpoints (the store is open in one process at a time).
    write: Mutex<()>,
}

const HEAD: &[u8] = b"head";

fn node_key(level: u32, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level as u8;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn subject_key(subject: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(subject.len() + 9);
    k.extend_from_slice(subject.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn digest_of(bytes: &[u8]) -> Option<Digest> {
    <[u8; 32]>::try_from(bytes).ok().map(Digest)
}

/// Reads perfect-subtree hashes from the node tree, seeing nodes of the batch
/// being appended first.
struct StoredNodes<'a> {
    tree: &'a kv::Tree,
    pending: &'a HashMap<(u32, u64), Digest>,
}

impl NodeSource for StoredNodes<'_> {
    type Error = LedgerError;
    fn perfect(&self, level: u32, index: u64) -> Result<Digest, LedgerError> {
        if let Some(d) = self.pending.get(&(level, index)) {
            return Ok(*d);
        }
        self.tree
            .get(node_key(level, index))?
            .and_then(|v| digest_of(&v))
            .ok_or(LedgerError::MissingNode { level, index })
    }
}

impl Ledger {
    pub fn open(db: &kv::Db) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            inner: Arc::new(Inner {
                db: db.clone(),
                entries: db.open_tree("ledger_entries")?,
                nodes: db.open_tree("ledger_nodes")?,
                meta: db.open_tree("ledger_meta")?,
                checkpoints: db.open_tree("ledger_checkpoints")?,
                tokens: db.open_tree("ledger_tokens")?,
                subjects: db.open_tree("ledger_subjects")?,
                write: Mutex::new(()),
            }),
        })
    }

    /// Number of entries and the hash of the last one.
    pub fn head(&self) -> Result<(u64, Digest), LedgerError> {
        match self.inner.meta.get(HEAD)? {
            Some(v) if v.len() == 40 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&v[..8]);
                let hash = digest_of(&v[8..]).unwrap_or(Digest([0; 32]));
                Ok((u64::from_be_bytes(n), hash))
            }
            Some(_) => Err(LedgerError::Corrupt { seq: 0, reason: "head record is not 40 bytes".into() }),
            None => Ok((0, Digest([0; 32]))),
        }
    }

    pub fn len(&self) -> Result<u64, LedgerError> {
        Ok(self.head()?.0)
    }

    pub fn is_empty(&self) -> Result<bool, LedgerError> {
        Ok(self.len()? == 0)
    }

    /// Appends `batch` atomically; returns where each entry went.
    pub fn append(&self, batch: Vec<NewEntry>) -> Result<Vec<Appended>, LedgerError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
        let (mut size, mut prev) = self.head()?;
        let now = Utc::now();
        let mut rows: Vec<(u64, Vec<u8>, Vec<String>)> = Vec::with_capacity(batch.len());
        let mut pending: HashMap<(u32, u64), Digest> = HashMap::new();
        let mut appended = Vec::with_capacity(batch.len());
        for new in batch {
            let entry = Entry { seq: size, prev, at: now, kind: new.kind, subject: new.subject, body: new.body };
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| LedgerError::Corrupt { seq: size, reason: format!("cannot encode: {e}") })?;
            let leaf = merkle::leaf_hash(&bytes);
            let nodes = StoredNodes { tree: &self.inner.nodes, pending: &pending };
            for (level, index, hash) in merkle::completed_by(&nodes, size, leaf)? {
                pending.insert((level, index), hash);
            }
            prev = Digest::of(&bytes);
            appended.push(Appended { seq: size, hash: prev });
            let mut about = new.also_about;
            about.push(entry.subject);
            rows.push((size, bytes, about));
            size += 1;
        }
        let mut head = size.to_be_bytes().to_vec();
        head.extend_from_slice(&prev.0);
        let i = &self.inner;
        (&i.entries, &i.nodes, &i.meta, &i.subjects)
            .transaction(|(entries, nodes, meta, subjects)| {
                for (seq, bytes, about) in &rows {
                    entries.insert(seq.to_be_bytes(), bytes.as_slice())?;
                    for subject in about {
                        subjects.insert(subject_key(subject, *seq), &[] as &[u8])?;
                    }
                }
                for ((level, index), hash) in &pending {
                    nodes.insert(node_key(*level, *index), hash.0)?;
                }
                meta.insert(HEAD, head.as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => LedgerError::Db(e),
                TransactionError::Abort(()) => LedgerError::Corrupt { seq: size, reason: "append aborted".into() },
            })?;
        Ok(appended)
    }

    /// Makes everything appended so far durable.
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// The exact bytes of entry `seq`.
    pub fn entry_bytes(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        match self.inner.entries.get(seq.to_be_bytes())? {
            Some(v) => Ok(v.to_vec()),
            None => Err(LedgerError::NoEntry { seq, size: self.len()? }),
        }
    }

    pub fn entry(&self, seq: u64) -> Result<Entry, LedgerError> {
        let bytes = self.entry_bytes(seq)?;
        serde_json::from_slice(&bytes).map_err(|e| LedgerError::Corrupt { seq, reason: e.to_string() })
    }

    /// Positions of the entries about `subject`, oldest first.
    pub fn entries_about(&self, subject: &str) -> Result<Vec<u64>, LedgerError> {
        let mut prefix = subject.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.inner.subjects.scan_prefix(&prefix) {
            let (k, _) = kv?;
            if let Some(tail) = k.get(prefix.len()..).and_then(|t| <[u8; 8]>::try_from(t).ok()) {
                out.push(u64::from_be_bytes(tail));
            }
        }
        Ok(out)
    }

    fn nodes(&self) -> StoredNodes<'_> {
        static EMPTY: std::sync::OnceLock<HashMap<(u32, u64), Digest>> = std::sync::OnceLock::new();
        StoredNodes { tree: &self.inner.nodes, pending: EMPTY.get_or_init(HashMap::new) }
    }

    /// Merkle root of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Digest, LedgerError> {
        merkle::root(&self.nodes(), size)
    }

    /// Audit path of entry `seq` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Digest>, LedgerError> {
        if seq >= size || size > self.len()? {
            return Err(LedgerError::NoEntry { seq, size });
        }
        merkle::inclusion_proof(&self.nodes(), seq, size)
    }

    /// Proof that the tree of `old` entries is a prefix of the tree of `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest>, LedgerError> {
        if old == 0 || old > new || new > self.len()? {
            return Err(LedgerError::NoEntry { seq: old, size: new });
        }
        merkle::consistency_proof(&self.nodes(), old, new)
    }

    /// Signs a checkpoint over the whole log, unless the latest one already
    /// covers it, and returns it.
    pub fn checkpoint(&self, key: &StationKey, station: &str) -> Result<SignedCheckpoint, LedgerError> {
        crate::checkpoint::check_station_id(station)?;
        let _guard = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
        let size = self.len()?;
        if let Some(latest) = self.latest_checkpoint()? {
            if Checkpoint::parse(&latest.text).is_ok_and(|c| c.size == size) {
                return Ok(latest);
            }
        }
        let cp = Checkpoint {
            station: station.to_string(),
            key: key.public().fingerprint(),
            size,
            root: self.root(size)?,
            time: Utc::now(),
        };
        let signed = cp.sign(key);
        let json = serde_json::to_vec(&signed)
            .map_err(|e| LedgerError::Corrupt { seq: size, reason: format!("cannot encode checkpoint: {e}") })?;
        self.inner.checkpoints.insert(size.to_be_bytes(), json)?;
        self.inner.db.flush()?;
        Ok(signed)
    }

    /// All signed checkpoints, oldest (smallest) first.
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, LedgerError> {
        let mut out = Vec::new();
        for kv in self.inner.checkpoints.iter() {
            let (k, v) = kv?;
            let size = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes).unwrap_or(u64::MAX);
            out.push(serde_json::from_slice(&v).map_err(|e| LedgerError::Corrupt {
                seq: size,
                reason: format!("checkpoint of size {size} unreadable: {e}"),
            })?);
        }
        Ok(out)
    }

    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, LedgerError> {
        match self.inner.checkpoints.last()? {
            Some((k, v)) => {
                let size = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes).unwrap_or(u64::MAX);
                serde_json::from_slice(&v)
                    .map(Some)
                    .map_err(|e| LedgerError::Corrupt { seq: size, reason: format!("checkpoint unreadable: {e}") })
            }
            None => Ok(None),
        }
    }

    /// Keeps an RFC 3161 token obtained for the checkpoint of `size`.
    pub fn add_token(&self, size: u64, token_der: &[u8]) -> Result<(), LedgerError> {
        if self.inner.checkpoints.get(size.to_be_bytes())?.is_none() {
            return Err(LedgerError::NoCheckpoint(size));
        }
        let n = self.inner.tokens.scan_prefix(size.to_be_bytes()).count() as u32;
        let mut key = size.to_be_bytes().to_vec();
        key.extend_from_slice(&n.to_be_bytes());
        self.inner.tokens.insert(key, token_der)?;
        self.inner.db.flush()?;
        Ok(())
    }

    /// The timestamp tokens kept for the checkpoint of `size`.
    pub fn tokens(&self, size: u64) -> Result<Vec<Vec<u8>>, LedgerError> {
        let mut out = Vec::new();
        for kv in self.inner.tokens.scan_prefix(size.to_be_bytes()) {
            out.push(kv?.1.to_vec());
        }
        Ok(out)
    }

    /// Re-checks the whole log: the chain, every tree node, every checkpoint
    /// signature and root, and the consistency of successive checkpoints.
    /// Timestamp tokens are checked by `check_token` (given the checkpoint
    /// and the token), which returns a problem description or `None`.
    pub fn verify(
        &self,
        key: &PublicKey,
        check_token: &dyn Fn(&SignedCheckpoint, &[u8]) -> Option<String>,
    ) -> Result<LedgerReport, LedgerError> {
        let mut report = LedgerReport::default();
        let mut tree = MemoryTree::new();
        let mut prev = Digest([0; 32]);
        for kv in self.inner.entries.iter() {
            let (k, bytes) = kv?;
            let expected = tree.len();
            let seq = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes).unwrap_or(u64::MAX);
            if seq != expected {
                report.fail(
                    "order",
                    format!("entry {expected}"),
                    format!("found entry {seq} where {expected} belongs"),
                );
            }
            match serde_json::from_slice::<Entry>(&bytes) {
                Ok(entry) if entry.seq != seq => report.fail(
                    "order",
                    format!("entry {seq}"),
                    format!("entry stored at {seq} says it is entry {}", entry.seq),
                ),
                Ok(entry) if entry.prev != prev => report.fail(
                    "chain",
                    format!("entry {seq}"),
                    format!("names previous hash {} but entry {} hashes to {prev}", entry.prev, seq.wrapping_sub(1)),
                ),
                Ok(_) => {}
                Err(e) => report.fail("entry", format!("entry {seq}"), format!("not a ledger entry: {e}")),
            }
            prev = Digest::of(&bytes);
            tree.push(merkle::leaf_hash(&bytes));
            report.entries += 1;
        }
        let (size, head) = self.head()?;
        if size != tree.len() || (size > 0 && head != prev) {
            report.fail(
                "head",
                "ledger head".into(),
                format!("head says {size} entries ending {head}; found {} ending {prev}", tree.len()),
            );
        }
        for kv in self.inner.nodes.iter() {
            let (k, v) = kv?;
            if k.len() != 9 {
                report.fail("tree", "node table".into(), "malformed node key".into());
                continue;
            }
            let level = u32::from(k[0]);
            let index = <[u8; 8]>::try_from(&k[1..]).map(u64::from_be_bytes).unwrap_or(u64::MAX);
            if tree.perfect(level, index).ok() != digest_of(&v) {
                report.fail("tree", format!("node level {level} index {index}"), "does not match the entries".into());
            }
        }
        let mut last: Option<Checkpoint> = None;
        for signed in self.checkpoints()? {
            let cp = match signed.verify(key) {
                Ok(Some(cp)) => cp,
                Ok(None) => {
                    report.fail(
                        "signature",
                        first_line_after(&signed.text, "size: "),
                        "checkpoint signature does not verify with the station key".into(),
                    );
                    continue;
                }
                Err(e) => {
                    report.fail("checkpoint", "checkpoint".into(), e.to_string());
                    continue;
                }
            };
            let name = format!("checkpoint {}", cp.size);
            if cp.size > tree.len() {
                report.fail(
                    "root",
                    name.clone(),
                    format!("covers {} entries but the ledger has {}", cp.size, tree.len()),
                );
                continue;
            }
            if merkle::root(&tree, cp.size).ok() != Some(cp.root) {
                report.fail("root", name.clone(), "signed root does not match the entries".into());
            }
            if let Some(old) = &last {
                let proof = merkle::consistency_proof(&tree, old.size, cp.size).unwrap_or_default();
                if old.size > 0 && !merkle::verify_consistency(old.size, cp.size, &old.root, &cp.root, &proof) {
                    report.fail("consistency", name.clone(), format!("checkpoint {} is not a prefix of it", old.size));
                }
            }
            for token in self.tokens(cp.size)? {
                report.tokens += 1;
                if let Some(problem) = check_token(&signed, &token) {
                    report.fail("timestamp", name.clone(), problem);
                }
            }
            report.checkpoints += 1;
            last = Some(cp);
        }
        report.latest = last;
        Ok(report)
    }
}

fn first_line_after(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|s| format!("checkpoint {s}"))
        .unwrap_or_else(|| "checkpoint".into())
}

/// What [`Ledger::verify`] found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LedgerReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub tokens: u64,
    pub latest: Option<Checkpoint>,
    pub problems: Vec<Problem>,
}

/// One failed check: which check, where, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub check: &'static str,
    pub at: String,
    pub detail: String,
}

impl LedgerReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn fail(&mut self, check: &'static str, at: String, detail: String) {
        self.problems.push(Problem { check, at, detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, kv::Db, Ledger, StationKey) {
        let dir = tempfile::tempdir().unwrap();
        let db = kv::open(dir.path().join("db")).unwrap();
        let ledger = Ledger::open(&db).unwrap();
        let (key, _) = StationKey::load_or_create(&dir.path().join("keys")).unwrap();
        (dir, db, ledger, key)
    }

    fn entry(i: usize) -> NewEntry {
        NewEntry {
            kind: EntryKind::Custody,
            subject: format!("s{}", i % 3),
            body: serde_json::json!({ "i": i }),
            also_about: Vec::new(),
        }
    }

    fn no_tokens(_: &SignedCheckpoint, _: &[u8]) -> Option<String> {
        None
    }

    #[test]
    fn appends_chain_and_prove() {
        let (_d, _db, ledger, key) = setup();
        let a = ledger.append((0..5).map(entry).collect()).unwrap();
        assert_eq!(a.iter().map(|a| a.seq).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        let cp1 = ledger.checkpoint(&key, "sta-1").unwrap();
        ledger.append((5..37).map(entry).collect()).unwrap();
        let cp2 = ledger.checkpoint(&key, "sta-1").unwrap();
        assert_eq!(ledger.checkpoint(&key, "sta-1").unwrap(), cp2, "no new checkpoint without new entries");
        let c1 = cp1.verify(&key.public()).unwrap().unwrap();
        let c2 = cp2.verify(&key.public()).unwrap().unwrap();
        assert_eq!((c1.size, c2.size), (5, 37));
        for seq in 0..37 {
            let leaf = merkle::leaf_hash(&ledger.entry_bytes(seq).unwrap());
            let proof = ledger.inclusion_proof(seq, 37).unwrap();
            assert!(merkle::verify_inclusion(seq, 37, &leaf, &proof, &c2.root));
        }
        let proof = ledger.consistency_proof(5, 37).unwrap();
        assert!(merkle::verify_consistency(5, 37, &c1.root, &c2.root, &proof));
        assert_eq!(ledger.entries_about("s1").unwrap(), (0..37).filter(|i| i % 3 == 1).collect::<Vec<u64>>());
        assert_eq!(ledger.entry(3).unwrap().prev, a[2].hash);
        let report = ledger.verify(&key.public(), &no_tokens).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.entries, report.checkpoints), (37, 2));
    }

    #[test]
    fn survives_reopen() {
        let (dir, db, ledger, key) = setup();
        ledger.append((0..9).map(entry).collect()).unwrap();
        ledger.checkpoint(&key, "sta-1").unwrap();
        drop(ledger);
        drop(db);
        // the store's flusher can hold the directory lock a moment after the last handle is dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let db = loop {
            match kv::open(dir.path().join("db")) {
                Ok(db) => break db,
                Err(e) => assert!(std::time::Instant::now() < deadline, "cannot reopen: {e}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let ledger = Ledger::open(&db).unwrap();
        ledger.append((9..12).map(entry).collect()).unwrap();
        assert_eq!(ledger.len().unwrap(), 12);
        assert!(ledger.verify(&key.public(), &no_tokens).unwrap().ok());
    }

    #[test]
    fn tampering_is_named() {
        let (dir, db, ledger, key) = setup();
        ledger.append((0..10).map(entry).collect()).unwrap();
        ledger.checkpoint(&key, "sta-1").unwrap();
        let entries = db.open_tree("ledger_entries").unwrap();

        // One flipped byte in an entry's body.
        let original = entries.get(4u64.to_be_bytes()).unwrap().unwrap();
        let mut bad = original.to_vec();
        let pos = bad.iter().rposition(|b| b.is_ascii_digit()).unwrap();
        bad[pos] = if bad[pos] == b'9' { b'8' } else { bad[pos] + 1 };
        entries.insert(4u64.to_be_bytes(), bad).unwrap();
        let report = ledger.verify(&key.public(), &no_tokens).unwrap();
        let checks: Vec<_> = report.problems.iter().map(|p| (p.check, p.at.as_str())).collect();
        assert!(checks.contains(&("chain", "entry 5")), "{checks:?}");
        assert!(checks.contains(&("root", "checkpoint 10")), "{checks:?}");
        entries.insert(4u64.to_be_bytes(), original.clone()).unwrap();
        assert!(ledger.verify(&key.public(), &no_tokens).unwrap().ok());

        // Two entries swapped.
        let e6 = entries.get(6u64.to_be_bytes()).unwrap().unwrap();
        entries.insert(6u64.to_be_bytes(), original.clone()).unwrap();
        entries.insert(4u64.to_be_bytes(), e6).unwrap();
        let report = ledger.verify(&key.public(), &no_tokens).unwrap();
        assert!(report.problems.iter().any(|p| p.check == "order"), "{:?}", report.problems);

        // A checkpoint signed by another key.
        let (other_key, _) = StationKey::load_or_create(&dir.path().join("other")).unwrap();
        let report = ledger.verify(&other_key.public(), &no_tokens).unwrap();
        assert!(report.problems.iter().any(|p| p.check == "signature"), "{:?}", report.problems);
    }
}
