//! `status` rows from the API's JSON: unknown items with since and why, coverage, modes, and an
//! inconclusive release with the verdict command.

use serde_json::{Value, json};

use super::{item_row, render_status_colored};

/// An item as the API shows it: `extra` fields over a complete gate item bound to `health`.
fn item(extra: Value) -> Value {
    let mut i = json!({
        "id": "smoke", "text": "Run smoke tests", "state": "complete", "since": "2026-12-03T13:45:00Z",
        "automated": true, "probes": ["health"], "cause": {"kind": "rule", "met": "pass", "probe": "health"},
        "evidence": {"probe": "health", "status": "pass", "evidence": {"message": "HTTP 200 in 12 ms"}},
        "last_results": [{"release_id": "r", "probe": "health", "at": "2026-12-03T13:59:00Z", "status": "pass",
                          "evidence": {"message": "HTTP 200 in 12 ms"}}],
        "mode": "gate", "fresh_at": "2026-12-03T13:59:00Z", "coverage": 0.934, "min_coverage": 0.9,
    });
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    i
}

fn errors(at: &[&str]) -> Value {
    let results: Vec<Value> = at
        .iter()
        .enumerate()
        .map(|(n, t)| {
            json!({"release_id": "r", "probe": "health", "at": t, "status": "error",
                   "evidence": {"message": format!("connection refused #{n}")}})
        })
        .collect();
    Value::from(results)
}

#[test]
fn item_rows_say_why_an_item_cannot_be_seen_and_show_coverage_and_mode() {
    // Unknown since 13:50 (its last measurement), its probe erroring at `at`.
    let unknown = |at: &[&str]| {
        json!({"state": "unknown", "cause": {"kind": "unmeasured", "since": "2026-12-03T13:50:00Z"},
               "fresh_at": "2026-12-03T13:50:00Z", "coverage": 0.625, "last_results": errors(at)})
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, [&str; 4])> = vec![
        ("complete gate item", json!({}), ["complete", "smoke", "93.4%", "HTTP 200 in 12 ms"]),
        ("unknown: the latest error after since, not the old evidence",
            unknown(&["2026-12-03T13:58:00Z", "2026-12-03T13:59:00Z"]),
            ["unknown", "smoke", "62.5% < 90%",
             "could not measure since 2026-12-03 13:50:00 UTC: connection refused #1"]),
        ("unknown with no result since",
            unknown(&["2026-12-03T13:40:00Z"]),
            ["unknown", "smoke", "62.5% < 90%",
             "could not measure since 2026-12-03 13:50:00 UTC: no result since (was shipwatch down?)"]),
        ("warn item", json!({"mode": "warn", "coverage": 1.0}), ["complete", "smoke (warn)", "100%", "HTTP 200 in 12 ms"]),
        ("shadow item stays manual, shows what its probe said",
            json!({"mode": "shadow", "state": "manual", "automated": false, "evidence": null, "coverage": null,
                   "last_results": errors(&["2026-12-03T13:59:00Z"])}),
            ["manual", "smoke (shadow)", "", "shadow, changes nothing; latest error: connection refused #0"]),
        ("pending, no result yet", json!({"state": "pending", "coverage": null, "evidence": null, "last_results": []}),
            ["pending", "smoke", "-", "no result yet"]),
        ("pending: its latest error, not an empty cell",
            json!({"state": "pending", "evidence": null, "last_results": errors(&["2026-12-03T13:58:00Z", "2026-12-03T13:59:00Z"])}),
            ["pending", "smoke", "93.4%", "could not measure: connection refused #1"]),
        ("pending after a fail that did not fail it yet",
            json!({"state": "pending", "last_results": [{"at": "2026-12-03T13:59:00Z", "status": "fail",
                   "evidence": {"message": "HTTP 503 in 4 ms"}}]}),
            ["pending", "smoke", "93.4%", "latest fail: HTTP 503 in 4 ms"]),
    ];
    for (name, extra, want) in cases {
        assert_eq!(item_row(&item(extra), false), want, "{name}");
    }
}

