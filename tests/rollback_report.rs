//! The rollback hook runs only with `auto_rollback: true`, once, on the first regression, and
//! ticks "Execute documented rollback procedure"; the release report lists the regression.
//!
//! The window (min 15 s, max 25 s) is far longer than the sequence the tests drive (a few
//! seconds): the first regression must come before min (or the release verifies first) and
//! the last recovery before max (or it fails). A regression extends the watch to max, so the
//! verdict comes at max, whatever the speed of the machine.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};

const ROLLBACK_ITEM: &str = "execute-documented-rollback-procedure";

/// The daemon's clock is its start-up wall time plus monotonic time; allow that much drift
/// against the wall clock the test reads when comparing its timestamps with ours.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::milliseconds(100);

/// How long the test keeps the target failing once it has seen the item regressed.
const HOLD: Duration = Duration::from_millis(2500);

fn yaml(auto: bool, marker: &std::path::Path) -> String {
    format!(
        r#"
server: {{ listen: 127.0.0.1:0 }}
storage: {{ sqlite: ./shipwatch.db }}
checklist: checklist.md
window: {{ min: 15s, max: 25s }}
probes:
  health:
    http: {{ url: "http://127.0.0.1:__PORT__/healthz", expect: {{ status: [200] }} }}
    every: 200ms
    jitter: 0s
items:
  run-post-deploy-smoke-tests-on-production: {{ probes: [health], fail: {{ consecutive: 2 }} }}
rollback:
  auto_rollback: {auto}
  command: {{ argv: ["sh", "-c", "echo rolled back {{{{ release.version }}}} >> {}"] }}
"#,
        marker.display()
    )
}

/// Wall-clock times the test saw around one regression: it broke the target at `broke`, saw
/// the item regressed at `seen_regressed`, fixed the target at `fixed` and saw the item
/// complete again at `seen_complete`. The regression began in `broke..=seen_regressed` and
/// ended in `fixed..=seen_complete`.
struct Observed {
    broke: DateTime<Utc>,
    seen_regressed: DateTime<Utc>,
    fixed: DateTime<Utc>,
    seen_complete: DateTime<Utc>,
}

/// Break the target until the item regresses, call `while_regressed`, keep it broken for
/// [`HOLD`], fix it and wait until the item is complete again.
async fn regress_and_recover<F: AsyncFnOnce()>(
    target: &FakeTarget,
    d: &Daemon,
    id: &str,
    while_regressed: F,
) -> Observed {
    let broke = Utc::now();
    target.set_health(500, "down");
    d.wait_item(id, SMOKE, "regressed", SOON).await;
    let seen_regressed = Utc::now();
    while_regressed().await;
    tokio::time::sleep(HOLD).await;
    let fixed = Utc::now();
    target.set_health(200, "ok");
    d.wait_item(id, SMOKE, "complete", SOON).await;
    Observed { broke, seen_regressed, fixed, seen_complete: Utc::now() }
}

/// Assert a report's regression entry against what the test observed: it began and ended
/// inside the observed bounds, and `duration_s` is its length in whole seconds (at least the
/// time the test held the target broken after seeing the regression).
#[track_caller]
fn assert_regression(reg: &Value, seen: &Observed, what: &str) {
    assert_eq!(reg["item"], SMOKE, "{what}: {reg}");
    let (from, to) = (ts(&reg["from"]), ts(&reg["to"]));
    let s = CLOCK_SLACK;
    assert!(
        from >= seen.broke - s && from <= seen.seen_regressed + s,
        "{what}: regressed at {from}, outside {}..{}",
        seen.broke,
        seen.seen_regressed
    );
    assert!(
        to >= seen.fixed - s && to <= seen.seen_complete + s,
        "{what}: recovered at {to}, outside {}..{}",
        seen.fixed,
        seen.seen_complete
    );
    let duration = reg["duration_s"].as_i64().unwrap_or_else(|| panic!("{what}: duration_s: {reg}"));
    assert_eq!(duration, (to - from).num_seconds(), "{what}: duration_s is to − from: {reg}");
    let shortest = (seen.fixed - seen.seen_regressed - s - s).num_seconds();
    let longest = (seen.seen_complete - seen.broke + s + s).num_seconds();
    assert!(shortest >= 2, "the test held the regression for {HOLD:?}");
    assert!((shortest..=longest).contains(&duration), "{what}: duration_s {duration} not in {shortest}..={longest}");
}

