//! Engine tests on paused tokio time: day-long windows run in milliseconds.

use std::sync::Arc;
use std::time::Duration;

use crate::config;
use crate::engine::{Engine, NewRelease};
use crate::release::{ItemState, ReleaseState};
use crate::store::SqliteStore;

fn engine(dir: &std::path::Path) -> Engine {
    std::fs::write(
        dir.join("checklist.md"),
        "# Release\n- [ ] Announce release\n- [ ] Ask the PM\n- [x] Already done\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("c.yaml"),
        "checklist: checklist.md\nwindow: { min: 24h, max: 48h }\nitems:\n  announce-release: { on: release.verified }\n",
    )
    .unwrap();
    let cfg = config::load(&dir.join("c.yaml")).unwrap().config;
    Engine::start(Arc::new(cfg), Arc::new(SqliteStore::memory().unwrap())).unwrap()
}

/// Wait (a little real time) until release `id` of `e` leaves `state`.
async fn leaves(e: &Engine, id: &str, state: ReleaseState) -> ReleaseState {
    // The window timer's evaluation runs on the blocking pool; give it a moment of real time.
    for _ in 0..400 {
        let now = e.release(id).unwrap().release.state;
        if now != state {
            return now;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(5));
    }
    state
}

/// No item is bound to a probe: nothing was measured, so the window never verifies the
/// release on its own (issue 11); at max it is inconclusive, and a person's verdict settles it
/// — which ticks the action item bound to `release.verified`.
#[tokio::test(start_paused = true)]
async fn without_evidence_the_window_is_inconclusive_and_a_person_settles_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r =
        e.create_release(NewRelease { service: "api".into(), version: "1.0".into(), ..Default::default() }).unwrap();
    assert_eq!(r.release.state, ReleaseState::Deployed);
    let id = r.release.id.clone();
    let item = |i: &str| e.item(&id, i).unwrap().state;
    assert_eq!(item("announce-release"), ItemState::Pending);
    assert_eq!(item("ask-the-pm"), ItemState::Manual);
    assert_eq!(item("already-done"), ItemState::Complete, "pre-ticked items start complete");

    tokio::time::sleep(Duration::from_secs(24 * 3600 + 1)).await;
    assert_eq!(
        leaves(&e, &id, ReleaseState::Deployed).await,
        ReleaseState::Deployed,
        "no evidence: not verified at min"
    );
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(leaves(&e, &id, ReleaseState::Deployed).await, ReleaseState::Inconclusive);
    let v = e.release(&id).unwrap();
    assert!(v.release.reason.as_deref().unwrap().contains("nothing was measured"), "{:?}", v.release.reason);
    assert_eq!(item("announce-release"), ItemState::Pending, "inconclusive is not verified");

    let err = e.verdict(&id, ReleaseState::Inconclusive, "ana", None).unwrap_err();
    assert!(err.to_string().contains("verified or failed"), "{err}");
    let err = e.verdict(&id, ReleaseState::Verified, "ana\nFORGED", None).unwrap_err();
    assert!(matches!(err, crate::engine::EngineError::Invalid { .. }), "{err}");
    let v = e.verdict(&id, ReleaseState::Verified, "ana", Some("checked the dashboards".into())).unwrap();
    assert_eq!(v.release.state, ReleaseState::Verified);
    assert_eq!(v.release.reason.as_deref(), Some("verified by ana: checked the dashboards"));
    assert_eq!(item("announce-release"), ItemState::Complete, "action item ticks on release.verified");
    let again = e.verdict(&id, ReleaseState::Verified, "bob", None).unwrap();
    assert_eq!(again.release.reason, v.release.reason, "the same verdict again changes nothing");
    let err = e.verdict(&id, ReleaseState::Failed, "bob", None).unwrap_err();
    assert!(matches!(err, crate::engine::EngineError::Conflict(_)), "{err}");
    let history = e.history(&id).await.unwrap();
    let last = history.iter().rev().find(|h| h.item_id.is_none()).unwrap();
    assert_eq!(last.cause.person(), Some("ana"));
    assert_eq!(last.cause.note(), Some("checked the dashboards"));
    let md = e.checklist_md(&id).unwrap();
    assert!(md.contains("- [x] Announce release — ✓"), "{md}");
    assert!(md.contains("- [ ] Ask the PM\n"), "{md}");
    e.shutdown().await;
}

