//! Data-driven tests of the prometheus probe's decision (the queries themselves are tested
//! against a real Prometheus in tests/prometheus.rs).

use super::*;
use crate::probe::Status;
use chrono::TimeZone;
use serde_json::json;

fn probe(extra: &str) -> PromProbe {
    let yaml = format!("source: prom\nquery: up\n{extra}");
    serde_saphyr::from_str(&yaml).unwrap()
}

fn s(labels: &[(&str, &str)], values: &[f64]) -> Series {
    Series { labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), values: values.to_vec() }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// A series prints the way PromQL writes it; one without labels reads "(all series)".
#[test]
fn series_names() {
    let table: &[(&[(&str, &str)], &str)] = &[
        (&[], "(all series)"),
        (&[("job", "api")], "{job=\"api\"}"),
        (&[("job", "api"), ("code", "500")], "{code=\"500\",job=\"api\"}"),
    ];
    for (labels, want) in table {
        assert_eq!(s(labels, &[1.0]).name(), *want);
    }
}

#[test]
fn decisions() {
    type Base = Option<BaselineResult>;
    let a = |v: f64| s(&[("job", "a")], &[v]);
    let b = |v: f64| s(&[("job", "b")], &[v]);
    let cases: Vec<(&str, &str, QueryResult, Base, Status, &str)> = vec![
        ("under threshold", "condition: \"< 0.3\"", Ok(vec![a(0.1)]), None, Status::Pass, "1 of 1"),
        (
            "over threshold",
            "condition: \"< 0.3\"",
            Ok(vec![a(0.5)]),
            None,
            Status::Fail,
            "{job=\"a\"} is 0.5 (want < 0.3)",
        ),
        ("all: one offender", "condition: \"< 0.3\"", Ok(vec![a(0.1), b(0.9)]), None, Status::Fail, "job=\"b\""),
        ("any: one good", "condition: \"< 0.3\"\nseries: any", Ok(vec![a(0.1), b(0.9)]), None, Status::Pass, "1 of 2"),
        (
            "none: one matches",
            "condition: \"> 0\"\nseries: none",
            Ok(vec![a(0.0), b(2.0)]),
            None,
            Status::Fail,
            "job=\"b\"",
        ),
        (
            "none: nothing matches",
            "condition: \"> 0\"\nseries: none",
            Ok(vec![a(0.0)]),
            None,
            Status::Pass,
            "no series",
        ),
        (
            "range: one bad sample",
            "condition: \"< 1\"\nfor: 5s",
            Ok(vec![s(&[], &[0.1, 2.0, 0.1])]),
            None,
            Status::Fail,
            "(all series) is 2 (want < 1)",
        ),
        ("NaN is no data", "condition: \"< 1\"", Ok(vec![a(f64::NAN)]), None, Status::Error, "only NaN/Inf"),
        (
            "unreachable",
            "condition: \"< 1\"",
            Err((false, "prometheus source 'prom' unreachable".into())),
            None,
            Status::Error,
            "unreachable",
        ),
        ("no data → error", "condition: \"< 1\"", Ok(vec![]), None, Status::Error, "no_data: error"),
        ("no data → pass", "condition: \"< 1\"\nno_data: pass", Ok(vec![]), None, Status::Pass, "no series"),
        ("no data → fail", "condition: \"< 1\"\nno_data: fail", Ok(vec![]), None, Status::Fail, "no series"),
        ("no data → wait", "condition: \"< 1\"\nno_data: wait", Ok(vec![]), None, Status::Error, "waiting"),
        ("baseline ok", "max_increase: 1.5", Ok(vec![a(0.1)]), Some(Ok((t0(), vec![a(0.1)]))), Status::Pass, "1 of 1"),
        (
            "baseline exceeded",
            "max_increase: 1.5",
            Ok(vec![a(0.1)]),
            Some(Ok((t0(), vec![a(0.02)]))),
            Status::Fail,
            "> 1.5× baseline 0.02",
        ),
        (
            "baseline missing",
            "max_increase: 1.5",
            Ok(vec![a(0.1)]),
            Some(Ok((t0(), vec![]))),
            Status::Error,
            "no baseline data",
        ),
        (
            "baseline delta",
            "max_delta: 0.005",
            Ok(vec![a(0.012)]),
            Some(Ok((t0(), vec![a(0.01)]))),
            Status::Pass,
            "1 of 1",
        ),
        (
            "baseline delta exceeded",
            "max_delta: 0.005",
            Ok(vec![a(0.02)]),
            Some(Ok((t0(), vec![a(0.01)]))),
            Status::Fail,
            "baseline 0.01 + 0.005",
        ),
        (
            "baseline other labels",
            "max_increase: 2",
            Ok(vec![a(1.0), b(1.0)]),
            Some(Ok((t0(), vec![a(1.0)]))),
            Status::Error,
            "no baseline value for series {job=\"b\"}",
        ),
        (
            "baseline unreadable",
            "max_increase: 2",
            Ok(vec![a(1.0)]),
            Some(Err((false, "down".into()))),
            Status::Error,
            "cannot read the baseline",
        ),
    ];
    for (name, yaml, current, base, want, msg) in cases {
        let o = decide(&probe(yaml), current, base, None, Evidence::default());
        assert_eq!(o.status, want, "{name}: {}", o.evidence.message);
        assert!(o.evidence.message.contains(msg), "{name}: {:?} lacks {msg:?}", o.evidence.message);
    }
}

