//! The report of an inconclusive release, before and after a person settles it: each automated
//! item's mode and coverage, why the unknown one could not be seen, who gave the verdict.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::{build, markdown};
use crate::engine::Rel;
use crate::outcome::{Evidence, Status};
use crate::release::{HistoryRecord, ItemEvidence, ItemRecord, ItemState, Release, ReleaseState, ResultRecord, State};
use crate::transition::{Cause, Met};

const CHECKLIST: &str = "- [ ] Run smoke tests\n- [ ] Check error ratio\n- [ ] Ask the PM\n";
const YAML: &str = "checklist: checklist.md
probes:
  health: { http: { url: \"http://127.0.0.1:9/h\" }, every: 10s }
  errors: { http: { url: \"http://127.0.0.1:9/e\" }, every: 10s }
items:
  run-smoke-tests: { probes: [health], stale_after: 60s }
  check-error-ratio: { probes: [errors], mode: warn, min_coverage: 0.5 }
";
const WHY: &str = "window closed at max, but 1 of 1 automated items were not measured enough to tell: \
    'run-smoke-tests' is unknown (coverage 51.6%)";

/// `T0 + mins` (T0: the deploy).
fn t(mins: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 13, 0, 0).unwrap() + chrono::Duration::minutes(mins)
}

fn config() -> crate::config::Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).unwrap();
    crate::config::load_str(&dir.path().join("c.yaml"), YAML, &|_| None).unwrap().config
}

fn record(id: &str, state: ItemState, cause: Cause, fresh: Option<DateTime<Utc>>) -> Arc<ItemRecord> {
    let evidence = (state != ItemState::Manual).then(|| ItemEvidence {
        probe: Some("health".into()),
        status: Some(Status::Pass),
        evidence: Evidence { message: "HTTP 200 in 12 ms".into(), ..Evidence::default() },
    });
    Arc::new(ItemRecord {
        release_id: "api-7".into(),
        item_id: id.into(),
        state,
        since: t(31),
        cause,
        evidence,
        tracks: BTreeMap::new(),
        ever_complete: true,
        fresh_at: fresh,
        stale_secs: 0.0,
    })
}

fn result(probe: &str, at: DateTime<Utc>, status: Status, message: &str) -> Arc<ResultRecord> {
    let evidence = Evidence { message: message.into(), ..Evidence::default() };
    Arc::new(ResultRecord { release_id: "api-7".into(), probe: probe.into(), at, status, evidence })
}

/// Closed inconclusive at T0+60m: `run-smoke-tests` unknown since T0+30m (its probe refused
/// since), `check-error-ratio` (warn) measured to the end, a manual item.
fn rel() -> Rel {
    let release = Release {
        id: "api-7".into(),
        service: "api".into(),
        version: "7.0".into(),
        environment: "production".into(),
        state: ReleaseState::Inconclusive,
        created_at: t(0),
        deployed_at: Some(t(0)),
        window_min: Duration::from_secs(600),
        window_max: Duration::from_secs(3600),
        regressed: false,
        closed_at: Some(t(60)),
        reason: Some(WHY.into()),
        commit: None,
        labels: Default::default(),
        origin: None,
        idempotency: None,
    };
    let items = [
        record("run-smoke-tests", ItemState::Unknown, Cause::Unmeasured { since: t(30) }, Some(t(30))),
        record("check-error-ratio", ItemState::Complete, Cause::Rule { met: Met::Pass, probe: None }, Some(t(60))),
        record("ask-the-pm", ItemState::Manual, Cause::Created, None),
    ];
    let last = [
        result("health", t(59), Status::Error, "connection refused | <b>port 9</b>"),
        result("errors", t(60), Status::Pass, "error ratio 0.1% < 1%"),
    ];
    Rel {
        release,
        items: items.into_iter().map(|r| (r.item_id.clone(), r)).collect(),
        last: last.into_iter().map(|r| (r.probe.clone(), r)).collect(),
    }
}

fn history(from: Option<ReleaseState>, to: ReleaseState, cause: Cause, at: i64, message: &str) -> HistoryRecord {
    HistoryRecord {
        release_id: "api-7".into(),
        item_id: None,
        at: t(at),
        from: from.map(State::Release),
        to: State::Release(to),
        cause,
        message: message.into(),
    }
}

fn closed() -> Vec<HistoryRecord> {
    vec![
        history(None, ReleaseState::Deployed, Cause::Started { planned: false }, 0, "release api 7.0 started"),
        history(
            Some(ReleaseState::Deployed),
            ReleaseState::Inconclusive,
            Cause::Verdict { to: ReleaseState::Inconclusive },
            60,
            WHY,
        ),
    ]
}

#[test]
fn json_has_mode_coverage_and_why_an_item_could_not_be_seen() {
    let report = serde_json::to_value(build(&config(), &rel(), &closed(), t(90))).unwrap();
    assert_eq!(
        (&report["verdict"], &report["reason"], &report["decided"]),
        (&json!("inconclusive"), &json!(WHY), &json!(null))
    );
    let items = report["items"].as_array().unwrap();
    let field = |n: usize, k: &str| items[n][k].clone();
    // Unknown: 30m of 60m measured, and 1m of grace (stale_after) → 31/60.
    assert_eq!(field(0, "mode"), "gate");
    assert!((field(0, "coverage").as_f64().unwrap() - 31.0 / 60.0).abs() < 1e-9, "{}", items[0]);
    assert_eq!(field(0, "min_coverage"), 0.9);
    assert_eq!(
        field(0, "unmeasured"),
        json!({"since": "2026-12-03T13:30:00Z", "error": "connection refused | <b>port 9</b>"})
    );
    assert_eq!(field(0, "evidence"), "HTTP 200 in 12 ms", "the last good evidence stays");
    assert_eq!(
        (field(1, "mode"), field(1, "coverage"), field(1, "min_coverage")),
        (json!("warn"), json!(1.0), json!(0.5))
    );
    assert_eq!(field(1, "unmeasured"), json!(null));
    assert_eq!(
        (field(2, "mode"), field(2, "coverage"), field(2, "unmeasured")),
        (json!(null), json!(null), json!(null))
    );
}

#[test]
fn markdown_shows_coverage_why_unknown_and_how_to_settle() {
    let md = markdown(&build(&config(), &rel(), &closed(), t(90)));
    let want_head = format!(
        "# Release report: api 7.0 (production)\n\n**Verdict:** inconclusive — {WHY}\n\n\
        Nobody could tell from the evidence, and nobody has settled it yet: \
        shipwatch verdict api-7 --verified\\|--failed --by NAME --note WHY\n\n"
    );
    assert!(md.starts_with(&want_head), "{md}");
    let rows = "| state | item | mode | coverage | by | evidence |\n|---|---|---|---|---|---|\n\
        | unknown | Run smoke tests | gate | 51.6% (below 90%) |  | could not measure since 2026-12-03T13:30:00+00:00: \
        connection refused \\| &lt;b&gt;port 9&lt;/b&gt; (last good evidence, old: HTTP 200 in 12 ms) |\n\
        | complete | Check error ratio | warn | 100% | shipwatch | HTTP 200 in 12 ms |\n\n1 manual items were not ticked.";
    assert!(md.contains(rows), "{md}");
}

#[test]
fn a_persons_verdict_names_who_and_what_it_settled() {
    let mut rel = rel();
    rel.release.state = ReleaseState::Verified;
    rel.release.reason = Some("verified by ana: dashboards fine".into());
    let mut h = closed();
    let by = Cause::Decided { to: ReleaseState::Verified, by: "ana".into(), note: Some("dashboards *fine*".into()) };
    h.push(history(
        Some(ReleaseState::Inconclusive),
        ReleaseState::Verified,
        by,
        75,
        "verified by ana: dashboards fine",
    ));
    let report = build(&config(), &rel, &h, t(90));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["decided"],
        json!({"by": "ana", "note": "dashboards *fine*", "at": "2026-12-03T14:15:00Z", "from": "inconclusive",
               "to": "verified", "from_reason": WHY})
    );
    let md = markdown(&report);
    let want = format!(
        "**Verdict:** verified — verified by ana: dashboards fine\n\nVerdict given by **ana** at \
        2026-12-03T14:15:00+00:00 (the release was inconclusive: {WHY}). Note: dashboards \\*fine\\*\n\n"
    );
    assert!(md.contains(&want), "{md}");
    assert!(!md.contains("nobody has settled it"), "{md}");

    // A verdict that ended an open release early has no earlier reason.
    let early = vec![
        closed().remove(0),
        history(
            Some(ReleaseState::Deployed),
            ReleaseState::Failed,
            Cause::Decided { to: ReleaseState::Failed, by: "bo".into(), note: None },
            20,
            "failed by bo",
        ),
    ];
    let d = build(&config(), &rel, &early, t(90)).decided.unwrap();
    assert_eq!(
        (d.by.as_str(), d.from, d.to, d.from_reason, d.note),
        ("bo", ReleaseState::Deployed, ReleaseState::Failed, None, None)
    );
}
