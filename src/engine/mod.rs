//! The engine: owns the in-memory state of every release, runs probes on their schedules,
//! applies the rules and records everything in the store.
//!
//! Invariants: the engine is the only writer of release, item and result state; every change
//! is written to the store (one transaction) *before* it becomes visible in memory or is
//! announced as an event, so a crash never shows a state that was not stored.

mod cell;
mod deliver;
mod judge;
mod keeper;
mod list;
mod ops;
mod record;
mod reload;
pub mod report;
mod route;
mod runner;
mod settle;
mod start;
mod txn;
mod view;
mod watcher;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::event::Event;
use crate::probe::Runtime;
use crate::release::{ItemRecord, Release, ResultRecord};
use crate::store::{Store, StoreError};

pub use cell::{ClusterStatus, EngineCell, Replica};
pub use list::{Cursor, DEFAULT_LIMIT, ListQuery, MAX_LIMIT, Page};
pub use start::NewRelease;
pub use view::{Counts, ItemCoverage, ItemView, ReleaseView, WindowView};

/// Errors of engine operations, mapped to HTTP statuses by the API.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A bug: a task panicked or was cancelled. Nothing half-done is visible (see `txn.rs`).
    #[error("internal error: {0}")]
    Internal(String),
}

/// In-memory state of one release. Item records and results sit behind `Arc`s so a copy of
/// a release (the engine's working copy, the snapshot readers see) shares every record that did
/// not change: copying costs two small maps of pointers, not the records.
#[derive(Debug, Clone)]
pub(crate) struct Rel {
    pub release: Release,
    pub items: BTreeMap<String, Arc<ItemRecord>>,
    /// Latest result per probe.
    pub last: BTreeMap<String, Arc<ResultRecord>>,
}

pub(crate) struct Inner {
    config: RwLock<Arc<Config>>,
    store: Arc<dyn Store>,
    /// The writers' copy of every release. Held for a whole change ([`txn::Txn`]: change,
    /// settle, write, publish), so changes of the store and of this map happen in one order.
    work: Mutex<txn::Work>,
    /// What readers see: the last stored state of every release, as immutable snapshots.
    /// Replaced per release after each successful write; readers never wait for a write.
    published: RwLock<BTreeMap<String, Arc<Rel>>>,
    /// Bumped on every publish that changes a state people see (item or release state, not
    /// only a probe's latest result): the status page's cache compares it.
    state_rev: AtomicU64,
    /// Serialized items of each release's snapshot (the bulk of `GET /api/v1/releases/{id}`).
    items_json: Mutex<std::collections::HashMap<String, view::ItemsJson>>,
    /// Alertmanager receivers that have a keeper running.
    keepers: Mutex<std::collections::BTreeSet<String>>,
    /// Watches that have a task running.
    watches: Mutex<std::collections::BTreeSet<String>>,
    /// Slots for probe runs in flight ([`runner::IN_FLIGHT`]).
    probe_slots: tokio::sync::Semaphore,
    /// Probe results on their way to the recorder (one writer, grouped transactions).
    recorder: tokio::sync::mpsc::Sender<record::Recorded>,
    /// Cancels the probe tasks of one release.
    tasks: Mutex<BTreeMap<String, CancellationToken>>,
    rt: RwLock<Runtime>,
    clock: Clock,
    events: broadcast::Sender<Event>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    store_ok: AtomicBool,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Wakes the delivery loop when notifications are queued.
    outbox_wake: tokio::sync::Notify,
    /// The address the API is bound to (links in notifications).
    bound: RwLock<Option<String>>,
    /// Only follows a leader replica: reads the store, runs nothing.
    follower: AtomicBool,
}

/// A handle to the running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine(pub(crate) Arc<Inner>);

impl Engine {
    /// Load state from `store` and start watching every active release.
    pub fn start(config: Arc<Config>, store: Arc<dyn Store>) -> Result<Engine, EngineError> {
        let (engine, results) = Engine::build(config, store)?;
        engine.recover()?;
        record::spawn(&engine.0, results);
        runner::spawn_housekeeping(&engine.0);
        deliver::spawn(&engine.0);
        keeper::spawn(&engine.0);
        watcher::spawn(&engine.0);
        Ok(engine)
    }

    /// A follower's engine (a replica that does not lead): it reads what the leader stored
    /// ([`Engine::refresh`]) and serves it, and runs nothing — no probes, timers, recorder,
    /// deliveries, keeper or watches. Its writes are refused by the store's fence.
    pub fn follower(config: Arc<Config>, store: Arc<dyn Store>) -> Result<Engine, EngineError> {
        let (engine, _results) = Engine::build(config, store)?;
        engine.0.follower.store(true, Ordering::Relaxed);
        // Unreadable now: it serves nothing until a later refresh works.
        if let Err(e) = engine.refresh() {
            tracing::warn!(error = %e, "follower: cannot read the store yet");
        }
        Ok(engine)
    }

