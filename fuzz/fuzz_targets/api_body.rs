//! Fuzz target: arbitrary bytes as an API JSON body (create release, tick, waive).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shipwatch::fuzzing::api_body(data));