/// NaN and ±Inf (a 0/0 error ratio when traffic stops) are no data: dropped sample by sample,
/// a series left without a finite one is dropped, and nothing left follows `no_data`.
#[test]
fn nan_and_inf_are_no_data() {
    type Base = Option<BaselineResult>;
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let a = |v: f64| s(&[("job", "a")], &[v]);
    let b = |v: f64| s(&[("job", "b")], &[v]);
    let lt = "condition: \"< 0.05\"";
    let cases: Vec<(&str, String, QueryResult, Base, Status, &str)> = vec![
        ("NaN", lt.into(), Ok(vec![a(nan)]), None, Status::Error, "only NaN/Inf (0/0: no traffic?) for 1 series"),
        ("NaN says no_data", lt.into(), Ok(vec![a(nan)]), None, Status::Error, "(no_data: error; set no_data"),
        ("+Inf", lt.into(), Ok(vec![a(inf)]), None, Status::Error, "only NaN/Inf"),
        ("-Inf would be < 0.05", lt.into(), Ok(vec![a(-inf)]), None, Status::Error, "only NaN/Inf"),
        ("two NaN series", lt.into(), Ok(vec![a(nan), b(inf)]), None, Status::Error, "for 2 series"),
        ("NaN, no_data: pass", format!("{lt}\nno_data: pass"), Ok(vec![a(nan)]), None, Status::Pass, "NaN/Inf"),
        ("NaN, no_data: fail", format!("{lt}\nno_data: fail"), Ok(vec![a(nan)]), None, Status::Fail, "NaN/Inf"),
        ("NaN, no_data: wait", format!("{lt}\nno_data: wait"), Ok(vec![a(nan)]), None, Status::Error, "waiting"),
        ("mixed: NaN series not judged", lt.into(), Ok(vec![a(0.01), b(nan)]), None, Status::Pass, "1 of 1 series"),
        ("mixed: says so", lt.into(), Ok(vec![a(0.01), b(nan)]), None, Status::Pass, "1 more series only NaN/Inf"),
        ("mixed: finite one fails", lt.into(), Ok(vec![a(0.5), b(nan)]), None, Status::Fail, "is 0.5"),
        (
            "any: NaN is never the good one",
            format!("{lt}\nseries: any"),
            Ok(vec![a(nan), b(0.9)]),
            None,
            Status::Fail,
            "no series as expected",
        ),
        ("any: only NaN", format!("{lt}\nseries: any"), Ok(vec![a(nan), b(-inf)]), None, Status::Error, "only NaN/Inf"),
        (
            "none: only NaN",
            "condition: \"> 0.05\"\nseries: none".into(),
            Ok(vec![a(nan)]),
            None,
            Status::Error,
            "only NaN/Inf",
        ),
        (
            "none: +Inf",
            "condition: \"< 0.05\"\nseries: none".into(),
            Ok(vec![a(inf)]),
            None,
            Status::Error,
            "only NaN/Inf",
        ),
        (
            "none: NaN next to a good one",
            "condition: \"> 0.05\"\nseries: none".into(),
            Ok(vec![a(nan), b(0.0)]),
            None,
            Status::Pass,
            "1 more series only NaN/Inf",
        ),
        (
            "range: NaN samples dropped",
            "condition: \"< 1\"\nfor: 5s".into(),
            Ok(vec![s(&[], &[nan, 0.1, inf])]),
            None,
            Status::Pass,
            "=0.1",
        ),
        (
            "range: finite sample still fails",
            "condition: \"< 1\"\nfor: 5s".into(),
            Ok(vec![s(&[], &[nan, 2.0])]),
            None,
            Status::Fail,
            "is 2",
        ),
        (
            "range: all NaN",
            "condition: \"< 1\"\nfor: 5s".into(),
            Ok(vec![s(&[], &[nan, nan])]),
            None,
            Status::Error,
            "only NaN/Inf",
        ),
        (
            "NaN baseline",
            "max_increase: 1.5".into(),
            Ok(vec![a(0.1)]),
            Some(Ok((t0(), vec![a(nan)]))),
            Status::Error,
            "no baseline data: the query returned only NaN/Inf",
        ),
        (
            "+Inf baseline",
            "max_delta: 0.1".into(),
            Ok(vec![a(0.1)]),
            Some(Ok((t0(), vec![a(inf)]))),
            Status::Error,
            "no baseline data",
        ),
        (
            "NaN baseline of one series",
            "max_increase: 2".into(),
            Ok(vec![a(0.1), b(0.1)]),
            Some(Ok((t0(), vec![a(0.1), b(nan)]))),
            Status::Error,
            "no baseline value for series {job=\"b\"}",
        ),
        (
            "NaN current, baseline set",
            "max_increase: 1.5".into(),
            Ok(vec![a(nan)]),
            Some(Ok((t0(), vec![a(0.1)]))),
            Status::Error,
            "only NaN/Inf",
        ),
    ];
    for (name, yaml, current, base, want, msg) in cases {
        let o = decide(&probe(&yaml), current, base, None, Evidence::default());
        assert_eq!(o.status, want, "{name}: {}", o.evidence.message);
        assert!(o.evidence.message.contains(msg), "{name}: {:?} lacks {msg:?}", o.evidence.message);
    }
}

