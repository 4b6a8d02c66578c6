//! The import graph runs one way (issue 10, section 1): every file under `src/` is read, its
//! top-level module found (`src/foo.rs`, `src/foo/**.rs` and files `#[path]`-included from them
//! → `foo`; `lib.rs` and `main.rs` are not scanned), and every `crate::X` path (including each
//! branch of `use crate::{X, Y}`) and every `super::` chain that climbs out of the module is an
//! edge `foo → X`. An edge to a higher level fails; so does one to another module of the same
//! level, except in the model (level 0) and for the few pairs in [`SIBLINGS`]. Comments,
//! string and char literals are blanked before scanning, so prose and examples are not edges.
//!
//! The table here is the one drawn in `ARCHITECTURE.md` ("Module layers"); change both together.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Levels, lowest first: a module may use modules of lower levels.
const LEVELS: &[(u8, &str, &[&str])] = &[
    (
        0,
        "model",
        &[
            "outcome",
            "release",
            "event",
            "transition",
            "validate",
            "checklist",
            "schedule",
            "redact",
            "clock",
            "sync",
            "stats",
        ],
    ),
    (1, "probes and sources", &["probe"]),
    (2, "configuration", &["config", "init"]),
    (3, "driven by the engine", &["rules", "metrics", "notify", "watch"]),
    (4, "storage", &["store"]),
    (5, "the engine", &["engine"]),
    (6, "surfaces, entry points", &["api", "web", "cli", "daemon", "cluster", "fuzzing"]),
];

/// Modules of the model may use each other; above it, same-level edges are allowed only here.
const MODEL: u8 = 0;
const SIBLINGS: &[(&str, &str)] = &[
    ("api", "web"),        // the API serves the pages web renders
    ("daemon", "api"),     // the daemon runs the API server
    ("daemon", "cluster"), // on PostgreSQL the daemon runs the lease loop
    ("cli", "daemon"),     // `shipwatch run` and the demo start the daemon
    ("fuzzing", "api"),    // fuzz targets call the API's body parsing
    ("init", "config"),    // the starter config uses the templates and the FILL_ME marker
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    from: String,
    to: String,
    path: String,
}

fn level(module: &str) -> Option<u8> {
    LEVELS.iter().find(|(_, _, ms)| ms.contains(&module)).map(|(l, _, _)| *l)
}

/// Why `edge` is not allowed, if it is not.
fn violation(from_module: &str, to_module: &str) -> Option<String> {
    let (from, to) = (level(from_module)?, level(to_module)?);
    if from < to {
        return Some(format!("upward: level {from} → level {to}"));
    }
    if from == to && from != MODEL && !SIBLINGS.contains(&(from_module, to_module)) {
        return Some(format!("sideways within level {from} (not in SIBLINGS)"));
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments and the contents of string and char literals replaced by spaces
/// (newlines kept, so line numbers still hold).
fn blank(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut keep = vec![true; c.len()];
    let mut i = 0;
    while i < c.len() {
        let start = i;
        // `r"`, `r#"`, `br#"` start a raw string unless the `r` ends an identifier.
        let p = i - usize::from(i > 0 && c[i - 1] == 'b');
        let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
        let raw = at(i) == 'r' && (p == 0 || !is_ident(c[p - 1])) && at(i + 1 + hashes) == '"';
        if at(i) == '/' && at(i + 1) == '/' {
            i = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
        } else if at(i) == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                let pair = (at(i), at(i + 1));
                depth += i32::from(pair == ('/', '*')) - i32::from(pair == ('*', '/'));
                i += if pair == ('/', '*') || pair == ('*', '/') { 2 } else { 1 };
                if depth == 0 {
                    break;
                }
            }
        } else if raw {
            i += 2 + hashes;
            while i < c.len() && !(c[i] == '"' && (i + 1..i + 1 + hashes).all(|k| at(k) == '#')) {
                i += 1;
            }
            i += 1 + hashes;
        } else if at(i) == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if at(i) == '\'' && at(i + 1) == '\\' {
            // '\n', '\'', '\u{1F600}'
            i = (i + 3..c.len()).find(|&j| c[j] == '\'').map_or(c.len(), |j| j + 1);
        } else if at(i) == '\'' && at(i + 2) == '\'' {
            i += 3; // 'x'; a lifetime or label ('a) is left alone
        } else {
            i += 1;
            continue;
        }
        keep[start..i.min(c.len())].iter_mut().for_each(|k| *k = false);
    }
    c.iter().zip(keep).map(|(&ch, k)| if k || ch == '\n' { ch } else { ' ' }).collect()
}

/// Tokens of blanked source: identifiers, `::`, and single punctuation characters, with lines.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let c: Vec<char> = code.chars().collect();
    let (mut toks, mut i, mut line) = (Vec::new(), 0, 1);
    while i < c.len() {
        if c[i].is_whitespace() {
            line += usize::from(c[i] == '\n');
            i += 1;
        } else if is_ident(c[i]) {
            let s = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            toks.push((c[s..i].iter().collect(), line));
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            toks.push(("::".into(), line));
            i += 2;
        } else {
            toks.push((c[i].to_string(), line));
            i += 1;
        }
    }
    toks
}

