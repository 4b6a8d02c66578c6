//! Closed releases leave memory after `storage.keep_closed` and are read back from the store
//! when asked for (defect 14): views, writes, the list and new ids all still see them.

use std::sync::Arc;

use crate::config;
use crate::engine::{Engine, ListQuery, NewRelease};
use crate::release::{ItemState, ReleaseState};
use crate::store::{SqliteStore, Store};

fn engine(dir: &std::path::Path) -> (Engine, Arc<SqliteStore>) {
    std::fs::write(dir.join("checklist.md"), "# R\n- [ ] Smoke\n- [ ] Ask the PM\n").unwrap();
    let yaml = "checklist: checklist.md\nwindow: { min: 24h, max: 48h }\nstorage: { keep_closed: 1h }\n\
                probes:\n  p: { http: { url: 'http://127.0.0.1:9/' }, every: 1h, initial_delay: 1h }\n\
                items:\n  smoke: { probes: [p] }\n";
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    let cfg = config::load(&dir.join("c.yaml")).unwrap().config;
    let store = Arc::new(SqliteStore::memory().unwrap());
    (Engine::start(Arc::new(cfg), store.clone()).unwrap(), store)
}

/// A release deployed 49 h ago: its 48 h window is over, so it closes at creation (inconclusive:
/// nothing was measured in it).
fn closed(e: &Engine, version: &str) -> String {
    let deployed_at = Some(chrono::Utc::now() - chrono::Duration::hours(49));
    let r = NewRelease { service: "api".into(), version: version.into(), deployed_at, ..Default::default() };
    let v = e.create_release(r).unwrap();
    assert_eq!(v.release.state, ReleaseState::Inconclusive, "{:?}", v.release);
    v.release.id
}

fn in_memory(e: &Engine, id: &str) -> bool {
    e.0.state().contains_key(id) || e.0.work().contains_key(id)
}

#[tokio::test(start_paused = true)]
async fn closed_releases_leave_memory_and_are_read_back_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (e, store) = engine(dir.path());
    let old = closed(&e, "1");
    let active = e.create_release(NewRelease { service: "api".into(), version: "2".into(), ..Default::default() });
    let active = active.unwrap().release.id;
    let before = e.release_json(&old).unwrap();

    // Within keep_closed nothing leaves; after it, the closed release does, the active one stays.
    assert_eq!(e.0.housekeeping(false).unwrap().evicted, 0);
    assert!(in_memory(&e, &old));
    tokio::time::advance(std::time::Duration::from_secs(2 * 3600)).await;
    // (The housekeeping task may have run on its own meanwhile; either pass evicts it.)
    e.0.housekeeping(false).unwrap();
    assert!(!in_memory(&e, &old) && in_memory(&e, &active));
    assert_eq!(e.releases().len(), 1, "the status page lists what is in memory");

    // Reads come from the store, and memory stays as it was.
    let after: serde_json::Value = serde_json::from_slice(&e.release_json(&old).unwrap()).unwrap();
    let before: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(after["items"], before["items"]);
    assert_eq!(after["state"], "inconclusive");
    let h = e.history(&old).await.unwrap();
    let last = h.last().map(|h| h.to);
    assert_eq!(last, Some(crate::release::State::Release(ReleaseState::Inconclusive)), "history from the store: {h:?}");
    assert!(e.checklist_md(&old).unwrap().contains("Smoke"));
    assert!(!in_memory(&e, &old), "a read does not bring it back");

    // The list pages over the store: the evicted release is there, with its counts.
    let page = e.list(ListQuery { limit: 10, ..Default::default() }).await.unwrap();
    let ids: Vec<&str> = page.releases.iter().map(|r| r.release.id.as_str()).collect();
    assert_eq!(ids, vec![active.as_str(), old.as_str()], "newest first");
    let counts = &page.releases[1].counts;
    assert_eq!((counts.pending, counts.manual), (1, 1), "{counts:?}");

    // A person's write reaches it (read back under the writers' lock) and is stored.
    let item = e.tick(&old, "ask-the-pm", "dana", Some("after the fact".into())).unwrap();
    assert_eq!(item.state, ItemState::Complete);
    let stored = store.items(&old).unwrap();
    assert!(stored.iter().any(|i| i.item_id == "ask-the-pm" && i.state == ItemState::Complete));

    // Its id stays taken: a new release of the same version gets another id instead of
    // overwriting the stored one.
    e.0.housekeeping(false).unwrap();
    assert!(!in_memory(&e, &old));
    let again = e.create_release(NewRelease { service: "api".into(), version: "1".into(), ..Default::default() });
    assert_eq!(again.unwrap().release.id, format!("{old}-2"));
    assert_eq!(store.release(&old).unwrap().unwrap().state, ReleaseState::Inconclusive);
    e.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_write_to_an_evicted_release_leaves_it_out_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(dir.path());
    let old = closed(&e, "1");
    tokio::time::advance(std::time::Duration::from_secs(2 * 3600)).await;
    e.0.housekeeping(false).unwrap();
    let err = e.tick(&old, "smoke", "dana", None).unwrap_err();
    assert!(err.to_string().contains("automated"), "{err}");
    assert!(!in_memory(&e, &old), "a refused change does not keep the release it read back");
    assert!(e.tick("api-9", "smoke", "dana", None).is_err());
    e.shutdown().await;
}
