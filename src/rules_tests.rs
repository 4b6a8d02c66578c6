//! Data-driven tests of the item rules and the verdict.

use super::*;
use crate::config::FailRule;
use crate::config::Phase;
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
    }
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

/// One result, with what the rules decide applied through the transition table.
fn step(b: &Binding, it: &mut ItemRecord, st: Status, at: DateTime<Utc>) {
    if let Some((met, why)) = observe(b, it, "p", st, at) {
        crate::transition::apply_item(it, true, Cause::Rule { met, probe: Some("p".into()) }, why, None, at).unwrap();
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
        ("errors never fail", binding(PassRule::Consecutive(1), 1), "EEEE", vec![Pending; 4]),
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
        assert_eq!(observe(&b, &mut it, "p", Status::Fail, t(0)), None);
        assert_eq!(observe(&b, &mut it, "p", Status::Pass, t(1)), None);
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
    }
}

#[test]
fn verdict_table() {
    use ItemState::*;
    use ReleaseState::*;
    type Case<'a> = (&'a str, bool, Vec<ItemState>, Option<&'a str>, i64, Option<ReleaseState>);
    let cases: Vec<Case> = vec![
        ("before min", false, vec![Complete], None, 50, None),
        ("at min, all complete", false, vec![Complete, Waived], None, 100, Some(Verified)),
        ("at min, one pending", false, vec![Complete, Pending], None, 100, None),
        ("regression extends to max", true, vec![Complete], None, 150, None),
        ("regressed, complete again at max", true, vec![Complete], None, 200, Some(Verified)),
        ("max with pending", false, vec![Pending], None, 200, Some(Failed)),
        ("max with regressed", true, vec![Regressed], None, 250, Some(Failed)),
        ("abort", false, vec![Failing], Some("x"), 10, Some(Failed)),
        ("no automated items", false, vec![], None, 100, Some(Verified)),
    ];
    for (name, regressed, items, abort, at, want) in cases {
        let got = verdict(&release(regressed), &items, abort, t(at)).map(|(s, _)| s);
        assert_eq!(got, want, "{name}");
    }
    assert!(window_closed(&release(false), t(100)));
    assert!(!window_closed(&release(true), t(100)));
    assert!(window_closed(&release(true), t(200)));
}