/// The first segments of the branches of a `{ a::b, c, d::{e, f} }` group starting at `toks[i]`
/// (the `{`).
fn group_heads(toks: &[(String, usize)], mut i: usize) -> Vec<String> {
    let (mut heads, mut depth, mut expect_head) = (Vec::new(), 0, true);
    while i < toks.len() {
        let t = toks[i].0.as_str();
        match t {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_head = true,
            _ if depth == 1 && expect_head => {
                heads.push(t.to_string());
                expect_head = false;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

/// Paths in `code` (blanked) that leave the module the file sits in: `(line, target, text)`.
/// `file_depth` is the file's module path length (`src/a.rs` → 1, `src/a/b.rs` → 2).
fn leaving_paths(code: &str, file_depth: usize) -> Vec<(usize, String, String)> {
    let toks = tokens(code);
    let tok = |i: usize| toks.get(i).map(|t| t.0.as_str()).unwrap_or("");
    let mut found = Vec::new();
    // Inline `mod x { ... }` blocks deepen the module path; remember the brace depth each opened at.
    let (mut braces, mut mods): (usize, Vec<usize>) = (0, Vec::new());
    for i in 0..toks.len() {
        let after = |p: &str| i > 0 && tok(i - 1) == p;
        // A path leaving the module: where its first segment after the root sits, and the root.
        let mut leaves: Option<(usize, String)> = None;
        match tok(i) {
            "{" => braces += 1,
            "}" => {
                braces = braces.saturating_sub(1);
                if mods.last() == Some(&braces) {
                    mods.pop();
                }
            }
            "mod" if is_ident(tok(i + 1).chars().next().unwrap_or(' ')) && tok(i + 2) == "{" => mods.push(braces),
            "crate" if !after("::") && !after("$") && tok(i + 1) == "::" => leaves = Some((i + 2, "crate::".into())),
            "super" if !after("::") && tok(i + 1) == "::" => {
                let k = 1 + (1..).take_while(|k| tok(i + 2 * k) == "super" && tok(i + 2 * k + 1) == "::").count();
                if k >= file_depth + mods.len() {
                    leaves = Some((i + 2 * k, "super::".repeat(k)));
                }
            }
            _ => {}
        }
        if let Some((next, root)) = leaves {
            let heads = if tok(next) == "{" { group_heads(&toks, next) } else { vec![tok(next).to_string()] };
            for h in heads.into_iter().filter(|h| h != "self") {
                found.push((toks[i].1, h.clone(), format!("{root}{h}")));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path a file has by where it sits: `a/b.rs` → [a, b], `a/mod.rs` → [a].
fn fs_module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs").to_string();
    if stem != "mod" {
        parts.push(stem);
    }
    parts
}

/// `#[path = "x.rs"] mod name;` declarations of a file: `(x.rs, name)`.
fn path_includes(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[path = \"") {
        let after = &rest[at + 10..];
        let Some(q) = after.find('"') else { break };
        let file = after[..q].to_string();
        let tail = after[q..].trim_start_matches(['"', ']']).trim_start();
        let tail = tail.strip_prefix("pub ").unwrap_or(tail).trim_start();
        if let Some(m) = tail.strip_prefix("mod ") {
            let name: String = m.trim_start().chars().take_while(|&c| is_ident(c)).collect();
            out.push((file, name));
        }
        rest = after;
    }
    out
}

struct Scan {
    files: usize,
    edges: Vec<Edge>,
    problems: Vec<String>,
}

fn scan(src_dir: &Path) -> Scan {
    let mut files = Vec::new();
    rust_files(src_dir, &mut files);
    let mut problems = Vec::new();

    // Module path of every file: by location, overridden for `#[path]`-included files.
    let mut module_of: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(src_dir).unwrap();
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") {
            continue;
        }
        module_of.insert(f.clone(), fs_module_path(rel));
        texts.insert(f.clone(), fs::read_to_string(f).unwrap());
    }
    for (f, text) in &texts {
        for (inc, name) in path_includes(text) {
            let target = f.parent().unwrap().join(&inc);
            let mut m = module_of[f].clone();
            m.push(name);
            match module_of.get_mut(&target) {
                Some(slot) => *slot = m,
                None => problems.push(format!("{}: #[path = {inc:?}] names no file", f.display())),
            }
        }
    }

    let mut edges = Vec::new();
    for (f, text) in &texts {
        let module = &module_of[f];
        let from = module[0].clone();
        let rel = f.strip_prefix(src_dir.parent().unwrap()).unwrap().display().to_string();
        if level(&from).is_none() {
            problems.push(format!("{rel}: module `{from}` is in no level of LEVELS; place it there"));
            continue;
        }
        for (line, to, path) in leaving_paths(&blank(text), module.len()) {
            if to == from {
                continue;
            }
            if level(&to).is_none() {
                problems.push(format!("{rel}:{line}: `{path}` names no module in LEVELS"));
                continue;
            }
            edges.push(Edge { file: rel.clone(), line, from: from.clone(), to, path });
        }
    }
    edges.sort();
    edges.dedup();
    Scan { files: texts.len(), edges, problems }
}

/// Modules declared in `src/lib.rs`.
fn lib_modules(src_dir: &Path) -> BTreeSet<String> {
    let lib = blank(&fs::read_to_string(src_dir.join("lib.rs")).unwrap());
    let toks = tokens(&lib);
    (0..toks.len())
        .filter(|&i| toks[i].0 == "mod" && toks.get(i + 2).is_some_and(|t| t.0 == ";"))
        .map(|i| toks[i + 1].0.clone())
        .collect()
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_is_placed_in_exactly_one_level() {
    let declared = lib_modules(&src_dir());
    let mut placed = BTreeSet::new();
    for (_, _, ms) in LEVELS {
        for m in *ms {
            assert!(placed.insert(m.to_string()), "`{m}` is in two levels");
        }
    }
    let unplaced: Vec<_> = declared.difference(&placed).collect();
    let stale: Vec<_> = placed.difference(&declared).collect();
    assert!(unplaced.is_empty(), "modules in src/lib.rs but in no level of LEVELS: {unplaced:?}");
    assert!(stale.is_empty(), "LEVELS names modules src/lib.rs does not declare: {stale:?}");
    for (a, b) in SIBLINGS {
        assert_eq!(level(a), level(b), "SIBLINGS pair {a} → {b} is not within one level");
    }
}

#[test]
fn imports_only_go_down_the_layers() {
    let s = scan(&src_dir());
    assert!(s.problems.is_empty(), "the scan could not place some files or paths:\n{}", s.problems.join("\n"));
    // Not vacuous: the tree has ~100 files and hundreds of cross-module paths, and the edges
    // everything hangs on are seen.
    assert!(s.files >= 80, "only {} files scanned under src/", s.files);
    assert!(s.edges.len() >= 200, "only {} cross-module paths found", s.edges.len());
    let pairs: BTreeSet<(&str, &str)> = s.edges.iter().map(|e| (e.from.as_str(), e.to.as_str())).collect();
    for want in [("engine", "store"), ("engine", "rules"), ("store", "release"), ("api", "engine"), ("config", "probe")]
    {
        assert!(pairs.contains(&want), "expected edge {} → {} not found; the scanner is broken", want.0, want.1);
    }

    let bad: Vec<String> = s
        .edges
        .iter()
        .filter_map(|e| {
            violation(&e.from, &e.to)
                .map(|why| format!("{}:{}: {} → {} via `{}` ({why})", e.file, e.line, e.from, e.to, e.path))
        })
        .collect();
    let summary: BTreeSet<String> = s
        .edges
        .iter()
        .filter(|e| violation(&e.from, &e.to).is_some())
        .map(|e| format!("{} → {}", e.from, e.to))
        .collect();
    assert!(
        bad.is_empty(),
        "{} import(s) against the layer order ({}):\n{}",
        bad.len(),
        summary.into_iter().collect::<Vec<_>>().join(", "),
        bad.join("\n")
    );
}

#[test]
fn the_scanner_sees_every_path_form_and_nothing_in_comments_or_strings() {
    let src = r##"
//! Docs mention crate::web and super::api; not edges.
use crate::probe::Status;
use crate::{config::Config, store::{Batch, Store}, self};
pub(crate) fn f() -> crate :: rules::X { let _ = "crate::api"; let _ = r#"crate::cli"#; let _ = '"'; }
/* crate::daemon /* nested crate::daemon */ */
fn g<'a>(x: &'a str) -> &'a str { let _ = '\''; crate::engine::go(); x }
use super::{metrics, notify::Thing};
mod tests {
    use super::*;
    use super::super::schedule::Every;
    macro_rules! m { () => { $crate::fuzzing::x() }; }
}
"##;
    let got: Vec<String> = leaving_paths(&blank(src), 1).into_iter().map(|(l, t, _)| format!("{l}:{t}")).collect();
    let want = ["3:probe", "4:config", "4:store", "5:rules", "7:engine", "8:metrics", "8:notify", "11:schedule"];
    assert_eq!(got, want);
    // Two files deep (src/a/b.rs), a single `super::` stays inside `a`.
    assert!(leaving_paths(&blank("use super::x;"), 2).is_empty());
    assert_eq!(leaving_paths(&blank("use super::super::x;"), 2)[0].1, "x");
}

#[test]
fn violations_are_upward_or_unlisted_siblings() {
    assert!(violation("engine", "store").is_none());
    assert!(violation("release", "transition").is_none(), "model modules use each other");
    assert!(violation("api", "web").is_none());
    assert!(violation("probe", "config").is_some());
    assert!(violation("web", "api").is_some());
    assert!(violation("cli", "api").is_some());
    assert!(violation("rules", "notify").is_some());
}
