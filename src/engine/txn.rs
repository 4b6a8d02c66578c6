//! The one commit path. Every change to releases — a person's write, a group of probe results,
//! a window timer, a delivery that ticks an action, a reload, the recovery at start — runs in
//! a [`Txn`]: it holds the writers' lock, reads the config under it, changes working copies
//! of the releases it touches, and [`Txn::commit`] writes everything in one store
//! transaction, then publishes the copies, swaps in a reloaded config, wakes the outbox,
//! stops or starts probe tasks and announces events — in that order.
//!
//! A `Txn` that is dropped without a successful commit (an error, a refused change, a panic
//! unwinding through it) puts every release it touched back to its last published snapshot,
//! so memory never holds a change the store does not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, MutexGuard};

use chrono::{DateTime, Utc};

use super::settle::{self, Effects};
use super::{EngineError, Inner, Rel, runner};
use crate::config::Config;
use crate::event::EventKind;
use crate::probe::Runtime;
use crate::store::Batch;

/// The writers' copies of every release.
pub(crate) type Work = BTreeMap<String, Rel>;

/// One change in progress; see the module doc.
pub(crate) struct Txn<'a> {
    inner: &'a Arc<Inner>,
    work: Option<MutexGuard<'a, Work>>,
    /// The config in force (read under the writers' lock, so a reload cannot slip between).
    pub cfg: Arc<Config>,
    pub now: DateTime<Utc>,
    fx: BTreeMap<String, Effects>,
    /// Releases created in this transaction (removed again if it does not commit).
    created: BTreeSet<String>,
    /// Releases whose probe tasks (re)start after the commit.
    restart: BTreeSet<String>,
    /// A reloaded config and its runtime, swapped in at the commit.
    reload: Option<(Arc<Config>, Runtime)>,
    /// Rows not tied to a release in memory (e.g. a delivery for a release since removed).
    extra: Batch,
    committed: bool,
}

impl Inner {
    /// Begin a change: take the writers' lock, then read the config and the time under it.
    pub(crate) fn txn<'a>(self: &'a Arc<Self>) -> Txn<'a> {
        let work = self.work();
        Txn {
            inner: self,
            work: Some(work),
            cfg: self.config(),
            now: self.clock.now(),
            fx: BTreeMap::new(),
            created: BTreeSet::new(),
            restart: BTreeSet::new(),
            reload: None,
            extra: Batch::default(),
            committed: false,
        }
    }
}

impl<'a> Txn<'a> {
    fn work(&mut self) -> &mut Work {
        self.work.as_mut().expect("the lock is held until commit or drop")
    }

    /// Ids of every release, for changes that visit them all (reload).
    pub(crate) fn ids(&mut self) -> Vec<String> {
        self.work().keys().cloned().collect()
    }

    /// Whether release `id` exists: in memory, or in the store (a closed release that left
    /// memory keeps its id).
    pub(crate) fn has(&mut self, id: &str) -> Result<bool, EngineError> {
        Ok(self.work().contains_key(id) || self.inner.store.release(id)?.is_some())
    }

    /// Whether release `id` exists and is watched (planned or deployed).
    pub(crate) fn is_active(&mut self, id: &str) -> bool {
        self.work().get(id).is_some_and(|r| r.release.state.is_active())
    }

    /// The working copy of release `id` and its effects; marks it touched. A closed release
    /// that has left memory is read back from the store (and leaves again if this change does
    /// not commit).
    pub(crate) fn rel(&mut self, id: &str) -> Result<(&mut Rel, &mut Effects), EngineError> {
        let inner = self.inner;
        let work = self.work.as_mut().expect("the lock is held until commit or drop");
        if !work.contains_key(id) {
            match inner.load(id)? {
                Some(rel) => {
                    work.insert(id.to_string(), rel);
                }
                None => return Err(super::ops::no_release(id, work.keys())),
            }
        }
        let rel = work.get_mut(id).expect("checked above");
        Ok((rel, self.fx.entry(id.to_string()).or_default()))
    }

    /// Add a new release (with the effects of its creation).
    pub(crate) fn insert(&mut self, rel: Rel, fx: Effects) {
        let id = rel.release.id.clone();
        self.created.insert(id.clone());
        self.fx.insert(id.clone(), fx);
        self.work().insert(id, rel);
    }

