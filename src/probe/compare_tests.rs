//! Data-driven tests of the compare probe: its config (percentages, validation), its time
//! spans and its judgement (the tests themselves are checked against SciPy in `stats`; the
//! queries against a real Prometheus in tests/compare.rs).

use chrono::TimeZone;

use super::decide::decide;
use super::*;
use crate::probe::Status;
use crate::probe::prometheus::Series;

/// A compare probe with `extra` keys, and defaults for `query`, `current` and `baseline`.
fn probe(extra: &str) -> CompareProbe {
    let mut yaml = format!("source: prom\n{extra}\n");
    for (key, default) in [("query", "'q'"), ("current", "15m"), ("baseline", "{ before_deploy: 1h }")] {
        if !extra.lines().any(|l| l.starts_with(&format!("{key}:"))) {
            yaml.push_str(&format!("{key}: {default}\n"));
        }
    }
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{extra}: {e}"))
}

fn poisson_probe(extra: &str) -> CompareProbe {
    let yaml = format!(
        "source: prom\ntest: poisson\ncurrent: 15m\nquery: 'sum(increase(e[{{{{ window }}}}]))'\n\
         total: 'sum(increase(t[{{{{ window }}}}]))'\n{extra}"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{extra}: {e}"))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn series(values: &[f64]) -> Series {
    Series { labels: Default::default(), values: values.to_vec() }
}

/// `n` values around `center`, spread ±10% without ties.
fn spread(center: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| center * (0.9 + 0.2 * ((i * 37 % n) as f64 + 0.5) / n as f64)).collect()
}

fn span() -> Span {
    Span { start: t0(), end: t0() + chrono::Duration::minutes(15) }
}

fn run(p: &CompareProbe, cur: Side, base: Side) -> Outcome {
    decide(p, (span(), cur), (span(), base), Evidence::default())
}

fn samples(v: Vec<f64>) -> Side {
    Side::Samples(Ok(vec![series(&v)]))
}

fn counts(events: f64, total: f64) -> Side {
    Side::Counts { events: Ok(vec![series(&[events])]), total: Ok(vec![series(&[total])]) }
}

#[test]
fn percentages() {
    for (text, want) in
        [("10%", 0.1), ("+10%", 0.1), ("-5%", -0.05), ("99.9%", 0.999), ("0.1", 0.1), (" 2.5 % ", 0.025)]
    {
        let got: Percent = text.parse().unwrap();
        assert!((got.0 - want).abs() < 1e-12, "{text}: {got:?}");
    }
    for bad in ["ten", "%", "", "nan%", "inf"] {
        assert!(bad.parse::<Percent>().is_err(), "{bad:?}");
    }
    let p: Percent = serde_json::from_value(serde_json::json!(0.25)).unwrap();
    assert_eq!((p, p.to_string()), (Percent(0.25), "25%".to_string()));
}

#[test]
fn validation() {
    let ok = [
        probe(""),
        probe("test: relative\nmax_change: +10%\naggregate: p95"),
        probe("test: relative\nmax_change: -10%\ndirection: decrease"),
        probe("direction: either\nconfidence: 0.99\nmin_effect: 10%\nmin_samples: 5\nstep: 30s"),
        poisson_probe("baseline: { before_deploy: 1h }"),
        poisson_probe("baseline: { query: 'sum(increase(s[{{ window }}]))', total: 'sum(increase(u[{{window}}]))' }"),
    ];
    for p in ok {
        assert_eq!(p.validate(), Ok(()), "{p:?}");
    }
    for (p, want) in [
        (probe("step: 0s"), "step must be at least 1s"),
        (probe("step: 20m"), "current (15m) must be at least one step"),
        (probe("step: 1s\nbaseline: { before_deploy: 1d }"), "more than 11000 steps"),
        (probe("confidence: 1"), "confidence must be between 0 and 1"),
        (probe("min_effect: -1%"), "min_effect must be ≥ 0%"),
        (probe("min_samples: 0"), "min_samples must be at least 1"),
        (probe("max_change: 10%"), "belong to test: relative"),
        (probe("test: relative"), "needs max_change"),
        (probe("test: relative\nmax_change: 10%\nconfidence: 0.9"), "no statistics"),
        (probe("test: relative\nmax_change: -10%"), "direction: decrease"),
        (probe("total: 'x'"), "total belongs to test: poisson"),
        (probe("query: 'rate(x[{{ window }}])'"), "counting range of test: poisson"),
        (poisson_probe("baseline: { query: 'sum(s)', total: 'sum(u)' }"), "[{{ window }}]"),
        (poisson_probe("baseline: { query: 'sum(increase(s[{{ window }}]))' }"), "needs baseline.total"),
    ] {
        let err = p.validate().expect_err(want);
        assert!(err.contains(want), "{err} does not say {want}");
    }
    let both = "source: prom\nquery: q\ncurrent: 1m\nbaseline: { before_deploy: 1h, offset: 1w }";
    let p: CompareProbe = serde_saphyr::from_str(both).unwrap();
    assert!(p.validate().unwrap_err().contains("exactly one of"));
    let none = "source: prom\nquery: q\ncurrent: 1m\nbaseline: {}";
    assert!(serde_saphyr::from_str::<CompareProbe>(none).unwrap().validate().unwrap_err().contains("exactly one"));
    assert!(serde_saphyr::from_str::<CompareProbe>(&format!("{both}\nbogus: 1")).is_err(), "unknown keys refused");
}

