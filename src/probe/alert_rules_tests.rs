//! Tests of the rules probe: parsing `/api/v1/rules`, the pure decision, and source errors.

use super::*;
use crate::probe::Status;
use crate::probe::alerts::tests::refused_runtime;

fn probe(v: Value) -> RulesProbe {
    let p: RulesProbe = serde_json::from_value(v).expect("probe deserializes");
    p.validate().expect("probe validates");
    p
}

fn rule(name: &str, labels: &[(&str, &str)], health: &str, err: &str) -> AlertRule {
    AlertRule {
        name: name.into(),
        group: "api".into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        health: health.into(),
        last_error: err.into(),
    }
}

fn sample() -> Vec<AlertRule> {
    vec![
        rule("HighErrorRate", &[("severity", "page"), ("service", "api")], "ok", ""),
        rule("HighLatency", &[("severity", "page"), ("service", "api")], "ok", ""),
        rule("DiskFull", &[("severity", "ticket")], "ok", ""),
        rule(
            "BrokenQuery",
            &[("severity", "page"), ("service", "web")],
            "err",
            "vector contains metrics with the same labelset",
        ),
        rule("NotYet", &[("severity", "info")], "unknown", ""),
    ]
}

#[test]
fn decide_selects_and_checks_rules() {
    #[rustfmt::skip]
    let cases: Vec<(Value, Status, &[&str], &str)> = vec![
        (json!({"source": "prom", "matchers": ["service=\"api\""]}), Status::Pass, &["HighErrorRate", "HighLatency"],
            "2 alerting rules loaded and healthy: HighErrorRate, HighLatency"),
        (json!({"source": "prom", "names": ["DiskFull"]}), Status::Pass, &["DiskFull"],
            "1 alerting rule loaded and healthy: DiskFull"),
        (json!({"source": "prom", "matchers": ["service=\"api\""], "names": ["DiskFull"]}), Status::Pass,
            &["HighErrorRate", "HighLatency", "DiskFull"], "3 alerting rules loaded and healthy"),
        (json!({"source": "prom", "matchers": ["service=\"api\""], "min_rules": 3}), Status::Fail,
            &["HighErrorRate", "HighLatency"], "only 2 alerting rules matching {service=\"api\"} loaded, want at least 3"),
        (json!({"source": "prom", "matchers": ["service=\"db\""]}), Status::Fail, &[],
            "no alerting rules matching {service=\"db\"} loaded, want at least 1"),
        (json!({"source": "prom", "matchers": ["service=\"db\""], "min_rules": 0}), Status::Pass, &[],
            "0 alerting rules loaded and healthy"),
        (json!({"source": "prom", "matchers": ["severity=\"page\""]}), Status::Fail, &["HighErrorRate", "HighLatency", "BrokenQuery"],
            "rule BrokenQuery in group api is err: vector contains metrics with the same labelset"),
        (json!({"source": "prom", "names": ["NotYet"]}), Status::Error, &["NotYet"], "not evaluated by Prometheus yet: NotYet"),
        (json!({"source": "prom", "names": ["HighErrorRat"]}), Status::Fail, &[],
            "no alerting rules loaded, want at least 1; alerting rule 'HighErrorRat' is not loaded (did you mean 'HighErrorRate'?)"),
        (json!({"source": "prom", "names": ["HighErrorRate", "highlatency", "Zzz"]}), Status::Fail, &["HighErrorRate"],
            "alerting rule 'highlatency' is not loaded (did you mean 'HighLatency'?); alerting rule 'Zzz' is not loaded"),
        // Neither matchers nor names: every alerting rule.
        (json!({"source": "prom"}), Status::Fail, &["HighErrorRate", "HighLatency", "DiskFull", "BrokenQuery", "NotYet"],
            "rule BrokenQuery in group api is err"),
    ];
    for (cfg, status, names, msg) in cases {
        let p = probe(cfg.clone());
        let ms = matcher::parse_all(&p.matchers).unwrap();
        let out = p.decide(&ms, &sample(), Evidence::default());
        assert_eq!(out.status, status, "{cfg}: {:?}", out.evidence.message);
        assert_eq!(out.evidence.alerts, names, "{cfg}");
        assert!(out.evidence.message.contains(msg), "{cfg}: message {:?} lacks {msg:?}", out.evidence.message);
        assert!(out.evidence.message.chars().count() <= MAX_MESSAGE);
    }
    let out = probe(json!({"source": "prom"})).decide(&[], &[], Evidence::default());
    assert_eq!(
        (out.status, out.evidence.message.as_str()),
        (Status::Fail, "no alerting rules loaded, want at least 1")
    );
}

