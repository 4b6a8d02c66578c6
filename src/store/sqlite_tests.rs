//! Store round-trips, atomicity and migrations.

use super::*;
use crate::probe::{Evidence, Status};
use crate::release::{ItemState, ReleaseState};
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
    }
}

fn result(rel: &str, probe: &str, at: DateTime<Utc>) -> ResultRecord {
    ResultRecord {
        release_id: rel.into(),
        probe: probe.into(),
        at,
        status: Status::Pass,
        evidence: Evidence { message: "ok".into(), ..Default::default() },
    }
}

#[test]
fn round_trip_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/shipwatch.db");
    let r = release("api-1-0");
    {
        let s = SqliteStore::open(&path).unwrap();
        let item = ItemRecord {
            release_id: r.id.clone(),
            item_id: "x".into(),
            state: ItemState::Complete,
            since: Utc::now(),
            cause: crate::transition::Cause::Checklist,
            evidence: None,
            tracks: Default::default(),
            ever_complete: true,
            fresh_at: None,
            stale_secs: 0.0,
        };
        s.apply(&Batch {
            releases: vec![r.clone()],
            items: vec![item],
            results: vec![result(&r.id, "p", Utc::now())],
            ..Default::default()
        })
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.releases().unwrap(), vec![r.clone()]);
    assert_eq!(s.items(&r.id).unwrap()[0].state, ItemState::Complete);
    assert_eq!(s.results(&r.id, Some("p"), 10).unwrap().len(), 1);
    assert_eq!(s.results(&r.id, Some("other"), 10).unwrap().len(), 0);
}

#[test]
fn batch_is_all_or_nothing() {
    let s = SqliteStore::memory().unwrap();
    // Break the results table so the second statement of the batch fails.
    s.conn().execute_batch("DROP TABLE results").unwrap();
    let r = release("a");
    let err = s.apply(&Batch { releases: vec![r], results: vec![result("a", "p", Utc::now())], ..Default::default() });
    assert!(err.is_err());
    assert!(s.releases().unwrap().is_empty(), "release row must roll back with the failed batch");
}

fn history(rel: &str, at: DateTime<Utc>) -> HistoryRecord {
    use crate::release::State;
    HistoryRecord {
        release_id: rel.into(),
        item_id: None,
        at,
        from: None,
        to: State::Release(ReleaseState::Deployed),
        cause: crate::transition::Cause::Started { planned: false },
        message: "started".into(),
    }
}

#[test]
fn prune_and_order() {
    let s = SqliteStore::memory().unwrap();
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    s.apply(&Batch {
        results: vec![result("a", "p", old), result("a", "p", now), result("a", "q", now)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.prune(now - chrono::Duration::days(30)).unwrap().results, 1);
    let rs = s.results("a", None, 10).unwrap();
    assert_eq!(rs.iter().map(|r| r.probe.as_str()).collect::<Vec<_>>(), vec!["q", "p"], "newest first");
    assert_eq!(s.results("a", None, 1).unwrap().len(), 1);
}

/// Retention reaches every table: closed releases (with items, results and history) past it,
/// delivered keys and dead letters; an active release keeps its history however old.
#[test]
fn retention_prunes_every_table_but_spares_active_releases() {
    let s = SqliteStore::memory().unwrap();
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    let mut closed = release("closed");
    closed.state = ReleaseState::Verified;
    closed.closed_at = Some(old);
    let mut recent = release("recent");
    recent.state = ReleaseState::Failed;
    recent.closed_at = Some(now);
    let active = release("active");
    let item = |r: &str| ItemRecord {
        release_id: r.into(),
        item_id: "x".into(),
        state: ItemState::Pending,
        since: old,
        cause: crate::transition::Cause::Created,
        evidence: None,
        tracks: Default::default(),
        ever_complete: false,
        fresh_at: None,
        stale_secs: 0.0,
    };
    let mut dead = outbox_rec("dead", old);
    dead.dead = true;
    s.apply(&Batch {
        releases: vec![closed, recent, active],
        items: vec![item("closed"), item("active")],
        results: vec![result("closed", "p", now)],
        history: vec![history("closed", old), history("active", old), history("recent", old)],
        outbox: vec![outbox_rec("delivered-long-ago", old), dead.clone(), outbox_rec("pending", now)],
        ..Default::default()
    })
    .unwrap();
    let ids: Vec<i64> = s.outbox().unwrap().iter().filter(|r| r.key != "pending").map(|r| r.id).collect();
    let dead_id = s.outbox().unwrap().iter().find(|r| r.key == "dead").unwrap().id;
    s.apply(&Batch {
        delivered: vec![ids[0]],
        outbox_updates: vec![crate::store::OutboxRecord { id: dead_id, ..dead }],
        ..Default::default()
    })
    .unwrap();
    s.conn().execute("UPDATE delivered SET at_ms = ?1", [old.timestamp_millis()]).unwrap();
    let p = s.prune(now - chrono::Duration::days(30)).unwrap();
    assert_eq!(p, Pruned { results: 1, releases: 1, history: 1, delivered: 1, dead_letters: 1 });
    let left: Vec<String> = s.releases().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, vec!["recent", "active"]);
    assert!(s.items("closed").unwrap().is_empty() && s.history("closed").unwrap().is_empty());
    assert_eq!(s.history("active").unwrap().len(), 1, "an active release keeps its history");
    assert_eq!(s.items("active").unwrap().len(), 1);
    let keys: Vec<String> = s.outbox().unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, vec!["pending"], "the dead letter is gone, the pending row stays");
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

#[test]
fn release_pages_are_newest_first_filtered_and_complete() {
    let s = SqliteStore::memory().unwrap();
    let mut b = Batch::default();
    for n in 0..7 {
        let mut r = release(&format!("r{n}"));
        r.service = if n % 2 == 0 { "api".into() } else { "web".into() };
        r.state = if n < 3 { ReleaseState::Failed } else { ReleaseState::Deployed };
        b.releases.push(r);
    }
    s.apply(&b).unwrap();
    // A later update keeps a release's position.
    let mut r0 = release("r0");
    r0.state = ReleaseState::Verified;
    s.apply(&Batch { releases: vec![r0], ..Default::default() }).unwrap();
    let page = |states: Vec<ReleaseState>, service: Option<&str>, limit, before| {
        let q = ReleaseQuery { states, service: service.map(String::from), limit, before };
        s.release_page(&q).unwrap()
    };
    let ids = |rows: &[(i64, Release)]| rows.iter().map(|(_, r)| r.id.clone()).collect::<Vec<_>>();
    // Paging with the last row's position as the cursor visits every release once, in order.
    let (mut seen, mut before) = (vec![], None);
    loop {
        let rows = page(vec![], None, 3, before);
        if rows.is_empty() {
            break;
        }
        seen.extend(ids(&rows));
        before = rows.last().map(|(seq, _)| *seq);
    }
    assert_eq!(seen, ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]);
    for (states, service, want) in [
        (vec![ReleaseState::Deployed], None, vec!["r6", "r5", "r4", "r3"]),
        (vec![ReleaseState::Failed, ReleaseState::Verified], None, vec!["r2", "r1", "r0"]),
        (vec![], Some("web"), vec!["r5", "r3", "r1"]),
        (vec![ReleaseState::Failed], Some("api"), vec!["r2"]),
        (vec![ReleaseState::Planned], None, vec![]),
        (vec![], Some("api' OR 1=1 --"), vec![]),
    ] {
        assert_eq!(ids(&page(states.clone(), service, 100, None)), want, "{states:?} {service:?}");
    }
}

