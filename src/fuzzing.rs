//! Entry points for the fuzz targets in `fuzz/` (one function per parser of
//! untrusted input). They live in the library so that `cargo test` replays
//! every saved crash and corpus file (`tests/fuzz_regressions.rs`) without
//! cargo-fuzz or a nightly compiler.
