//! CPU per `compare` evaluation (BENCHMARKS.md §6): 15 minutes of 15 s samples on both sides
//! (61 points each, as Prometheus answers a range query), decoded from the range-query JSON and
//! judged by Mann-Whitney (`compare::decide::decide`: NaN filter, ranks, p-value, medians,
//! evidence). The reference, measured in the same run: sorting the same 122 samples
//! (`sort_unstable_by(f64::total_cmp)` of a fresh copy). CPU time from getrusage(RUSAGE_SELF).
//!
//!     cargo run --release --example compare_cost

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use prometheus_http_query::response::{Data, PromqlResult};
use shipwatch::probe::Evidence;
use shipwatch::probe::compare::decide::decide;
use shipwatch::probe::compare::{CompareProbe, Side, Span};
use shipwatch::probe::prometheus::Series;

const POINTS: usize = 61; // 15 m / 15 s, both ends included
const ROUNDS: usize = 7;
const ITERS: usize = 20_000;

/// CPU seconds (user + system) of this process.
fn cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// A Prometheus range-query `data` object: one series of latencies around `center` (±10%).
fn matrix_json(center: f64, seed: u64) -> String {
    let mut x = seed;
    let t0 = 1_767_268_800i64;
    let values: Vec<String> = (0..POINTS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = center * (0.9 + 0.2 * ((x >> 11) as f64 / (1u64 << 53) as f64));
            format!("[{},\"{v}\"]", t0 + 15 * i as i64)
        })
        .collect();
    format!(r#"{{"resultType":"matrix","result":[{{"metric":{{"job":"api"}},"values":[{}]}}]}}"#, values.join(","))
}

fn series(json: &str) -> Vec<Series> {
    let r: PromqlResult = serde_json::from_str(json).expect("range-query data");
    match r.into_inner().0 {
        Data::Matrix(m) => m
            .iter()
            .map(|s| Series {
                labels: s.metric().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                values: s.samples().iter().map(|x| x.value()).collect(),
            })
            .collect(),
        _ => unreachable!("a matrix"),
    }
}

/// Median CPU µs per call of `f` over the rounds.
fn measure(mut f: impl FnMut()) -> f64 {
    let mut per = vec![];
    for _ in 0..ROUNDS {
        let t = cpu();
        for _ in 0..ITERS {
            f();
        }
        per.push((cpu() - t) / ITERS as f64 * 1e6);
    }
    per.sort_by(f64::total_cmp);
    per[ROUNDS / 2]
}

fn main() {
    let probe: CompareProbe = serde_saphyr::from_str(
        "source: prom\nquery: q\ncurrent: 15m\nbaseline: { before_deploy: 15m }\nstep: 15s\nmin_effect: 10%",
    )
    .unwrap();
    let (cur_json, base_json) = (matrix_json(0.13, 7), matrix_json(0.1, 11));
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let span = Span { start: t0, end: t0 + chrono::Duration::minutes(15) };
    let judge = || {
        let (c, b) = (series(black_box(&cur_json)), series(black_box(&base_json)));
        decide(&probe, (span, Side::Samples(Ok(c))), (span, Side::Samples(Ok(b))), Evidence::default())
    };
    let out = judge();
    assert_eq!(out.status.as_str(), "fail", "{out:?}");
    let samples: Vec<f64> =
        [series(&cur_json), series(&base_json)].concat().into_iter().flat_map(|s| s.values).collect();
    assert_eq!(samples.len(), 2 * POINTS);
    let pre = (series(&cur_json), series(&base_json));

    let sort_us = measure(|| {
        let mut v = black_box(&samples).clone();
        v.sort_unstable_by(f64::total_cmp);
        black_box(v);
    });
    let decide_us = measure(|| {
        let (c, b) = (pre.0.clone(), pre.1.clone());
        black_box(decide(&probe, (span, Side::Samples(Ok(c))), (span, Side::Samples(Ok(b))), Evidence::default()));
    });
    let full_us = measure(|| {
        black_box(judge());
    });
    println!("compare evaluation, {POINTS} vs {POINTS} samples (15 m of 15 s), median of {ROUNDS} rounds x {ITERS}:");
    println!("  reference: sort the same {} samples   {sort_us:8.2} µs CPU", 2 * POINTS);
    println!(
        "  judge (decide: Mann-Whitney + evidence) {decide_us:8.2} µs CPU  = {:6.1}x the sort",
        decide_us / sort_us
    );
    println!("  decode both range answers + judge       {full_us:8.2} µs CPU  = {:6.1}x the sort", full_us / sort_us);
    println!("  verdict: {} — {}", out.status.as_str(), out.evidence.message);
}
