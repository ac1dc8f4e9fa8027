//! Sealed evidence for spotcheck.
//!
//! This crate owns what must hold up in court: the record of each fetch exactly
//! as it happened ([`capture::CaptureRecord`]) and the content-addressed store
//! its bytes live in ([`blobs::BlobStore`]). The ledger, signatures, timestamps,
//! bundles and the `evidence-verify` binary grow here (see FORMAT.md when written).
//!
//! It depends on nothing from the `spotcheck` crate, so a verifier can be built
//! from it alone.

#![forbid(unsafe_code)]

pub mod blobs;
pub mod capture;

pub use blobs::{BlobError, BlobStore, Digest};
pub use capture::{CaptureRecord, Hop, RequestRecord, ResponseRecord};
