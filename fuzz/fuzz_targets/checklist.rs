//! Fuzz target: arbitrary bytes as a Markdown checklist: parse, ids, resolve, render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shipwatch::fuzzing::checklist(data));
