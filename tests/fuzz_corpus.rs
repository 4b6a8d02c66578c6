//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and saved crash inputs
//! (`fuzz/regressions/<target>/`) through the same `shipwatch::fuzzing` entry points the
//! `cargo fuzz` targets call: none may panic. Runs under plain `cargo test`, no nightly needed.

use std::path::{Path, PathBuf};

type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("checklist", shipwatch::fuzzing::checklist),
    ("config", shipwatch::fuzzing::config),
    ("api_body", shipwatch::fuzzing::api_body),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every regular file directly in `dir`, sorted; empty when `dir` does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Run `f` on every file; collect the names of those that panic with the panic message.
fn replay(f: fn(&[u8]), files: &[PathBuf]) -> Vec<String> {
    let mut failures = vec![];
    for path in files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if let Err(panic) = std::panic::catch_unwind(|| f(&data)) {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            failures.push(format!("{}: {msg}", path.display()));
        }
    }
    failures
}

#[test]
fn corpus_and_regressions_never_panic() {
    let mut failures = vec![];
    for (target, f) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(target));
        assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is empty or missing; the seed corpus is part of the repo");
        let regressions = files(&fuzz_dir().join("regressions").join(target));
        failures.extend(replay(*f, &corpus));
        failures.extend(replay(*f, &regressions));
    }
    assert!(failures.is_empty(), "{} input(s) panicked:\n{}", failures.len(), failures.join("\n"));
}
