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

pub mod blobs;
pub mod bundle;
pub mod capture;
pub mod checkpoint;
pub mod custody;
pub mod finding;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod report;
pub mod timestamp;
pub mod wacz;
pub mod warc;

pub use blobs::{BlobError, BlobStore, Digest};
pub use capture::{Artifact, CaptureManifest, CaptureRecord, Hop, RequestRecord, ResponseRecord};
