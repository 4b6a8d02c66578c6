//! Data-driven tests of the item rules and the verdict.

use super::*;
use crate::config::FailRule;
use crate::config::{Mode, Phase};
use crate::transition::Cause;
use chrono::TimeZone;
use std::time::Duration;

fn binding(pass: PassRule, fail: u32) -> Binding {
    Binding {
        item: "i".into(),
        probes: vec!["p".into()],
        pass,
        fail: FailRule { consecutive: fail, abort: false },
        notify: vec![],
        on: None,
        phase: Phase::PostDeploy,
        mode: Mode::Gate,
        stale_after: Duration::from_secs(25),
        min_coverage: 0.9,
    }
}

fn item() -> ItemRecord {
    ItemRecord {
        release_id: "r".into(),
        item_id: "i".into(),
        state: ItemState::Pending,
        since: t(0),
        cause: Cause::Created,
        evidence: None,
        tracks: Default::default(),
        ever_complete: false,
        fresh_at: None,
        stale_secs: 0.0,
    }
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

/// The watch of a release deployed at t(0).
fn watch() -> Watch {
    Watch { deployed: Some(t(0)), origin: t(0) }
}

/// One result, with what the rules decide applied through the transition table.
fn step(b: &Binding, it: &mut ItemRecord, st: Status, at: DateTime<Utc>) {
    if let Some((cause, why)) = observe(b, it, "p", st, at, watch()) {
        crate::transition::apply_item(it, true, cause, why, None, at).unwrap();
    }
}

/// Feed a sequence of results (P/F/E, one per 10 s) and collect the state after each.
fn run(b: &Binding, seq: &str) -> Vec<ItemState> {
    let mut it = item();
    seq.chars()
        .enumerate()
        .map(|(i, c)| {
            let st = match c {
                'P' => Status::Pass,
                'F' => Status::Fail,
                _ => Status::Error,
            };
            step(b, &mut it, st, t(i as i64 * 10));
            it.state
        })
        .collect()
}

#[test]
fn item_rules_table() {
    use ItemState::*;
    let cases: Vec<(&str, Binding, &str, Vec<ItemState>)> = vec![
        ("one pass ticks", binding(PassRule::Consecutive(1), 3), "P", vec![Complete]),
        ("three in a row", binding(PassRule::Consecutive(3), 3), "PPEP", vec![Pending, Pending, Pending, Complete]),
        ("fail resets streak", binding(PassRule::Consecutive(2), 3), "PFPP", vec![Pending, Pending, Pending, Complete]),
        ("errors never fail", binding(PassRule::Consecutive(1), 1), "EEEE", vec![Pending, Pending, Pending, Unknown]),
        ("errors never tick", binding(PassRule::Consecutive(1), 3), "EE", vec![Pending, Pending]),
        ("failing before complete", binding(PassRule::Consecutive(1), 2), "FF", vec![Pending, Failing]),
        ("failing then complete", binding(PassRule::Consecutive(1), 2), "FFP", vec![Pending, Failing, Complete]),
        (
            "regressed after complete",
            binding(PassRule::Consecutive(1), 3),
            "PFFF",
            vec![Complete, Complete, Complete, Regressed],
        ),
        (
            "regressed recovers",
            binding(PassRule::Consecutive(2), 1),
            "PPFPP",
            vec![Pending, Complete, Regressed, Regressed, Complete],
        ),
        (
            "errors between fails keep count",
            binding(PassRule::Consecutive(1), 2),
            "PFEF",
            vec![Complete, Complete, Complete, Regressed],
        ),
        (
            "sustained 25s",
            binding(PassRule::Sustained(Duration::from_secs(25)), 3),
            "PPPP",
            vec![Pending, Pending, Pending, Complete],
        ),
        (
            "sustained broken by fail",
            binding(PassRule::Sustained(Duration::from_secs(15)), 3),
            "PFPPP",
            vec![Pending, Pending, Pending, Pending, Complete],
        ),
        ("window never ticks on results", binding(PassRule::Window, 3), "PPPP", vec![Pending; 4]),
        // stale_after 25 s, one result every 10 s: the third error in a row after the last
        // measurement (30 s) is past it.
        (
            "complete goes unknown",
            binding(PassRule::Consecutive(1), 3),
            "PEEE",
            vec![Complete, Complete, Complete, Unknown],
        ),
        (
            "errors keep it unknown (the old pass streak does not tick it)",
            binding(PassRule::Consecutive(1), 3),
            "PEEEEE",
            vec![Complete, Complete, Complete, Unknown, Unknown, Unknown],
        ),
        (
            "sustained: errors keep it unknown",
            binding(PassRule::Sustained(Duration::from_secs(5)), 3),
            "PPEEEEE",
            vec![Pending, Complete, Complete, Complete, Unknown, Unknown, Unknown],
        ),
        (
            "pending goes unknown",
            binding(PassRule::Consecutive(1), 3),
            "EEEE",
            vec![Pending, Pending, Pending, Unknown],
        ),
        (
            "unknown back to complete",
            binding(PassRule::Consecutive(1), 3),
            "PEEEP",
            vec![Complete, Complete, Complete, Unknown, Complete],
        ),
        (
            "unknown back to pending when no rule is met",
            binding(PassRule::Consecutive(2), 3),
            "EEEEP",
            vec![Pending, Pending, Pending, Unknown, Pending],
        ),
        (
            "unknown then fails: regressed",
            binding(PassRule::Consecutive(1), 1),
            "PEEEF",
            vec![Complete, Complete, Complete, Unknown, Regressed],
        ),
        ("failing stays red", binding(PassRule::Consecutive(1), 1), "FEEEE", vec![Failing; 5]),
    ];
    for (name, b, seq, want) in cases {
        assert_eq!(run(&b, seq), want, "{name}");
    }
}

#[test]
fn manual_and_waived_never_move() {
    let b = binding(PassRule::Consecutive(1), 1);
    for st in [ItemState::Manual, ItemState::Waived] {
        let mut it = item();
        it.state = st;
        assert_eq!(observe(&b, &mut it, "p", Status::Fail, t(0), watch()), None);
        assert_eq!(observe(&b, &mut it, "p", Status::Pass, t(1), watch()), None);
        assert_eq!(observe(&b, &mut it, "p", Status::Error, t(100), watch()), None);
        assert_eq!(it.state, st);
    }
}

#[test]
fn action_items_never_tick_by_rule() {
    let mut b = binding(PassRule::Consecutive(1), 1);
    b.probes.clear();
    let it = item();
    assert_eq!(decide_item(&b, &it, t(0)), None);
    assert_eq!(it.state, ItemState::Pending);
}

#[test]
fn window_item_closes() {
    let b = binding(PassRule::Window, 3);
    let mut it = item();
    assert_eq!(decide_close(&b, &it), None, "no pass yet");
    step(&b, &mut it, Status::Pass, t(1));
    assert_eq!(decide_close(&b, &it).as_deref(), Some("no failure across the window"));
    let mut failing = item();
    for i in 0..3 {
        step(&b, &mut failing, Status::Fail, t(i));
    }
    assert_eq!(failing.state, ItemState::Failing);
    assert_eq!(decide_close(&b, &failing), None);
}

fn release(regressed: bool) -> Release {
    Release {
        id: "r".into(),
        service: "api".into(),
        version: "1".into(),
        environment: "production".into(),
        state: ReleaseState::Deployed,
        created_at: t(0),
        deployed_at: Some(t(0)),
        window_min: Duration::from_secs(100),
        window_max: Duration::from_secs(200),
        regressed,
        closed_at: None,
        reason: None,
        commit: None,
        labels: Default::default(),
        origin: None,
        idempotency: None,
    }
}

/// One judged item: (state, mode, coverage).
fn j(state: ItemState, mode: Mode, coverage: f64) -> Judged<'static> {
    Judged { id: "x", state, mode, coverage: Some(coverage), min_coverage: 0.9 }
}

