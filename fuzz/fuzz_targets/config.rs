//! Fuzz target: arbitrary bytes as a YAML config (with templates, env vars, conditions), a condition, a label matcher.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shipwatch::fuzzing::config(data));
