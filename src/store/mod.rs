//! Durable state behind one narrow interface.
//!
//! The engine is the only writer; it hands a [`Batch`] of changes to [`Store::apply`], which
//! writes it in one transaction (all or nothing). Every call blocks: the engine makes them from
//! blocking threads (`spawn_blocking` or a thread already blocking for the writers' lock),
//! never from an async worker. Two backends: SQLite (embedded, one process) and PostgreSQL
//! (replicas sharing one database, writes fenced by the leader's epoch).

mod migrate;
mod pg_migrate;
mod postgres;
mod sqlite;

use chrono::{DateTime, Utc};

use crate::release::{HistoryRecord, ItemRecord, ItemState, Release, ReleaseState, ResultRecord};

pub use postgres::{Fence, PgStore, shown_url};
pub use sqlite::SqliteStore;

/// Store failures. The message names the database and what failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("database {path} is at schema version {found}, newer than this shipwatch ({supported}); upgrade shipwatch")]
    TooNew { path: String, found: i64, supported: i64 },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("corrupt row in {table}: {message}")]
    Corrupt { table: &'static str, message: String },
    #[error("cannot create directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error(
        "database {path} is in use by another shipwatch{holder} (it holds {lock}); stop it, or give this one its own storage.sqlite"
    )]
    Locked { path: String, lock: String, holder: String },
    #[error("cannot lock database {path}: {source}")]
    Lock { path: String, source: std::io::Error },
    #[error("cannot connect to PostgreSQL {url}: {message}")]
    PgOpen { url: String, message: String },
    #[error("PostgreSQL: {0}")]
    Pg(#[from] ::postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// A write of a deposed leader: the leader row moved on since it took leadership.
    #[error("refused: this replica led at epoch {epoch}, but the leader is now {holder:?} at epoch {current}")]
    Fenced { epoch: i64, current: i64, holder: String },
}

/// One page of the release list: newest first, optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseQuery {
    /// Only releases in one of these states (all when empty).
    pub states: Vec<ReleaseState>,
    pub service: Option<String>,
    /// At most this many rows.
    pub limit: usize,
    /// Only releases created before the one at this position (a previous page's cursor).
    pub before: Option<i64>,
}

/// What a retention pass deleted, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub results: usize,
    /// Closed releases past retention, with their items and history.
    pub releases: usize,
    pub history: usize,
    pub delivered: usize,
    pub dead_letters: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.results + self.releases + self.history + self.delivered + self.dead_letters
    }
}

/// A notification waiting in the durable outbox (or dead-lettered).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxRecord {
    /// Row id; 0 for a record not stored yet.
    pub id: i64,
    /// Idempotency key (unique): the same notification is never queued twice.
    pub key: String,
    /// The receiver's name, as shown (the rollback hook shows as `rollback`, a name no
    /// notifier may take); what delivers it is [`OutboxRecord::target`].
    pub receiver: String,
    /// What delivers it: a configured notifier, or the rollback hook.
    #[serde(default, skip_serializing_if = "Target::is_receiver")]
    pub target: Target,
    pub notification: crate::notify::Notification,
    /// Item ticked when this notification is delivered (`on: EVENT` action items).
    #[serde(default)]
    pub action_item: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub next_at: DateTime<Utc>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Gave up: too old or rejected for good. Kept for the API and logs.
    #[serde(default)]
    pub dead: bool,
}

/// Who delivers an outbox row: kept apart from receiver names, so a notifier can never be
/// taken for the rollback hook (or the other way round).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The notifier named by `receiver` in `notify:`.
    #[default]
    Receiver,
    /// The `rollback:` hook (its webhook or command).
    RollbackHook,
}

impl Target {
    fn is_receiver(&self) -> bool {
        *self == Target::Receiver
    }
}

/// Changes written together, atomically.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub releases: Vec<Release>,
    pub items: Vec<ItemRecord>,
    pub results: Vec<ResultRecord>,
    pub history: Vec<HistoryRecord>,
    /// New notifications to queue (ignored if their key is already queued or delivered).
    pub outbox: Vec<OutboxRecord>,
    /// Outbox rows delivered: removed in the same transaction.
    pub delivered: Vec<i64>,
    /// Failed attempts: attempts, next try, last error, dead.
    pub outbox_updates: Vec<OutboxRecord>,
    /// Small named state blobs to set (notifier state).
    pub state: Vec<(String, String)>,
}

impl Batch {
    /// Append `other`'s changes (one transaction for both).
    pub fn extend(&mut self, other: Batch) {
        self.releases.extend(other.releases);
        self.items.extend(other.items);
        self.results.extend(other.results);
        self.history.extend(other.history);
        self.outbox.extend(other.outbox);
        self.delivered.extend(other.delivered);
        self.outbox_updates.extend(other.outbox_updates);
        self.state.extend(other.state);
    }

    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
            && self.items.is_empty()
            && self.results.is_empty()
            && self.history.is_empty()
            && self.outbox.is_empty()
            && self.delivered.is_empty()
            && self.outbox_updates.is_empty()
            && self.state.is_empty()
    }
}

/// The storage interface the engine uses. Writes go through [`Store::apply`] (and
/// [`Store::prune`]) only; reads may run concurrently with writes.
pub trait Store: Send + Sync + 'static {
    /// Write every change of `batch` in one transaction.
    fn apply(&self, batch: &Batch) -> Result<(), StoreError>;
    /// All releases, oldest first.
    fn releases(&self) -> Result<Vec<Release>, StoreError>;
    /// Active releases and those closed at or after `closed_since`, oldest first: what the
    /// engine keeps in memory.
    fn releases_recent(&self, closed_since: DateTime<Utc>) -> Result<Vec<Release>, StoreError>;
    /// A page of releases, newest first, each with its position (the next page's cursor).
    fn release_page(&self, q: &ReleaseQuery) -> Result<Vec<(i64, Release)>, StoreError>;
    /// How many items of a release are in each state.
    fn item_counts(&self, release: &str) -> Result<Vec<(ItemState, usize)>, StoreError>;
    /// One release, if stored.
    fn release(&self, id: &str) -> Result<Option<Release>, StoreError>;
    /// The item records of one release.
    fn items(&self, release: &str) -> Result<Vec<ItemRecord>, StoreError>;
    /// Newest results first, at most `limit`, optionally of one probe.
    fn results(&self, release: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, StoreError>;
    /// The latest result of each probe of a release.
    fn latest_results(&self, release: &str) -> Result<Vec<ResultRecord>, StoreError>;
    /// A release's history, oldest first.
    fn history(&self, release: &str) -> Result<Vec<HistoryRecord>, StoreError>;
    /// Delete what is older than `before`: results, closed releases (with their items, results
    /// and history), delivered keys and dead letters. Active releases keep everything else.
    fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, StoreError>;
    /// Cheap health check for `/-/ready`.
    fn ping(&self) -> Result<(), StoreError>;
    /// Outbox rows due for a delivery attempt (not dead, `next_at` ≤ `now`), oldest first.
    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRecord>, StoreError>;
    /// Every outbox row, pending and dead.
    fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError>;
    /// Pending (not dead) rows and the earliest next attempt among them.
    fn outbox_stats(&self) -> Result<(usize, Option<DateTime<Utc>>), StoreError>;
    /// Small named state blobs (notifier state such as alerts sent to Alertmanager).
    fn state_get(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Whether this process may write now: always with SQLite; with PostgreSQL, the leader
    /// row still names this replica and its epoch (checked before side effects such as a
    /// delivery, so a deposed leader sends nothing more).
    fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
