//! Engine operations: recovering state at start, creating and deploying releases, ticks and
//! waivers. Every mutation goes through [`Inner::mutate`]: change the working copy, write the
//! batch, then publish the copy and announce its events (probe results take the same steps in
//! groups, in `record.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::settle::{self, Effects};
use super::{Engine, EngineError, Inner, Rel, runner};
use crate::checklist::slug;
use crate::config::{Config, Window};
use crate::event::EventKind;
use crate::probe::{Dur, Evidence};
use crate::release::{HistoryRecord, ItemEvidence, ItemRecord, ItemState, Release, ReleaseState};
use crate::rules::Change;

/// Body of `POST /api/v1/releases`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    pub service: String,
    pub version: String,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub deployed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub planned: bool,
    #[serde(default)]
    pub window: Option<WindowOverride>,
}

/// A per-release window, overriding the config's.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WindowOverride {
    pub min: Option<Dur>,
    pub max: Option<Dur>,
}

fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid { field: field.into(), message: message.into() }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+/:@".contains(c))
}

/// Fresh item records for a release: automated items pending, the rest manual; items pre-ticked
/// in the checklist start complete.
pub(crate) fn initial_items(cfg: &Config, release_id: &str, now: DateTime<Utc>) -> BTreeMap<String, ItemRecord> {
    cfg.checklist
        .items
        .iter()
        .map(|it| {
            let bound = cfg.is_bound(&it.id);
            let (state, by) = match (it.checked, bound) {
                (true, _) => (ItemState::Complete, Some("checklist".to_string())),
                (false, true) => (ItemState::Pending, None),
                (false, false) => (ItemState::Manual, None),
            };
            let rec = ItemRecord {
                release_id: release_id.to_string(),
                item_id: it.id.clone(),
                state,
                since: now,
                by,
                note: it.checked.then(|| "pre-ticked in the checklist".to_string()),
                evidence: None,
                tracks: Default::default(),
                ever_complete: it.checked,
            };
            (it.id.clone(), rec)
        })
        .collect()
}

impl Inner {
    /// Run `f` on the working copy of release `id`, settle it, store the changes, then publish
    /// them; on any error the copy goes back to what was last stored.
    pub(crate) fn mutate<T>(
        &self,
        id: &str,
        f: impl FnOnce(&Config, &mut Rel, DateTime<Utc>, &mut Effects) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let cfg = self.config();
        let now = self.clock.now();
        let mut work = self.work();
        let rel = work.get_mut(id).ok_or_else(|| EngineError::NotFound(format!("no release '{id}'")))?;
        let was_active = rel.release.state.is_active();
        let mut fx = Effects::default();
        let res = f(&cfg, rel, now, &mut fx).and_then(|out| {
            settle::settle(&cfg, rel, now, &mut fx, true);
            self.route(&cfg, rel, now, &mut fx);
            self.write(&fx.batch(rel))?;
            Ok(out)
        });
        let out = match res {
            Ok(out) => out,
            Err(e) => {
                self.restore(rel);
                return Err(e);
            }
        };
        let closed = was_active && !rel.release.state.is_active();
        self.publish(rel, fx.seen());
        drop(work);
        if !fx.outbox.is_empty() {
            self.outbox_wake.notify_one();
        }
        if closed {
            self.stop_release(id);
        }
        self.emit(fx.events);
        Ok(out)
    }

    /// Queue notifications for the events in `fx` (with the final report on a verdict).
    pub(crate) fn route(&self, cfg: &Config, rel: &Rel, now: DateTime<Utc>, fx: &mut Effects) {
        if fx.events.is_empty() || (cfg.notify.is_empty() && cfg.rollback.is_none()) {
            return;
        }
        let verdict = fx.events.iter().any(|e| matches!(e.kind, EventKind::ReleaseVerified | EventKind::ReleaseFailed));
        let report = verdict.then(|| {
            let mut h = self.store.history(&rel.release.id).unwrap_or_default();
            h.extend(fx.history.iter().cloned());
            super::report::build(cfg, rel, &h, now)
        });
        fx.outbox.extend(super::route::route(cfg, &self.base_url(cfg), rel, &fx.events, now, report.as_ref()));
    }

