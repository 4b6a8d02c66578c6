//! Durable state behind one narrow interface.
//!
//! The engine is the only writer; it hands a [`Batch`] of changes to [`Store::apply`], which
//! writes it in one transaction (all or nothing). SQLite is the only backend; another (say
//! PostgreSQL, so replicas could share the watch) would implement the same trait.

mod sqlite;

use chrono::{DateTime, Utc};

use crate::release::{HistoryRecord, ItemRecord, Release, ResultRecord};

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
}

/// A notification waiting in the durable outbox (or dead-lettered).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxRecord {
    /// Row id; 0 for a record not stored yet.
    pub id: i64,
    /// Idempotency key (unique): the same notification is never queued twice.
    pub key: String,
    pub receiver: String,
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
    }

    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
            && self.items.is_empty()
            && self.results.is_empty()
            && self.history.is_empty()
            && self.outbox.is_empty()
            && self.delivered.is_empty()
    }
}

/// The storage interface the engine and API use.
pub trait Store: Send + Sync + 'static {
    /// Write every change of `batch` in one transaction.
    fn apply(&self, batch: &Batch) -> Result<(), StoreError>;
    /// All releases, oldest first.
    fn releases(&self) -> Result<Vec<Release>, StoreError>;
    /// The item records of one release.
    fn items(&self, release: &str) -> Result<Vec<ItemRecord>, StoreError>;
    /// Newest results first, at most `limit`, optionally of one probe.
    fn results(&self, release: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, StoreError>;
    /// A release's history, oldest first.
    fn history(&self, release: &str) -> Result<Vec<HistoryRecord>, StoreError>;
    /// Delete results older than `before`; returns how many.
    fn prune_results(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;
    /// Cheap health check for `/-/ready`.
    fn ping(&self) -> Result<(), StoreError>;
    /// Outbox rows due for a delivery attempt (not dead, `next_at` ≤ `now`), oldest first.
    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRecord>, StoreError>;
    /// Every outbox row, pending and dead.
    fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError>;
    /// Record a failed attempt (attempts, next_at, last_error, dead).
    fn outbox_update(&self, rec: &OutboxRecord) -> Result<(), StoreError>;
    /// Small named state blobs (notifier state such as alerts sent to Alertmanager).
    fn state_get(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn state_put(&self, name: &str, value: &str) -> Result<(), StoreError>;
}
