#![no_main]
//! `husk::fuzzing::image_archive`: see src/fuzzing.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| husk::fuzzing::image_archive(data));
