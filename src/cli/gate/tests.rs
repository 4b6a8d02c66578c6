//! Unit tests of the gate's pure parts: verdict order, progress line, durations, JUnit cases.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn rel(state: &str, items: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, s)| json!({"id": id, "text": format!("Text of {id}"), "section": "Smoke", "state": s}))
        .collect();
    json!({"id": "api-1", "state": state, "reason": "window closed with items pending", "items": items})
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn verdict_waits_passes_and_fails() {
    let sel = ids(&["a", "b"]);
    assert_eq!(verdict(&rel("deployed", &[("a", "complete"), ("b", "pending")]), &sel), None);
    assert_eq!(verdict(&rel("deployed", &[("a", "complete"), ("b", "waived")]), &sel), Some(Outcome::Passed));
    assert_eq!(
        verdict(&rel("deployed", &[("a", "regressed"), ("b", "pending")]), &sel),
        Some(Outcome::Failed { red: ids(&["a"]), release: None })
    );
    let failed = verdict(&rel("failed", &[("a", "complete"), ("b", "complete")]), &sel);
    assert_eq!(
        failed,
        Some(Outcome::Failed { red: vec![], release: Some("window closed with items pending".into()) }),
        "a failed release fails the gate even when the selected items are complete"
    );
    assert_eq!(
        verdict(&rel("deployed", &[("a", "complete"), ("c", "failing")]), &ids(&["a"])),
        Some(Outcome::Passed),
        "unselected red items do not matter"
    );
    // States are parsed, not compared as strings: one this CLI does not know (a newer daemon),
    // or a missing item, is never done.
    for odd in [json!("COMPLETE"), json!("done"), json!(null), json!(1)] {
        let r = json!({"id": "api-1", "state": "deployed", "items": [{"id": "a", "state": odd}]});
        assert_eq!(verdict(&r, &ids(&["a"])), None, "{odd}");
    }
    assert_eq!(verdict(&rel("deployed", &[]), &ids(&["a"])), None, "a missing item");
    assert_eq!(verdict(&rel("FAILED", &[("a", "complete")]), &ids(&["a"])), None, "an unknown release state");
}

#[test]
fn a_closed_release_is_the_answer() {
    let sel = ids(&["a", "b"]);
    let inconclusive = verdict(&rel("inconclusive", &[("a", "complete"), ("b", "complete")]), &sel);
    assert_eq!(
        inconclusive,
        Some(Outcome::Inconclusive("window closed with items pending".into())),
        "inconclusive never passes, even with every item done"
    );
    assert_eq!(
        verdict(&rel("inconclusive", &[("a", "unknown"), ("b", "complete")]), &sel),
        Some(Outcome::Inconclusive("window closed with items pending".into()))
    );
    assert_eq!(
        verdict(&rel("verified", &[("a", "complete"), ("b", "failing")]), &sel),
        Some(Outcome::Passed),
        "a verified release passes: a failing warn item never blocks it"
    );
    assert_eq!(verdict(&rel("deployed", &[("a", "unknown"), ("b", "complete")]), &sel), None, "unknown waits");
    let cs =
        cases(&rel("inconclusive", &[("a", "complete")]), &ids(&["a"]), &inconclusive.unwrap(), &HashMap::new(), 3.0);
    assert_eq!(cs[0].verdict, Verdict::Passed);
    let Verdict::Error { message, .. } = &cs[1].verdict else { panic!("{:?}", cs[1]) };
    assert_eq!(message, "release inconclusive: window closed with items pending");
}

#[test]
fn progress_line_counts_and_time_left() {
    let r = rel("deployed", &[("a", "complete"), ("b", "waived"), ("c", "pending"), ("d", "manual"), ("e", "x")]);
    let (key, line) = progress_line("api-1", &r, &ids(&["a", "b", "c", "d"]), Duration::from_secs(80));
    assert_eq!(key, "gate api-1: 2/4 complete (1 waived), 1 pending, 1 manual (waiting for a tick)");
    assert_eq!(line, format!("{key} — 1m20s left · c: no result yet"));
    let (_, line) = progress_line("api-1", &r, &ids(&["a", "c"]), Duration::from_millis(4500));
    assert_eq!(line, "gate api-1: 1/2 complete, 1 pending — 5s left · c: no result yet");
}