#[test]
fn the_current_side_never_reaches_back_before_the_deploy() {
    let m = chrono::Duration::minutes;
    let now = t0();
    let p = probe("");
    let s15 = chrono::Duration::seconds(15);
    let (c, b) = p.spans(Some(now - m(5)), now).unwrap();
    assert_eq!((c.start, c.end), (now - m(5) + s15, now), "5 minutes after the deploy: from one step after it");
    assert_eq!((b.start, b.end), (now - m(65), now - m(5)), "the hour before the deploy");
    let (c, _) = p.spans(Some(now - m(60)), now).unwrap();
    assert_eq!(c.start, now - m(15));
    let p = probe("baseline: { offset: 1w }");
    let (c, b) = p.spans(Some(now - m(60)), now).unwrap();
    assert_eq!((b.start, b.end), (c.start - m(7 * 24 * 60), c.end - m(7 * 24 * 60)));
    let p = probe("baseline: { query: 'stable' }");
    let (c, b) = p.spans(Some(now - m(2)), now).unwrap();
    assert_eq!(c, b, "canary vs stable: the same range");
    let (c, _) = p.spans(Some(now - chrono::Duration::seconds(5)), now).unwrap();
    assert_eq!(c.start, now, "deployed less than a step ago: nothing yet");
    let (c, b) = p.spans(None, now).unwrap();
    assert_eq!((c.start, b), (now - m(15), c), "planned (staging): the last 15m of both queries");
    assert!(probe("").spans(None, now).unwrap_err().contains("not deployed"));
}

#[test]
fn mann_whitney_judgements() {
    let base = spread(0.1, 60);
    let p = probe("min_effect: 10%");
    let fail = run(&p, samples(spread(0.13, 15)), samples(base.clone()));
    assert_eq!(fail.status, Status::Fail, "{fail:?}");
    let d = &fail.evidence.details;
    assert!(d["p_value"].as_f64().unwrap() < 0.05, "{d:?}");
    assert!((d["effect"].as_f64().unwrap() - 0.3).abs() < 0.03, "{d:?}");
    assert_eq!((d["n_current"].clone(), d["n_baseline"].clone()), (15.into(), 60.into()));
    assert_eq!(d["test"], "mann-whitney");
    assert!(d["u"].as_f64().is_some() && d["median_current"].as_f64().is_some(), "{d:?}");
    let msg = &fail.evidence.message;
    assert!(msg.starts_with("regression: median 0.13") && msg.contains("(+3"), "{msg}");
    assert!(msg.contains("Mann-Whitney U = ") && msg.contains("n = 15 vs 60"), "{msg}");
    assert!(fail.evidence.observed.as_deref().unwrap().contains("p = "), "{fail:?}");

    let same = run(&p, samples(spread(0.1, 15)), samples(base.clone()));
    assert_eq!(same.status, Status::Pass, "{same:?}");
    assert!(same.evidence.message.starts_with("no regression: "), "{same:?}");

    // Significant but small: 3% with 300 vs 300 samples.
    let small = run(&p, samples(spread(0.103, 300)), samples(spread(0.1, 300)));
    assert_eq!(small.status, Status::Pass, "{small:?}");
    assert!(small.evidence.details["p_value"].as_f64().unwrap() < 0.05, "{small:?}");
    assert!(small.evidence.message.contains("below min_effect 10%"), "{small:?}");

    // A decrease is no regression when increases are; either way it is.
    let faster = samples(spread(0.07, 15));
    assert_eq!(run(&p, faster.clone(), samples(base.clone())).status, Status::Pass);
    assert_eq!(run(&probe("direction: decrease"), faster.clone(), samples(base.clone())).status, Status::Fail);
    assert_eq!(run(&probe("direction: either"), faster, samples(base.clone())).status, Status::Fail);

    // All equal on both sides: p = 1.
    let flat = run(&p, samples(vec![0.1; 20]), samples(vec![0.1; 20]));
    assert_eq!((flat.status, flat.evidence.details["p_value"].as_f64()), (Status::Pass, Some(1.0)));
}

