#![no_main]
//! `husk::fuzzing::config`: see src/fuzzing.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| husk::fuzzing::config(data));
