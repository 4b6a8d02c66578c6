//! DOM tests of the chart: the produced SVG is parsed as XML and its parts are checked against
//! the data (point count, the threshold line's y, the deploy marker's x, gaps at errors,
//! escaping, downsampling bounds).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::chart::{self, MAX_POINTS, Sample, Spec, x_of, y_of};
use crate::probe::condition::Condition;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// `values[i]` at `t0 + i` minutes; `None` an error.
fn samples(values: &[Option<f64>]) -> Vec<Sample> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Sample { at: t0() + Duration::minutes(i as i64), value: *v, failed: false })
        .collect()
}

fn spec<'a>(what: &'a str, threshold: Option<&str>, deployed_min: Option<i64>, span_min: i64) -> Spec<'a> {
    Spec {
        id: "p1",
        what,
        threshold: threshold.map(|t| t.parse().unwrap()),
        deployed_at: deployed_min.map(|m| t0() + Duration::minutes(m)),
        from: t0(),
        to: t0() + Duration::minutes(span_min),
        partial: false,
    }
}

fn render(spec: &Spec, s: &[Sample]) -> String {
    chart::chart(spec, s, s.len()).into_string()
}

/// Every element with class `class` in the SVG.
fn by_class<'a>(doc: &'a roxmltree::Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.split(' ').any(|c| c == class))).collect()
}

fn attr(n: &roxmltree::Node, a: &str) -> f64 {
    n.attribute(a).unwrap_or_else(|| panic!("no {a} on {n:?}")).parse().unwrap()
}