    /// Re-evaluate a release as time passes (window timers).
    pub(crate) fn evaluate(&self, id: &str) {
        if let Err(e) = self.mutate(id, |_, _, _, _| Ok(())) {
            tracing::warn!(release = id, error = %e, "evaluation not stored");
        }
    }
}

impl Engine {
    /// Load every release from the store, add records for checklist items new since, and
    /// resume watching active releases (closing windows that ended while we were down).
    pub(crate) fn recover(&self) -> Result<(), EngineError> {
        let inner = &self.0;
        let cfg = inner.config();
        let now = inner.clock.now();
        let mut active = vec![];
        for release in inner.store.releases()? {
            let mut items: BTreeMap<String, Arc<ItemRecord>> =
                inner.store.items(&release.id)?.into_iter().map(|i| (i.item_id.clone(), Arc::new(i))).collect();
            let mut added = vec![];
            for (k, v) in initial_items(&cfg, &release.id, now) {
                if !items.contains_key(&k) && release.state.is_active() {
                    added.push(v.clone());
                    items.insert(k, Arc::new(v));
                }
            }
            let mut last = BTreeMap::new();
            for r in inner.store.results(&release.id, None, 200)?.into_iter().rev() {
                last.insert(r.probe.clone(), Arc::new(r));
            }
            if !added.is_empty() {
                inner.write(&crate::store::Batch { items: added, ..Default::default() })?;
            }
            if release.state.is_active() {
                active.push(release.id.clone());
            }
            let rel = Rel { release, items, last };
            inner.publish(&rel, true);
            inner.work().insert(rel.release.id.clone(), rel);
        }
        tracing::info!(releases = inner.state().len(), active = active.len(), "state recovered from store");
        for id in active {
            inner.evaluate(&id);
            runner::start_release(&self.0, &id);
        }
        Ok(())
    }

    /// Start watching a new release.
    pub fn create_release(&self, req: NewRelease) -> Result<super::ReleaseView, EngineError> {
        let inner = &self.0;
        let cfg = inner.config();
        let now = inner.clock.now();
        if !valid_name(&req.service) {
            return Err(invalid("service", "must be 1-128 characters of letters, digits and . _ - + / : @"));
        }
        if !valid_name(&req.version) {
            return Err(invalid("version", "must be 1-128 characters of letters, digits and . _ - + / : @"));
        }
        let environment = req.environment.clone().unwrap_or_else(|| "production".into());
        if !valid_name(&environment) {
            return Err(invalid("environment", "must be 1-128 characters of letters, digits and . _ - + / : @"));
        }
        if req.planned && req.deployed_at.is_some() {
            return Err(invalid(
                "deployed_at",
                "a planned release has no deployed_at yet; deploy it with POST .../deploy",
            ));
        }
        if let Some(d) = req.deployed_at
            && d > now + chrono::Duration::minutes(5)
        {
            return Err(invalid("deployed_at", "is in the future"));
        }
        let window = merge_window(cfg.window, req.window.as_ref())?;
        let base = format!("{}-{}", slug(&req.service), slug(&req.version));
        let mut state = inner.work();
        let id = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
            .find(|c| !state.contains_key(c))
            .unwrap_or(base);
        let release = Release {
            id: id.clone(),
            service: req.service.clone(),
            version: req.version.clone(),
            environment,
            state: if req.planned { ReleaseState::Planned } else { ReleaseState::Deployed },
            created_at: now,
            deployed_at: if req.planned { None } else { Some(req.deployed_at.unwrap_or(now)) },
            window_min: window.min.0,
            window_max: window.max.0,
            regressed: false,
            closed_at: None,
            reason: None,
        };
        let items = initial_items(&cfg, &id, now).into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        let rel = Rel { items, release, last: BTreeMap::new() };
        let history = HistoryRecord {
            release_id: id.clone(),
            item_id: None,
            at: now,
            from: String::new(),
            to: rel.release.state.as_str().into(),
            message: format!("release {} {} started", rel.release.service, rel.release.version),
        };
        let mut fx = Effects::default();
        fx.event(&rel, EventKind::ReleaseStarted, None, None, now, format!("release {id} started"));
        if rel.release.state == ReleaseState::Deployed {
            fx.event(&rel, EventKind::ReleaseDeployed, None, None, now, format!("release {id} deployed"));
        }
        inner.route(&cfg, &rel, now, &mut fx);
        let batch = crate::store::Batch {
            releases: vec![rel.release.clone()],
            items: rel.items.values().map(|i| (**i).clone()).collect(),
            history: vec![history],
            outbox: fx.outbox.clone(),
            ..Default::default()
        };
        inner.write(&batch)?;
        if !fx.outbox.is_empty() {
            inner.outbox_wake.notify_one();
        }
        inner.publish(&rel, true);
        state.insert(id.clone(), rel);
        drop(state);
        inner.emit(fx.events);
        inner.evaluate(&id);
        runner::start_release(inner, &id);
        self.release(&id)
    }

