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
            history: vec![],
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
