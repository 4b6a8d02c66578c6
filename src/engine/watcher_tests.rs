//! Looking for an existing release before a watch starts one: in memory, and in the store once
//! a closed release has left memory, page by page.

use std::sync::Arc;

use crate::config;
use crate::engine::{Engine, NewRelease};
use crate::store::SqliteStore;

fn engine(dir: &std::path::Path) -> Engine {
    std::fs::write(dir.join("checklist.md"), "# R\n- [ ] Ask the PM\n").unwrap();
    let yaml = "checklist: checklist.md\nwindow: { min: 24h, max: 48h }\nstorage: { keep_closed: 1h }\n";
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    let cfg = config::load(&dir.join("c.yaml")).unwrap().config;
    Engine::start(Arc::new(cfg), Arc::new(SqliteStore::memory().unwrap())).unwrap()
}

fn create(e: &Engine, service: &str, version: &str, environment: &str, hours_ago: i64) -> String {
    let deployed_at = Some(chrono::Utc::now() - chrono::Duration::hours(hours_ago));
    let r = NewRelease {
        service: service.into(),
        version: version.into(),
        environment: Some(environment.into()),
        deployed_at,
        ..Default::default()
    };
    e.create_release(r).unwrap().release.id
}

#[tokio::test(start_paused = true)]
async fn existing_releases_are_found_in_memory_and_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    // Deployed 49 h ago: closed at creation (the 48 h window is over).
    let old = create(&e, "checkout", "1.0", "production", 49);
    for v in ["1.1", "1.2", "1.3", "1.4"] {
        create(&e, "checkout", v, "production", 49);
    }
    let open = create(&e, "checkout", "2.0", "production", 0);
    create(&e, "other", "3.0", "production", 0);
    create(&e, "checkout", "3.0", "staging", 0);
    tokio::time::advance(std::time::Duration::from_secs(2 * 3600)).await;
    e.0.housekeeping(false).unwrap();
    assert!(!e.0.state().contains_key(&old), "the closed releases left memory");

    let find = |s: &str, env: &str, v: &str, page: usize| e.0.find_release(s, env, v, page).unwrap();
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("checkout", "production", "2.0", Some(&open)),
        ("checkout", "production", "1.0", Some(&old)),
        ("checkout", "production", "3.0", None),
        ("checkout", "staging", "2.0", None),
        ("other", "production", "1.0", None),
        ("checkout", "production", "9.9", None),
    ];
    for page in [1, 2, 3, 500] {
        for (s, env, v, want) in cases {
            assert_eq!(find(s, env, v, page).as_deref(), *want, "{s} {env} {v}, {page} per page");
        }
    }
    assert_eq!(e.0.release_of("checkout", "production", "1.0").unwrap(), Some(old));
}

/// A config with one source and, when `watch`, one watch on it (the source refuses connections:
/// every poll fails, which is all these tests need).
fn watch_config(dir: &std::path::Path, watch: bool) -> config::Config {
    std::fs::write(dir.join("checklist.md"), "# R\n- [ ] Ask the PM\n").unwrap();
    let mut yaml =
        "checklist: checklist.md\nsources:\n  prom: { prometheus: { url: 'http://127.0.0.1:9' } }\n".to_string();
    if watch {
        yaml += "watch:\n  w: { prometheus: { source: prom, query: up }, service: api, every: 1s, settle: 1s }\n";
    }
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    config::load(&dir.join("c.yaml")).unwrap().config
}

fn running(e: &Engine) -> Vec<String> {
    e.0.watches.lock().unwrap().iter().cloned().collect()
}

#[tokio::test(start_paused = true)]
async fn watches_run_on_a_leader_follow_reloads_and_never_run_on_a_follower() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::memory().unwrap());
    let follower = Engine::follower(Arc::new(watch_config(dir.path(), true)), store.clone()).unwrap();
    follower.reload(watch_config(dir.path(), true)).unwrap();
    assert!(running(&follower).is_empty(), "a follower runs no watch");

    let e = Engine::start(Arc::new(watch_config(dir.path(), true)), store).unwrap();
    assert_eq!(running(&e), ["w"]);
    let failed = r#"shipwatch_watch_polls_total{watch="w",result="error"} "#;
    let errors = || {
        let text = e.metrics().encode();
        text.lines().find_map(|l| l.strip_prefix(failed)?.parse::<u64>().ok()).unwrap_or(0)
    };
    for _ in 0..100 {
        if errors() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(errors() >= 2, "a source that refuses is counted as failed polls:\n{}", e.metrics().encode());
    // Removed by a reload: the task sees it at its next poll and ends.
    e.reload(watch_config(dir.path(), false)).unwrap();
    for _ in 0..100 {
        if running(&e).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(running(&e).is_empty(), "the removed watch's task ended");
    e.reload(watch_config(dir.path(), true)).unwrap();
    assert_eq!(running(&e), ["w"], "a reload that adds a watch starts its task");
    e.shutdown().await;
}
