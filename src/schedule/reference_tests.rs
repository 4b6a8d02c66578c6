//! Cron next fire times against an independent reference: `tests/fixtures/cron/next_times.json`,
//! computed once by Python's croniter (version and options in the fixture's `reference`, by
//! `tests/fixtures/cron/generate.py`) for each expression after a Sunday, a month end, a
//! leap-year February and a year end. Compared exactly.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{CronError, Schedule};

#[derive(Deserialize)]
struct Fixture {
    reference: serde_json::Value,
    count: usize,
    starts: Vec<DateTime<Utc>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    expr: String,
    note: String,
    next: std::collections::BTreeMap<DateTime<Utc>, Vec<DateTime<Utc>>>,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cron/next_times.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

#[test]
fn next_fire_times_match_the_reference() {
    let fx = fixture();
    assert_eq!(fx.reference["name"], "croniter", "the fixture names its reference");
    assert!(fx.cases.len() >= 40, "{} expressions; the table needs at least 40", fx.cases.len());
    let mut failures = vec![];
    for case in &fx.cases {
        assert_eq!(case.next.len(), fx.starts.len(), "{}: one list per start", case.expr);
        for (start, want) in &case.next {
            let got = match Schedule::cron(&case.expr, *start) {
                Ok(s) => s.upcoming(*start, fx.count),
                Err(CronError::NeverFires { .. }) => vec![],
                Err(e) => panic!("{} ({}): {e}", case.expr, case.note),
            };
            if &got != want {
                failures
                    .push(format!("{:?} ({}) after {start}:\n  want {want:?}\n  got  {got:?}", case.expr, case.note));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatch(es) with croniter:\n{}", failures.len(), failures.join("\n"));
}
