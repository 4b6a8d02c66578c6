//! The transition tables, case by case.

use super::*;
use chrono::TimeZone;

fn tick() -> Cause {
    Cause::Tick { by: "ana".into(), note: None }
}
fn waive() -> Cause {
    Cause::Waive { by: "ana".into(), reason: "n/a".into() }
}
fn rule(met: Met) -> Cause {
    Cause::Rule { met, probe: Some("p".into()) }
}
fn unmeasured() -> Cause {
    Cause::Unmeasured { since: t(0) }
}
fn decided(to: ReleaseState) -> Cause {
    Cause::Decided { to, by: "ana".into(), note: Some("checked by hand".into()) }
}
fn action() -> Cause {
    Cause::Action { event: EventKind::ReleaseVerified, receiver: None }
}

#[test]
fn item_table() {
    use ItemState::*;
    type Want = Result<Option<ItemState>, ()>;
    let cases: Vec<(&str, Option<ItemState>, bool, Cause, Want)> = vec![
        ("new automated", None, true, Cause::Created, Ok(Some(Pending))),
        ("new manual", None, false, Cause::Created, Ok(Some(Manual))),
        ("new pre-ticked", None, false, Cause::Checklist, Ok(Some(Complete))),
        ("new by a rule is refused", None, true, rule(Met::Pass), Err(())),
        ("fail before complete", Some(Pending), true, rule(Met::Fail), Ok(Some(Failing))),
        ("fail after complete", Some(Complete), true, rule(Met::Fail), Ok(Some(Regressed))),
        ("failing stays failing", Some(Failing), true, rule(Met::Fail), Ok(None)),
        ("pass completes", Some(Pending), true, rule(Met::Pass), Ok(Some(Complete))),
        ("regressed recovers", Some(Regressed), true, rule(Met::Pass), Ok(Some(Complete))),
        ("rules never move a waived item", Some(Waived), true, rule(Met::Fail), Ok(None)),
        ("rules never move a manual item", Some(Manual), false, rule(Met::Pass), Ok(None)),
        ("window closes a pending item", Some(Pending), true, Cause::WindowClosed, Ok(Some(Complete))),
        ("window leaves a failing item", Some(Failing), true, Cause::WindowClosed, Ok(None)),
        ("tick a manual item", Some(Manual), false, tick(), Ok(Some(Complete))),
        ("tick a waived manual item", Some(Waived), false, tick(), Ok(Some(Complete))),
        ("second tick changes nothing", Some(Complete), false, tick(), Ok(None)),
        ("tick an automated item is refused", Some(Pending), true, tick(), Err(())),
        ("tick a complete automated item is refused", Some(Complete), true, tick(), Err(())),
        ("waive anything", Some(Failing), true, waive(), Ok(Some(Waived))),
        ("second waiver changes nothing", Some(Waived), true, waive(), Ok(None)),
        ("action ticks a pending item", Some(Pending), true, action(), Ok(Some(Complete))),
        ("action never re-ticks", Some(Complete), true, action(), Ok(None)),
        ("bound by a reload", Some(Manual), true, Cause::Rebind { bound: true }, Ok(Some(Pending))),
        ("unbound by a reload", Some(Pending), false, Cause::Rebind { bound: false }, Ok(Some(Manual))),
        ("a reload keeps a complete item", Some(Complete), false, Cause::Rebind { bound: false }, Ok(None)),
        ("a deploy is not an item cause", Some(Pending), true, Cause::Deploy, Err(())),
        ("pending cannot be measured", Some(Pending), true, unmeasured(), Ok(Some(Unknown))),
        ("complete cannot be measured", Some(Complete), true, unmeasured(), Ok(Some(Unknown))),
        ("a failure stays red when blind", Some(Failing), true, unmeasured(), Ok(None)),
        ("a regression stays red when blind", Some(Regressed), true, unmeasured(), Ok(None)),
        ("still unknown", Some(Unknown), true, unmeasured(), Ok(None)),
        ("unknown measured again", Some(Unknown), true, Cause::Measured, Ok(Some(Pending))),
        ("measured is only for unknown", Some(Complete), true, Cause::Measured, Ok(None)),
        ("unknown passes", Some(Unknown), true, rule(Met::Pass), Ok(Some(Complete))),
        ("unknown fails", Some(Unknown), true, rule(Met::Fail), Ok(Some(Failing))),
        ("unknown can be waived", Some(Unknown), true, waive(), Ok(Some(Waived))),
        ("unknown is not ticked by a person", Some(Unknown), true, tick(), Err(())),
        ("unknown unbound by a reload", Some(Unknown), false, Cause::Rebind { bound: false }, Ok(Some(Manual))),
    ];
    for (name, from, automated, cause, want) in cases {
        let got = item(from, Facts::automated(automated), &cause).map_err(|_| ());
        assert_eq!(got, want, "{name}");
    }
    let was_complete = Facts { automated: true, ever_complete: true };
    assert_eq!(item(Some(ItemState::Unknown), was_complete, &rule(Met::Fail)), Ok(Some(ItemState::Regressed)));
}

