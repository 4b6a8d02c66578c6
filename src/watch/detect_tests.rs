//! The detector on plain timestamps: each case is a list of polls (seconds, versions seen, what
//! the caller does with the versions due) and the releases it must lead to.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

fn set(vs: &[&str]) -> BTreeSet<String> {
    vs.iter().map(|v| v.to_string()).collect()
}

/// One poll: at `at` seconds the query showed `versions`; every version due is started
/// (marked handled) unless listed in `keep_waiting` (a creation that failed).
struct Poll {
    at: i64,
    versions: &'static [&'static str],
    keep_waiting: &'static [&'static str],
}

const fn poll(at: i64, versions: &'static [&'static str]) -> Poll {
    Poll { at, versions, keep_waiting: &[] }
}

struct Case {
    name: &'static str,
    settle: u64,
    start_existing: bool,
    polls: &'static [Poll],
    /// (poll time, version, first seen) of every release started.
    started: &'static [(i64, &'static str, i64)],
}

const CASES: &[Case] = &[
    Case {
        name: "running at the first poll: baseline, no release",
        settle: 60,
        start_existing: false,
        polls: &[poll(0, &["1.0"]), poll(30, &["1.0"]), poll(90, &["1.0"]), poll(600, &["1.0"])],
        started: &[],
    },
    Case {
        name: "start_existing: running versions wait like new ones",
        settle: 60,
        start_existing: true,
        polls: &[poll(0, &["1.0"]), poll(30, &["1.0"]), poll(60, &["1.0"]), poll(90, &["1.0"])],
        started: &[(60, "1.0", 0)],
    },
    Case {
        name: "a new version settles after `settle`, deployed when first seen",
        settle: 60,
        start_existing: false,
        polls: &[
            poll(0, &["1.0"]),
            poll(30, &["1.0", "2.0"]),
            poll(60, &["2.0"]),
            poll(89, &["2.0"]),
            poll(90, &["2.0"]),
            poll(120, &["2.0"]),
        ],
        started: &[(90, "2.0", 30)],
    },
    Case {
        name: "a version gone before settle is forgotten (rolled back): no release",
        settle: 60,
        start_existing: false,
        polls: &[
            poll(0, &["1.0"]),
            poll(30, &["1.0", "2.0"]),
            poll(60, &["1.0"]),
            poll(90, &["1.0"]),
            poll(120, &["1.0"]),
        ],
        started: &[],
    },
    Case {
        name: "a version that comes back starts its settle again",
        settle: 60,
        start_existing: false,
        polls: &[
            poll(0, &["1.0"]),
            poll(30, &["2.0"]),
            poll(60, &["1.0"]),
            poll(90, &["2.0"]),
            poll(120, &["2.0"]),
            poll(150, &["2.0"]),
        ],
        started: &[(150, "2.0", 90)],
    },
    Case {
        name: "an empty answer is no observation: nothing forgotten, no baseline",
        settle: 60,
        start_existing: false,
        polls: &[poll(0, &[]), poll(10, &["1.0"]), poll(20, &["1.0", "2.0"]), poll(40, &[]), poll(80, &["2.0"])],
        started: &[(80, "2.0", 20)],
    },
    Case {
        name: "several versions mid-rollout each settle on their own",
        settle: 60,
        start_existing: false,
        polls: &[
            poll(0, &["1.0"]),
            poll(10, &["1.0", "2.0"]),
            poll(20, &["1.0", "2.0", "2.1"]),
            poll(70, &["2.0", "2.1"]),
            poll(80, &["2.0", "2.1"]),
            poll(200, &["2.0", "2.1"]),
        ],
        started: &[(70, "2.0", 10), (80, "2.1", 20)],
    },
    Case {
        name: "a baseline version that leaves and returns is a deploy (a rollback to it)",
        settle: 60,
        start_existing: false,
        polls: &[poll(0, &["1.0"]), poll(10, &["2.0"]), poll(20, &["1.0"]), poll(80, &["1.0"])],
        started: &[(80, "1.0", 20)],
    },
    Case {
        name: "a creation that failed stays due on the next poll, first seen kept",
        settle: 60,
        start_existing: false,
        polls: &[
            poll(0, &["1.0"]),
            poll(10, &["2.0"]),
            Poll { at: 70, versions: &["2.0"], keep_waiting: &["2.0"] },
            poll(80, &["2.0"]),
            poll(90, &["2.0"]),
        ],
        started: &[(80, "2.0", 10)],
    },
];

#[test]
fn detector_cases() {
    for case in CASES {
        let mut d = Detector::new(Duration::from_secs(case.settle), case.start_existing);
        let mut started = vec![];
        for p in case.polls {
            for due in d.observe(t(p.at), &set(p.versions)) {
                if p.keep_waiting.contains(&due.version.as_str()) {
                    continue;
                }
                started.push((p.at, due.version.clone(), (due.first_seen - t(0)).num_seconds()));
                d.handle(&due.version, Handled::Started);
            }
        }
        let want: Vec<(i64, String, i64)> = case.started.iter().map(|(a, v, f)| (*a, v.to_string(), *f)).collect();
        assert_eq!(started, want, "{}", case.name);
    }
}

#[test]
fn memory_round_trips_and_resumes_without_a_new_baseline() {
    let mut d = Detector::new(Duration::from_secs(60), false);
    d.observe(t(0), &set(&["1.0"]));
    d.observe(t(30), &set(&["1.0", "2.0"]));
    assert_eq!(d.waiting(), 1);
    let json = serde_json::to_string(d.memory()).unwrap();
    let memory: Memory = serde_json::from_str(&json).unwrap();
    assert_eq!(&memory, d.memory());
    // After a restart: 2.0 keeps its first-seen time; 3.0, new since, is not a baseline.
    let mut r = Detector::resume(Duration::from_secs(60), false, memory);
    assert!(
        r.observe(t(200), &set(&["1.0", "2.0", "3.0"])).iter().any(|s| s.version == "2.0" && s.first_seen == t(30))
    );
    r.handle("2.0", Handled::Started);
    let due = r.observe(t(260), &set(&["1.0", "2.0", "3.0"]));
    assert_eq!(due, vec![Settled { version: "3.0".into(), first_seen: t(200) }]);
    assert_eq!(r.memory().seen["1.0"], Seen::Handled { why: Handled::Baseline, since: t(0) });
}

#[test]
fn handle_ignores_absent_versions() {
    let mut d = Detector::new(Duration::from_secs(1), false);
    d.handle("9.9", Handled::Existing);
    assert!(d.memory().seen.is_empty());
    assert!(!d.memory().observed);
}
