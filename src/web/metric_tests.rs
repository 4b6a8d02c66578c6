//! Which number the release page charts for a probe's result, and when a probe gets a chart.

use super::metric::{Measure, series_values, value};
use crate::outcome::Evidence;
use crate::probe::Status;
use crate::probe::condition::Op;

fn ev(observed: Option<&str>, latency: Option<f64>) -> Evidence {
    Evidence { observed: observed.map(String::from), latency_ms: latency, ..Default::default() }
}

/// (measure, observed, latency_ms, the condition's operator, the number charted)
type Case<'a> = (Measure, Option<&'a str>, Option<f64>, Option<Op>, Option<f64>);

#[test]
fn numbers_from_evidence() {
    let cases: &[Case] = &[
        (Measure::Query, Some("0.004"), None, Some(Op::Lt), Some(0.004)),
        (Measure::Query, Some("{}=0.25"), None, None, Some(0.25)),
        (Measure::Query, Some(r#"{code="500"}=0.1, {code="503"}=0.3"#), None, Some(Op::Lt), Some(0.3)),
        (Measure::Query, Some(r#"{code="500"}=0.1, {code="503"}=0.3"#), None, Some(Op::Ge), Some(0.1)),
        (Measure::Query, Some(r#"{a="1"}=2, {b="2"}=1"#), None, Some(Op::Eq), Some(2.0)),
        (Measure::Query, Some("no data"), None, Some(Op::Lt), None),
        (Measure::Query, Some("NaN/Inf"), None, Some(Op::Lt), None),
        (Measure::Query, None, Some(12.0), Some(Op::Lt), None),
        (Measure::Latency, Some("200"), Some(12.5), None, Some(12.5)),
        (Measure::Latency, Some("200"), None, None, None),
        (Measure::Observed, Some(" 42 "), None, None, Some(42.0)),
        (Measure::Observed, Some("3 alerts"), None, None, None),
        (Measure::Observed, Some("inf"), None, None, None),
    ];
    for (m, observed, latency, op, want) in cases {
        assert_eq!(value(*m, &ev(*observed, *latency), *op), *want, "{m:?} {observed:?} {latency:?}");
    }
}

#[test]
fn series_lists_are_read_value_by_value() {
    assert_eq!(series_values("1.5"), vec![1.5]);
    assert_eq!(series_values(r#"{job="api",code="5xx"}=0.02, {job="web"}=0.5"#), vec![0.02, 0.5]);
    // A cut-off list (`short` adds an ellipsis) keeps the whole values it has.
    assert_eq!(series_values(r#"{a="1"}=1, {a="2"}=2, {a="3"}=3…"#), vec![1.0, 2.0, 3.0]);
    assert!(series_values("").is_empty());
}

use super::fixtures::METRIC_YAML as YAML;

/// The release page: the metric probe gets a chart of its values with its threshold and the
/// deploy; the http probe whose results carry no latency (all errors) gets none.
#[test]
fn the_release_page_charts_metric_probes() {
    use super::fixtures::{self, counts, item, release, result};
    use crate::config::Mode;
    use crate::release::{ItemState, ReleaseState};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), "# Deploy\n- [ ] Check error ratio\n- [ ] Run smoke tests\n")
        .unwrap();
    let cfg = crate::config::load_str(&dir.path().join("c.yaml"), YAML, &|_| None).unwrap().config;
    let mut v = release("api-7", ReleaseState::Deployed, counts(0, 0, 0));
    v.release.deployed_at = Some(fixtures::ago(30));
    let mut errors = item("check-error-ratio", "Check error ratio", ItemState::Pending, Mode::Gate);
    errors.probes = vec!["errors".into()];
    v.items = Some(vec![errors, item("run-smoke-tests", "Run smoke tests", ItemState::Pending, Mode::Gate)]);
    let results = |probe: &str| {
        Some(
            (0..25)
                .rev()
                .map(|i| {
                    let (status, observed) = match (probe, i) {
                        ("health", _) => (Status::Error, None),
                        (_, 7) => (Status::Error, Some("no data".to_string())),
                        _ => (Status::Pass, Some(format!("{{}}={}", 0.002 + i as f64 / 10_000.0))),
                    };
                    let mut r = result(probe, fixtures::ago(i), status, "m");
                    r.evidence.observed = observed;
                    r
                })
                .collect(),
        )
    };
    let html = super::release_page(&fixtures::ctx("s"), &cfg, &v, &[], results).into_string();
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 1, "one chart, for the metric probe: {html}");
    let fig = &html[html.find("<figure class=\"chart\"").unwrap()..];
    let svg = &fig[fig.find("<svg").unwrap()..fig.find("</svg>").unwrap() + 6];
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    let root = doc.root_element();
    assert_eq!(root.attribute("data-points"), Some("24"), "25 results, one error: {svg}");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("polyline")).count(), 2, "split at the error");
    let line = doc.descendants().find(|n| n.attribute("class") == Some("threshold")).expect("threshold line");
    assert_eq!(line.attribute("data-value"), Some("0.01"));
    let deploy = doc.descendants().find(|n| n.attribute("class") == Some("deploy")).expect("deploy marker");
    assert_eq!(deploy.attribute("data-at"), Some(fixtures::ago(30).to_rfc3339().as_str()));
    let desc = doc.descendants().find(|n| n.has_tag_name("desc")).unwrap().text().unwrap();
    assert_eq!(desc, "errors value 0.002–0.0044 over 30m, threshold < 0.01, 24 points, 1 error (gaps)");
}

/// An item shown twice (under "Needs attention" and in the checklist) gets two charts with
/// distinct element ids.
#[test]
fn chart_ids_are_unique_on_the_page() {
    use super::fixtures::{self, counts, item, release, result};
    use crate::config::Mode;
    use crate::release::{ItemState, ReleaseState};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), "# Deploy\n- [ ] Check error ratio\n- [ ] Run smoke tests\n")
        .unwrap();
    let cfg = crate::config::load_str(&dir.path().join("c.yaml"), YAML, &|_| None).unwrap().config;
    let mut v = release("api-7", ReleaseState::Deployed, counts(0, 1, 0));
    let mut errors = item("check-error-ratio", "Check error ratio", ItemState::Failing, Mode::Gate);
    errors.probes = vec!["errors".into()];
    v.items = Some(vec![errors]);
    let results = |probe: &str| {
        let mut r = result(probe, fixtures::ago(1), Status::Fail, "too high");
        r.evidence.observed = Some("{}=0.5".into());
        Some(vec![r])
    };
    let html = super::release_page(&fixtures::ctx("s"), &cfg, &v, &[], results).into_string();
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 2, "{html}");
    let ids: Vec<&str> = html
        .match_indices(" id=\"chart-")
        .map(|(i, _)| &html[i + 5..i + 5 + html[i + 5..].find('"').unwrap()])
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (4, 4), "{ids:?}");
}

/// When the page read only the latest results (the read limit), the axis starts at the oldest
/// one read, not at the deploy, and the text alternative says so.
#[test]
fn a_partial_read_says_so() {
    use super::fixtures::{self, counts, release, result};
    use crate::release::ReleaseState;

    let rel = release("api-7", ReleaseState::Deployed, counts(0, 0, 0)).release;
    let mk = |n: usize| -> Vec<_> {
        (0..n)
            .map(|i| {
                let mut r =
                    result("x", fixtures::ago(10) + chrono::Duration::milliseconds(i as i64), Status::Pass, "m");
                r.evidence.observed = Some(format!("{}", i % 7));
                r
            })
            .collect()
    };
    for (n, partial) in [(super::CHART_READ, true), (super::CHART_READ - 1, false)] {
        let html = super::metric::probe_chart("c", None, &rel, &mk(n), fixtures::ago(0)).unwrap().into_string();
        let from = if partial { fixtures::ago(10) } else { rel.deployed_at.unwrap() };
        assert!(html.contains(&format!("data-from=\"{}\"", from.to_rfc3339())), "{n}: {html}");
        assert_eq!(html.contains(&format!("from the latest {n} results only")), partial, "{n}");
        assert_eq!(html.contains(&format!("downsampled from {n} results")), !partial, "{n}");
    }
}
