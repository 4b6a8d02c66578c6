//! Build script: embeds every probe template of `probes/` into the binary.
//!
//! Writes `$OUT_DIR/builtin_probes.rs`, a sorted `&[(name, text)]` of `include_str!` entries
//! (one per `probes/*.yaml` / `*.yml` file), which `src/config/template.rs` includes as the
//! built-in templates. `include_str!` makes cargo rebuild when a template's text changes and
//! `rerun-if-changed=probes` when a file is added or removed.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = root.join("probes");
    println!("cargo:rerun-if-changed=probes");
    let mut entries: Vec<(String, PathBuf)> = vec![];
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in rd {
        let path = entry.expect("read probes/ entry").path();
        let is_yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
        match path.file_stem().and_then(|s| s.to_str()) {
            Some(stem) if is_yaml && path.is_file() => entries.push((stem.to_string(), path.clone())),
            _ => println!("cargo:warning=probes/: {} is not a .yaml template; not embedded", path.display()),
        }
    }
    entries.sort();
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        panic!("probes/ has two templates named '{}' (.yaml and .yml); keep one", w[0].0);
    }
    let mut out = String::from("&[\n");
    for (name, path) in &entries {
        let file = path.file_name().and_then(|f| f.to_str()).expect("UTF-8 file name");
        let abs = path.to_str().expect("UTF-8 path");
        writeln!(out, "    ({name:?}, {file:?}, include_str!({abs:?})),").unwrap();
    }
    out.push_str("]\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("builtin_probes.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