    /// A planned release is deployed now: its window starts.
    pub fn deploy(&self, id: &str) -> Result<super::ReleaseView, EngineError> {
        self.0.mutate(id, |_, rel, now, fx| {
            if rel.release.state != ReleaseState::Planned {
                return Err(EngineError::Conflict(format!(
                    "release '{id}' is {}, not planned",
                    rel.release.state.as_str()
                )));
            }
            rel.release.state = ReleaseState::Deployed;
            rel.release.deployed_at = Some(now);
            fx.release_changed = true;
            fx.event(rel, EventKind::ReleaseDeployed, None, None, now, format!("release {id} deployed"));
            Ok(())
        })?;
        runner::start_release(&self.0, id);
        self.release(id)
    }

    /// A person ticks a manual item.
    pub fn tick(&self, id: &str, item: &str, by: &str, note: Option<String>) -> Result<super::ItemView, EngineError> {
        if by.trim().is_empty() {
            return Err(invalid("by", "say who ticks the item"));
        }
        self.person(id, item, ItemState::Complete, by, note, |cfg, _rec| {
            if cfg.is_bound(item) {
                return Err(EngineError::Conflict(format!(
                    "item '{item}' is automated: shipwatch ticks it when its evidence holds; use waive to override it"
                )));
            }
            Ok(())
        })
    }

    /// A person waives an item, with a reason.
    pub fn waive(&self, id: &str, item: &str, by: &str, reason: &str) -> Result<super::ItemView, EngineError> {
        if by.trim().is_empty() {
            return Err(invalid("by", "say who waives the item"));
        }
        if reason.trim().is_empty() {
            return Err(invalid("reason", "a waiver needs a reason"));
        }
        self.person(id, item, ItemState::Waived, by, Some(reason.to_string()), |_, _| Ok(()))
    }

    fn person(
        &self,
        id: &str,
        item: &str,
        to: ItemState,
        by: &str,
        note: Option<String>,
        check: impl FnOnce(&Config, &ItemRecord) -> Result<(), EngineError>,
    ) -> Result<super::ItemView, EngineError> {
        self.0.mutate(id, |cfg, rel, now, fx| {
            let rec = rel.items.get_mut(item).ok_or_else(|| {
                let hint = crate::config::error::nearest(item, cfg.checklist.items.iter().map(|i| i.id.as_str()));
                EngineError::NotFound(format!(
                    "no item '{item}' in release '{id}'{}",
                    hint.map(|h| format!("; did you mean '{h}'?")).unwrap_or_default()
                ))
            })?;
            check(cfg, rec)?;
            let rec = std::sync::Arc::make_mut(rec);
            let from = rec.state;
            rec.state = to;
            rec.since = now;
            rec.by = Some(by.to_string());
            rec.note = note.clone();
            if to == ItemState::Complete {
                rec.ever_complete = true;
            }
            let verb = if to == ItemState::Waived { "waived" } else { "ticked" };
            let message = format!("{verb} by {by}{}", note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
            let ev = ItemEvidence {
                probe: None,
                status: None,
                evidence: Evidence { message: message.clone(), ..Default::default() },
            };
            settle::record_change(rel, item, None, Change { from, to, message }, Some(ev), now, fx);
            Ok(())
        })?;
        self.item(id, item)
    }
}

fn merge_window(base: Window, o: Option<&WindowOverride>) -> Result<Window, EngineError> {
    let mut w = base;
    if let Some(o) = o {
        if let Some(m) = o.min {
            w.min = m;
        }
        if let Some(m) = o.max {
            w.max = m;
        }
    }
    if w.max.0 < w.min.0 {
        return Err(invalid("window", "max is shorter than min"));
    }
    if w.max.0 < Duration::from_secs(1) {
        return Err(invalid("window.max", "must be at least 1s"));
    }
    Ok(w)
}
