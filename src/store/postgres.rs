//! The PostgreSQL backend: the same [`Store`] interface and guarantees as SQLite (one
//! transaction per batch, outbox rows with their cause, numbered migrations, a newer schema
//! refused), for replicas that share one database.
//!
//! Writes can be **fenced**: once [`PgStore::fence`] is set (by the leader, with the epoch it
//! took leadership at), every write transaction first reads the `leader` row `FOR SHARE` and is
//! refused unless that row still names this holder and epoch. A takeover updates the row, so it
//! waits for writes in flight, and every write after it from the deposed leader fails.

use std::sync::RwLock;

use chrono::{DateTime, Utc};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Batch, ItemState, OutboxRecord, Pruned, ReleaseQuery, Store, StoreError};
use crate::release::{HistoryRecord, ItemRecord, Release, ResultRecord};

use postgres::types::ToSql;
use r2d2_postgres::r2d2;

/// A query argument.
type Arg<'a> = &'a (dyn ToSql + Sync);
type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type Conn = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// Who may write: the holder of the leader row at this epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub epoch: i64,
}

/// A PostgreSQL store: a pool of connections to one database.
pub struct PgStore {
    pool: Pool,
    /// The URL without its password, for messages.
    shown: String,
    fence: RwLock<Option<Fence>>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model types always serialize")
}

fn parse<T: DeserializeOwned>(table: &'static str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// `url` with any password replaced by `***`.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // key=value form: hide `password=...`.
        Err(_) => url
            .split_whitespace()
            .map(|kv| if kv.starts_with("password=") { "password=***" } else { kv })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl PgStore {
    /// Connect (a pool of `pool` connections) and bring the schema up to date.
    pub fn open(url: &str, pool: u32) -> Result<Self, StoreError> {
        let shown = shown_url(url);
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::PgOpen { url: shown.clone(), message: e.to_string() })?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(pool.max(2))
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::PgOpen { url: shown.clone(), message: e.to_string() })?;
        let store = PgStore { pool, shown, fence: RwLock::new(None) };
        let mut c = store.conn()?;
        super::pg_migrate::run(&mut c, &store.shown)?;
        Ok(store)
    }

    /// The database, as shown in messages (no password).
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// A pooled connection.
    pub fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Fence every later write on `fence` (None: unfenced, a single replica).
    pub fn fence(&self, fence: Option<Fence>) {
        *crate::sync::write(&self.fence, "store fence") = fence;
    }

    fn fenced(&self) -> Option<Fence> {
        crate::sync::read(&self.fence, "store fence").clone()
    }

    fn bodies<T: DeserializeOwned>(&self, table: &'static str, sql: &str, args: &[Arg]) -> Result<Vec<T>, StoreError> {
        let mut c = self.conn()?;
        let rows = c.query(sql, args)?;
        rows.iter().map(|r| parse(table, r.get::<_, &str>(0))).collect()
    }
}

/// Refuse the transaction `tx` unless the leader row still names `f`.
pub(super) fn check_fence(tx: &mut postgres::Transaction<'_>, f: &Fence) -> Result<(), StoreError> {
    let row = tx.query_opt("SELECT holder, epoch FROM leader WHERE id = 1 FOR SHARE", &[])?;
    let (holder, epoch): (String, i64) = row.map(|r| (r.get(0), r.get(1))).unwrap_or_default();
    if holder != f.holder || epoch != f.epoch {
        return Err(StoreError::Fenced { epoch: f.epoch, current: epoch, holder });
    }
    Ok(())
}

fn outbox_rows(rows: Vec<postgres::Row>) -> Result<Vec<OutboxRecord>, StoreError> {
    rows.iter()
        .map(|r| {
            let mut rec: OutboxRecord = parse("outbox", r.get::<_, &str>(1))?;
            rec.id = r.get(0);
            Ok(rec)
        })
        .collect()
}