/// Assert the rollback hook is not queued now: nothing for the `rollback` receiver in the
/// outbox. The outbox row of a hook is written in the same transaction as the regression that
/// queues it, and removed only after the command ran, so once the test has seen the
/// regression, an empty outbox means the hook was never queued or has already run (and then
/// the marker shows it; read it after this).
async fn assert_no_rollback_queued(d: &Daemon, what: &str) {
    let outbox = d.get_json("/api/v1/outbox").await;
    let queued: Vec<&Value> =
        outbox.as_array().expect("outbox").iter().filter(|r| r["receiver"] == "rollback").collect();
    assert!(queued.is_empty(), "{what}: rollback queued: {queued:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_rollback_runs_once_and_ticks_its_item_and_the_report_lists_the_regression() {
    let target = FakeTarget::start();
    let marker = tempfile::NamedTempFile::new().unwrap();
    let fx = Fixture::new(&yaml(true, marker.path()), target.port);
    let d = Daemon::start(&fx);
    let id = d.create(json!({"service": "api", "version": "7.1.0"})).await["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let first = regress_and_recover(&target, &d, &id, async || {}).await;
    let rb = d.wait_item(&id, ROLLBACK_ITEM, "complete", SOON).await;
    assert!(rb["evidence"]["evidence"]["message"].as_str().unwrap().contains("rollback command succeeded"), "{rb}");
    // A second regression does not roll back again.
    let second = regress_and_recover(&target, &d, &id, async || {
        assert_no_rollback_queued(&d, "second regression").await;
    })
    .await;
    let r = d.wait_release(&id, "verified", Duration::from_secs(60)).await;
    let ran = std::fs::read_to_string(marker.path()).unwrap();
    assert_eq!(ran, "rolled back 7.1.0\n", "the hook ran exactly once, templated");

    let report = d.get_json(&format!("/api/v1/releases/{id}/report")).await;
    assert_eq!(report["verdict"], "verified", "{}", r["reason"]);
    let regs = report["regressions"].as_array().unwrap();
    assert_eq!(regs.len(), 2, "both regressions listed: {regs:?}");
    assert_regression(&regs[0], &first, "first regression");
    assert_regression(&regs[1], &second, "second regression");
    let health = report["probes"].as_array().unwrap().iter().find(|p| p["probe"] == "health").unwrap().clone();
    assert!(health["fails"].as_u64().unwrap() >= 4 && health["passes"].as_u64().unwrap() >= 3, "{health}");
    let (code, md) = d.get(&format!("/api/v1/releases/{id}/report?format=md")).await;
    assert_eq!(code, 200);
    assert!(md.starts_with("# Release report: api 7.1.0"), "{md}");
    assert!(md.contains("## Regressions") && md.contains(SMOKE), "{md}");
    let line = format!("({} s)", regs[0]["duration_s"]);
    assert!(md.contains(&line), "the Markdown shows the duration {line}: {md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auto_rollback_the_hook_never_runs() {
    let target = FakeTarget::start();
    let marker = tempfile::NamedTempFile::new().unwrap();
    let fx = Fixture::new(&yaml(false, marker.path()), target.port);
    let d = Daemon::start(&fx);
    let id = d.create(json!({"service": "api", "version": "7.1.0"})).await["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let marker_text = || std::fs::read_to_string(marker.path()).unwrap();
    regress_and_recover(&target, &d, &id, async || {
        assert_no_rollback_queued(&d, "regressed").await;
        assert_eq!(marker_text(), "", "hook must not run without auto_rollback");
    })
    .await;
    assert_no_rollback_queued(&d, "recovered").await;
    assert_eq!(marker_text(), "", "hook must not run without auto_rollback");
    let r = d.release(&id).await;
    assert_eq!(item(&r, ROLLBACK_ITEM)["state"], "manual");
    let outbox = d.get_json("/api/v1/outbox").await;
    assert_eq!(outbox, json!([]), "nothing queued");
}