#[test]
fn decide_evidence_format() {
    let p = probe(json!({"source": "prom", "names": ["BrokenQuery", "Gone"]}));
    let out = p.decide(&[], &sample(), Evidence::default());
    let ev = out.evidence;
    assert_eq!(
        ev.expected.as_deref(),
        Some("at least 1 alerting rules loaded and healthy, including BrokenQuery, Gone")
    );
    assert_eq!(ev.observed.as_deref(), Some("1 rules, 1 unhealthy, 1 missing"));
    assert_eq!(ev.details["missing"], json!(["Gone"]));
    assert_eq!(
        ev.details["rules"],
        json!([{"name": "BrokenQuery", "group": "api", "labels": {"severity": "page", "service": "web"}, "health": "err",
                "last_error": "vector contains metrics with the same labelset"}])
    );
}

#[test]
fn parses_prometheus_rules() {
    let v = json!({"status": "success", "data": {"groups": [
        {"name": "api", "file": "/etc/prometheus/rules.yml", "interval": 15, "rules": [
            {"type": "alerting", "name": "HighErrorRate", "query": "x > 1", "duration": 60, "labels": {"severity": "page"},
             "annotations": {}, "alerts": [], "health": "ok", "evaluationTime": 0.001, "lastEvaluation": "2025-03-01T12:00:00Z",
             "state": "inactive"},
            {"type": "recording", "name": "job:rate5m", "query": "y", "health": "ok"},
            {"type": "alerting", "name": "Broken", "query": "z", "health": "err", "lastError": "boom"},
        ]},
        {"name": "empty", "rules": []},
    ]}});
    let got = parse_rules(&v).unwrap();
    assert_eq!(
        got,
        vec![
            rule("HighErrorRate", &[("severity", "page")], "ok", ""),
            AlertRule {
                name: "Broken".into(),
                group: "api".into(),
                health: "err".into(),
                last_error: "boom".into(),
                ..Default::default()
            },
        ]
    );
    #[rustfmt::skip]
    let bad: Vec<(Value, &str)> = vec![
        (json!([]), "no status field"),
        (json!({"status": "error", "error": "boom"}), "status is not success: boom"),
        (json!({"status": "success", "data": {}}), "no data.groups array"),
        (json!({"status": "success", "data": {"groups": [{"name": "g"}]}}), "group 0 has no rules array"),
        (json!({"status": "success", "data": {"groups": [{"name": "g", "rules": [{"type": "alerting", "name": "A"}]}]}}),
            "group \"g\" rule 0 has no health"),
        (json!({"status": "success", "data": {"groups": [{"name": "g", "rules": [{"type": "alerting", "health": "ok"}]}]}}),
            "has no name"),
        (json!({"status": "success", "data": {"groups": [{"name": "g", "rules": [{"type": "alerting", "name": "A", "health": "ok", "labels": []}]}]}}),
            "labels is not an object"),
    ];
    for (v, want) in bad {
        let err = parse_rules(&v).unwrap_err();
        assert!(err.contains(want), "{v}: {err:?} lacks {want:?}");
    }
}

#[test]
fn validate_names_the_field() {
    let p: RulesProbe = serde_json::from_value(json!({"source": "p", "matchers": ["x=\"1\"", "sev=~\"(\""]})).unwrap();
    assert!(p.validate().unwrap_err().starts_with("matchers[1]: invalid matcher"));
    let p: RulesProbe = serde_json::from_value(json!({"source": "p", "names": ["A", " "]})).unwrap();
    assert!(p.validate().unwrap_err().starts_with("names[1]: empty rule name"));
}

#[tokio::test]
async fn source_errors_are_errors() {
    let rt = refused_runtime("prom", true);
    let out =
        probe(json!({"source": "prom", "matchers": ["severity=\"page\""]})).run(&RunContext::default(), &rt).await;
    assert_eq!(out.status, Status::Error, "{:?}", out.evidence);
    assert!(out.evidence.message.contains("prometheus source 'prom' unreachable"), "{}", out.evidence.message);
    assert_eq!(out.evidence.target.as_deref(), Some("prometheus prom rules{severity=\"page\"}"));
    assert!(out.evidence.latency_ms.is_some());

    let rt = refused_runtime("am", false);
    let out = probe(json!({"source": "am", "names": ["A"]})).run(&RunContext::default(), &rt).await;
    assert_eq!(out.status, Status::Error);
    assert_eq!(out.evidence.message, "source 'am' is alertmanager; the rules probe needs a prometheus source");
    assert_eq!(out.evidence.target.as_deref(), Some("alertmanager am rules{} names=[A]"));
}
