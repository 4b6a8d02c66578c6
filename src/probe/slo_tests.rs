//! The slo probe's config checks and its judgement over hand-computed readings (the burn-rate
//! arithmetic itself is tabled in `stats::burn`; the queries run against a real Prometheus in
//! tests/compare.rs).

use super::*;
use crate::probe::Status;

const MIN: u64 = 60;
const HOUR: u64 = 3600;

fn probe(extra: &str) -> SloProbe {
    let yaml = format!(
        "source: prom\nobjective: 99.9%\nerrors: 'sum(rate(e[{{{{ window }}}}]))'\n\
         total: 'sum(rate(t[{{{{ window }}}}]))'\n{extra}"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{extra}: {e}"))
}

fn d(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// Readings for `elapsed` with every effective window at `ratio` errors, except `over`.
fn readings(elapsed: Duration, ratio: f64, over: &[(u64, Reading)]) -> BTreeMap<Duration, Reading> {
    let p = probe("");
    let mut r: BTreeMap<Duration, Reading> = p
        .pairs()
        .iter()
        .flat_map(|x| [x.long, x.short])
        .chain([elapsed])
        .map(|w| (burn::effective_window(w, elapsed).0, Ok((ratio * 100.0, 100.0))))
        .collect();
    for (w, v) in over {
        r.insert(d(*w), v.clone());
    }
    r
}

#[test]
fn validation() {
    assert_eq!(probe("").validate(), Ok(()));
    assert_eq!(probe("windows: [{ long: 20s, short: 5s, factor: 2 }]\nperiod: 7d").validate(), Ok(()));
    for (extra, want) in [
        ("objective: 100%", "objective must be between 0% and 100%"),
        ("objective: 0", "objective must be between"),
        ("errors: 'sum(rate(e[5m]))'", "errors must use the burn window"),
        ("windows: []", "windows is empty"),
        ("windows: [{ long: 5m, short: 1h, factor: 14.4 }]", "long (5m) must be longer than short (1h)"),
        ("windows: [{ long: 1h, short: 5m, factor: 0 }]", "factor must be a positive number"),
        ("period: 0s", "period must be longer than 0s"),
    ] {
        let yaml = format!(
            "source: prom\n{extra}\n{}",
            ["objective: 99.9%", "errors: 'sum(rate(e[{{ window }}]))'", "total: 'sum(rate(t[{{ window }}]))'"]
                .iter()
                .filter(|l| !extra.starts_with(l.split(':').next().unwrap()))
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let p: SloProbe = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        let err = p.validate().expect_err(want);
        assert!(err.contains(want), "{extra}: {err}");
    }
}

#[test]
fn steady_traffic_is_within_budget_with_the_spend_since_the_deploy() {
    let elapsed = d(2 * HOUR);
    let out = judge(&probe(""), elapsed, &readings(elapsed, 0.0005, &[]), Evidence::default());
    assert_eq!(out.status, Status::Pass, "{out:?}");
    let det = &out.evidence.details;
    // 0.05% errors against a 0.1% budget: 0.5×; for 2h of a 30d period: 0.5 × 2 / 720.
    assert!((det["burn_rates"]["1h"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{det:?}");
    assert!((det["budget_spent"].as_f64().unwrap() - 0.5 * 2.0 / 720.0).abs() < 1e-12, "{det:?}");
    assert!((det["budget_remaining"].as_f64().unwrap() - (1.0 - 0.5 * 2.0 / 720.0)).abs() < 1e-12);
    let msg = &out.evidence.message;
    assert!(msg.starts_with("within the error budget: burn 1h 0.5×, 5m 0.5×"), "{msg}");
    assert!(msg.contains("budget spent since the deploy 0.139% of 30days (99.861% left)"), "{msg}");
    assert_eq!(det["pairs"][2]["window_long"], "3days (cut to 2h)", "the 3d window uses the 2h there are");
}

#[test]
fn a_burst_on_both_windows_of_a_pair_fails_with_the_burn_rates() {
    let elapsed = d(2 * HOUR);
    // 1h at 2% errors (20×), 5m at 5% (50×): the page pair burns; 30m at 1% (10×) < 6×? No: 10 > 6,
    // but its 6h window (cut to 2h) is at 0.5×, so the second pair holds.
    let over = [(HOUR, Ok((2.0, 100.0))), (5 * MIN, Ok((5.0, 100.0))), (30 * MIN, Ok((1.0, 100.0)))];
    let out = judge(&probe(""), elapsed, &readings(elapsed, 0.0005, &over), Evidence::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    let msg = &out.evidence.message;
    assert!(msg.starts_with("burning the error budget: 20× over 1h and 50× over 5m > 14.4×;"), "{msg}");
    let pairs = &out.evidence.details["pairs"];
    assert_eq!((pairs[0]["state"].as_str(), pairs[1]["state"].as_str()), (Some("burning"), Some("within")));
    assert!((out.evidence.details["burn_rates"]["30m"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    // The burst is over in the short window: the pair stops burning.
    let over = [(HOUR, Ok((2.0, 100.0))), (5 * MIN, Ok((0.0, 100.0)))];
    assert_eq!(judge(&probe(""), elapsed, &readings(elapsed, 0.0005, &over), Evidence::default()).status, Status::Pass);
}

#[test]
fn no_traffic_in_a_deciding_window_is_an_error_never_a_pass() {
    let elapsed = d(2 * HOUR);
    let over = [(HOUR, Ok((2.0, 100.0))), (5 * MIN, Ok((0.0, 0.0)))];
    let out = judge(&probe(""), elapsed, &readings(elapsed, 0.0005, &over), Evidence::default());
    assert_eq!(out.status, Status::Error, "{out:?}");
    assert!(out.evidence.message.contains("5m: no traffic"), "{out:?}");
    let gone = [(5 * MIN, Err("the total query returned no finite value (no traffic?)".to_string()))];
    let mut r = readings(elapsed, 0.0005, &gone);
    r.remove(&d(HOUR));
    let out = judge(&probe(""), elapsed, &r, Evidence::default());
    assert_eq!(out.status, Status::Error, "neither window of the page pair measured: {out:?}");
}

#[test]
fn windows_longer_than_the_release_use_the_time_since_the_deploy_and_say_so() {
    let elapsed = d(10 * MIN);
    let out = judge(&probe(""), elapsed, &readings(elapsed, 0.0005, &[]), Evidence::default());
    assert_eq!(out.status, Status::Pass, "{out:?}");
    let pairs = &out.evidence.details["pairs"];
    assert_eq!(pairs[0]["window_long"], "1h (cut to 10m)");
    assert_eq!(pairs[0]["window_short"], "5m");
    assert_eq!(pairs[1]["window_short"], "30m (cut to 10m)");
}
