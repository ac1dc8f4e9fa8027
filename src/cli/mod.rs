//! The command line: one file per command group; each parses its flags and
//! calls into the pipeline modules. Only `main.rs` uses `anyhow`.
