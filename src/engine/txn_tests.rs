//! The commit path and the transitions it records: history rows with typed causes, no-op
//! repeats, panics that leave nothing half-changed, reload rebinding.

use std::sync::Arc;

use crate::config;
use crate::engine::{Engine, EngineError, NewRelease};
use crate::event::EventKind;
use crate::release::{ItemState, ReleaseState, State};
use crate::store::{SqliteStore, Store};
use crate::transition::Cause;

const CHECKLIST: &str = "# Release\n## Prod\n- [ ] Run smoke tests\n## Staging\n- [ ] Run smoke tests\n\
                         - [ ] Ask the PM\n- [ ] Smoke\n";

fn engine(dir: &std::path::Path, items: &str) -> (Engine, Arc<SqliteStore>) {
    std::fs::write(dir.join("checklist.md"), CHECKLIST).unwrap();
    let yaml = format!(
        "checklist: checklist.md\nwindow: {{ min: 24h, max: 48h }}\n\
         probes:\n  p: {{ http: {{ url: 'http://127.0.0.1:9/' }}, every: 1h, initial_delay: 1h }}\n{items}"
    );
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    let cfg = config::load(&dir.join("c.yaml")).unwrap().config;
    let store = Arc::new(SqliteStore::memory().unwrap());
    (Engine::start(Arc::new(cfg), store.clone()).unwrap(), store)
}

fn create(e: &Engine, planned: bool) -> String {
    let r = NewRelease { service: "api".into(), version: "1".into(), planned, ..Default::default() };
    e.create_release(r).unwrap().release.id
}

/// Defect 8: the deploy step is in the history, with its cause.
#[tokio::test(start_paused = true)]
async fn deploy_is_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    let id = create(&e, true);
    e.deploy(&id).unwrap();
    let h = e.history(&id).await.unwrap();
    let steps: Vec<_> = h.iter().filter(|h| h.item_id.is_none()).map(|h| (h.from, h.to, h.cause.clone())).collect();
    assert_eq!(
        steps,
        vec![
            (None, State::Release(ReleaseState::Planned), Cause::Started { planned: true }),
            (Some(State::Release(ReleaseState::Planned)), State::Release(ReleaseState::Deployed), Cause::Deploy),
        ]
    );
    let err = e.deploy(&id).unwrap_err();
    assert!(matches!(&err, EngineError::Conflict(m) if m.contains("deployed, not planned")), "{err}");
    e.shutdown().await;
}

/// Defect 9: ticking a complete item again changes nothing and announces nothing.
#[tokio::test(start_paused = true)]
async fn a_second_tick_is_a_no_op_without_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    let id = create(&e, false);
    let mut events = e.subscribe();
    let first = e.tick(&id, "ask-the-pm", "ana", Some("ok".into())).unwrap();
    assert_eq!((first.state, first.by.as_deref()), (ItemState::Complete, Some("ana")));
    for _ in 0..2 {
        let again = e.tick(&id, "ask-the-pm", "bob", None).unwrap();
        assert_eq!((again.since, again.by.as_deref(), again.note.as_deref()), (first.since, Some("ana"), Some("ok")));
    }
    let mut completed = 0;
    while let Ok(ev) = events.try_recv() {
        completed += usize::from(ev.kind == EventKind::ItemCompleted);
    }
    assert_eq!(completed, 1, "one tick, one item.completed");
    let ticks = e.history(&id).await.unwrap().into_iter().filter(|h| h.item_id.as_deref() == Some("ask-the-pm"));
    assert_eq!(ticks.count(), 1);
    e.shutdown().await;
}

/// A person called `checklist` or `shipwatch` is a person, not a magic value.
#[tokio::test(start_paused = true)]
async fn who_ticked_is_the_cause_not_a_magic_name() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    let id = create(&e, false);
    let it = e.tick(&id, "ask-the-pm", "checklist", None).unwrap();
    assert_eq!(it.cause, Cause::Tick { by: "checklist".into(), note: None });
    let md = e.checklist_md(&id).unwrap();
    assert!(md.contains("- [x] Ask the PM — ✓") && md.contains("by checklist"), "a person's tick is noted: {md}");
    e.shutdown().await;
}

/// Defect 13 (server side): items are found by id, including ids with `/`, or by exact text.
#[tokio::test(start_paused = true)]
async fn items_are_found_by_id_with_a_slash_or_by_exact_text() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    let id = create(&e, false);
    assert_eq!(e.tick(&id, "staging/run-smoke-tests", "ana", None).unwrap().id, "staging/run-smoke-tests");
    assert_eq!(e.waive(&id, "Ask the PM", "ana", "no PM this week").unwrap().id, "ask-the-pm");
    let err = e.tick(&id, "ask-the-p", "ana", None).unwrap_err().to_string();
    assert!(err.contains("did you mean 'ask-the-pm'"), "{err}");
    let err = e.tick(&id, "Run smoke tests", "ana", None).unwrap_err().to_string();
    assert!(err.contains("did you mean"), "a text shared by two items is ambiguous: {err}");
    e.shutdown().await;
}

