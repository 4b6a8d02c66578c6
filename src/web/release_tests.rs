//! The release page: an unknown item in amber with since and why and its old evidence, coverage
//! of automated items, warn/shadow markers, and how to settle an inconclusive release.

use super::fixtures::{self, counts, element, item, release, result, text, unknown_item};
use crate::config::{Config, Mode};
use crate::engine::{ItemView, ReleaseView};
use crate::outcome::Status;
use crate::release::{ItemState, ReleaseState};

const SECRET: &str = "tok-77c1-secret";
const CHECKLIST: &str =
    "# Deploy\n- [ ] Run smoke tests\n- [ ] Check error ratio\n- [ ] Try the new query\n- [ ] Ask the PM\n";
const YAML: &str = "checklist: checklist.md
probes:
  health: { http: { url: \"http://127.0.0.1:9/healthz\" }, every: 10s }
items:
  run-smoke-tests: { probes: [health] }
  check-error-ratio: { probes: [health], mode: warn }
  try-the-new-query: { probes: [health], mode: shadow }
";

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).unwrap();
    let path = dir.path().join("c.yaml");
    crate::config::load_str(&path, YAML, &|_| None).unwrap().config
}

fn render(view: &ReleaseView) -> String {
    let results = |_: &str| Some(vec![result("health", fixtures::ago(1), Status::Error, "connection refused")]);
    super::release_page(&fixtures::ctx(SECRET), &config(), view, &[], results).into_string()
}

/// The `<li>` of item `id` in its place in the checklist.
fn item_li<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"item-{id}\"")).unwrap_or_else(|| panic!("no item {id} in {html}"));
    let start = html[..start].rfind("<li").unwrap();
    let end = html[start + 3..].find("<li class=\"item ").map_or(html.len(), |e| start + 3 + e);
    &html[start..end]
}

fn deployed(items: Vec<ItemView>) -> ReleaseView {
    let mut v = release("api-7", ReleaseState::Deployed, counts(1, 0, 1));
    v.items = Some(items);
    v
}

