//! The SQLite store: WAL mode, `synchronous=NORMAL` (a committed transaction survives a process
//! crash or `kill -9`), numbered migrations (`migrate.rs`). Rows keep their indexed fields as
//! columns and the rest as JSON, so adding a field needs no migration.
//!
//! One writer connection (behind a mutex) takes every write; reads use their own connections
//! from a small pool, so a slow read never waits for a write or the reverse (WAL readers see
//! the last committed state). A database file is used by one process at a time: an exclusive
//! `flock` on `<db>.lock` is taken at open and held for the life of the store.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Batch, OutboxRecord, Pruned, ReleaseQuery, Store, StoreError, migrate};
use crate::release::{HistoryRecord, ItemRecord, ItemState, Release, ResultRecord};

/// Idle reader connections kept open.
const READERS: usize = 4;

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// Idle reader connections; None for an in-memory database (reads use the writer).
    readers: Option<Mutex<Vec<Connection>>>,
    path: String,
    /// Held open (and locked) for the life of the store.
    _lock: Option<File>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store records serialize to JSON")
}

fn parse<T: DeserializeOwned>(table: &'static str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

/// Take the exclusive lock that keeps a second shipwatch off this database.
fn lock(db: &Path) -> Result<File, StoreError> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    let path = format!("{}.lock", db.display());
    let err = |source| StoreError::Lock { path: path.clone(), source };
    let mut f =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(err)?;
    // SAFETY: flock on a descriptor we own; no memory is shared with the call.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err(e));
        }
        let mut pid = String::new();
        let _ = f.read_to_string(&mut pid);
        let holder = pid.trim().parse::<u32>().map(|p| format!(" (pid {p})")).unwrap_or_default();
        return Err(StoreError::Locked { path: db.display().to_string(), lock: path, holder });
    }
    f.set_len(0).map_err(err)?;
    f.rewind().map_err(err)?;
    write!(f, "{}", std::process::id()).map_err(err)?;
    Ok(f)
}

impl SqliteStore {
    /// Lock, open (creating directories and the file as needed) and migrate.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::Dir { path: dir.display().to_string(), source })?;
        }
        let lock = lock(path)?;
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open { path: p.clone(), source })?;
        let mut s = Self::init(conn, p)?;
        s.readers = Some(Mutex::new(Vec::new()));
        s._lock = Some(lock);
        Ok(s)
    }

    /// An in-memory store (tests): reads share the writer connection.
    pub fn memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, ":memory:".into())
    }

    fn init(mut conn: Connection, path: String) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate::run(&mut conn, &path)?;
        Ok(SqliteStore { writer: Mutex::new(conn), readers: None, path, _lock: None })
    }

    /// The writer connection. A panic while it was held cannot leave a transaction half
    /// written (rusqlite rolls back an unfinished transaction on drop), so poison is ignored.
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        crate::sync::lock(&self.writer, "sqlite writer")
    }

    /// Run a read on a reader connection (opened on demand, kept for reuse).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let Some(pool) = &self.readers else { return f(&self.conn()) };
        let idle = crate::sync::lock(pool, "sqlite readers").pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let c = Connection::open_with_flags(&self.path, flags)
                    .map_err(|source| StoreError::Open { path: self.path.clone(), source })?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = crate::sync::lock(pool, "sqlite readers");
        if idle.len() < READERS {
            idle.push(conn);
        }
        out
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