    /// (Re)start the probe tasks of `id` after the commit.
    pub(crate) fn restart(&mut self, id: &str) {
        self.restart.insert(id.to_string());
    }

    /// Swap in `cfg` (and its runtime) at the commit; later steps of this change already see it.
    pub(crate) fn reload(&mut self, cfg: Arc<Config>, rt: Runtime) {
        self.cfg = cfg.clone();
        self.reload = Some((cfg, rt));
    }

    /// Rows to write with this change that belong to no release in memory.
    pub(crate) fn extra(&mut self) -> &mut Batch {
        &mut self.extra
    }

    /// Window closing, actions and the verdict for release `id` as of now, then queue the
    /// notifications its events route to. `all`: re-evaluate every item's rules (else only
    /// `sustained` ones, after a probe result).
    pub(crate) fn settle(&mut self, id: &str, all: bool) -> Result<(), EngineError> {
        let (cfg, now, inner) = (self.cfg.clone(), self.now, self.inner);
        let (rel, fx) = self.rel(id)?;
        settle::settle(&cfg, rel, now, fx, all);
        route(inner, &cfg, rel, now, fx)
    }

    /// Write every change in one transaction, then make it visible; see the module doc.
    pub(crate) fn commit(mut self) -> Result<(), EngineError> {
        let mut batch = std::mem::take(&mut self.extra);
        {
            let work = self.work.as_ref().expect("held");
            for (id, fx) in &mut self.fx {
                if let Some(rel) = work.get(id) {
                    batch.extend(fx.batch(rel));
                }
            }
        }
        self.inner.write(&batch)?;
        self.committed = true;
        let inner = self.inner;
        let mut closed = vec![];
        let mut outbox = !batch.outbox.is_empty();
        {
            let work = self.work.as_ref().expect("held");
            for (id, fx) in &self.fx {
                let Some(rel) = work.get(id) else { continue };
                inner.publish(rel, fx.seen() || self.created.contains(id));
                if !rel.release.state.is_active() && fx.release_changed {
                    closed.push(id.clone());
                }
                outbox |= !fx.outbox.is_empty();
            }
        }
        if let Some((cfg, rt)) = self.reload.take() {
            inner.swap_config(cfg, rt);
        }
        // Unlock before the slower after-effects; they read published state only.
        self.work = None;
        if outbox {
            inner.outbox_wake.notify_one();
        }
        for id in &closed {
            inner.stop_release(id);
        }
        for id in std::mem::take(&mut self.restart) {
            runner::start_release(inner, &id);
        }
        for fx in std::mem::take(&mut self.fx).into_values() {
            inner.emit(fx.events);
        }
        Ok(())
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let Some(work) = self.work.as_mut() else { return };
        let published = self.inner.state();
        for id in self.fx.keys() {
            match published.get(id) {
                Some(snap) if !self.created.contains(id) => {
                    if let Some(rel) = work.get_mut(id) {
                        *rel = (**snap).clone();
                    }
                }
                _ => {
                    work.remove(id);
                }
            }
        }
    }
}

/// Queue notifications for the events in `fx` (with the final report on a verdict). The
/// report's history must be complete: a store that cannot read it fails the change (it is
/// tried again on the next evaluation) rather than send a report missing its history.
fn route(inner: &Inner, cfg: &Config, rel: &Rel, now: DateTime<Utc>, fx: &mut Effects) -> Result<(), EngineError> {
    if fx.events.len() == fx.routed || (cfg.notify.is_empty() && cfg.rollback.is_none()) {
        fx.routed = fx.events.len();
        return Ok(());
    }
    let verdict = fx.events[fx.routed..].iter().any(|e| {
        matches!(e.kind, EventKind::ReleaseVerified | EventKind::ReleaseFailed | EventKind::ReleaseInconclusive)
    });
    let report = if verdict {
        let mut h = inner.store.history(&rel.release.id)?;
        h.extend(fx.history.iter().cloned());
        serde_json::to_value(super::report::build(cfg, rel, &h, now)).ok()
    } else {
        None
    };
    let base = inner.base_url(cfg);
    fx.outbox.extend(super::route::route(cfg, &base, rel, &fx.events[fx.routed..], now, report.as_ref()));
    fx.routed = fx.events.len();
    Ok(())
}
