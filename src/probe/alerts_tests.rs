//! Tests of the alerts probe: parsing both APIs, the pure decision, and an unreachable source.

use super::*;
use crate::probe::Status;
use crate::probe::source::Sources;
use crate::probe::source_config::{Source, SourceEndpoint};
use crate::redact::Redactor;
use std::path::Path;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn probe(v: Value) -> AlertsProbe {
    let p: AlertsProbe = serde_json::from_value(v).expect("probe deserializes");
    p.validate().expect("probe validates");
    p
}

fn alert(name: &str, labels: &[(&str, &str)], at: &str, state: &str, silenced: bool, inhibited: bool) -> ActiveAlert {
    let mut l: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    l.insert("alertname".into(), name.into());
    ActiveAlert { labels: l, started_at: t(at), state: state.into(), silenced, inhibited }
}

const DEPLOY: &str = "2025-03-01T12:00:00Z";
const NOW: &str = "2025-03-01T12:30:00Z";

fn sample() -> Vec<ActiveAlert> {
    vec![
        alert(
            "HighErrorRate",
            &[("service", "api"), ("severity", "page")],
            "2025-03-01T12:03:04Z",
            "active",
            false,
            false,
        ),
        alert(
            "OldDiskFull",
            &[("service", "api"), ("severity", "page")],
            "2025-03-01T08:00:00Z",
            "active",
            false,
            false,
        ),
        alert(
            "Silenced",
            &[("service", "api"), ("severity", "critical")],
            "2025-03-01T12:10:00Z",
            "suppressed",
            true,
            false,
        ),
        alert(
            "Inhibited",
            &[("service", "api"), ("severity", "page")],
            "2025-03-01T12:11:00Z",
            "suppressed",
            false,
            true,
        ),
        alert("Pending", &[("service", "api"), ("severity", "page")], "2025-03-01T12:12:00Z", "pending", false, false),
        alert("WebDown", &[("service", "web"), ("severity", "page")], "2025-03-01T12:05:00Z", "active", false, false),
        alert("ApiInfo", &[("service", "api"), ("severity", "info")], "2025-03-01T12:06:00Z", "active", false, false),
    ]
}

/// Probe config, deploy time, status, counted alert names, message fragment.
type Case = (Value, Option<&'static str>, Status, &'static [&'static str], &'static str);

#[test]
fn decide_filters_by_matchers_time_and_state() {
    let api_page = json!(["service=\"api\"", "severity=~\"page|critical\""]);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (json!({"source": "am", "matchers": api_page}), Some(DEPLOY), Status::Fail, &["HighErrorRate"],
            "1 alert firing since deploy: HighErrorRate{service=\"api\",severity=\"page\"} since 12:03:04Z"),
        (json!({"source": "am", "matchers": api_page, "since": "any"}), Some(DEPLOY), Status::Fail,
            &["HighErrorRate", "OldDiskFull"], "2 alerts firing: HighErrorRate{"),
        // Not deployed yet: `since: deploy` reads as any.
        (json!({"source": "am", "matchers": api_page}), None, Status::Fail, &["HighErrorRate", "OldDiskFull"],
            "2 alerts firing: "),
        (json!({"source": "am", "matchers": api_page, "include_silenced": true}), Some(DEPLOY), Status::Fail,
            &["HighErrorRate", "Silenced"], "Silenced{service=\"api\",severity=\"critical\"} since 12:10:00Z (silenced)"),
        (json!({"source": "am", "matchers": api_page, "include_inhibited": true, "include_pending": true}),
            Some(DEPLOY), Status::Fail, &["HighErrorRate", "Inhibited", "Pending"], "Pending{service=\"api\",severity=\"page\"} since 12:12:00Z (pending)"),
        (json!({"source": "am", "matchers": ["service=\"web\""]}), Some(DEPLOY), Status::Fail, &["WebDown"], "1 alert firing"),
        (json!({"source": "am", "matchers": ["service=\"db\""]}), Some(DEPLOY), Status::Pass, &[],
            "no matching alert firing since deploy"),
        (json!({"source": "am", "matchers": ["alertname=\"OldDiskFull\""]}), Some(DEPLOY), Status::Pass, &[],
            "no matching alert firing since deploy (1 older ignored)"),
        (json!({"source": "am", "matchers": ["alertname=~\"OldDiskFull|Silenced|Inhibited|Pending\""]}), Some(DEPLOY),
            Status::Pass, &[], "no matching alert firing since deploy (4 older, silenced, inhibited or pending ignored)"),
        (json!({"source": "am", "matchers": ["alertname=~\"Silenced\""], "since": "any"}), Some(DEPLOY),
            Status::Pass, &[], "no matching alert firing (1 silenced ignored)"),
        // No matchers: every alert is a candidate.
        (json!({"source": "am"}), Some(DEPLOY), Status::Fail, &["HighErrorRate", "WebDown", "ApiInfo"], "3 alerts firing since deploy"),
        (json!({"source": "am", "matchers": ["env!=\"dev\"", "service=\"api\"", "severity=\"info\""]}), Some(DEPLOY),
            Status::Fail, &["ApiInfo"], "ApiInfo"),
    ];
    for (cfg, deployed, status, names, msg) in cases {
        let p = probe(cfg.clone());
        let ms = matcher::parse_all(&p.matchers).unwrap();
        let out = p.decide(&ms, &sample(), deployed.map(t), t(NOW), Evidence::default());
        assert_eq!(out.status, status, "{cfg}: {:?}", out.evidence.message);
        assert_eq!(out.evidence.alerts, names, "{cfg}");
        assert!(out.evidence.message.contains(msg), "{cfg}: message {:?} lacks {msg:?}", out.evidence.message);
        assert_eq!(out.evidence.observed.as_deref(), Some(format!("{} alerts", names.len()).as_str()));
        let details = out.evidence.details["alerts"].as_array().unwrap();
        assert_eq!(details.len(), names.len());
    }
}

