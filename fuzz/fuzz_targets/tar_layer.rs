#![no_main]
//! `husk::fuzzing::tar_layer`: see src/fuzzing.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| husk::fuzzing::tar_layer(data));
