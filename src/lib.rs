//! spotcheck: the online spot-check system of a product-quality regulator.
//!
//! One module per pipeline stage; data flows one way (see ARCHITECTURE.md):
//!
//! ```text
//! market (sample site) ◄── fetch ──► adapters ──► store ◄── crawl (drives the loop)
//!                                                   │
//!                              rules ──► findings ──► sealing (ledger, checkpoints, bundles: the evidence crate)
//! ```

#![forbid(unsafe_code)]

pub mod access;
pub mod adapters;
pub mod api;
pub mod browser;
pub mod cases;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod console;
pub mod crawl;
pub mod diagnostics;
pub mod fetch;
pub mod findings;
#[doc(hidden)]
pub mod fuzzing;
pub mod live;
pub mod market;
pub mod model;
pub mod notices;
pub mod plans;
pub mod reports;
pub mod rules;
pub mod sampling;
pub mod sealing;
pub mod store;
pub mod verification;

/// `spotcheck/<version>`, recorded in every capture.
pub const TOOL: &str = concat!("spotcheck/", env!("CARGO_PKG_VERSION"));
