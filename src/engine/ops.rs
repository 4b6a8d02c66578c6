//! Engine operations: recovering state at start, creating and deploying releases, ticks and
//! waivers. Every one is a [`super::txn::Txn`]: change the working copies through the
//! transition table, settle, then commit (write, publish, announce). Probe results take the
//! same path in groups (`record.rs`), reloads in `reload.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::settle::{self, Effects, Step};
use super::{Engine, EngineError, Inner, Rel};
use crate::config::Config;
use crate::probe::Evidence;
use crate::release::{ItemEvidence, ItemRecord};
use crate::transition::{self, Cause};
use crate::validate;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid { field: field.into(), message: message.into() }
}

/// A field checked by `crate::validate`, as a 422 naming it.
pub(crate) fn checked(field: &str, r: Result<(), String>) -> Result<(), EngineError> {
    r.map_err(|message| invalid(field, message))
}

/// Fresh item records for a release: automated items pending, the rest manual; items pre-ticked
/// in the checklist start complete.
pub(crate) fn initial_items(cfg: &Config, release_id: &str, now: DateTime<Utc>) -> BTreeMap<String, Arc<ItemRecord>> {
    cfg.checklist
        .items
        .iter()
        .map(|it| {
            let rec = transition::new_item(release_id, &it.id, cfg.is_bound(&it.id), it.checked, now);
            (it.id.clone(), Arc::new(rec))
        })
        .collect()
}

/// Bring an active release in line with the config in force: records for checklist items it
/// lacks, and items whose binding changed move between manual and pending (with history and
/// an `item.rebound` event). `why` says what changed the config (a reload, a restart).
pub(crate) fn reconcile(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects, why: &str) {
    if !rel.release.state.is_active() {
        return;
    }
    for it in &cfg.checklist.items {
        if !rel.items.contains_key(&it.id) {
            let rec = transition::new_item(&rel.release.id, &it.id, cfg.is_bound(&it.id), it.checked, now);
            rel.items.insert(it.id.clone(), Arc::new(rec));
            fx.items.insert(it.id.clone());
        }
    }
    let ids: Vec<String> = rel.items.keys().cloned().collect();
    for id in ids {
        let bound = cfg.is_bound(&id);
        let message = if bound { format!("probes bound by {why}") } else { format!("probes unbound by {why}") };
        let step = Step { cause: Cause::Rebind { bound }, message, evidence: None };
        let _ = settle::move_item(cfg, rel, &id, step, now, fx);
    }
}

/// "no release 'x'" with the nearest existing id, if one is close.
pub(crate) fn no_release<'a>(id: &str, ids: impl IntoIterator<Item = &'a String>) -> EngineError {
    let hint = crate::config::error::nearest(id, ids.into_iter().map(String::as_str));
    EngineError::NotFound(format!(
        "no release '{id}'{}",
        hint.map(|h| format!("; did you mean '{h}'? (list releases with GET /api/v1/releases)")).unwrap_or_default()
    ))
}

/// A `std` duration as a `chrono` one (saturating).
pub(crate) fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Inner {
    /// Release `id` as stored, with its items and each probe's latest result, if stored.
    pub(crate) fn load(&self, id: &str) -> Result<Option<Rel>, EngineError> {
        match self.store.release(id)? {
            Some(release) => Ok(Some(self.rel_of(release)?)),
            None => Ok(None),
        }
    }

    /// Release `id` as last stored: the published snapshot, or (a closed release that left
    /// memory) read from the store, without keeping it. Blocking on a miss.
    pub(crate) fn snapshot(&self, id: &str) -> Result<Arc<Rel>, EngineError> {
        if let Some(rel) = self.state().get(id) {
            return Ok(rel.clone());
        }
        match self.load(id)? {
            Some(rel) => Ok(Arc::new(rel)),
            None => Err(no_release(id, self.state().keys())),
        }
    }

    /// `release` with its stored items and each probe's latest result.
    pub(crate) fn rel_of(&self, release: crate::release::Release) -> Result<Rel, EngineError> {
        let items = self.store.items(&release.id)?.into_iter().map(|i| (i.item_id.clone(), Arc::new(i))).collect();
        let last =
            self.store.latest_results(&release.id)?.into_iter().map(|r| (r.probe.clone(), Arc::new(r))).collect();
        Ok(Rel { release, items, last })
    }

    /// Run `f` on the working copy of release `id`, settle it and commit; on any error the copy
    /// goes back to what was last stored.
    pub(crate) fn mutate<T>(
        self: &Arc<Self>,
        id: &str,
        f: impl FnOnce(&Config, &mut Rel, DateTime<Utc>, &mut Effects) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut txn = self.txn();
        let (cfg, now) = (txn.cfg.clone(), txn.now);
        let (rel, fx) = txn.rel(id)?;
        let out = f(&cfg, rel, now, fx)?;
        txn.settle(id, true)?;
        txn.commit()?;
        Ok(out)
    }

    /// Re-evaluate a release as time passes (window timers).
    pub(crate) fn evaluate(self: &Arc<Self>, id: &str) {
        if let Err(e) = self.mutate(id, |_, _, _, _| Ok(())) {
            tracing::warn!(release = id, error = %e, "evaluation not stored");
        }
    }
}