#[test]
fn item_counts_count_stored_states() {
    let s = SqliteStore::memory().unwrap();
    let mut b = Batch { releases: vec![release("a")], ..Default::default() };
    for (id, state) in [("x", ItemState::Complete), ("y", ItemState::Complete), ("z", ItemState::Manual)] {
        let mut i = crate::transition::new_item("a", id, false, false, Utc::now());
        i.state = state;
        b.items.push(i);
    }
    s.apply(&b).unwrap();
    let mut got = s.item_counts("a").unwrap();
    got.sort_by_key(|(st, _)| st.as_str());
    assert_eq!(got, vec![(ItemState::Complete, 2), (ItemState::Manual, 1)]);
    assert_eq!(s.item_counts("nope").unwrap(), vec![]);
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(err.to_string().contains("newer than this shipwatch"), "{err}");
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

#[test]
fn outbox_queues_once_and_never_requeues_delivered() {
    let s = SqliteStore::memory().unwrap();
    let now = Utc::now();
    let later = now + chrono::Duration::seconds(60);
    s.apply(&Batch {
        outbox: vec![outbox_rec("k1", now), outbox_rec("k2", later), outbox_rec("k1", now)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.outbox().unwrap().len(), 2, "duplicate key queued once");
    let due = s.outbox_due(now, 10).unwrap();
    assert_eq!(due.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), vec!["k1"], "only due rows");
    let mut failed = due[0].clone();
    failed.attempts = 1;
    failed.next_at = later;
    failed.last_error = Some("HTTP 500".into());
    s.apply(&Batch { outbox_updates: vec![failed.clone()], ..Default::default() }).unwrap();
    assert!(s.outbox_due(now, 10).unwrap().is_empty(), "retry waits for next_at");
    s.apply(&Batch { delivered: vec![failed.id], ..Default::default() }).unwrap();
    s.apply(&Batch { outbox: vec![outbox_rec("k1", now)], ..Default::default() }).unwrap();
    let keys: Vec<String> = s.outbox().unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, vec!["k2"], "a delivered key is never queued again");
}

#[test]
fn state_blobs_round_trip() {
    let s = SqliteStore::memory().unwrap();
    assert_eq!(s.state_get("x").unwrap(), None);
    s.apply(&Batch { state: vec![("x".into(), "1".into())], ..Default::default() }).unwrap();
    s.apply(&Batch { state: vec![("x".into(), "2".into())], ..Default::default() }).unwrap();
    assert_eq!(s.state_get("x").unwrap().as_deref(), Some("2"));
}