/// Defect 15: an unknown release suggests the nearest id.
#[tokio::test(start_paused = true)]
async fn an_unknown_release_suggests_the_nearest_id() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    let id = create(&e, false);
    for err in [e.release("api-11").unwrap_err(), e.tick("api-11", "ask-the-pm", "ana", None).unwrap_err()] {
        assert!(err.to_string().contains(&format!("did you mean '{id}'")), "{err}");
    }
    e.shutdown().await;
}

/// A panic inside a change leaves neither memory nor the store half-changed, and the engine
/// goes on working.
#[tokio::test(start_paused = true)]
async fn a_panic_inside_a_change_restores_the_working_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (e, store) = engine(dir.path(), "");
    let id = create(&e, false);
    let inner = e.0.clone();
    let id2 = id.clone();
    let panicked = std::thread::spawn(move || {
        let _ = inner.mutate(&id2, |_, rel, _, _| -> Result<(), EngineError> {
            rel.release.version = "half-changed".into();
            rel.items.clear();
            panic!("a bug in the middle of a change");
        });
    })
    .join();
    assert!(panicked.is_err(), "the change panicked");
    assert_eq!(e.release(&id).unwrap().release.version, "1", "readers never saw it");
    // The next change starts from the stored state, not the half-changed copy.
    let it = e.tick(&id, "ask-the-pm", "ana", None).unwrap();
    assert_eq!(it.state, ItemState::Complete);
    let (version, items) = {
        let work = e.0.work();
        (work[&id].release.version.clone(), work[&id].items.len())
    };
    assert_eq!((version.as_str(), items), ("1", 4), "the working copy is back, items included");
    assert_eq!(store.release(&id).unwrap().unwrap().version, "1");
    e.shutdown().await;
}

/// A reload that binds or unbinds items moves them with a history row and an event.
#[tokio::test(start_paused = true)]
async fn a_reload_rebinds_items_with_history_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "items:\n  smoke: { probes: [p] }\n");
    let id = create(&e, false);
    assert_eq!(e.item(&id, "smoke").unwrap().state, ItemState::Pending);
    let mut events = e.subscribe();
    let yaml = "checklist: checklist.md\nprobes:\n  p: { http: { url: 'http://127.0.0.1:9/' }, every: 1h, initial_delay: 1h }\n\
                items:\n  ask-the-pm: { probes: [p] }\n";
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    e.reload_from(&dir.path().join("c.yaml")).unwrap();
    assert_eq!(e.item(&id, "smoke").unwrap().state, ItemState::Manual);
    assert_eq!(e.item(&id, "ask-the-pm").unwrap().state, ItemState::Pending);
    let h = e.history(&id).await.unwrap();
    let rebinds: Vec<_> = h
        .iter()
        .filter(|h| matches!(h.cause, Cause::Rebind { .. }))
        .map(|h| (h.item_id.clone().unwrap(), h.to))
        .collect();
    assert_eq!(
        rebinds,
        vec![("ask-the-pm".into(), State::Item(ItemState::Pending)), ("smoke".into(), State::Item(ItemState::Manual))]
    );
    let mut rebound = vec![];
    while let Ok(ev) = events.try_recv() {
        if ev.kind == EventKind::ItemRebound {
            rebound.push(ev.item.unwrap());
        }
    }
    assert_eq!(rebound, ["ask-the-pm", "smoke"]);
    e.shutdown().await;
}

/// Defects 5 and 12: release fields and people's text are validated where they enter.
#[tokio::test(start_paused = true)]
async fn hostile_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path(), "");
    for (service, version) in [("x@127.0.0.1:18900/ssrf-host/", "1"), ("api", "../../../admin/secret"), ("api", "-la")]
    {
        let r = NewRelease { service: service.into(), version: version.into(), ..Default::default() };
        let err = e.create_release(r).unwrap_err();
        assert!(matches!(err, EngineError::Invalid { .. }), "{service} {version}: {err}");
    }
    let id = create(&e, false);
    let forged = "mallory\n2026-12-03T10:00:00Z INFO shipwatch: FORGED";
    assert!(matches!(e.tick(&id, "ask-the-pm", forged, None), Err(EngineError::Invalid { .. })));
    assert!(matches!(e.waive(&id, "ask-the-pm", "ana", "ok\u{1b}[2J"), Err(EngineError::Invalid { .. })));
    assert_eq!(e.item(&id, "ask-the-pm").unwrap().state, ItemState::Manual, "nothing changed");
    e.shutdown().await;
}
