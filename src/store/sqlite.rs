//! The SQLite store: WAL mode, `synchronous=NORMAL` (a committed transaction survives a process
//! crash or `kill -9`), numbered migrations tracked in `PRAGMA user_version`. Rows keep their
//! indexed fields as columns and the rest as JSON, so adding a field needs no migration.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Batch, OutboxRecord, Store, StoreError};
use crate::release::{HistoryRecord, ItemRecord, Release, ResultRecord};

/// Schema migrations, applied in order; index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE releases (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL);
     CREATE TABLE items (release_id TEXT NOT NULL, item_id TEXT NOT NULL, body TEXT NOT NULL,
                         PRIMARY KEY (release_id, item_id));
     CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL,
                           probe TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
     CREATE INDEX results_by_release ON results (release_id, probe, id);
     CREATE INDEX results_by_time ON results (at_ms);
     CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL,
                           body TEXT NOT NULL);
     CREATE INDEX history_by_release ON history (release_id, id);",
    // 2: the durable notification outbox; delivered keys are remembered so a replay never
    //    queues a notification twice; small named state blobs for notifiers.
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                          next_at_ms INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
     CREATE INDEX outbox_due ON outbox (dead, next_at_ms);
     CREATE TABLE delivered (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
     CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
];

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: String,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store records serialize to JSON")
}

fn parse<T: DeserializeOwned>(table: &'static str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

impl SqliteStore {
    /// Open (creating directories and the file as needed) and migrate.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::Dir { path: dir.display().to_string(), source })?;
        }
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open { path: p.clone(), source })?;
        Self::init(conn, p)
    }

    /// An in-memory store (tests).
    pub fn memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, ":memory:".into())
    }

    fn init(conn: Connection, path: String) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew { path, found: version, supported });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(db = %path, version = i + 1, "applied schema migration");
        }
        Ok(SqliteStore { conn: Mutex::new(conn), path })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Path of the database file.
    pub fn path(&self) -> &str {
        &self.path
    }
}

fn id_body(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

/// Outbox records from `(id, body)` rows.
fn outbox_rows(rows: impl Iterator<Item = rusqlite::Result<(i64, String)>>) -> Result<Vec<OutboxRecord>, StoreError> {
    rows.map(|row| {
        let (id, body) = row?;
        let mut rec: OutboxRecord = parse("outbox", &body)?;
        rec.id = id;
        Ok(rec)
    })
    .collect()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Store for SqliteStore {
    fn apply(&self, b: &Batch) -> Result<(), StoreError> {
        if b.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut rel = tx.prepare_cached(
                "INSERT INTO releases (id, seq, body) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM releases), ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )?;
            for r in &b.releases {
                rel.execute(params![r.id, json(r)])?;
            }
            let mut item = tx.prepare_cached(
                "INSERT INTO items (release_id, item_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (release_id, item_id) DO UPDATE SET body = excluded.body",
            )?;
            for i in &b.items {
                item.execute(params![i.release_id, i.item_id, json(i)])?;
            }
            let mut res =
                tx.prepare_cached("INSERT INTO results (release_id, probe, at_ms, body) VALUES (?1, ?2, ?3, ?4)")?;
            for r in &b.results {
                res.execute(params![r.release_id, r.probe, ms(r.at), json(r)])?;
            }
            let mut hist = tx.prepare_cached("INSERT INTO history (release_id, body) VALUES (?1, ?2)")?;
            for h in &b.history {
                hist.execute(params![h.release_id, json(h)])?;
            }
            let mut out = tx.prepare_cached(
                "INSERT INTO outbox (key, next_at_ms, dead, body) SELECT ?1, ?2, 0, ?3
                 WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE key = ?1)
                 ON CONFLICT (key) DO NOTHING",
            )?;
            for o in &b.outbox {
                out.execute(params![o.key, ms(o.next_at), json(o)])?;
            }
            let mut done = tx.prepare_cached(
                "INSERT OR IGNORE INTO delivered (key, at_ms) SELECT key, ?2 FROM outbox WHERE id = ?1",
            )?;
            let mut del = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            let now = ms(Utc::now());
            for id in &b.delivered {
                done.execute(params![id, now])?;
                del.execute(params![id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn releases(&self) -> Result<Vec<Release>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT body FROM releases ORDER BY seq")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|b| parse("releases", &b?)).collect()
    }

    fn items(&self, release: &str) -> Result<Vec<ItemRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT body FROM items WHERE release_id = ?1 ORDER BY item_id")?;
        let rows = st.query_map([release], |r| r.get::<_, String>(0))?;
        rows.map(|b| parse("items", &b?)).collect()
    }

    fn results(&self, release: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, StoreError> {
        let conn = self.conn();
        let limit = limit.min(i64::MAX as usize) as i64;
        let bodies: Vec<String> = match probe {
            Some(p) => {
                let mut st = conn.prepare_cached(
                    "SELECT body FROM results WHERE release_id = ?1 AND probe = ?2 ORDER BY id DESC LIMIT ?3",
                )?;
                st.query_map(params![release, p, limit], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
            None => {
                let mut st =
                    conn.prepare_cached("SELECT body FROM results WHERE release_id = ?1 ORDER BY id DESC LIMIT ?2")?;
                st.query_map(params![release, limit], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
        };
        bodies.iter().map(|b| parse("results", b)).collect()
    }

    fn history(&self, release: &str) -> Result<Vec<HistoryRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT body FROM history WHERE release_id = ?1 ORDER BY id")?;
        let rows = st.query_map([release], |r| r.get::<_, String>(0))?;
        rows.map(|b| parse("history", &b?)).collect()
    }

    fn prune_results(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM results WHERE at_ms < ?1", [ms(before)])?)
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, body FROM outbox WHERE dead = 0 AND next_at_ms <= ?1 ORDER BY next_at_ms, id LIMIT ?2",
        )?;
        outbox_rows(st.query_map(params![ms(now), limit as i64], id_body)?)
    }

    fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT id, body FROM outbox ORDER BY id")?;
        outbox_rows(st.query_map([], id_body)?)
    }

    fn outbox_update(&self, rec: &OutboxRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET next_at_ms = ?2, dead = ?3, body = ?4 WHERE id = ?1",
            params![rec.id, ms(rec.next_at), rec.dead as i64, json(rec)],
        )?;
        Ok(())
    }

    fn state_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn().query_row("SELECT value FROM state WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    fn state_put(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    fn ping(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        let _: Option<i64> = conn.query_row("SELECT 1", [], |r| r.get(0)).optional()?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