/// Never a false green: over every series mode, operator and non-finite value, a result with no
/// finite sample passes only when `no_data: pass` says so.
#[test]
fn no_finite_sample_never_passes_unless_no_data_says_pass() {
    let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for mode in ["all", "any", "none"] {
        for cond in ["< 0.05", "<= 0", "> 0.05", ">= 0", "== 0", "!= 0"] {
            for no_data in ["error", "fail", "wait", "pass"] {
                for v in values {
                    let yaml = format!("condition: \"{cond}\"\nseries: {mode}\nno_data: {no_data}");
                    let current = Ok(vec![s(&[("job", "a")], &[v]), s(&[("job", "b")], &[f64::NAN, v])]);
                    let o = decide(&probe(&yaml), current, None, None, Evidence::default());
                    let case = format!("{mode} {cond} {no_data} {v}: {}", o.evidence.message);
                    assert_eq!(o.status == Status::Pass, no_data == "pass", "{case}");
                    assert!(o.evidence.message.contains("NaN/Inf"), "{case}");
                    assert_eq!(o.evidence.details.get("nan_series"), Some(&json!(2)), "{case}");
                }
            }
        }
    }
}

/// `min_traffic`: too little traffic (or none measured) is `error` before any other judgement,
/// whatever the main result and `no_data` say; enough traffic leaves the judgement as it was.
#[test]
fn min_traffic() {
    let t = |vs: &[f64]| -> Option<QueryResult> { Some(Ok(vs.iter().map(|v| s(&[], &[*v])).collect())) };
    let a = |v: f64| Ok(vec![s(&[("job", "a")], &[v])]);
    let on = "condition: \"< 0.05\"\nmin_traffic: { query: 'sum(rate(x[5m]))', min: 1 }";
    type Traffic = Option<QueryResult>;
    let cases: Vec<(&str, String, QueryResult, Traffic, Status, &str)> = vec![
        ("below", on.into(), a(0.01), t(&[0.2]), Status::Error, "not enough traffic: 0.2 < 1 req/s"),
        ("at the minimum", on.into(), a(0.01), t(&[1.0]), Status::Pass, "1 of 1"),
        ("above, ratio good", on.into(), a(0.01), t(&[50.0]), Status::Pass, "1 of 1"),
        ("above, ratio bad", on.into(), a(0.5), t(&[50.0]), Status::Fail, "is 0.5"),
        ("summed over series", on.into(), a(0.01), t(&[0.5, 0.6]), Status::Pass, "1 of 1"),
        ("below hides a fail", on.into(), a(0.5), t(&[0.2]), Status::Error, "not enough traffic"),
        ("empty", on.into(), a(0.01), t(&[]), Status::Error, "traffic query returned no data (min 1 req/s)"),
        ("NaN", on.into(), a(0.01), t(&[f64::NAN]), Status::Error, "traffic query returned only NaN/Inf"),
        ("NaN next to a value", on.into(), a(0.01), t(&[f64::NAN, 0.3]), Status::Error, "0.3 < 1 req/s"),
        (
            "unreachable",
            on.into(),
            a(0.01),
            Some(Err((false, "prometheus source 'prom' unreachable".into()))),
            Status::Error,
            "cannot read the traffic (min_traffic.query): prometheus source 'prom' unreachable",
        ),
        ("not measured", on.into(), a(0.01), None, Status::Error, "not measured"),
        ("main unreachable first", on.into(), Err((false, "main down".into())), t(&[0.0]), Status::Error, "main down"),
        ("no_data: pass never passes", format!("{on}\nno_data: pass"), Ok(vec![]), t(&[0.0]), Status::Error, "0 < 1"),
        ("no_data: fail never fails", format!("{on}\nno_data: fail"), Ok(vec![]), t(&[0.0]), Status::Error, "0 < 1"),
        ("NaN ratio, no traffic", on.into(), a(f64::NAN), t(&[0.0]), Status::Error, "not enough traffic"),
        (
            "min: null is off",
            "condition: \"< 0.05\"\nmin_traffic: { query: q, min: null }".into(),
            a(0.01),
            None,
            Status::Pass,
            "1 of 1",
        ),
        (
            "min: 0 needs data",
            "condition: \"< 0.05\"\nmin_traffic: { query: q, min: 0 }".into(),
            a(0.01),
            t(&[]),
            Status::Error,
            "no data",
        ),
        (
            "min: 0, zero traffic",
            "condition: \"< 0.05\"\nmin_traffic: { query: q, min: 0 }".into(),
            a(0.01),
            t(&[0.0]),
            Status::Pass,
            "1 of 1",
        ),
    ];
    for (name, yaml, current, traffic, want, msg) in cases {
        let o = decide(&probe(&yaml), current, None, traffic, Evidence::default());
        assert_eq!(o.status, want, "{name}: {}", o.evidence.message);
        assert!(o.evidence.message.contains(msg), "{name}: {:?} lacks {msg:?}", o.evidence.message);
    }
    let o = decide(&probe(on), a(0.01), None, t(&[0.2]), Evidence::default());
    assert_eq!(o.evidence.details.get("traffic"), Some(&json!(0.2)), "the traffic is in details");
    assert_eq!(o.evidence.details.get("min_traffic"), Some(&json!(1.0)), "and the minimum");
}

