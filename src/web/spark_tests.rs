//! The sparkline: which item and probe it follows, and its SVG parsed as XML (point and tick
//! counts, the bound on results drawn, the text alternative).

use super::fixtures::{self, item, result};
use super::spark::{self, SPARK_READ};
use crate::config::{Config, Mode};
use crate::engine::ItemView;
use crate::outcome::Status;
use crate::release::{ItemState, ResultRecord};

use super::fixtures::METRIC_YAML as YAML;

pub(super) fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), "# Deploy\n- [ ] Check error ratio\n- [ ] Run smoke tests\n")
        .unwrap();
    crate::config::load_str(&dir.path().join("c.yaml"), YAML, &|_| None).unwrap().config
}

/// Results of `probe`, newest first: `codes[0]` is the newest. `P`/`F`/`E` a status; with
/// `observed`, pass and fail carry `{}=VALUE` (VALUE the result's index, oldest 0).
pub(super) fn results(probe: &str, codes: &str, observed: bool) -> Vec<ResultRecord> {
    let n = codes.len();
    codes
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let status = match c {
                'P' => Status::Pass,
                'F' => Status::Fail,
                _ => Status::Error,
            };
            let mut r = result(probe, fixtures::ago(i as i64), status, "m");
            if observed && status != Status::Error {
                r.evidence.observed = Some(format!("{{}}={}", n - 1 - i));
            }
            r
        })
        .collect()
}

fn it(id: &str, state: ItemState, probes: &[&str], latest: &[(&str, Status)]) -> ItemView {
    ItemView {
        probes: probes.iter().map(|p| p.to_string()).collect(),
        last_results: latest.iter().map(|(p, s)| result(p, fixtures::ago(1), *s, "m")).collect(),
        ..item(id, id, state, Mode::Gate)
    }
}

/// (name, items in checklist order, the (item, probe) followed)
type WorstCase<'a> = (&'a str, Vec<ItemView>, Option<(&'a str, &'a str)>);

#[test]
fn the_worst_item_is_red_then_unknown_then_pending_first_in_checklist_order() {
    use ItemState::*;
    let h = &["health"][..];
    #[rustfmt::skip]
    let cases: Vec<WorstCase> = vec![
        ("red before unknown", vec![it("a", Unknown, h, &[]), it("b", Failing, h, &[])], Some(("b", "health"))),
        ("regressed counts as red, first wins", vec![it("a", Pending, h, &[]), it("b", Regressed, h, &[]), it("c", Failing, h, &[])], Some(("b", "health"))),
        ("unknown before pending", vec![it("a", Pending, h, &[]), it("b", Unknown, h, &[])], Some(("b", "health"))),
        ("pending before complete", vec![it("a", Complete, h, &[]), it("b", Pending, h, &[])], Some(("b", "health"))),
        ("all complete: the first", vec![it("a", Complete, h, &[]), it("b", Complete, h, &[])], Some(("a", "health"))),
        ("items without probes are skipped", vec![it("a", Failing, &[], &[]), it("b", Pending, h, &[])], Some(("b", "health"))),
        ("manual and waived are not followed", vec![it("a", Manual, h, &[]), it("b", Waived, h, &[])], None),
        ("the probe whose latest result failed", vec![it("a", Failing, &["x", "y", "z"], &[("x", Status::Error), ("y", Status::Fail)])], Some(("a", "y"))),
        ("else the erroring one", vec![it("a", Unknown, &["x", "y"], &[("x", Status::Pass), ("y", Status::Error)])], Some(("a", "y"))),
        ("else the first", vec![it("a", Pending, &["x", "y"], &[])], Some(("a", "x"))),
        ("nothing", vec![], None),
    ];
    for (name, items, want) in cases {
        let got = spark::worst(&items).map(|(i, p)| (i.id.as_str(), p));
        assert_eq!(got, want, "{name}");
    }
}

/// The `<svg>` of a rendering, parsed.
fn render(probe: &str, codes: &str, observed: bool) -> String {
    let cfg = config();
    let i = it("smoke", ItemState::Failing, &[probe], &[]);
    let i = ItemView { text: "smoke tests".into(), ..i };
    let r = results(probe, codes, observed);
    spark::sparkline(&fixtures::ctx("s3cret"), "checkout 2.0", &i, cfg.probes.get(probe), &r).into_string()
}

fn by_class<'a>(doc: &'a roxmltree::Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.split(' ').any(|c| c == class))).collect()
}