#[test]
fn verdict_table() {
    use ItemState::*;
    use Mode::*;
    use ReleaseState::*;
    type Case<'a> = (&'a str, bool, Vec<Judged<'static>>, Option<&'a str>, i64, Option<ReleaseState>);
    let c = |s| j(s, Gate, 1.0);
    let cases: Vec<Case> = vec![
        ("before min", false, vec![c(Complete)], None, 50, None),
        ("at min, all complete", false, vec![c(Complete), c(Waived)], None, 100, Some(Verified)),
        ("at min, one pending", false, vec![c(Complete), c(Pending)], None, 100, None),
        ("regression extends to max", true, vec![c(Complete)], None, 150, None),
        ("regressed, complete again at max", true, vec![c(Complete)], None, 200, Some(Verified)),
        ("max with pending", false, vec![c(Pending)], None, 200, Some(Failed)),
        ("max with regressed", true, vec![c(Regressed)], None, 250, Some(Failed)),
        ("abort", false, vec![c(Failing)], Some("x"), 10, Some(Failed)),
        ("no automated items: nothing seen", false, vec![], None, 200, Some(Inconclusive)),
        ("no automated items never verify at min", false, vec![], None, 100, None),
        ("unknown at min waits", false, vec![c(Unknown)], None, 100, None),
        ("unknown at max", false, vec![c(Complete), c(Unknown)], None, 200, Some(Inconclusive)),
        ("low coverage at min waits", false, vec![j(Complete, Gate, 0.5)], None, 100, None),
        ("low coverage at max", false, vec![j(Complete, Gate, 0.89)], None, 200, Some(Inconclusive)),
        ("coverage at the minimum", false, vec![j(Complete, Gate, 0.9)], None, 100, Some(Verified)),
        ("a failure beats unknown", false, vec![c(Failing), c(Unknown)], None, 200, Some(Failed)),
        ("pending, never measured", false, vec![j(Pending, Gate, 0.0)], None, 200, Some(Inconclusive)),
        ("pending, measured enough", false, vec![j(Pending, Gate, 0.95)], None, 200, Some(Failed)),
        ("waived needs no coverage", false, vec![j(Waived, Gate, 0.0)], None, 100, Some(Verified)),
        ("warn failing does not block", false, vec![c(Complete), c(Failing).with(Warn)], None, 100, Some(Verified)),
        ("warn unknown does not block", false, vec![c(Complete), j(Unknown, Warn, 0.1)], None, 200, Some(Verified)),
        ("warn only: nothing gates", false, vec![c(Complete).with(Warn)], None, 200, Some(Inconclusive)),
    ];
    for (name, regressed, items, abort, at, want) in cases {
        let got = verdict(&release(regressed), &items, abort, t(at)).map(|(s, _)| s);
        assert_eq!(got, want, "{name}");
    }
    assert!(window_closed(&release(false), t(100)));
    assert!(!window_closed(&release(true), t(100)));
    assert!(window_closed(&release(true), t(200)));
}