/// Points of a polyline as (x, y).
fn points(n: &roxmltree::Node) -> Vec<(f64, f64)> {
    n.attribute("points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// (values, threshold, deployed minute, expected polylines, expected lone dots)
type Case<'a> = (&'a [Option<f64>], Option<&'a str>, Option<i64>, usize, usize);

#[test]
fn points_threshold_and_deploy_follow_the_data() {
    let cases: &[Case] = &[
        (&[Some(0.002), Some(0.003), Some(0.004)], Some("< 0.01"), Some(0), 1, 0),
        (&[Some(5.0), None, Some(6.0), Some(7.0)], Some(">= 1"), Some(1), 1, 1),
        (&[Some(1.0), Some(2.0), None, None, Some(3.0), Some(4.0)], None, None, 2, 0),
        (&[None, Some(1.0), None], Some("== 0"), Some(2), 0, 1),
        (&[Some(-3.0), Some(3.0)], Some("!= 0"), None, 1, 0),
    ];
    for (values, threshold, deployed, lines, dots) in cases {
        let s = samples(values);
        let sp = spec("error ratio", *threshold, *deployed, values.len() as i64);
        let svg = render(&sp, &s);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        let root = doc.descendants().find(|n| n.has_tag_name("svg")).unwrap();
        let n = values.iter().flatten().count();
        assert_eq!(attr(&root, "data-points") as usize, n, "{svg}");
        assert_eq!(root.attribute("width"), Some("100%"));
        assert!(root.attribute("viewBox").is_some() && root.attribute("style").is_none());
        assert!(!svg.contains("style="), "no inline styles: {svg}");
        let polys = by_class(&doc, "line");
        assert_eq!(polys.len(), *lines, "one polyline per run between errors: {svg}");
        assert_eq!(by_class(&doc, "dot").len(), *dots, "{svg}");
        let drawn: usize = polys.iter().map(|p| points(p).len()).sum::<usize>() + dots;
        assert_eq!(drawn, n, "every value drawn once: {svg}");
        let (lo, hi) = (attr(&root, "data-lo"), attr(&root, "data-hi"));
        // Each drawn point sits at its sample's time and value.
        let mut xy = polys.iter().flat_map(points).collect::<Vec<_>>();
        xy.extend(by_class(&doc, "dot").iter().map(|d| (attr(d, "cx"), attr(d, "cy"))));
        xy.sort_by(|a, b| a.0.total_cmp(&b.0));
        let want: Vec<(f64, f64)> =
            s.iter().filter_map(|p| p.value.map(|v| (x_of(sp.from, sp.to, p.at), y_of(lo, hi, v)))).collect();
        for ((x, y), (wx, wy)) in xy.iter().zip(&want) {
            assert!((x - wx).abs() < 0.01 && (y - wy).abs() < 0.01, "({x},{y}) vs ({wx},{wy})");
        }
        match threshold {
            Some(t) => {
                let c: Condition = t.parse().unwrap();
                let line = by_class(&doc, "threshold");
                assert_eq!(line.len(), 1, "{svg}");
                let y = attr(&line[0], "y1");
                assert_eq!(y, attr(&line[0], "y2"), "horizontal");
                assert!((y - y_of(lo, hi, c.value)).abs() < 0.01, "threshold at its value: {y}");
                assert!(lo <= c.value && c.value <= hi, "the threshold is in range");
                let desc = doc.descendants().find(|n| n.has_tag_name("desc")).unwrap().text().unwrap();
                assert!(desc.contains(&format!("threshold {c}")), "threshold in the text alternative: {desc}");
            }
            None => assert!(by_class(&doc, "threshold").is_empty()),
        }
        match deployed {
            Some(m) => {
                let d = by_class(&doc, "deploy");
                assert_eq!(d.len(), 1, "{svg}");
                let want = x_of(sp.from, sp.to, t0() + Duration::minutes(*m));
                assert!((attr(&d[0], "x1") - want).abs() < 0.01 && attr(&d[0], "x1") == attr(&d[0], "x2"));
                assert_eq!(d[0].attribute("data-at"), Some((t0() + Duration::minutes(*m)).to_rfc3339().as_str()));
            }
            None => assert!(by_class(&doc, "deploy").is_empty()),
        }
        let desc = doc.descendants().find(|n| n.has_tag_name("desc")).unwrap().text().unwrap();
        assert!(desc.contains(&format!("{n} point")), "point count said: {desc}");
        let errors = values.iter().filter(|v| v.is_none()).count();
        assert_eq!(desc.contains("(gaps)"), errors > 0, "{desc}");
    }
}

#[test]
fn text_alternative_reads_as_one_sentence() {
    let s = samples(&[Some(0.002), Some(0.004), None]);
    let got = chart::summary(&spec("error ratio", Some("< 0.01"), Some(0), 180), &[0.002, 0.004], 2, 3, 1);
    assert_eq!(got, "error ratio 0.002–0.004 over 3h, threshold < 0.01, 2 points, 1 error (gaps)");
    let got = chart::summary(&spec("p99", None, None, 90), &[7.0], 1, 4000, 0);
    assert_eq!(got, "p99 7 over 1h 30m, 1 point (downsampled from 4000 results)");
    let partial = Spec { partial: true, ..spec("p99", None, None, 90) };
    let got = chart::summary(&partial, &[7.0], 1, 2000, 0);
    assert_eq!(got, "p99 7 over 1h 30m, 1 point (from the latest 2000 results only)");
    assert_eq!(s.len(), 3);
}

#[test]
fn labels_are_escaped() {
    let s = samples(&[Some(1.0), Some(2.0)]);
    let svg = render(&spec("<script>alert(1)</script> & \"q\"", None, None, 2), &s);
    assert!(!svg.contains("<script>"), "{svg}");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some("<script>alert(1)</script> & \"q\""));
    let root = doc.descendants().find(|n| n.has_tag_name("svg")).unwrap();
    assert_eq!(root.attribute("aria-labelledby"), Some("chart-p1-t chart-p1-d"));
}

#[test]
fn downsampling_is_bounded_and_keeps_spikes_and_gaps() {
    // 10 000 samples, flat 1.0 with one spike, one dip and one error in the middle.
    let mut v: Vec<Option<f64>> = vec![Some(1.0); 10_000];
    v[3_333] = Some(50.0);
    v[6_000] = Some(-4.0);
    v[8_000] = None;
    let s = samples(&v);
    let d = chart::downsample(&s);
    let numeric: Vec<f64> = d.iter().filter_map(|p| p.value).collect();
    assert!(numeric.len() <= MAX_POINTS, "{} points", numeric.len());
    assert!(numeric.contains(&50.0) && numeric.contains(&-4.0), "spike and dip kept");
    assert_eq!(d.iter().filter(|p| p.value.is_none()).count(), 1, "the error stays a gap");
    assert!(d.windows(2).all(|w| w[0].at <= w[1].at), "time order kept");
    let svg = chart::chart(&spec("x", None, None, 10_000), &d, s.len()).into_string();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(by_class(&doc, "line").len(), 2, "split at the error");
    assert!(svg.contains("downsampled from 10000 results"), "{svg}");
    // Short series pass through untouched.
    let few = samples(&[Some(1.0), None, Some(2.0)]);
    assert_eq!(chart::downsample(&few), few);
}

#[test]
fn failures_and_errors_are_shaded() {
    let mut s = samples(&[Some(1.0), Some(9.0), Some(9.5), Some(1.0), Some(8.0)]);
    for i in [1, 2, 4] {
        s[i].failed = true;
    }
    let sp = spec("x", Some("< 5"), None, 6);
    let svg = render(&sp, &s);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let spans = by_class(&doc, "failspan");
    assert_eq!(spans.len(), 2, "{svg}");
    let x1 = x_of(sp.from, sp.to, s[1].at);
    let x3 = x_of(sp.from, sp.to, s[3].at);
    assert!((attr(&spans[0], "x") - x1).abs() < 0.01 && (attr(&spans[0], "width") - (x3 - x1)).abs() < 0.02);
    let end = x_of(sp.from, sp.to, sp.to);
    let x4 = x_of(sp.from, sp.to, s[4].at);
    assert!((attr(&spans[1], "width") - (end - x4)).abs() < 0.02, "the last run runs to the end");
    assert!(by_class(&doc, "gapspan").is_empty(), "no errors, no amber");
    // A run of errors is shaded amber from the first error to the next value.
    let s = samples(&[Some(1.0), None, None, Some(2.0)]);
    let sp = spec("x", None, None, 4);
    let svg = render(&sp, &s);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let gaps = by_class(&doc, "gapspan");
    assert_eq!(gaps.len(), 1, "one run of errors: {svg}");
    let (a, b) = (x_of(sp.from, sp.to, s[1].at), x_of(sp.from, sp.to, s[3].at));
    assert!((attr(&gaps[0], "x") - a).abs() < 0.01 && (attr(&gaps[0], "width") - (b - a)).abs() < 0.02, "{svg}");
}

#[test]
fn numbers_read_short() {
    for (v, want) in [(0.0, "0"), (0.004, "0.004"), (0.0123456, "0.01235"), (1234.5678, "1235"), (12.5, "12.5")] {
        assert_eq!(chart::num(v), want, "{v}");
    }
}