#[test]
fn wait_is_marked_in_details() {
    let o = decide(&probe("condition: \"< 1\"\nno_data: wait"), Ok(vec![]), None, None, Evidence::default());
    assert_eq!(o.evidence.details.get("no_data"), Some(&json!("wait")));
}

#[test]
fn validation() {
    for (yaml, want) in [
        ("", Some("give a condition")),
        ("condition: \"< 1\"", None),
        ("max_increase: 0", Some("positive ratio")),
        ("max_delta: 0.1\nbaseline: { at: yesterday }", Some("RFC 3339")),
        ("condition: \"< 1\"\nfor: 10ms", Some("at least 1s")),
        ("condition: \"< 1\"\nmin_traffic: { query: q, min: 1 }", None),
        ("condition: \"< 1\"\nmin_traffic: { query: q, min: null }", None),
        ("condition: \"< 1\"\nmin_traffic: { query: ' ', min: 1 }", Some("min_traffic.query is empty")),
        ("condition: \"< 1\"\nmin_traffic: { query: q, min: -1 }", Some("min_traffic.min must be")),
        ("condition: \"< 1\"\nmin_traffic: { query: q, min: .inf }", Some("min_traffic.min must be")),
        ("condition: \"< 1\"\nmin_traffic: { query: q, min: .nan }", Some("min_traffic.min must be")),
    ] {
        let got = probe(yaml).validate().err();
        match want {
            None => assert_eq!(got, None, "{yaml}"),
            Some(w) => assert!(got.as_deref().is_some_and(|g| g.contains(w)), "{yaml}: {got:?}"),
        }
    }
}

#[test]
fn min_traffic_needs_its_fields() {
    for (yaml, want) in [
        ("min_traffic: { query: q }", "missing field `min`"),
        ("min_traffic: { min: 1 }", "missing field `query`"),
        ("min_traffic: { query: q, min: 1, max: 2 }", "unknown field `max`"),
    ] {
        let err = serde_saphyr::from_str::<PromProbe>(&format!("source: prom\nquery: up\ncondition: \"< 1\"\n{yaml}"));
        let err = err.expect_err(yaml).to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
}

#[test]
fn expected_in_words() {
    let p = probe("condition: \"< 0.01\"\nmax_increase: 1.5\nfor: 5m");
    assert_eq!(p.expected(), "every series < 0.01 and ≤ 1.5× baseline for 5m");
    let p = probe("condition: \"< 0.01\"\nmin_traffic: { query: q, min: 2 }");
    assert_eq!(p.expected(), "every series < 0.01, with traffic ≥ 2 req/s");
}
