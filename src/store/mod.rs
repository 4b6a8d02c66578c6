//! Durable state behind one narrow interface.
//!
//! The engine is the only writer; it hands a [`Batch`] of changes to [`Store::apply`], which
//! writes it in one transaction (all or nothing). SQLite is the default backend; another
//! backend (PostgreSQL, so replicas can share the watch) implements the same trait.

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

/// Changes written together, atomically.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub releases: Vec<Release>,
    pub items: Vec<ItemRecord>,
    pub results: Vec<ResultRecord>,
    pub history: Vec<HistoryRecord>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.releases.is_empty() && self.items.is_empty() && self.results.is_empty() && self.history.is_empty()
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
}
