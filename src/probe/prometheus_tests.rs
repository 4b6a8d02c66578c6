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
            "is 2",
        ),
        ("NaN never satisfies", "condition: \"< 1\"", Ok(vec![a(f64::NAN)]), None, Status::Fail, "NaN"),
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
        let o = decide(&probe(yaml), current, base, Evidence::default());
        assert_eq!(o.status, want, "{name}: {}", o.evidence.message);
        assert!(o.evidence.message.contains(msg), "{name}: {:?} lacks {msg:?}", o.evidence.message);
    }
}

#[test]
fn wait_is_marked_in_details() {
    let o = decide(&probe("condition: \"< 1\"\nno_data: wait"), Ok(vec![]), None, Evidence::default());
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
    ] {
        let got = probe(yaml).validate().err();
        match want {
            None => assert_eq!(got, None, "{yaml}"),
            Some(w) => assert!(got.as_deref().is_some_and(|g| g.contains(w)), "{yaml}: {got:?}"),
        }
    }
}

#[test]
fn expected_in_words() {
    let p = probe("condition: \"< 0.01\"\nmax_increase: 1.5\nfor: 5m");
    assert_eq!(p.expected(), "every series < 0.01 and ≤ 1.5× baseline for 5m");
}
