#![no_main]

use libfuzzer_sys::fuzz_target;

/// A real sealed bundle (see fuzz/README.md for how it was made).
const BUNDLE: &[u8] = include_bytes!("../seeds/bundle.wacz");

fuzz_target!(|data: &[u8]| spotcheck::fuzzing::bundle_edit(BUNDLE, data));
