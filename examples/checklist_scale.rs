//! Checklist scale benchmark (issue 10, defect 11): parse + id assignment, id lookups and
//! rendering for generated checklists of growing size. Run by `bench/checklist_scale.sh`.
//!
//! ```text
//! cargo run --release --example checklist_scale -- [SIZES...]      # default 1000 10000 100000
//! cargo run --release --example checklist_scale -- --write N SHAPE FILE   # write one checklist
//! ```
//!
//! Shapes: `identical` (N items with the same text, under no heading: every id but the first
//! is numbered), `mixed` (the team's 50-item checklist repeated, each copy under its own
//! top heading: ids are disambiguated by heading paths) and `distinct` (N different texts).
//! Every figure is the median of 5 runs (3 above 50,000 items). The reference is
//! pulldown-cmark alone walking the same source: a linear floor measured in the same run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shipwatch::checklist::{Mark, parse};

const SEED: &str = include_str!("../config/release-checklist.md");

/// A checklist of `n` items of the given shape.
fn generate(shape: &str, n: usize) -> String {
    let mut out = String::with_capacity(n * 48);
    match shape {
        "identical" => {
            for _ in 0..n {
                out.push_str("- [ ] Run smoke tests\n");
            }
        }
        "distinct" => {
            for i in 0..n {
                out.push_str(&format!("- [ ] Verify shard {i} answers health checks\n"));
            }
        }
        "mixed" => {
            let mut copy = 0;
            let mut count = 0;
            'outer: loop {
                copy += 1;
                for line in SEED.lines() {
                    if count == n {
                        break 'outer;
                    }
                    if let Some(title) = line.strip_prefix("# ") {
                        out.push_str(&format!("# {title} {copy}\n"));
                        continue;
                    }
                    if line.starts_with("- [ ]") {
                        count += 1;
                    }
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        other => panic!("unknown shape {other} (identical, mixed, distinct)"),
    }
    out
}

/// Median wall time of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--write") {
        let [_, n, shape, file] = args.as_slice() else {
            panic!("usage: --write N SHAPE FILE");
        };
        let n: usize = n.parse().expect("N is a number");
        std::fs::write(file, generate(shape, n)).expect("write the checklist");
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        args.iter().map(|a| a.parse().expect("sizes are numbers")).collect()
    };

    println!(
        "{:<10} {:>8} {:>9} {:>10} {:>9} {:>11} {:>10} {:>10}",
        "shape", "items", "MiB", "parse ms", "µs/item", "×cmark", "get-all ms", "render ms"
    );
    for shape in ["identical", "mixed", "distinct"] {
        let mut per_item: Vec<(usize, f64)> = Vec::new();
        for &n in &sizes {
            let src = generate(shape, n);
            let runs = if n > 50_000 { 3 } else { 5 };
            let list = parse(&src);
            assert_eq!(list.items.len(), n, "{shape} {n}");
            let t_parse = median(runs, || {
                std::hint::black_box(parse(&src));
            });
            let t_cmark = median(runs, || {
                let opts = pulldown_cmark::Options::ENABLE_TASKLISTS;
                std::hint::black_box(pulldown_cmark::Parser::new_ext(&src, opts).into_offset_iter().count());
            });
            let t_get = median(runs, || {
                for item in &list.items {
                    assert!(std::hint::black_box(list.get(&item.id)).is_some());
                }
            });
            let marks: BTreeMap<String, Mark> = list
                .items
                .iter()
                .map(|i| (i.id.clone(), Mark { checked: true, note: Some("ok in 3s".into()) }))
                .collect();
            let t_render = median(runs, || {
                std::hint::black_box(list.render(&marks));
            });
            let us = t_parse.as_secs_f64() * 1e6 / n as f64;
            per_item.push((n, us));
            println!(
                "{:<10} {:>8} {:>9.2} {:>10.1} {:>9.2} {:>10.2}x {:>10.1} {:>10.1}",
                shape,
                n,
                src.len() as f64 / (1024.0 * 1024.0),
                ms(t_parse),
                us,
                t_parse.as_secs_f64() / t_cmark.as_secs_f64(),
                ms(t_get),
                ms(t_render),
            );
        }
        for pair in per_item.windows(2) {
            let [(n0, us0), (n1, us1)] = [pair[0], pair[1]];
            println!(
                "{:<10} parse {} items / {} items: {:.1}x the time for {:.1}x the items ({:.2}x per item; 1.00x = linear)",
                shape,
                n1,
                n0,
                us1 * n1 as f64 / (us0 * n0 as f64),
                n1 as f64 / n0 as f64,
                us1 / us0
            );
        }
    }
}