#[test]
fn release_table() {
    use ReleaseState::*;
    type Want = Result<Option<ReleaseState>, ()>;
    let cases: Vec<(&str, Option<ReleaseState>, Cause, Want)> = vec![
        ("start planned", None, Cause::Started { planned: true }, Ok(Some(Planned))),
        ("start deployed", None, Cause::Started { planned: false }, Ok(Some(Deployed))),
        ("deploy", Some(Planned), Cause::Deploy, Ok(Some(Deployed))),
        ("deploy twice", Some(Deployed), Cause::Deploy, Err(())),
        ("verdict", Some(Deployed), Cause::Verdict { to: Verified }, Ok(Some(Verified))),
        ("verdict failed", Some(Deployed), Cause::Verdict { to: Failed }, Ok(Some(Failed))),
        ("verdict before deploy", Some(Planned), Cause::Verdict { to: Verified }, Err(())),
        ("verdict to deployed", Some(Deployed), Cause::Verdict { to: Deployed }, Err(())),
        ("a closed release stays closed", Some(Verified), Cause::Verdict { to: Failed }, Err(())),
        ("a tick is not a release cause", Some(Deployed), tick(), Err(())),
        ("inconclusive at close", Some(Deployed), Cause::Verdict { to: Inconclusive }, Ok(Some(Inconclusive))),
        ("a person settles inconclusive", Some(Inconclusive), decided(Verified), Ok(Some(Verified))),
        ("a person fails inconclusive", Some(Inconclusive), decided(Failed), Ok(Some(Failed))),
        ("a person promotes early", Some(Deployed), decided(Verified), Ok(Some(Verified))),
        ("a person aborts early", Some(Deployed), decided(Failed), Ok(Some(Failed))),
        ("a person aborts a planned release", Some(Planned), decided(Failed), Ok(Some(Failed))),
        ("a planned release is not verified by hand", Some(Planned), decided(Verified), Err(())),
        ("a person cannot make it inconclusive", Some(Deployed), decided(Inconclusive), Err(())),
        ("a verified release stays verified", Some(Verified), decided(Failed), Err(())),
        ("rules never reopen inconclusive", Some(Inconclusive), Cause::Verdict { to: Verified }, Err(())),
    ];
    for (name, from, cause, want) in cases {
        assert_eq!(release(from, &cause).map_err(|_| ()), want, "{name}");
    }
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

#[test]
fn applying_records_state_cause_and_history() {
    let mut rec = new_item("r", "i", false, false, t(0));
    assert_eq!((rec.state, &rec.cause), (ItemState::Manual, &Cause::Created));
    let h = apply_item(&mut rec, false, tick(), "ticked by ana".into(), None, t(5)).unwrap().unwrap();
    assert_eq!((rec.state, rec.since, rec.ever_complete), (ItemState::Complete, t(5), true));
    assert_eq!(rec.cause.person(), Some("ana"));
    assert_eq!((h.from, h.to), (Some(State::Item(ItemState::Manual)), State::Item(ItemState::Complete)));
    assert_eq!(h.cause, tick());
    assert_eq!(events(&h), vec![EventKind::ItemCompleted]);
    // A second tick: no change, no history, no event; the record keeps its first tick.
    assert_eq!(apply_item(&mut rec, false, tick(), "again".into(), None, t(9)).unwrap(), None);
    assert_eq!(rec.since, t(5));
    // A person named like the old magic values is still a person.
    let mut other = new_item("r", "j", false, false, t(0));
    let by_checklist = Cause::Tick { by: "checklist".into(), note: None };
    apply_item(&mut other, false, by_checklist, "ticked".into(), None, t(1)).unwrap();
    assert_eq!(other.cause.person(), Some("checklist"));
}

#[test]
fn releases_start_deploy_and_close_with_history() {
    let spec = ReleaseSpec {
        id: "api-1".into(),
        service: "api".into(),
        version: "1".into(),
        environment: "production".into(),
        deployed_at: None,
        window_min: std::time::Duration::from_secs(60),
        window_max: std::time::Duration::from_secs(120),
        commit: None,
        labels: Default::default(),
        origin: None,
        idempotency: None,
    };
    let (mut r, h) = new_release(spec, true, t(0)).unwrap();
    assert_eq!((r.state, r.deployed_at), (ReleaseState::Planned, None));
    assert_eq!(events(&h), vec![EventKind::ReleaseStarted]);
    let d = apply_release(&mut r, Cause::Deploy, "deployed".into(), t(10)).unwrap().unwrap();
    assert_eq!((r.state, r.deployed_at), (ReleaseState::Deployed, Some(t(10))));
    assert_eq!(d.from, Some(State::Release(ReleaseState::Planned)));
    assert_eq!(events(&d), vec![EventKind::ReleaseDeployed]);
    let v = apply_release(&mut r, Cause::Verdict { to: ReleaseState::Verified }, "all green".into(), t(90));
    assert_eq!(events(&v.unwrap().unwrap()), vec![EventKind::ReleaseVerified]);
    assert_eq!((r.closed_at, r.reason.as_deref()), (Some(t(90)), Some("all green")));
}

#[test]
fn causes_serialize_with_their_kind() {
    let c = Cause::Waive { by: "ana".into(), reason: "n/a".into() };
    assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"kind": "waive", "by": "ana", "reason": "n/a"}));
    let r: Cause = serde_json::from_value(serde_json::json!({"kind": "rule", "met": "fail"})).unwrap();
    assert_eq!(r, Cause::Rule { met: Met::Fail, probe: None });
}