    /// A follower engine that starts from this engine's last published state (a leader stepping
    /// down): it needs nothing from the database, which may be unreachable right then.
    pub fn follower_of(&self) -> Result<Engine, EngineError> {
        let (engine, _results) = Engine::build(self.0.config(), self.0.store.clone())?;
        engine.0.follower.store(true, Ordering::Relaxed);
        let published = self.0.state().clone();
        *engine.0.work() = published.iter().map(|(id, r)| (id.clone(), (**r).clone())).collect();
        *crate::sync::write(&engine.0.published, "published") = published;
        if let Some(addr) = crate::sync::read(&self.0.bound, "bound").clone() {
            *crate::sync::write(&engine.0.bound, "bound") = Some(addr);
        }
        Ok(engine)
    }

    /// Whether this engine only follows (see [`Engine::follower`]).
    pub fn is_follower(&self) -> bool {
        self.0.follower.load(Ordering::Relaxed)
    }

    /// Replace what readers see with what is stored now (a follower, every fraction of the
    /// lease): active releases and those closed within `storage.keep_closed`.
    pub fn refresh(&self) -> Result<(), EngineError> {
        let inner = &self.0;
        let cfg = inner.config();
        let since = inner.clock.now() - ops::chrono_of(cfg.storage.keep_closed.0);
        let mut fresh = BTreeMap::new();
        for release in inner.store.releases_recent(since)? {
            let rel = inner.rel_of(release)?;
            fresh.insert(rel.release.id.clone(), rel);
        }
        let mut work = inner.work();
        let changed = fresh.len() != work.len()
            || fresh.iter().any(|(id, r)| work.get(id).is_none_or(|w| w.release != r.release || w.items != r.items));
        *crate::sync::write(&inner.published, "published") =
            fresh.iter().map(|(id, r)| (id.clone(), Arc::new(r.clone()))).collect();
        *work = fresh;
        drop(work);
        if changed {
            inner.state_rev.fetch_add(1, Ordering::Release);
        }
        Ok(())
    }

    /// The engine's parts, nothing started.
    fn build(
        config: Arc<Config>,
        store: Arc<dyn Store>,
    ) -> Result<(Engine, tokio::sync::mpsc::Receiver<record::Recorded>), EngineError> {
        let sources = crate::probe::source::build_all(&config.sources, &config.dir())
            .map_err(|errs| EngineError::Invalid { field: "sources".into(), message: errs.join("; ") })?;
        let rt = Runtime::with_sources(config.redactor.clone(), sources);
        let histograms = config.metrics.probe_histograms;
        let (events, _) = broadcast::channel(1024);
        let (recorder, results) = tokio::sync::mpsc::channel(record::QUEUE);
        let inner = Arc::new(Inner {
            config: RwLock::new(config),
            store,
            work: Mutex::new(BTreeMap::new()),
            published: RwLock::new(BTreeMap::new()),
            state_rev: AtomicU64::new(0),
            probe_slots: tokio::sync::Semaphore::new(runner::IN_FLIGHT),
            keepers: Mutex::new(Default::default()),
            watches: Mutex::new(Default::default()),
            items_json: Mutex::new(Default::default()),
            recorder,
            tasks: Mutex::new(BTreeMap::new()),
            rt: RwLock::new(rt),
            clock: Clock::new(),
            events,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            store_ok: AtomicBool::new(true),
            metrics: Arc::new(crate::metrics::Metrics::new(histograms)),
            outbox_wake: tokio::sync::Notify::new(),
            bound: RwLock::new(None),
            follower: AtomicBool::new(false),
        });
        Ok((Engine(inner), results))
    }

