//! Numbered schema migrations of the PostgreSQL store, tracked in `shipwatch_schema`: all run
//! in one transaction under an advisory lock (replicas starting together migrate once); a
//! database newer than this binary is refused. The schema is SQLite's at its latest version
//! (JSON bodies as text, times as epoch milliseconds), plus the `leader` row.

use super::StoreError;

/// The migrations; index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    // 1: the schema of SQLite's migration 5, and the leadership lease.
    "CREATE TABLE releases (id TEXT PRIMARY KEY, seq BIGSERIAL UNIQUE, body TEXT NOT NULL, closed_ms BIGINT,
                           service TEXT NOT NULL, state TEXT NOT NULL);
     CREATE INDEX releases_closed ON releases (closed_ms);
     CREATE INDEX releases_by_service ON releases (service, seq);
     CREATE TABLE items (release_id TEXT NOT NULL, item_id TEXT NOT NULL, body TEXT NOT NULL,
                         PRIMARY KEY (release_id, item_id));
     CREATE TABLE results (id BIGSERIAL PRIMARY KEY, release_id TEXT NOT NULL, probe TEXT NOT NULL,
                          at_ms BIGINT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX results_by_release ON results (release_id, probe, id);
     CREATE INDEX results_by_time ON results (at_ms);
     CREATE TABLE history (id BIGSERIAL PRIMARY KEY, release_id TEXT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX history_by_release ON history (release_id, id);
     CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, next_at_ms BIGINT NOT NULL,
                         dead BOOLEAN NOT NULL DEFAULT false, body TEXT NOT NULL);
     CREATE INDEX outbox_due ON outbox (dead, next_at_ms);
     CREATE TABLE delivered (key TEXT PRIMARY KEY, at_ms BIGINT NOT NULL);
     CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE leader (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, epoch BIGINT NOT NULL,
                         url TEXT NOT NULL, since_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL);
     CREATE TABLE replicas (name TEXT PRIMARY KEY, url TEXT NOT NULL, seen_ms BIGINT NOT NULL);",
];

/// Any number, the same in every replica: the advisory lock migrations take.
const MIGRATION_LOCK: i64 = 0x5348_4950_5741_5443;

/// The schema version this binary writes.
pub(super) fn supported() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the database up to [`supported`], refusing a newer one.
pub(super) fn run(c: &mut postgres::Client, url: &str) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS shipwatch_schema (version BIGINT NOT NULL)")?;
    let version: i64 = tx.query_opt("SELECT version FROM shipwatch_schema", &[])?.map(|r| r.get(0)).unwrap_or_default();
    if version > supported() {
        return Err(StoreError::TooNew { path: url.into(), found: version, supported: supported() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)?;
        tracing::info!(db = %url, version = i + 1, "applied schema migration");
    }
    if version < supported() {
        tx.execute("DELETE FROM shipwatch_schema", &[])?;
        tx.execute("INSERT INTO shipwatch_schema (version) VALUES ($1)", &[&supported()])?;
    }
    tx.commit()?;
    Ok(())
}