impl Judged<'static> {
    fn with(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

#[test]
fn verdict_reasons_name_items_and_coverage() {
    let items = [
        Judged { id: "smoke", state: ItemState::Unknown, mode: Mode::Gate, coverage: Some(0.42), min_coverage: 0.9 },
        Judged { id: "errors", state: ItemState::Complete, mode: Mode::Gate, coverage: Some(0.855), min_coverage: 0.9 },
        Judged { id: "latency", state: ItemState::Failing, mode: Mode::Warn, coverage: Some(1.0), min_coverage: 0.9 },
    ];
    let (state, why) = verdict(&release(false), &items, None, t(200)).unwrap();
    assert_eq!(state, ReleaseState::Inconclusive);
    assert_eq!(
        why,
        "window closed at max, but 2 of 2 automated items were not measured enough to tell: 'smoke' is unknown \
         (coverage 42%); 'errors' coverage 85.5% < min_coverage 90%; warn items not complete: latency (failing, coverage 100%)"
    );
}

/// Coverage, checked against a hand count: measurements at the given seconds after the deploy
/// (window 200 s, stale_after 25 s); the stale time is every gap's part beyond 25 s.
#[test]
fn coverage_table() {
    let cases: Vec<(&str, Vec<i64>, i64, f64)> = vec![
        ("every 10 s", (0..=200).step_by(10).collect(), 200, 1.0),
        ("nothing measured, 100 s in", vec![], 100, 0.25),
        ("measured at 0, then silence until 200", vec![0], 200, 0.125),
        // gap 20→120 (100 s): 75 s stale; then fresh to the end
        ("one long gap", vec![0, 10, 20, 120, 130, 140, 150, 160, 170, 180, 190, 200], 200, 1.0 - 75.0 / 200.0),
        ("evaluated past max counts to max", (0..=200).step_by(10).collect(), 500, 1.0),
        ("half way, fresh", vec![0, 10, 20, 30, 40, 50], 50, 1.0),
        ("late first measurement", vec![40], 40, 1.0 - 15.0 / 40.0),
    ];
    for (name, at, now, want) in cases {
        let mut it = item();
        for s in at {
            measured(&mut it, t(s), Some(t(0)), Duration::from_secs(25));
        }
        let mut r = release(false);
        r.window_max = Duration::from_secs(200);
        let got = coverage(&it, &r, t(now), Duration::from_secs(25)).unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
    }
    let mut planned = release(false);
    planned.deployed_at = None;
    assert_eq!(coverage(&item(), &planned, t(10), Duration::from_secs(25)), None, "not deployed: no window");
}

/// Measurements before the deploy make the item fresh but never count as window time.
#[test]
fn pre_deploy_measurements_do_not_count() {
    let mut it = item();
    measured(&mut it, t(-500), Some(t(0)), Duration::from_secs(25));
    measured(&mut it, t(10), Some(t(0)), Duration::from_secs(25));
    assert_eq!(it.stale_secs, 0.0, "the gap before the deploy is not window time");
    assert_eq!(stale_since(&it, t(30), t(0), Duration::from_secs(25)), None);
    assert_eq!(stale_since(&it, t(36), t(0), Duration::from_secs(25)), Some(t(10)));
}

/// A `window: true` item whose every attempt errored has no evidence: it never closes as a
/// pass, and at max its coverage makes the release inconclusive, not verified.
#[test]
fn a_window_item_with_only_errors_is_not_a_pass() {
    let b = binding(PassRule::Window, 3);
    let mut it = item();
    for s in (0..200).step_by(10) {
        step(&b, &mut it, Status::Error, t(s));
    }
    assert_eq!(decide_close(&b, &it), None, "no pass: nothing to close on");
    let cov = coverage(&it, &release(false), t(200), b.stale_after).unwrap();
    assert!(cov < 0.2, "{cov}");
    let judged = [Judged { id: "i", state: it.state, mode: Mode::Gate, coverage: Some(cov), min_coverage: 0.9 }];
    assert_eq!(verdict(&release(false), &judged, None, t(200)).map(|v| v.0), Some(ReleaseState::Inconclusive));
}

/// The rule a move met, in words: counts read "1 time" / "3 times", never "3×".
#[test]
fn rule_messages_read_as_words() {
    let table: &[(PassRule, u32, &str, &str)] = &[
        (PassRule::Consecutive(1), 3, "P", "p passed 1 time in a row"),
        (PassRule::Consecutive(3), 3, "PPP", "p passed 3 times in a row"),
        (PassRule::Consecutive(3), 1, "F", "p failed 1 time in a row"),
        (PassRule::Consecutive(3), 3, "PFFF", "p failed 3 times in a row"),
    ];
    for (pass, fail, seq, want) in table {
        let b = binding(*pass, *fail);
        let mut it = item();
        let mut last = None;
        for (i, c) in seq.chars().enumerate() {
            let st = if c == 'P' { Status::Pass } else { Status::Fail };
            if let Some((cause, why)) = observe(&b, &mut it, "p", st, t(i as i64 * 10), watch()) {
                last = Some(why.clone());
                crate::transition::apply_item(&mut it, true, cause, why, None, t(i as i64 * 10)).unwrap();
            }
        }
        assert_eq!(last.as_deref(), Some(*want), "{pass:?} fail {fail} after {seq}");
    }
    assert_eq!((times(0), times(1), times(2)), ("0 times".into(), "1 time".into(), "2 times".into()));
}