/// The progress line names the first item still waited for and why (its latest error, a tick
/// it waits for), cut to one line.
#[test]
fn progress_line_says_why_the_first_waiting_item_waits() {
    let error = |msg: &str| json!([{"at": "2026-12-03T13:59:00Z", "status": "error", "evidence": {"message": msg}}]);
    let unknown = json!({"id": "u", "state": "unknown", "cause": {"kind": "unmeasured", "since": "2026-12-03T13:50:00Z"},
        "last_results": error("connection refused")});
    #[rustfmt::skip]
    let table: Vec<(Value, &[&str], String)> = vec![
        (json!({"id": "p", "state": "pending", "last_results": error("connection refused")}), &["p"],
            "p: could not measure: connection refused".into()),
        (unknown, &["u"], "u: could not measure since 2026-12-03 13:50:00 UTC: connection refused".into()),
        (json!({"id": "m", "state": "manual"}), &["m"], "m: waits for a person to tick it".into()),
        (json!({"id": "x", "state": "complete"}), &["x", "gone"], "gone: not in the release".into()),
    ];
    for (it, sel, want) in table {
        let r = json!({"id": "api-1", "state": "deployed", "items": [it]});
        let (_, line) = progress_line("api-1", &r, &ids(sel), Duration::from_secs(5));
        let (_, tail) = line.split_once(" left · ").unwrap_or_else(|| panic!("{line}"));
        assert_eq!(tail, want, "{line}");
    }
    let long = json!({"id": "p", "state": "pending", "last_results": error(&"e".repeat(300))});
    let r = json!({"id": "api-1", "state": "deployed", "items": [long]});
    let (_, line) = progress_line("api-1", &r, &ids(&["p"]), Duration::from_secs(5));
    assert!(line.chars().count() == LINE_CHARS && line.ends_with("eee…"), "cut to one line: {line}");
}

#[test]
fn compact_durations() {
    assert_eq!(compact(Duration::from_secs(0)), "0s");
    assert_eq!(compact(Duration::from_millis(1)), "1s");
    assert_eq!(compact_floor(Duration::from_millis(3044)), "3s");
    assert_eq!(compact(Duration::from_secs(80)), "1m20s");
    assert_eq!(compact(Duration::from_secs(3723)), "1h2m3s");
}

/// Issue 10, defect 15: `gate --timeout 5s` printed "timed out after 6s" (elapsed, rounded up).
#[test]
fn timed_out_names_the_timeout_given() {
    for (flag, want) in
        [("5s", "5s"), ("90s", "1m30s"), ("10m", "10m"), ("1h", "1h"), ("1500ms", "1s500ms"), ("2h5m", "2h5m")]
    {
        let timeout = parse_dur("--timeout", flag).unwrap();
        assert_eq!(
            timed_out_line("api-1", 2, 3, timeout),
            format!("gate api-1: timed out after {want} — 2/3 items complete; still waiting for:"),
            "--timeout {flag}"
        );
    }
}

#[test]
fn durations_must_be_positive_and_have_units() {
    assert_eq!(parse_dur("--timeout", "10m"), Ok(Duration::from_secs(600)));
    assert!(parse_dur("--timeout", "0s").unwrap_err().contains("more than 0"));
    assert!(parse_dur("--timeout", "10").unwrap_err().contains("--timeout \"10\""));
}

#[test]
fn junit_cases_follow_the_outcome() {
    let mut r = rel("deployed", &[("a", "complete"), ("b", "failing"), ("c", "pending")]);
    r["items"][0]["by"] = json!("shipwatch");
    r["items"][0]["evidence"] = json!({"probe": "health", "status": "pass", "evidence": {"message": "200 ok"}});
    r["items"][1]["evidence"] = json!({"probe": "health", "status": "fail",
        "evidence": {"message": "answered 500", "target": "GET http://x/healthz", "status_code": 500}});
    r["items"][2]["last_results"] = json!([{"probe": "version", "status": "fail", "evidence": {"message": "1.4.1"}}]);
    let sel = ids(&["a", "b", "c"]);
    let done = HashMap::from([("a".to_string(), 1.25)]);
    let failed = Outcome::Failed { red: ids(&["b"]), release: None };
    let cs = cases(&r, &sel, &failed, &done, 9.0);
    assert_eq!((cs[0].classname.as_str(), cs[0].name.as_str(), cs[0].time_s), ("Smoke", "Text of a", 1.25));
    assert_eq!(cs[0].verdict, Verdict::Passed);
    assert_eq!(cs[0].output.as_deref(), Some("complete by shipwatch: 200 ok"));
    let Verdict::Failure { message, body } = &cs[1].verdict else { panic!("{:?}", cs[1]) };
    assert_eq!(message, "failing: answered 500");
    assert!(body.contains("probe: health (fail)") && body.contains("HTTP status: 500"), "{body}");
    assert!(matches!(cs[2].verdict, Verdict::Skipped { .. }), "{:?}", cs[2]);
    let timed = cases(&r, &sel, &Outcome::TimedOut, &done, 9.0);
    let Verdict::Error { message, body } = &timed[2].verdict else { panic!("{:?}", timed[2]) };
    assert_eq!((message.as_str(), timed[2].time_s), ("timed out", 9.0));
    assert_eq!(body, "still pending\nlast version: fail — 1.4.1");
    let rel_failed = Outcome::Failed { red: vec![], release: Some("window over".into()) };
    let cs = cases(&r, &sel, &rel_failed, &done, 9.0);
    assert!(matches!(&cs[2].verdict, Verdict::Failure { message, .. } if message == "release failed: window over"));
}