#[test]
fn decide_evidence_format() {
    let p = probe(json!({"source": "am", "matchers": ["service=\"api\""]}));
    let ms = matcher::parse_all(&p.matchers).unwrap();
    let out = p.decide(&ms, &sample()[..2], Some(t(DEPLOY)), t(NOW), Evidence::default());
    let ev = out.evidence;
    assert_eq!(ev.expected.as_deref(), Some("no matching alert (since deploy at 2025-03-01T12:00:00Z)"));
    assert_eq!(ev.observed.as_deref(), Some("1 alerts"));
    assert_eq!(ev.details["ignored"], json!(1));
    assert_eq!(
        ev.details["alerts"],
        json!([{"name": "HighErrorRate", "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "page"},
                "started_at": "2025-03-01T12:03:04Z", "state": "active"}])
    );
    let any = probe(json!({"source": "am", "since": "any"}));
    let out = any.decide(&[], &[], Some(t(DEPLOY)), t(NOW), Evidence::default());
    assert_eq!(out.status, Status::Pass);
    assert_eq!(out.evidence.expected.as_deref(), Some("no matching alert (any time)"));
    assert_eq!(out.evidence.message, "no matching alert firing");
    let out = p.decide(&ms, &[], None, t(NOW), Evidence::default());
    assert_eq!(out.evidence.expected.as_deref(), Some("no matching alert (any time; not deployed yet)"));
}

#[test]
fn long_messages_are_cut() {
    let many: Vec<ActiveAlert> = (0..40)
        .map(|i| {
            alert(
                &format!("Alert{i}"),
                &[("service", "api"), ("instance", "host-with-a-long-name:9100")],
                "2025-02-27T12:03:04Z",
                "firing",
                false,
                false,
            )
        })
        .collect();
    let p = probe(json!({"source": "prom"}));
    let out = p.decide(&[], &many, None, t(NOW), Evidence::default());
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence.message.chars().count() < 400, "{}", out.evidence.message);
    assert!(out.evidence.message.starts_with(
        "40 alerts firing: Alert0{instance=\"host-with-a-long-name:9100\",service=\"api\"} since 2025-02-27T12:03:04Z, "
    ));
    assert!(out.evidence.message.ends_with(" more"), "{}", out.evidence.message);
    assert_eq!(out.evidence.alerts.len(), 40);
}

#[test]
fn parses_alertmanager_answers() {
    let v = json!([
        {"labels": {"alertname": "A", "service": "api"}, "annotations": {}, "startsAt": "2025-03-01T12:03:04.123Z",
         "endsAt": "2025-03-01T12:10:00Z", "fingerprint": "x", "receivers": [{"name": "r"}], "updatedAt": "2025-03-01T12:03:04Z",
         "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}},
        {"labels": {"alertname": "B"}, "startsAt": "2025-03-01T13:00:00+01:00",
         "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": []}},
        {"labels": {"alertname": "C"}, "startsAt": "2025-03-01T12:00:00Z",
         "status": {"state": "suppressed", "silencedBy": [], "inhibitedBy": ["i1"]}},
    ]);
    let got = parse_alertmanager(&v).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].name(), "A");
    assert_eq!(got[0].labels["service"], "api");
    assert_eq!(got[0].started_at, t("2025-03-01T12:03:04.123Z"));
    assert_eq!((got[0].silenced, got[0].inhibited, got[0].state.as_str()), (false, false, "active"));
    assert_eq!(got[1].started_at, t("2025-03-01T12:00:00Z"));
    assert_eq!((got[1].silenced, got[1].inhibited), (true, false));
    assert_eq!((got[2].silenced, got[2].inhibited), (false, true));
    assert_eq!(parse_alertmanager(&json!([])).unwrap(), vec![]);
}