impl Store for PgStore {
    fn apply(&self, b: &Batch) -> Result<(), StoreError> {
        if b.is_empty() {
            return Ok(());
        }
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        if let Some(f) = self.fenced() {
            check_fence(&mut tx, &f)?;
        }
        if !b.releases.is_empty() {
            let st = tx.prepare(
                "INSERT INTO releases (id, body, closed_ms, service, state) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, closed_ms = EXCLUDED.closed_ms,
                   service = EXCLUDED.service, state = EXCLUDED.state",
            )?;
            for r in &b.releases {
                tx.execute(&st, &[&r.id as Arg, &json(r), &r.closed_at.map(ms), &r.service, &r.state.as_str()])?;
            }
        }
        if !b.items.is_empty() {
            let st = tx.prepare(
                "INSERT INTO items (release_id, item_id, body) VALUES ($1, $2, $3)
                 ON CONFLICT (release_id, item_id) DO UPDATE SET body = EXCLUDED.body",
            )?;
            for i in &b.items {
                tx.execute(&st, &[&i.release_id as Arg, &i.item_id, &json(i)])?;
            }
        }
        if !b.results.is_empty() {
            let st = tx.prepare("INSERT INTO results (release_id, probe, at_ms, body) VALUES ($1, $2, $3, $4)")?;
            for r in &b.results {
                tx.execute(&st, &[&r.release_id as Arg, &r.probe, &ms(r.at), &json(r)])?;
            }
        }
        if !b.history.is_empty() {
            let st = tx.prepare("INSERT INTO history (release_id, body) VALUES ($1, $2)")?;
            for h in &b.history {
                tx.execute(&st, &[&h.release_id as Arg, &json(h)])?;
            }
        }
        if !b.outbox.is_empty() {
            let st = tx.prepare(
                "INSERT INTO outbox (key, next_at_ms, dead, body) SELECT $1, $2, false, $3
                 WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE key = $1)
                 ON CONFLICT (key) DO NOTHING",
            )?;
            for o in &b.outbox {
                tx.execute(&st, &[&o.key as Arg, &ms(o.next_at), &json(o)])?;
            }
        }
        if !b.delivered.is_empty() {
            let done = tx.prepare(
                "INSERT INTO delivered (key, at_ms) SELECT key, $2 FROM outbox WHERE id = $1 ON CONFLICT DO NOTHING",
            )?;
            let del = tx.prepare("DELETE FROM outbox WHERE id = $1")?;
            let now = ms(Utc::now());
            for id in &b.delivered {
                tx.execute(&done, &[id, &now])?;
                tx.execute(&del, &[id])?;
            }
        }
        if !b.outbox_updates.is_empty() {
            let st = tx.prepare("UPDATE outbox SET next_at_ms = $2, dead = $3, body = $4 WHERE id = $1")?;
            for r in &b.outbox_updates {
                tx.execute(&st, &[&r.id as Arg, &ms(r.next_at), &r.dead, &json(r)])?;
            }
        }
        if !b.state.is_empty() {
            let st = tx.prepare(
                "INSERT INTO state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            )?;
            for (name, value) in &b.state {
                tx.execute(&st, &[name, value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn releases(&self) -> Result<Vec<Release>, StoreError> {
        self.bodies("releases", "SELECT body FROM releases ORDER BY seq", &[])
    }

    fn releases_recent(&self, closed_since: DateTime<Utc>) -> Result<Vec<Release>, StoreError> {
        let sql = "SELECT body FROM releases WHERE closed_ms IS NULL OR closed_ms >= $1 ORDER BY seq";
        self.bodies("releases", sql, &[&ms(closed_since)])
    }

    fn release_page(&self, q: &ReleaseQuery) -> Result<Vec<(i64, Release)>, StoreError> {
        // Every value is a bound parameter; the filters are written so one statement serves all.
        let states: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
        let sql = "SELECT seq, body FROM releases
                   WHERE seq < $1 AND ($2::text IS NULL OR service = $2)
                     AND (cardinality($3::text[]) = 0 OR state = ANY($3))
                   ORDER BY seq DESC LIMIT $4";
        let before = q.before.unwrap_or(i64::MAX);
        let limit = q.limit.min(i64::MAX as usize) as i64;
        let mut c = self.conn()?;
        let rows = c.query(sql, &[&before as Arg, &q.service, &states, &limit])?;
        rows.iter().map(|r| Ok((r.get(0), parse("releases", r.get::<_, &str>(1))?))).collect()
    }

    fn item_counts(&self, release: &str) -> Result<Vec<(ItemState, usize)>, StoreError> {
        let mut c = self.conn()?;
        let rows = c.query(
            "SELECT (body::jsonb)->>'state', COUNT(*) FROM items WHERE release_id = $1 GROUP BY 1",
            &[&release],
        )?;
        rows.iter()
            .map(|r| {
                let state = serde_json::from_value(serde_json::Value::String(r.get(0)))
                    .map_err(|e| StoreError::Corrupt { table: "items", message: e.to_string() })?;
                Ok((state, r.get::<_, i64>(1) as usize))
            })
            .collect()
    }

    fn release(&self, id: &str) -> Result<Option<Release>, StoreError> {
        Ok(self.bodies("releases", "SELECT body FROM releases WHERE id = $1", &[&id])?.pop())
    }

    fn items(&self, release: &str) -> Result<Vec<ItemRecord>, StoreError> {
        self.bodies("items", "SELECT body FROM items WHERE release_id = $1 ORDER BY item_id", &[&release])
    }

    fn results(&self, release: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let sql = "SELECT body FROM results WHERE release_id = $1 AND ($2::text IS NULL OR probe = $2)
                   ORDER BY id DESC LIMIT $3";
        self.bodies("results", sql, &[&release as Arg, &probe, &limit])
    }

    fn latest_results(&self, release: &str) -> Result<Vec<ResultRecord>, StoreError> {
        let sql = "SELECT body FROM results WHERE id IN
                     (SELECT MAX(id) FROM results WHERE release_id = $1 GROUP BY probe) ORDER BY id";
        self.bodies("results", sql, &[&release])
    }

    fn history(&self, release: &str) -> Result<Vec<HistoryRecord>, StoreError> {
        self.bodies("history", "SELECT body FROM history WHERE release_id = $1 ORDER BY id", &[&release])
    }

    fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let b = ms(before);
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        if let Some(f) = self.fenced() {
            check_fence(&mut tx, &f)?;
        }
        let gone = "SELECT id FROM releases WHERE closed_ms IS NOT NULL AND closed_ms < $1";
        let history = tx.execute(&format!("DELETE FROM history WHERE release_id IN ({gone})"), &[&b])?;
        tx.execute(&format!("DELETE FROM items WHERE release_id IN ({gone})"), &[&b])?;
        let mut results = tx.execute(&format!("DELETE FROM results WHERE release_id IN ({gone})"), &[&b])?;
        let releases = tx.execute("DELETE FROM releases WHERE closed_ms IS NOT NULL AND closed_ms < $1", &[&b])?;
        results += tx.execute("DELETE FROM results WHERE at_ms < $1", &[&b])?;
        let delivered = tx.execute("DELETE FROM delivered WHERE at_ms < $1", &[&b])?;
        let dead_letters = tx.execute("DELETE FROM outbox WHERE dead AND next_at_ms < $1", &[&b])?;
        tx.commit()?;
        let n = |v: u64| v as usize;
        Ok(Pruned {
            results: n(results),
            releases: n(releases),
            history: n(history),
            delivered: n(delivered),
            dead_letters: n(dead_letters),
        })
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut c = self.conn()?;
        let rows = c.query(
            "SELECT id, body FROM outbox WHERE NOT dead AND next_at_ms <= $1 ORDER BY next_at_ms, id LIMIT $2",
            &[&ms(now) as Arg, &(limit.min(i64::MAX as usize) as i64)],
        )?;
        outbox_rows(rows)
    }

    fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut c = self.conn()?;
        outbox_rows(c.query("SELECT id, body FROM outbox ORDER BY id", &[])?)
    }

    fn outbox_stats(&self) -> Result<(usize, Option<DateTime<Utc>>), StoreError> {
        let mut c = self.conn()?;
        let r = c.query_one("SELECT COUNT(*), MIN(next_at_ms) FROM outbox WHERE NOT dead", &[])?;
        let (n, next): (i64, Option<i64>) = (r.get(0), r.get(1));
        Ok((n as usize, next.and_then(DateTime::from_timestamp_millis)))
    }

    fn state_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn()?;
        Ok(c.query_opt("SELECT value FROM state WHERE name = $1", &[&name])?.map(|r| r.get(0)))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let Some(f) = self.fenced() else { return Ok(()) };
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        check_fence(&mut tx, &f)?;
        tx.commit()?;
        Ok(())
    }

    fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.query_one("SELECT 1", &[])?;
        Ok(())
    }
}