fn bodies<T: DeserializeOwned>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(p, |r| r.get::<_, String>(0))?;
    rows.map(|b| parse(table, &b?)).collect()
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
                "INSERT INTO releases (id, seq, body, closed_ms, service, state)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM releases), ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, closed_ms = excluded.closed_ms,
                   service = excluded.service, state = excluded.state",
            )?;
            for r in &b.releases {
                rel.execute(params![r.id, json(r), r.closed_at.map(ms), r.service, r.state.as_str()])?;
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
            let mut upd = tx.prepare_cached("UPDATE outbox SET next_at_ms = ?2, dead = ?3, body = ?4 WHERE id = ?1")?;
            for r in &b.outbox_updates {
                upd.execute(params![r.id, ms(r.next_at), r.dead as i64, json(r)])?;
            }
            let mut state = tx.prepare_cached(
                "INSERT INTO state (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )?;
            for (name, value) in &b.state {
                state.execute(params![name, value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn releases(&self) -> Result<Vec<Release>, StoreError> {
        self.read(|c| bodies(c, "releases", "SELECT body FROM releases ORDER BY seq", []))
    }

    fn releases_recent(&self, closed_since: DateTime<Utc>) -> Result<Vec<Release>, StoreError> {
        let sql = "SELECT body FROM releases WHERE closed_ms IS NULL OR closed_ms >= ?1 ORDER BY seq";
        self.read(|c| bodies(c, "releases", sql, [ms(closed_since)]))
    }

    fn release_page(&self, q: &ReleaseQuery) -> Result<Vec<(i64, Release)>, StoreError> {
        // Every value is a bound parameter; only the number of `?` placeholders varies.
        let mut sql = String::from("SELECT seq, body FROM releases WHERE seq < ?1");
        let mut args: Vec<rusqlite::types::Value> = vec![q.before.unwrap_or(i64::MAX).into()];
        if let Some(s) = &q.service {
            args.push(s.clone().into());
            sql.push_str(&format!(" AND service = ?{}", args.len()));
        }
        if !q.states.is_empty() {
            let marks: Vec<String> = q
                .states
                .iter()
                .map(|st| {
                    args.push(st.as_str().to_string().into());
                    format!("?{}", args.len())
                })
                .collect();
            sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
        }
        args.push((q.limit.min(i64::MAX as usize) as i64).into());
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.map(|row| {
                let (seq, body) = row?;
                Ok((seq, parse("releases", &body)?))
            })
            .collect()
        })
    }

    fn item_counts(&self, release: &str) -> Result<Vec<(ItemState, usize)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT json_extract(body, '$.state'), COUNT(*) FROM items WHERE release_id = ?1 GROUP BY 1",
            )?;
            let rows = st.query_map([release], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.map(|row| {
                let (state, n) = row?;
                let state = serde_json::from_value(serde_json::Value::String(state))
                    .map_err(|e| StoreError::Corrupt { table: "items", message: e.to_string() })?;
                Ok((state, n as usize))
            })
            .collect()
        })
    }

    fn release(&self, id: &str) -> Result<Option<Release>, StoreError> {
        self.read(|c| Ok(bodies(c, "releases", "SELECT body FROM releases WHERE id = ?1", [id])?.pop()))
    }

    fn items(&self, release: &str) -> Result<Vec<ItemRecord>, StoreError> {
        self.read(|c| bodies(c, "items", "SELECT body FROM items WHERE release_id = ?1 ORDER BY item_id", [release]))
    }

    fn results(&self, release: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(|c| match probe {
            Some(p) => bodies(
                c,
                "results",
                "SELECT body FROM results WHERE release_id = ?1 AND probe = ?2 ORDER BY id DESC LIMIT ?3",
                params![release, p, limit],
            ),
            None => bodies(
                c,
                "results",
                "SELECT body FROM results WHERE release_id = ?1 ORDER BY id DESC LIMIT ?2",
                params![release, limit],
            ),
        })
    }

    fn latest_results(&self, release: &str) -> Result<Vec<ResultRecord>, StoreError> {
        self.read(|c| {
            bodies(
                c,
                "results",
                "SELECT body FROM results WHERE id IN
                   (SELECT MAX(id) FROM results WHERE release_id = ?1 GROUP BY probe)",
                [release],
            )
        })
    }

    fn history(&self, release: &str) -> Result<Vec<HistoryRecord>, StoreError> {
        self.read(|c| bodies(c, "history", "SELECT body FROM history WHERE release_id = ?1 ORDER BY id", [release]))
    }

    fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let b = ms(before);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let gone = "SELECT id FROM releases WHERE closed_ms IS NOT NULL AND closed_ms < ?1";
        let history = tx.execute(&format!("DELETE FROM history WHERE release_id IN ({gone})"), [b])?;
        tx.execute(&format!("DELETE FROM items WHERE release_id IN ({gone})"), [b])?;
        let mut results = tx.execute(&format!("DELETE FROM results WHERE release_id IN ({gone})"), [b])?;
        let releases = tx.execute("DELETE FROM releases WHERE closed_ms IS NOT NULL AND closed_ms < ?1", [b])?;
        results += tx.execute("DELETE FROM results WHERE at_ms < ?1", [b])?;
        let delivered = tx.execute("DELETE FROM delivered WHERE at_ms < ?1", [b])?;
        let dead_letters = tx.execute("DELETE FROM outbox WHERE dead = 1 AND next_at_ms < ?1", [b])?;
        tx.commit()?;
        Ok(Pruned { results, releases, history, delivered, dead_letters })
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, body FROM outbox WHERE dead = 0 AND next_at_ms <= ?1 ORDER BY next_at_ms, id LIMIT ?2",
            )?;
            outbox_rows(st.query_map(params![ms(now), limit as i64], id_body)?)
        })
    }

    fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id, body FROM outbox ORDER BY id")?;
            outbox_rows(st.query_map([], id_body)?)
        })
    }

    fn outbox_stats(&self) -> Result<(usize, Option<DateTime<Utc>>), StoreError> {
        self.read(|c| {
            let (n, next): (i64, Option<i64>) =
                c.query_row("SELECT COUNT(*), MIN(next_at_ms) FROM outbox WHERE dead = 0", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            Ok((n as usize, next.and_then(DateTime::from_timestamp_millis)))
        })
    }

    fn state_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT value FROM state WHERE name = ?1", [name], |r| r.get(0)).optional()?))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            let _: Option<i64> = c.query_row("SELECT 1", [], |r| r.get(0)).optional()?;
            Ok(())
        })
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