    /// Subscribe to events (notifiers, the demo's live view).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.events.subscribe()
    }

    /// Ready: the store answers (asked on the blocking pool) and the last write succeeded.
    pub async fn ready(&self) -> bool {
        if !self.0.store_ok.load(Ordering::Relaxed) || self.0.shutdown.is_cancelled() {
            return false;
        }
        self.0.blocking(|i| Ok(i.store.ping()?)).await.is_ok()
    }

    /// Tell the engine where the API listens (for links when `server.external_url` is unset).
    pub fn set_bound_addr(&self, addr: std::net::SocketAddr) {
        *crate::sync::write(&self.0.bound, "bound") = Some(addr.to_string());
    }

    /// Changes whenever an item or release state changes (not on every probe result).
    pub fn state_rev(&self) -> u64 {
        self.0.state_rev.load(Ordering::Acquire)
    }

    /// shipwatch's own metrics.
    pub fn metrics(&self) -> Arc<crate::metrics::Metrics> {
        self.0.metrics.clone()
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.0.config()
    }

    /// The base URL of links to this shipwatch (`server.external_url`, else where it listens),
    /// without a trailing `/`: a release's page is `<base>/releases/<id>`.
    pub fn base_url(&self) -> String {
        self.0.base_url(&self.0.config())
    }

    /// The engine's wall clock (the one windows are measured on).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.clock.now()
    }

    /// Stop every probe task (in-flight runs are cancelled cleanly) and wait for them.
    pub async fn shutdown(&self) {
        self.0.shutdown.cancel();
        self.0.tracker.close();
        self.0.tracker.wait().await;
        self.0.flush_results().await;
        tracing::info!("engine stopped; all state is in the store");
    }
}

impl Inner {
    /// Run `f` (store calls) on the blocking pool: never on an async worker.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Arc<Inner>) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let inner = self.clone();
        tokio::task::spawn_blocking(move || f(&inner)).await.map_err(|e| EngineError::Internal(e.to_string()))?
    }

    pub(crate) fn config(&self) -> Arc<Config> {
        crate::sync::read(&self.config, "config").clone()
    }

    /// Base URL for links in notifications.
    pub(crate) fn base_url(&self, cfg: &Config) -> String {
        let bound = crate::sync::read(&self.bound, "bound").clone();
        route::base_url(cfg, bound.as_deref())
    }

    /// The probe runtime in force (sources are rebuilt on reload).
    pub(crate) fn rt(&self) -> Runtime {
        crate::sync::read(&self.rt, "runtime").clone()
    }

    /// The published snapshots (for readers).
    pub(crate) fn state(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Rel>>> {
        crate::sync::read(&self.published, "published")
    }

    /// The writers' copies; hold the guard for the whole change (see [`txn::Txn`]).
    ///
    /// A change that panics leaves the lock poisoned. Its `Txn` has already put back the
    /// releases it touched; every copy is resynchronized from the published snapshots anyway
    /// (the last stored state) before the lock is used again, and the poison is cleared.
    pub(crate) fn work(&self) -> MutexGuard<'_, txn::Work> {
        match self.work.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                let published = self.state();
                g.retain(|id, _| published.contains_key(id));
                for (id, snap) in published.iter() {
                    g.insert(id.clone(), (**snap).clone());
                }
                drop(published);
                self.work.clear_poison();
                tracing::error!("a change panicked; working copies restored from the last stored state");
                g
            }
        }
    }

    /// Make `rel` (just stored) what readers see; `seen`: a state people see changed.
    pub(crate) fn publish(&self, rel: &Rel, seen: bool) {
        let snap = Arc::new(rel.clone());
        crate::sync::write(&self.published, "published").insert(rel.release.id.clone(), snap);
        if seen {
            self.state_rev.fetch_add(1, Ordering::Release);
        }
    }

    /// Swap in a reloaded config and its probe runtime (called by the commit of a reload, under
    /// the writers' lock, so no change sees the new config with the old bindings or back).
    pub(crate) fn swap_config(&self, cfg: Arc<Config>, rt: Runtime) {
        *crate::sync::write(&self.rt, "runtime") = rt;
        *crate::sync::write(&self.config, "config") = cfg;
    }

    /// Write `batch`; remember whether the store is healthy.
    pub(crate) fn write(&self, batch: &crate::store::Batch) -> Result<(), StoreError> {
        let r = self.store.apply(batch);
        match &r {
            Ok(()) => {
                if !self.store_ok.swap(true, Ordering::Relaxed) {
                    tracing::info!("store writable again");
                }
            }
            Err(e) => {
                if self.store_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "store write failed; state kept as last stored");
                }
            }
        }
        r
    }

    pub(crate) fn emit(&self, events: Vec<Event>) {
        for e in events {
            use crate::event::EventKind::*;
            let (kind, item) = (e.kind.as_str(), e.item.as_deref().unwrap_or(""));
            match e.kind {
                // Someone should look: a failure, or shipwatch cannot see.
                ItemUnknown | ItemFailing | ItemRegressed | ReleaseFailed | ReleaseInconclusive => {
                    tracing::warn!(kind, release = %e.release, item, "{}", e.message)
                }
                _ => tracing::info!(kind, release = %e.release, item, "{}", e.message),
            }
            let _ = self.events.send(e);
        }
    }
}

#[cfg(test)]
mod evict_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod txn_tests;