#[test]
fn parses_prometheus_answers() {
    let v = json!({"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "HighErrorRate", "job": "api"}, "annotations": {"summary": "x"}, "state": "firing",
         "activeAt": "2025-03-01T12:03:04.123456789Z", "value": "1e+00"},
        {"labels": {"alertname": "Slow"}, "state": "pending", "activeAt": "2025-03-01T12:20:00Z", "value": "2"},
    ]}});
    let got = parse_prometheus(&v).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].name(), got[0].state.as_str()), ("HighErrorRate", "firing"));
    assert_eq!(got[1].state, "pending");
    // Pending is ignored by default, counted with include_pending.
    let p = probe(json!({"source": "prom"}));
    assert_eq!(p.decide(&[], &got, Some(t(DEPLOY)), t(NOW), Evidence::default()).evidence.alerts, ["HighErrorRate"]);
    let p = probe(json!({"source": "prom", "include_pending": true}));
    assert_eq!(p.decide(&[], &got, Some(t(DEPLOY)), t(NOW), Evidence::default()).evidence.alerts.len(), 2);
}

#[test]
fn unexpected_shapes_are_errors() {
    #[rustfmt::skip]
    let am: Vec<(Value, &str)> = vec![
        (json!({"status": "success", "data": {"alerts": []}}), "expected a JSON array"),
        (json!([{"startsAt": "2025-03-01T12:00:00Z", "status": {"state": "active"}}]), "alert 0 has no labels object"),
        (json!([{"labels": {"a": 1}, "startsAt": "2025-03-01T12:00:00Z", "status": {"state": "active"}}]), "label a is not a string"),
        (json!([{"labels": {}, "status": {"state": "active"}}]), "alert 0 has no startsAt"),
        (json!([{"labels": {}, "startsAt": "yesterday", "status": {"state": "active"}}]), "not an RFC 3339 time"),
        (json!([{"labels": {}, "startsAt": "2025-03-01T12:00:00Z"}]), "alert 0 has no status"),
        (json!([{"labels": {}, "startsAt": "2025-03-01T12:00:00Z", "status": {}}]), "no status.state"),
    ];
    for (v, want) in am {
        let err = parse_alertmanager(&v).unwrap_err();
        assert!(err.contains(want), "{v}: {err:?} lacks {want:?}");
    }
    #[rustfmt::skip]
    let prom: Vec<(Value, &str)> = vec![
        (json!([]), "no status field"),
        (json!({"status": "error", "errorType": "bad_data", "error": "boom"}), "status is not success: boom"),
        (json!({"status": "success", "data": {}}), "no data.alerts array"),
        (json!({"status": "success", "data": {"alerts": [{"labels": {}, "activeAt": "2025-03-01T12:00:00Z"}]}}), "alert 0 has no state"),
        (json!({"status": "success", "data": {"alerts": [{"labels": {}, "state": "firing"}]}}), "alert 0 has no activeAt"),
    ];
    for (v, want) in prom {
        let err = parse_prometheus(&v).unwrap_err();
        assert!(err.contains(want), "{v}: {err:?} lacks {want:?}");
    }
}

#[test]
fn validate_names_the_field() {
    let p: AlertsProbe =
        serde_json::from_value(json!({"source": "am", "matchers": ["a=\"b\"", "severity=page"]})).unwrap();
    let err = p.validate().unwrap_err();
    assert!(err.starts_with("matchers[1]: invalid matcher 'severity=page': quote the value"), "{err}");
}

/// A runtime with one source of `kind` at an address nothing listens on.
pub(crate) fn refused_runtime(name: &str, prometheus: bool) -> Runtime {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ep = SourceEndpoint {
        url: format!("http://127.0.0.1:{port}"),
        timeout: None,
        basic_auth: None,
        bearer_token: None,
        tls: None,
    };
    let src = if prometheus { Source::Prometheus(ep) } else { Source::Alertmanager(ep) };
    let client = crate::probe::source::SourceClient::build(name, &src, Path::new(".")).unwrap();
    let mut sources = Sources::new();
    sources.insert(name.to_string(), std::sync::Arc::new(client));
    Runtime::with_sources(Redactor::default(), sources)
}

#[tokio::test]
async fn unreachable_or_unknown_source_is_an_error() {
    for prometheus in [false, true] {
        let rt = refused_runtime("am", prometheus);
        let p = probe(json!({"source": "am", "matchers": ["service=\"api\""]}));
        let out = p.run(&RunContext::default(), &rt).await;
        assert_eq!(out.status, Status::Error, "{:?}", out.evidence);
        assert!(out.evidence.message.contains("source 'am' unreachable"), "{}", out.evidence.message);
        let kind = if prometheus { "prometheus" } else { "alertmanager" };
        assert_eq!(out.evidence.target, Some(format!("{kind} am alerts{{service=\"api\"}}")));
        assert!(out.evidence.latency_ms.is_some());
        assert!(rt.sources["am"].is_down());
    }
    let rt = refused_runtime("am", false);
    let out = probe(json!({"source": "nope"})).run(&RunContext::default(), &rt).await;
    assert_eq!(out.status, Status::Error);
    assert_eq!(out.evidence.message, "source 'nope' is not configured");
}

#[tokio::test]
async fn secrets_are_redacted() {
    let rt = refused_runtime("am", false);
    rt.redactor.add("api-secret");
    let p = probe(json!({"source": "am", "matchers": ["token=\"api-secret\""]}));
    let out = p.run(&RunContext::default(), &rt).await;
    assert_eq!(out.evidence.target.as_deref(), Some("alertmanager am alerts{token=\"<redacted>\"}"));
}