/// (probe, results newest first, numeric, kind, ticks, polyline points, lone dots, failed
/// dots, gaps, text alternative)
type Case<'a> = (&'a str, String, bool, &'a str, usize, usize, usize, usize, usize, &'a str);

#[test]
fn the_sparkline_draws_values_or_ticks_and_says_what_it_shows() {
    let twenty = format!("FFF{}", "P".repeat(17));
    let many = "P".repeat(100);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("health", twenty, false, "statuses", 20, 0, 0, 0, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 20 results: 17 pass, 3 fail"),
        ("health", "FEP".into(), false, "statuses", 3, 0, 0, 0, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 3 results: 1 pass, 1 fail, 1 error"),
        ("health", many.clone(), false, "statuses", SPARK_READ, 0, 0, 0, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 60 results: 60 pass, 0 fail"),
        ("errors", "FPPP".into(), true, "values", 0, 4, 0, 1, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 4 results: 3 pass, 1 fail; value 0–3"),
        ("errors", "PPEPP".into(), true, "values", 0, 4, 0, 0, 1,
            "checkout 2.0: worst item 'smoke tests' failing; last 5 results: 4 pass, 0 fail, 1 error; value 0–4"),
        ("errors", "PEP".into(), true, "values", 0, 0, 2, 0, 1,
            "checkout 2.0: worst item 'smoke tests' failing; last 3 results: 2 pass, 0 fail, 1 error; value 0–2"),
        ("errors", many, true, "values", 0, SPARK_READ, 0, 0, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 60 results: 60 pass, 0 fail; value 40–99"),
        // A metric probe with no number (all errors) falls back to ticks.
        ("errors", "EE".into(), true, "statuses", 2, 0, 0, 0, 0,
            "checkout 2.0: worst item 'smoke tests' failing; last 2 results: 0 pass, 0 fail, 2 error"),
    ];
    for (probe, codes, observed, kind, ticks, points, dots, fails, gaps, label) in cases {
        let html = render(probe, &codes, observed);
        let doc = roxmltree::Document::parse(&html).unwrap_or_else(|e| panic!("{e}: {html}"));
        let svg = doc.descendants().find(|n| n.has_tag_name("svg")).unwrap_or_else(|| panic!("no svg: {html}"));
        let ctx = format!("{probe} {codes}: {html}");
        assert_eq!(svg.attribute("viewBox"), Some("0 0 120 24"), "{ctx}");
        assert_eq!(svg.attribute("data-kind"), Some(kind), "{ctx}");
        assert_eq!(svg.attribute("role"), Some("img"), "{ctx}");
        assert_eq!(svg.attribute("aria-label"), Some(label), "{ctx}");
        let title = svg.children().find(|n| n.has_tag_name("title")).and_then(|t| t.text());
        assert_eq!(title, Some(label), "{ctx}");
        assert!(svg.descendants().all(|n| n.attribute("style").is_none()), "no style=: {ctx}");
        assert_eq!(by_class(&doc, "tick").len(), ticks, "ticks {ctx}");
        let pts: usize =
            by_class(&doc, "spark-line").iter().map(|n| n.attribute("points").unwrap().split(' ').count()).sum();
        assert_eq!(pts, points, "points {ctx}");
        assert_eq!(by_class(&doc, "spark-dot").len(), dots, "dots {ctx}");
        assert_eq!(by_class(&doc, "spark-fail").len(), fails, "failed {ctx}");
        assert_eq!(by_class(&doc, "spark-gap").len(), gaps, "gaps {ctx}");
    }
}

/// Ticks: a fail is full height, an error middle, a pass short; the newest at the right.
#[test]
fn ticks_say_the_status_by_height_and_class_newest_at_the_right() {
    let html = render("health", "FEP", false);
    let doc = roxmltree::Document::parse(&html).unwrap();
    let ticks = by_class(&doc, "tick");
    let f = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    // Oldest first: pass, error, fail.
    let got: Vec<(&str, f64)> = ticks.iter().map(|n| (n.attribute("class").unwrap(), f(n, "height"))).collect();
    assert_eq!(got, vec![("tick pass", 9.6), ("tick error", 16.8), ("tick fail", 24.0)], "{html}");
    let right = f(&ticks[2], "x") + f(&ticks[2], "width");
    assert!(right > 118.0 && right <= 120.0, "newest at the right edge: {html}");
}

#[test]
fn no_results_yet_says_so_without_a_drawing() {
    let html = render("health", "", false);
    assert!(!html.contains("<svg"), "{html}");
    let want = "checkout 2.0: worst item 'smoke tests' failing; no results yet";
    assert_eq!(fixtures::text(&html), want, "{html}");
}
