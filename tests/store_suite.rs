//! The store suite: one set of tests of the `Store` interface, run against both backends —
//! SQLite (a file in a temp dir) and PostgreSQL (a real server, `common::pg`, a database per
//! test). Round trips, atomicity, ordering, paging, retention, the outbox's once-only queueing,
//! state blobs, and the refusal of a schema newer than the binary.
//!
//! Backend-specific behaviour stays beside its backend: SQLite's file lock and its migrations
//! from older schemas in `src/store/sqlite_tests.rs`; PostgreSQL's fencing and leadership in
//! `tests/cluster.rs`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shipwatch::outcome::{Evidence, Status};
use shipwatch::release::{HistoryRecord, ItemRecord, ItemState, Release, ReleaseState, ResultRecord, State};
use shipwatch::store::{Batch, OutboxRecord, PgStore, Pruned, ReleaseQuery, SqliteStore, Store, StoreError, Target};
use shipwatch::transition::Cause;

/// A backend under test: opens its store (again), and runs a test's own SQL beside it.
trait Backend {
    fn try_open(&self) -> Result<Box<dyn Store>, StoreError>;
    fn open(&self) -> Box<dyn Store> {
        self.try_open().unwrap()
    }
    fn sql(&self, sql: &str);
    /// Mark the schema as written by a newer shipwatch.
    fn set_version(&self, v: i64);
}

struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Sqlite {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/shipwatch.db");
        Sqlite { _dir: dir, path }
    }
}

impl Backend for Sqlite {
    fn try_open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }
    fn sql(&self, sql: &str) {
        rusqlite::Connection::open(&self.path).unwrap().execute_batch(sql).unwrap();
    }
    fn set_version(&self, v: i64) {
        self.sql(&format!("PRAGMA user_version = {v}"));
    }
}

struct Postgres {
    url: String,
}

impl Postgres {
    fn new() -> Option<Self> {
        Some(Postgres { url: common::pg::Pg::shared()?.database() })
    }
}

impl Backend for Postgres {
    fn try_open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(PgStore::open(&self.url, 4)?))
    }
    fn sql(&self, sql: &str) {
        common::pg::Pg::client(&self.url).batch_execute(sql).unwrap();
    }
    fn set_version(&self, v: i64) {
        self.sql(&format!("UPDATE shipwatch_schema SET version = {v}"));
    }
}

/// Each test, once per backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::Sqlite::new()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { if let Some(b) = super::Postgres::new() { super::$name(&b) } } )*
        }
    };
}

suite!(
    round_trip_survives_reopen,
    batch_is_all_or_nothing,
    prune_and_order,
    retention_prunes_every_table_but_spares_active_releases,
    release_pages_are_newest_first_filtered_and_complete,
    item_counts_count_stored_states,
    refuses_newer_schema,
    outbox_queues_once_and_never_requeues_delivered,
    state_blobs_round_trip,
    latest_results_are_one_per_probe,
);

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

fn result(rel: &str, probe: &str, at: DateTime<Utc>) -> ResultRecord {
    ResultRecord {
        release_id: rel.into(),
        probe: probe.into(),
        at,
        status: Status::Pass,
        evidence: Evidence { message: "ok".into(), ..Default::default() },
    }
}

fn item(release: &str, id: &str, state: ItemState, since: DateTime<Utc>) -> ItemRecord {
    let mut i = shipwatch::transition::new_item(release, id, false, false, since);
    i.state = state;
    i
}

fn history(rel: &str, at: DateTime<Utc>) -> HistoryRecord {
    HistoryRecord {
        release_id: rel.into(),
        item_id: None,
        at,
        from: None,
        to: State::Release(ReleaseState::Deployed),
        cause: Cause::Started { planned: false },
        message: "started".into(),
    }
}

