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
            by: Some("shipwatch".into()),
            note: None,
            evidence: None,
            tracks: Default::default(),
            ever_complete: true,
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
    assert_eq!(s.prune_results(now - chrono::Duration::days(30)).unwrap(), 1);
    let rs = s.results("a", None, 10).unwrap();
    assert_eq!(rs.iter().map(|r| r.probe.as_str()).collect::<Vec<_>>(), vec!["q", "p"], "newest first");
    assert_eq!(s.results("a", None, 1).unwrap().len(), 1);
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
    s.outbox_update(&failed).unwrap();
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
    s.state_put("x", "1").unwrap();
    s.state_put("x", "2").unwrap();
    assert_eq!(s.state_get("x").unwrap().as_deref(), Some("2"));
}