#[test]
fn unknown_rows_and_low_coverage_are_amber() {
    let i = item(
        json!({"state": "unknown", "coverage": 0.5, "cause": {"kind": "unmeasured", "since": "2026-12-03T13:50:00Z"},
        "last_results": errors(&["2026-12-03T13:59:00Z"])}),
    );
    let row = item_row(&i, true);
    assert_eq!(row[0], "\x1b[1;33munknown\x1b[0m");
    assert_eq!(row[2], "\x1b[1;33m50% < 90%\x1b[0m");
    assert!(row[3].starts_with("\x1b[1;33mcould not measure since") && row[3].ends_with("\x1b[0m"), "{row:?}");
    assert_eq!(item_row(&item(json!({})), true)[2], "93.4%", "covered enough: no colour");
}

#[test]
fn one_release_lists_items_with_coverage_and_an_inconclusive_one_says_how_to_settle() {
    let manual = json!({"id": "ask-pm", "text": "Ask the PM to try checkout", "state": "manual", "automated": false,
        "since": "2026-12-03T13:45:00Z"});
    let v = json!({"id": "api-7", "service": "api", "version": "7", "environment": "prod", "state": "inconclusive",
        "reason": "window closed at max, but 1 of 1 automated items were not measured enough to tell: 'smoke' is unknown (coverage 62.5%)",
        "window": {"elapsed_s": 3600.0, "remaining_s": null}, "counts": {"unknown": 1, "manual": 1},
        "items": [item(json!({"state": "unknown", "coverage": 0.625,
            "cause": {"kind": "unmeasured", "since": "2026-12-03T13:50:00Z"},
            "last_results": errors(&["2026-12-03T13:59:00Z"])})), manual]});
    let out = render_status_colored(&v, true, false);
    let want = "\
api-7 api 7 (prod) — inconclusive: window closed at max, but 1 of 1 automated items were not measured enough to tell: 'smoke' is unknown (coverage 62.5%)
nobody could tell: settle it with shipwatch verdict api-7 --verified|--failed --by NAME [--note WHY]
window: 1h elapsed, - left

STATE    ITEM   COVERAGE     EVIDENCE
unknown  smoke  62.5% < 90%  could not measure since 2026-12-03 13:50:00 UTC: connection refused #0

1 item can't be seen: its probes could not measure (unknown)

1 manual item waits for a person; tick one with: shipwatch tick api-7 ITEM --by NAME
  ask-pm  Ask the PM to try checkout
";
    assert_eq!(out, want);
    let mut two = v.clone();
    let shadow = json!({"id": "dash", "state": "manual", "mode": "shadow", "automated": false});
    let long = json!({"id": "check-the-dashboards", "text": "x".repeat(80), "state": "manual", "automated": false});
    two["items"].as_array_mut().unwrap().extend([shadow, long]);
    let out = render_status_colored(&two, true, false);
    let tail = out.split("2 manual items wait").nth(1).unwrap_or_else(|| panic!("{out}"));
    let lines: Vec<&str> = tail.lines().skip(1).collect();
    assert_eq!(
        lines,
        ["  ask-pm                Ask the PM to try checkout", &format!("  check-the-dashboards  {}…", "x".repeat(59))]
    );
    let mut verified = v.clone();
    verified["state"] = "verified".into();
    assert!(!render_status_colored(&verified, true, false).contains("shipwatch verdict"));
}

#[test]
fn the_list_counts_unknown_items_and_colours_only_when_asked() {
    let v = json!({"releases": [{"id": "a-1", "service": "a", "version": "1", "environment": "prod", "state": "failed",
                    "counts": {"complete": 1, "pending": 0, "failing": 1, "regressed": 0, "manual": 3, "unknown": 2},
                    "window": {"remaining_s": null}}], "next_cursor": "7"});
    let plain = render_status_colored(&v, false, false);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("DONE/PEND/RED/UNKNOWN/MANUAL") && plain.contains("  1/0/1/2/3  "), "{plain}");
    assert!(plain.contains("a-1") && plain.contains("--cursor 7"), "{plain}");
    let coloured = render_status_colored(&v, false, true);
    assert!(
        coloured.contains("\x1b[31mfailed\x1b[0m") && coloured.contains("1/0/1/\x1b[1;33m2\x1b[0m/3"),
        "{coloured}"
    );
}