#[test]
fn too_little_data_is_an_error_with_the_counts_never_a_pass() {
    let p = probe("");
    let few = run(&p, samples(vec![0.2; 4]), samples(spread(0.1, 60)));
    assert_eq!(few.status, Status::Error);
    assert_eq!(few.evidence.message, "not enough data: 4 vs 60 samples (min_samples: 10 per side)");
    // NaN and ±Inf samples are no data.
    let nan =
        run(&p, samples([vec![f64::NAN; 30], vec![0.2; 9], vec![f64::INFINITY]].concat()), samples(spread(0.1, 60)));
    assert_eq!(nan.status, Status::Error);
    assert!(nan.evidence.message.starts_with("not enough data: 9 vs 60 samples"), "{nan:?}");
    assert_eq!(nan.evidence.details["nan_dropped"], serde_json::json!([31, 0]));
    let empty = run(&p, Side::Samples(Ok(vec![])), samples(spread(0.1, 60)));
    assert!(empty.evidence.message.starts_with("not enough data: 0 vs 60"), "{empty:?}");
    let down = run(&p, samples(spread(0.1, 60)), Side::Samples(Err((false, "source 'prom' unreachable".into()))));
    assert_eq!(down.status, Status::Error);
    assert_eq!(down.evidence.message, "cannot read the baseline: source 'prom' unreachable");
}

#[test]
fn poisson_judgements() {
    let p = poisson_probe("baseline: { before_deploy: 1h }\nmin_samples: 100");
    let burst = run(&p, counts(250.0, 6000.0), counts(60.0, 24000.0));
    assert_eq!(burst.status, Status::Fail, "{burst:?}");
    let d = &burst.evidence.details;
    assert!(d["p_value"].as_f64().unwrap() < 1e-100, "{d:?}");
    assert_eq!((d["events_current"].as_f64(), d["total_baseline"].as_f64()), (Some(250.0), Some(24000.0)));
    assert!(burst.evidence.message.contains("250 of 6000 vs 60 of 24000"), "{burst:?}");
    let steady = run(&p, counts(10.2, 1000.0), counts(39.8, 4000.0));
    assert_eq!(steady.status, Status::Pass, "{steady:?}");
    let few = run(&p, counts(1.0, 40.0), counts(10.0, 4000.0));
    assert_eq!(few.evidence.message, "not enough data: 40 vs 4000 requests (min_samples: 100 per side)");
    let none = Side::Counts { events: Ok(vec![]), total: Ok(vec![series(&[1000.0])]) };
    let nodata = run(&p, none, counts(1.0, 1000.0));
    assert_eq!(nodata.status, Status::Error);
    assert!(nodata.evidence.message.contains("`or vector(0)`"), "{nodata:?}");
    let nan = run(&p, counts(f64::NAN, 1000.0), counts(1.0, 1000.0));
    assert_eq!(nan.status, Status::Error, "{nan:?}");
}

#[test]
fn relative_judgements() {
    let p = probe("test: relative\nmax_change: +10%\naggregate: mean");
    let over = run(&p, samples(vec![1.2; 12]), samples(vec![1.0; 12]));
    assert_eq!(over.status, Status::Fail, "{over:?}");
    assert!(over.evidence.message.contains("mean 1.2 vs 1 (+20.0%)"), "{over:?}");
    assert_eq!(run(&p, samples(vec![1.05; 12]), samples(vec![1.0; 12])).status, Status::Pass);
    assert_eq!(run(&p, samples(vec![0.5; 12]), samples(vec![1.0; 12])).status, Status::Pass);
    let down = probe("test: relative\nmax_change: -10%\ndirection: decrease");
    assert_eq!(run(&down, samples(vec![0.5; 12]), samples(vec![1.0; 12])).status, Status::Fail);
    let few = run(&p, samples(vec![1.0; 3]), samples(vec![1.0; 12]));
    assert_eq!(few.status, Status::Error, "{few:?}");
}

#[test]
fn window_placeholder() {
    assert!(uses_window("x[{{ window }}]") && uses_window("x[{{window}}]"));
    assert!(!uses_window("x[{{ window.elapsed }}]") && !uses_window("x[5m]"));
    let ctx = RunContext {
        release: crate::probe::ReleaseVars { version: "1.2".into(), ..Default::default() },
        ..Default::default()
    };
    let q = ctx.render_range(r#"increase(x{v="{{ release.version }}"}[{{ window }}])"#, "900s").unwrap();
    assert_eq!(q, r#"increase(x{v="1.2"}[900s])"#);
}
