//! Sealed evidence for spotcheck.
//!
//! This crate owns what must hold up in court: the record of each fetch exactly
//! as it happened ([`capture::CaptureRecord`]), the content-addressed store its
//! bytes live in ([`blobs::BlobStore`]), the hash-chained ledger with signed
//! Merkle checkpoints, RFC 3161 timestamps, the WACZ bundles handed to
//! enforcement, and their verifier (`evidence-verify`). FORMAT.md specifies a
//! bundle byte for byte.
//!
//! It depends on nothing from the `spotcheck` crate, so a verifier can be built
//! from it alone.

#![forbid(unsafe_code)]

// What a verifier needs (always built).
pub mod bundle;
pub mod capture;
pub mod checkpoint;
pub mod custody;
pub mod digest;
pub mod entry;
pub mod finding;
pub mod keys;
pub mod merkle;
pub mod report;
pub mod timestamp;
pub mod wacz;
pub mod warc;

// What a station needs besides: the blob store and the ledger (feature
// `station`, on by default; `evidence-verify` builds without it).
#[cfg(feature = "station")]
pub mod blobs;
#[cfg(feature = "station")]
pub mod ledger;

#[cfg(feature = "station")]
pub use blobs::{BlobError, BlobStore};
pub use capture::{Artifact, CaptureManifest, CaptureRecord, Hop, RequestRecord, ResponseRecord};
pub use digest::Digest;

/// A named point where crash tests stop the process: when the environment
/// variable `SPOTCHECK_FAILPOINT` is `NAME` (or `NAME@N`: the Nth time it is
/// passed), the process says so on stderr (`failpoint NAME reached`) and
/// waits on stdin, so a test can kill it with SIGKILL exactly there — no
/// timing guesses. Otherwise it costs one environment lookup.
pub fn failpoint(name: &str) {
    static PASSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(spec) = std::env::var_os("SPOTCHECK_FAILPOINT") else { return };
    let spec = spec.to_string_lossy();
    let (wanted, nth) = match spec.split_once('@') {
        Some((n, k)) => (n, k.parse::<u64>().unwrap_or(1)),
        None => (spec.as_ref(), 1),
    };
    if wanted == name && PASSED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth {
        eprintln!("failpoint {name} reached");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
}