fn outbox_rec(key: &str, next_at: DateTime<Utc>) -> OutboxRecord {
    let event = shipwatch::event::Event {
        kind: shipwatch::event::EventKind::ItemRegressed,
        release: "a".into(),
        item: Some("x".into()),
        probe: None,
        at: Utc::now(),
        message: "m".into(),
        evidence: None,
    };
    OutboxRecord {
        id: 0,
        key: key.into(),
        receiver: "hook".into(),
        target: Target::Receiver,
        notification: shipwatch::notify::Notification {
            version: 1,
            key: key.into(),
            receiver: "hook".into(),
            event,
            release: release("a"),
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

fn round_trip_survives_reopen(b: &dyn Backend) {
    let r = release("api-1-0");
    {
        let s = b.open();
        let mut it = item(&r.id, "x", ItemState::Complete, Utc::now());
        it.ever_complete = true;
        it.fresh_at = Some(Utc::now());
        it.stale_secs = 1.5;
        let batch = Batch {
            releases: vec![r.clone()],
            items: vec![it],
            results: vec![result(&r.id, "p", Utc::now())],
            ..Default::default()
        };
        s.apply(&batch).unwrap();
    }
    let s = b.open();
    assert_eq!(s.releases().unwrap(), vec![r.clone()]);
    assert_eq!(s.release(&r.id).unwrap(), Some(r.clone()));
    assert_eq!(s.release("nope").unwrap(), None);
    let items = s.items(&r.id).unwrap();
    assert_eq!((items[0].state, items[0].stale_secs), (ItemState::Complete, 1.5));
    assert_eq!(s.results(&r.id, Some("p"), 10).unwrap().len(), 1);
    assert_eq!(s.results(&r.id, Some("other"), 10).unwrap().len(), 0);
    s.ping().unwrap();
}

fn batch_is_all_or_nothing(b: &dyn Backend) {
    let s = b.open();
    // Break the results table so a later statement of the batch fails.
    b.sql("DROP TABLE results");
    let err = s.apply(&Batch {
        releases: vec![release("a")],
        results: vec![result("a", "p", Utc::now())],
        ..Default::default()
    });
    assert!(err.is_err());
    assert!(s.releases().unwrap().is_empty(), "release row must roll back with the failed batch");
}

fn prune_and_order(b: &dyn Backend) {
    let s = b.open();
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

fn latest_results_are_one_per_probe(b: &dyn Backend) {
    let s = b.open();
    let base = Utc::now();
    let t = |sec| base + chrono::Duration::seconds(sec);
    s.apply(&Batch {
        results: vec![result("a", "p", t(0)), result("a", "q", t(1)), result("a", "p", t(2)), result("b", "p", t(3))],
        ..Default::default()
    })
    .unwrap();
    let mut latest: Vec<(String, DateTime<Utc>)> =
        s.latest_results("a").unwrap().into_iter().map(|r| (r.probe, r.at)).collect();
    latest.sort();
    let want = vec![("p".to_string(), t(2)), ("q".to_string(), t(1))];
    let ms =
        |v: &[(String, DateTime<Utc>)]| v.iter().map(|(p, at)| (p.clone(), at.timestamp_millis())).collect::<Vec<_>>();
    assert_eq!(ms(&latest), ms(&want));
}

/// Retention reaches every table: closed releases (with items, results and history) past it,
/// delivered keys and dead letters; an active release keeps its history however old.
fn retention_prunes_every_table_but_spares_active_releases(b: &dyn Backend) {
    let s = b.open();
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    let mut closed = release("closed");
    closed.state = ReleaseState::Verified;
    closed.closed_at = Some(old);
    let mut recent = release("recent");
    recent.state = ReleaseState::Failed;
    recent.closed_at = Some(now);
    let active = release("active");
    let mut dead = outbox_rec("dead", old);
    dead.dead = true;
    s.apply(&Batch {
        releases: vec![closed, recent, active],
        items: vec![item("closed", "x", ItemState::Pending, old), item("active", "x", ItemState::Pending, old)],
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
        outbox_updates: vec![OutboxRecord { id: dead_id, ..dead }],
        ..Default::default()
    })
    .unwrap();
    b.sql(&format!("UPDATE delivered SET at_ms = {}", old.timestamp_millis()));
    let p = s.prune(now - chrono::Duration::days(30)).unwrap();
    assert_eq!(p, Pruned { results: 1, releases: 1, history: 1, delivered: 1, dead_letters: 1 });
    let left: Vec<String> = s.releases().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, vec!["recent", "active"]);
    assert!(s.items("closed").unwrap().is_empty() && s.history("closed").unwrap().is_empty());
    assert_eq!(s.history("active").unwrap().len(), 1, "an active release keeps its history");
    assert_eq!(s.items("active").unwrap().len(), 1);
    let keys: Vec<String> = s.outbox().unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, vec!["pending"], "the dead letter is gone, the pending row stays");
    let recent = s.releases_recent(now - chrono::Duration::hours(1)).unwrap();
    assert_eq!(recent.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["recent", "active"]);
}

fn release_pages_are_newest_first_filtered_and_complete(b: &dyn Backend) {
    let s = b.open();
    let mut batch = Batch::default();
    for n in 0..7 {
        let mut r = release(&format!("r{n}"));
        r.service = if n % 2 == 0 { "api".into() } else { "web".into() };
        r.state = if n < 3 { ReleaseState::Failed } else { ReleaseState::Deployed };
        batch.releases.push(r);
    }
    s.apply(&batch).unwrap();
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

fn item_counts_count_stored_states(b: &dyn Backend) {
    let s = b.open();
    let mut batch = Batch { releases: vec![release("a")], ..Default::default() };
    for (id, state) in [("x", ItemState::Complete), ("y", ItemState::Complete), ("z", ItemState::Unknown)] {
        batch.items.push(item("a", id, state, Utc::now()));
    }
    s.apply(&batch).unwrap();
    let mut got = s.item_counts("a").unwrap();
    got.sort_by_key(|(st, _)| st.as_str());
    assert_eq!(got, vec![(ItemState::Complete, 2), (ItemState::Unknown, 1)]);
    assert_eq!(s.item_counts("nope").unwrap(), vec![]);
}

fn refuses_newer_schema(b: &dyn Backend) {
    drop(b.open());
    b.set_version(99);
    let err = b.try_open().err().expect("must refuse");
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer than this shipwatch"), "{err}");
}

fn outbox_queues_once_and_never_requeues_delivered(b: &dyn Backend) {
    let s = b.open();
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
    assert_eq!(s.outbox_stats().unwrap().0, 2);
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

fn state_blobs_round_trip(b: &dyn Backend) {
    let s = b.open();
    assert_eq!(s.state_get("x").unwrap(), None);
    s.apply(&Batch { state: vec![("x".into(), "1".into())], ..Default::default() }).unwrap();
    s.apply(&Batch { state: vec![("x".into(), "2".into())], ..Default::default() }).unwrap();
    assert_eq!(s.state_get("x").unwrap().as_deref(), Some("2"));
}
