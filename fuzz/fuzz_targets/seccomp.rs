#![no_main]
//! `husk::fuzzing::seccomp`: see src/fuzzing.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| husk::fuzzing::seccomp(data));