impl Engine {
    /// Load every release from the store, bring active ones in line with the config (new
    /// checklist items, changed bindings), settle them (closing windows that ended while we
    /// were down) and resume watching them: one transaction.
    pub(crate) fn recover(&self) -> Result<(), EngineError> {
        let inner = &self.0;
        let mut txn = inner.txn();
        let (cfg, now) = (txn.cfg.clone(), txn.now);
        let mut active = vec![];
        // Active releases, and closed ones still inside `storage.keep_closed`; older ones stay
        // in the store and are read from it when asked for.
        for release in inner.store.releases_recent(now - chrono_of(cfg.storage.keep_closed.0))? {
            let mut rel = inner.rel_of(release)?;
            let mut fx = Effects::default();
            reconcile(&cfg, &mut rel, now, &mut fx, "a config change while shipwatch was down");
            if rel.release.state.is_active() {
                active.push(rel.release.id.clone());
            }
            txn.insert(rel, fx);
        }
        for id in &active {
            txn.settle(id, true)?;
            txn.restart(id);
        }
        let total = txn.ids().len();
        txn.commit()?;
        tracing::info!(releases = total, active = active.len(), "state recovered from store");
        Ok(())
    }

    /// A planned release is deployed now: its window starts.
    pub fn deploy(&self, id: &str) -> Result<super::ReleaseView, EngineError> {
        self.deploy_from(id, None, None)
    }

    /// [`Engine::deploy`] by a deployment that names what it deployed: the release takes the
    /// `commit` and `origin` it did not have yet (never replacing one it has).
    pub fn deploy_from(
        &self,
        id: &str,
        commit: Option<String>,
        origin: Option<crate::release::Origin>,
    ) -> Result<super::ReleaseView, EngineError> {
        let commit = commit.map(|c| c.to_ascii_lowercase());
        if let Some(c) = &commit {
            checked("commit", validate::commit(c))?;
        }
        let mut txn = self.0.txn();
        let now = txn.now;
        let (rel, fx) = txn.rel(id)?;
        if rel.release.state == crate::release::ReleaseState::Planned {
            rel.release.commit = rel.release.commit.take().or(commit);
            rel.release.origin = rel.release.origin.take().or(origin);
        }
        let h = transition::apply_release(&mut rel.release, Cause::Deploy, format!("release {id} deployed"), now)
            .map_err(|e| EngineError::Conflict(format!("cannot deploy release '{id}': {e}")))?;
        if let Some(h) = h {
            fx.changed(rel, h, None);
        }
        txn.settle(id, true)?;
        txn.restart(id);
        txn.commit()?;
        self.release(id)
    }

    /// A person ticks a manual item. Ticking a complete item changes nothing (no event).
    pub fn tick(&self, id: &str, item: &str, by: &str, note: Option<String>) -> Result<super::ItemView, EngineError> {
        checked("by", validate::person_text("by", by, validate::MAX_BY))?;
        let note = note.filter(|n| !n.is_empty());
        if let Some(n) = &note {
            checked("note", validate::person_text("note", n, validate::MAX_NOTE))?;
        }
        let message = format!("ticked by {by}{}", note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
        self.person(id, item, Cause::Tick { by: by.to_string(), note }, message)
    }

    /// A person waives an item, with a reason. Waiving a waived item changes nothing.
    pub fn waive(&self, id: &str, item: &str, by: &str, reason: &str) -> Result<super::ItemView, EngineError> {
        checked("by", validate::person_text("by", by, validate::MAX_BY))?;
        checked("reason", validate::person_text("reason", reason, validate::MAX_NOTE))?;
        let message = format!("waived by {by}: {reason}");
        self.person(id, item, Cause::Waive { by: by.to_string(), reason: reason.to_string() }, message)
    }

    /// A person's change of item `reference` (its id, or its exact text) of release `id`.
    fn person(&self, id: &str, reference: &str, cause: Cause, message: String) -> Result<super::ItemView, EngineError> {
        let item = self.0.mutate(id, |cfg, rel, now, fx| {
            let item = resolve_item(cfg, rel, id, reference)?;
            let evidence = Evidence { message: message.clone(), ..Default::default() };
            let step = Step { cause, message, evidence: Some(ItemEvidence { probe: None, status: None, evidence }) };
            settle::move_item(cfg, rel, &item, step, now, fx)
                .map_err(|e| EngineError::Conflict(format!("cannot change item '{item}': {e}")))?;
            Ok(item)
        })?;
        self.item(id, &item)
    }
}

/// The item a person means: an item id of the release, or an item's exact text.
fn resolve_item(cfg: &Config, rel: &Rel, release: &str, reference: &str) -> Result<String, EngineError> {
    if rel.items.contains_key(reference) {
        return Ok(reference.to_string());
    }
    match cfg.checklist.resolve(reference) {
        Ok(it) if rel.items.contains_key(&it.id) => Ok(it.id.clone()),
        Ok(_) => Err(EngineError::NotFound(format!("no item '{reference}' in release '{release}'"))),
        Err(hint) => Err(EngineError::NotFound(format!(
            "no item '{reference}' in release '{release}'{}",
            hint.map(|h| format!("; did you mean '{h}'?")).unwrap_or_default()
        ))),
    }
}