#[test]
fn an_unknown_item_says_since_when_and_why_in_amber_and_marks_its_evidence_old() {
    let err = format!("connect <i>timeout</i> to https://x/?key={SECRET}");
    let html = render(&deployed(vec![unknown_item("run-smoke-tests", "Run smoke tests", &err)]));
    let li = item_li(&html, "run-smoke-tests");
    assert!(li.contains(r#"class="item unknown""#) && li.contains(r#"data-state="unknown""#), "{li}");
    let t = text(li);
    for want in [
        "? unknown Run smoke tests",
        "could not measure since Dec 3 13:50 UTC (10m ago): connect <i>timeout</i> to https://x/?key=<redacted>",
        "Last good evidence, from Dec 3 13:50 UTC (10m ago) — old: nothing could be measured since",
        "Evidence from health (pass): HTTP 200 in 12 ms",
        "measured 62.5% of the window (below its min_coverage 90%)",
    ] {
        assert!(t.contains(want), "{want:?} not in {t}");
    }
    assert!(li.contains(r#"class="unmeasured""#) && li.contains(r#"class="coverage low""#), "amber: {li}");
    assert!(li.contains(r#"class="evidence old""#), "{li}");
    assert!(!li.contains("<i>timeout") && !html.contains(SECRET), "escaped and redacted: {li}");
    // Listed on top under "Can't be seen" too, linking to its place.
    let top = text(element(&html, "section", "unseen"));
    assert!(top.starts_with("⚠ Can't be seen ? unknown Run smoke tests"), "{top}");
    assert!(text(element(&html, "div", "release-head")).contains("⚠ can't be seen"), "{html}");
}

/// Coverage and the mode marker per mode: gate (coverage, no marker), warn (coverage, marker),
/// shadow (marker and its results, no coverage), a manual item (neither).
#[test]
fn automated_items_show_coverage_and_warn_and_shadow_are_marked() {
    let gate = ItemView {
        coverage: Some(0.934),
        ..item("run-smoke-tests", "Run smoke tests", ItemState::Complete, Mode::Gate)
    };
    let warn = item("check-error-ratio", "Check error ratio", ItemState::Complete, Mode::Warn);
    let shadow = item("try-the-new-query", "Try the new query", ItemState::Manual, Mode::Shadow);
    let manual = ItemView { probes: vec![], mode: None, last_results: vec![], ..shadow.clone() };
    let manual = ItemView { id: "ask-the-pm".into(), text: "Ask the PM".into(), automated: false, ..manual };
    let html = render(&deployed(vec![gate, warn, shadow, manual]));
    #[rustfmt::skip]
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("run-smoke-tests", &["measured 93.4% of the window"], &["warn:", "shadow:", "below its min_coverage"]),
        ("check-error-ratio", &["warn: does not block the release", "measured 100% of the window"], &["shadow:"]),
        ("try-the-new-query", &["shadow: shown only, changes nothing", "latest error: connection refused",
            "probes health · as a gate it ticks on a pass and fails after 3 fails in a row"],
            &["measured", "warn:"]),
        ("ask-the-pm", &["☐ manual Ask the PM"], &["measured", "warn:", "shadow:"]),
    ];
    for (id, want, not) in cases {
        let t = text(item_li(&html, id));
        for w in *want {
            assert!(t.contains(w), "{id}: {w:?} not in {t}");
        }
        for n in *not {
            assert!(!t.contains(n), "{id}: {n:?} in {t}");
        }
    }
    assert!(!item_li(&html, "run-smoke-tests").contains("coverage low"), "covered enough: not amber");
    assert!(!html.contains("Can't be seen") && !html.contains("Inconclusive"), "{html}");
}

#[test]
fn an_inconclusive_release_says_why_and_how_to_settle_it() {
    let mut v = deployed(vec![unknown_item("run-smoke-tests", "Run smoke tests", "timeout")]);
    v.release.state = ReleaseState::Inconclusive;
    v.release.closed_at = Some(fixtures::ago(1));
    let why = "window closed at max, but 1 of 1 automated items were not measured enough to tell: \
        'run-smoke-tests' is unknown (coverage 62.5%) <script>";
    v.release.reason = Some(why.into());
    let html = render(&v);
    let head = element(&html, "div", "release-head unknown");
    assert!(text(head).contains("? inconclusive"), "{head}");
    let settle = text(element(&html, "section", "settle"));
    assert_eq!(
        settle,
        format!(
            "? Inconclusive: nobody could tell {why} The evidence was not enough for a verdict. A person settles it \
            (recorded with who and why): shipwatch verdict api-7 --verified|--failed --by NAME --note WHY"
        )
    );
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "escaped");
    assert!(html.find("class=\"settle\"").unwrap() < html.find("Checklist").unwrap(), "on top");
}

/// A Nagios plugin's performance data is listed with the evidence, escaped and redacted.
#[test]
fn perfdata_is_shown_with_the_evidence() {
    use crate::outcome::PerfDatum;
    let mut it = item("run-smoke-tests", "Run smoke tests", ItemState::Complete, Mode::Gate);
    let ev = &mut it.evidence.as_mut().unwrap().evidence;
    ev.message = "TCP OK - 0.001 second response time".into();
    let datum = |label: &str, value: Option<f64>, uom: Option<&str>| PerfDatum {
        label: label.into(),
        value,
        uom: uom.map(String::from),
        ..PerfDatum::default()
    };
    ev.perfdata =
        vec![datum("time", Some(0.00118), Some("s")), datum("<b>q</b>", None, None), datum(SECRET, Some(2.0), None)];
    let html = render(&deployed(vec![it]));
    let li = item_li(&html, "run-smoke-tests");
    let t = text(li);
    assert!(t.contains("Performance data time=0.00118s, <b>q</b>=U, <redacted>=2"), "{t}");
    assert!(!li.contains("<b>q") && !html.contains(SECRET), "escaped and redacted: {li}");
}

/// Stored evidence from before the probe wrote "(all series)" still reads that way: in the
/// evidence message, the observed value and the unknown item's last error.
#[test]
fn an_empty_label_set_in_stored_evidence_reads_all_series() {
    let mut failing = item("run-smoke-tests", "Run smoke tests", ItemState::Failing, Mode::Gate);
    let ev = &mut failing.evidence.as_mut().unwrap().evidence;
    ev.message = "{} is 2 (want < 1)".into();
    ev.observed = Some("{}=2".into());
    let blind = unknown_item("check-error-ratio", "Check error ratio", "{}=NaN is not a number");
    let html = render(&deployed(vec![failing, blind]));
    let t = text(&html);
    for want in ["(all series) is 2 (want < 1)", "Observed (all series)=2", "(all series)=NaN is not a number"] {
        assert!(t.contains(want), "missing {want:?}: {t}");
    }
    assert!(!t.contains("{}"), "a bare {{}} is left: {t}");
}
