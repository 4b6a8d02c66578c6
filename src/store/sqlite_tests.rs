//! SQLite-only store behaviour: the file lock, and migrations from older schemas. The rest of
//! the store is tested once for both backends in `tests/store_suite.rs`.

use super::*;
use crate::release::ReleaseState;
use std::time::Duration;

fn release(id: &str) -> Release {
    Release {
        id: id.into(),
        service: "api".into(),
        version: "1.0".into(),
        environment: "production".into(),
        state: ReleaseState::Deployed,
        created_at: Utc::now(),
        deployed_at: Some(Utc::now()),
        window_min: Duration::from_secs(60),
        window_max: Duration::from_secs(120),
        regressed: false,
        closed_at: None,
        reason: None,
        commit: None,
        labels: Default::default(),
        origin: None,
        idempotency: None,
    }
}

#[test]
fn a_second_store_on_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let first = SqliteStore::open(&path).unwrap();
    let err = SqliteStore::open(&path).err().expect("the file is in use");
    let msg = err.to_string();
    assert!(
        msg.contains("in use by another shipwatch") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(first);
    SqliteStore::open(&path).expect("free again once the first is closed");
}

#[test]
fn schema_2_rows_get_typed_causes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut c = Connection::open(&path).unwrap();
        // Build a schema-2 database by running only the first two migrations' SQL.
        c.execute_batch(
            "CREATE TABLE releases (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL);
             CREATE TABLE items (release_id TEXT NOT NULL, item_id TEXT NOT NULL, body TEXT NOT NULL,
                                 PRIMARY KEY (release_id, item_id));
             CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL,
                                   probe TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
             CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL, body TEXT NOT NULL);
             CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                                  next_at_ms INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
             CREATE TABLE delivered (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
             CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             PRAGMA user_version = 2;",
        )
        .unwrap();
        let mut r = serde_json::to_value(release("a")).unwrap();
        r["state"] = "verified".into();
        r["closed_at"] = "2026-01-02T00:00:00Z".into();
        let tx = c.transaction().unwrap();
        tx.execute("INSERT INTO releases VALUES ('a', 1, ?1)", [r.to_string()]).unwrap();
        let item = r#"{"release_id":"a","item_id":"x","state":"complete","since":"2026-01-01T00:00:00Z","by":"dave","note":"done"}"#;
        tx.execute("INSERT INTO items VALUES ('a', 'x', ?1)", [item]).unwrap();
        let h = r#"{"release_id":"a","item_id":null,"at":"2026-01-01T00:00:00Z","from":"","to":"deployed","message":"release a 1 started"}"#;
        tx.execute("INSERT INTO history (release_id, body) VALUES ('a', ?1)", [h]).unwrap();
        tx.commit().unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let item = &s.items("a").unwrap()[0];
    assert_eq!(item.cause, crate::transition::Cause::Tick { by: "dave".into(), note: Some("done".into()) });
    let h = &s.history("a").unwrap()[0];
    assert_eq!((h.from, &h.cause), (None, &crate::transition::Cause::Started { planned: false }));
    let q = ReleaseQuery { states: vec![ReleaseState::Verified], service: Some("api".into()), limit: 5, before: None };
    assert_eq!(s.release_page(&q).unwrap().len(), 1, "service and state were filled from the body");
    let pruned = s.prune("2026-02-01T00:00:00Z".parse().unwrap()).unwrap();
    assert_eq!(pruned.releases, 1, "closed_ms was filled from the body");
}

fn outbox_rec(key: &str, next_at: DateTime<Utc>) -> crate::store::OutboxRecord {
    let r = release("a");
    crate::store::OutboxRecord {
        id: 0,
        key: key.into(),
        receiver: "hook".into(),
        target: crate::store::Target::Receiver,
        notification: crate::notify::Notification {
            version: 1,
            key: key.into(),
            receiver: "hook".into(),
            event: crate::event::Event {
                kind: crate::event::EventKind::ItemRegressed,
                release: "a".into(),
                item: Some("x".into()),
                probe: None,
                at: Utc::now(),
                message: "m".into(),
                evidence: None,
            },
            release: r,
            item: None,
            evidence: None,
            link: "http://x".into(),
            report: None,
        },
        action_item: None,
        attempts: 0,
        created_at: Utc::now(),
        next_at,
        last_error: None,
        dead: false,
    }
}

/// Defect 1: the rollback hook is told apart by a typed target, not by the receiver's name;
/// rows queued by an older shipwatch (the hook's key is `RELEASE/rollback/ITEM`, which no
/// notifier's key can be) get it on migration.
#[test]
fn the_rollback_hook_is_a_target_not_a_name() {
    let s = SqliteStore::memory().unwrap();
    let mut hook = outbox_rec("a/rollback/roll-back", Utc::now());
    (hook.receiver, hook.target, hook.action_item) =
        ("rollback".into(), crate::store::Target::RollbackHook, Some("roll-back".into()));
    let mut named = outbox_rec("a/item.regressed/x/1/rollback", Utc::now());
    named.receiver = "rollback".into();
    s.apply(&Batch { outbox: vec![hook, named], ..Default::default() }).unwrap();
    let targets: Vec<_> = s.outbox().unwrap().into_iter().map(|r| (r.key, r.target)).collect();
    assert_eq!(
        targets,
        vec![
            ("a/rollback/roll-back".to_string(), crate::store::Target::RollbackHook),
            ("a/item.regressed/x/1/rollback".to_string(), crate::store::Target::Receiver),
        ]
    );
    // The same two rows as schema 4 wrote them (no target): only the hook's becomes the hook.
    let mut c = s.writer.lock().unwrap();
    c.execute_batch("UPDATE outbox SET body = json_remove(body, '$.target'); PRAGMA user_version = 4;").unwrap();
    super::migrate::run(&mut c, "test").unwrap();
    drop(c);
    let targets: Vec<_> = s.outbox().unwrap().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, vec![crate::store::Target::RollbackHook, crate::store::Target::Receiver]);
}
