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

#[tokio::test(start_paused = true)]
async fn window_min_verifies_and_ticks_the_action_item() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r =
        e.create_release(NewRelease { service: "api".into(), version: "1.0".into(), ..Default::default() }).unwrap();
    assert_eq!(r.release.state, ReleaseState::Deployed);
    let item = |id: &str| e.item(&r.release.id, id).unwrap().state;
    assert_eq!(item("announce-release"), ItemState::Pending);
    assert_eq!(item("ask-the-pm"), ItemState::Manual);
    assert_eq!(item("already-done"), ItemState::Complete, "pre-ticked items start complete");

    tokio::time::sleep(Duration::from_secs(23 * 3600)).await;
    assert_eq!(e.release(&r.release.id).unwrap().release.state, ReleaseState::Deployed, "before min");

    tokio::time::sleep(Duration::from_secs(3600 + 1)).await;
    // The window timer's evaluation runs on the blocking pool; give it a moment of real time.
    for _ in 0..100 {
        if e.release(&r.release.id).unwrap().release.state != ReleaseState::Deployed {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(5));
    }
    let v = e.release(&r.release.id).unwrap();
    assert_eq!(v.release.state, ReleaseState::Verified, "{:?}", v.release.reason);
    assert_eq!(item("announce-release"), ItemState::Complete, "action item ticks on release.verified");
    let md = e.checklist_md(&r.release.id).unwrap();
    assert!(md.contains("- [x] Announce release — ✓"), "{md}");
    assert!(md.contains("- [ ] Ask the PM\n"), "{md}");
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
