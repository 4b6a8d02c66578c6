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