/// A person ends an open release early: an abort fails it at once and stops its probes.
#[tokio::test(start_paused = true)]
async fn a_person_aborts_an_open_release() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r = e.create_release(NewRelease { service: "api".into(), version: "2".into(), ..Default::default() }).unwrap();
    let v = e.verdict(&r.release.id, ReleaseState::Failed, "ana", Some("rolled back by hand".into())).unwrap();
    assert_eq!(v.release.state, ReleaseState::Failed);
    assert!(v.release.closed_at.is_some());
    assert!(!e.0.tasks.lock().unwrap().contains_key(&r.release.id), "its tasks stopped");
    e.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn planned_release_waits_then_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r = e
        .create_release(NewRelease { service: "api".into(), version: "2".into(), planned: true, ..Default::default() })
        .unwrap();
    tokio::time::sleep(Duration::from_secs(72 * 3600)).await;
    assert_eq!(e.release(&r.release.id).unwrap().release.state, ReleaseState::Planned, "no window before deploy");
    let d = e.deploy(&r.release.id).unwrap();
    assert_eq!(d.release.state, ReleaseState::Deployed);
    assert!(e.deploy(&r.release.id).is_err(), "second deploy is a conflict");
    e.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn release_json_is_the_view_and_follows_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r = e.create_release(NewRelease { service: "api".into(), version: "3".into(), ..Default::default() }).unwrap();
    let id = r.release.id.clone();
    let json = |e: &Engine| serde_json::from_slice::<serde_json::Value>(&e.release_json(&id).unwrap()).unwrap();
    assert_eq!(json(&e), serde_json::to_value(e.release(&id).unwrap()).unwrap());
    assert_eq!(json(&e), json(&e), "served twice from the cache");
    let rev = e.state_rev();
    e.tick(&id, "ask-the-pm", "ana", None).unwrap();
    assert!(e.state_rev() > rev, "a tick is a change people see");
    let after = json(&e);
    assert_eq!(after, serde_json::to_value(e.release(&id).unwrap()).unwrap(), "the cache follows the tick");
    let pm = after["items"].as_array().unwrap().iter().find(|i| i["id"] == "ask-the-pm").unwrap().clone();
    assert_eq!(pm["state"], "complete");
    assert!(matches!(e.release_json("nope"), Err(crate::engine::EngineError::NotFound(_))));
    e.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn results_queued_together_are_stored_in_one_transaction() {
    use crate::probe::{Evidence, Outcome};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), "- [ ] Smoke test\n- [ ] Other\n").unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "checklist: checklist.md\nprobes:\n  smoke: { http: { url: 'http://127.0.0.1:9/' }, every: 1h, initial_delay: 1h }\n\
         items:\n  smoke-test: { probes: [smoke], pass: { consecutive: 3 } }\n",
    )
    .unwrap();
    let cfg = config::load(&dir.path().join("c.yaml")).unwrap().config;
    let e = Engine::start(Arc::new(cfg), Arc::new(SqliteStore::memory().unwrap())).unwrap();
    let a = e.create_release(NewRelease { service: "a".into(), version: "1".into(), ..Default::default() }).unwrap();
    let b = e.create_release(NewRelease { service: "b".into(), version: "1".into(), ..Default::default() }).unwrap();
    let now = e.0.clock.now();
    let pass = || Outcome::pass(Evidence { message: "HTTP 200".into(), ..Default::default() });
    let mut group = vec![];
    for _ in 0..3 {
        group.push((a.release.id.clone(), "smoke".to_string(), pass(), now));
        group.push((b.release.id.clone(), "smoke".to_string(), pass(), now));
    }
    group.push(("gone".to_string(), "smoke".to_string(), pass(), now));
    assert_eq!(e.0.record_group(group), 6, "the result for an unknown release is dropped");
    let metrics = e.metrics().encode();
    assert!(metrics.contains("shipwatch_results_stored_total 6"), "{metrics}");
    assert!(metrics.contains("shipwatch_result_batches_total 1"), "{metrics}");
    for id in [&a.release.id, &b.release.id] {
        assert_eq!(e.item(id, "smoke-test").unwrap().state, ItemState::Complete, "3 passes in a row, applied in order");
        assert_eq!(e.results(id, Some("smoke"), 10).await.unwrap().len(), 3);
    }
    e.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_adds_an_alertmanager_receiver_starts_its_keeper_and_removal_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let keepers = |e: &Engine| e.0.keepers.lock().unwrap().iter().cloned().collect::<Vec<_>>();
    assert!(keepers(&e).is_empty());
    let with = "checklist: checklist.md\nsources:\n  am: { alertmanager: { url: 'http://127.0.0.1:9' } }\n\
                notify:\n  oncall: { alertmanager: { source: am, interval: 1s } }\n";
    std::fs::write(dir.path().join("c.yaml"), with).unwrap();
    e.reload_from(&dir.path().join("c.yaml")).unwrap();
    assert_eq!(keepers(&e), ["oncall"], "the new receiver has a keeper");
    e.reload_from(&dir.path().join("c.yaml")).unwrap();
    assert_eq!(keepers(&e), ["oncall"], "one keeper per receiver, however many reloads");
    std::fs::write(dir.path().join("c.yaml"), "checklist: checklist.md\n").unwrap();
    e.reload_from(&dir.path().join("c.yaml")).unwrap();
    for _ in 0..50 {
        if keepers(&e).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(keepers(&e).is_empty(), "the removed receiver's keeper stopped");
    e.shutdown().await;
}
