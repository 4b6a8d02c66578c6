//! Applying results and time to a working copy of a release: item transitions, window
//! closing, action items and the verdict. Pure with respect to I/O: it fills [`Effects`], which
//! the commit path ([`super::txn`]) writes to the store before making the copy current. Every
//! state change goes through [`crate::transition`]; this module only decides which cause to
//! give it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Rel;
use crate::config::{Config, Mode, PassRule};
use crate::event::{Event, EventKind};
use crate::probe::Evidence;
use crate::release::{HistoryRecord, ItemEvidence, ItemState, ReleaseState, ResultRecord, State};
use crate::rules;
use crate::store::Batch;
use crate::transition::{self, Cause, Refused};

/// What one step changed: rows to write and events to announce after the write.
#[derive(Default)]
pub(crate) struct Effects {
    pub results: Vec<ResultRecord>,
    pub history: Vec<HistoryRecord>,
    pub events: Vec<Event>,
    pub items: BTreeSet<String>,
    pub release_changed: bool,
    /// Notifications to queue, written with the change that caused them.
    pub outbox: Vec<crate::store::OutboxRecord>,
    /// Outbox rows delivered (removed with the change they cause).
    pub delivered: Vec<i64>,
    /// How many of `events` were settled and routed already (a change may settle a release
    /// several times, e.g. one group of results; each event is handled once).
    pub routed: usize,
}

impl Effects {
    /// The batch to write for `rel`, moving the results out of `self` (the rest is copied:
    /// history and outbox rows are rare and still needed after the write).
    pub fn batch(&mut self, rel: &Rel) -> Batch {
        Batch {
            releases: if self.release_changed { vec![rel.release.clone()] } else { vec![] },
            items: self.items.iter().filter_map(|i| rel.items.get(i).map(|r| (**r).clone())).collect(),
            results: std::mem::take(&mut self.results),
            history: self.history.clone(),
            outbox: self.outbox.clone(),
            delivered: self.delivered.clone(),
            ..Default::default()
        }
    }

    /// Whether a state people see changed (an item's or the release's), not only results.
    pub fn seen(&self) -> bool {
        !self.history.is_empty() || self.release_changed
    }

    pub fn event(
        &mut self,
        rel: &Rel,
        kind: EventKind,
        item: Option<&str>,
        probe: Option<&str>,
        at: DateTime<Utc>,
        message: String,
    ) {
        self.events.push(Event {
            kind,
            release: rel.release.id.clone(),
            item: item.map(String::from),
            probe: probe.map(String::from),
            at,
            message,
            evidence: None,
        });
    }

    /// Record a transition of `rel` (or one of its items): the history row, the events it
    /// announces (with the item's evidence), the regression flag that extends the window.
    pub fn changed(&mut self, rel: &mut Rel, h: HistoryRecord, probe: Option<&str>) {
        let state = |s: Option<State>| match s {
            Some(State::Item(s)) => s.as_str(),
            Some(State::Release(s)) => s.as_str(),
            None => "new",
        };
        match &h.item_id {
            Some(item) => {
                self.items.insert(item.clone());
                if h.to == State::Item(ItemState::Regressed)
                    && rel.release.state == ReleaseState::Deployed
                    && !rel.release.regressed
                {
                    rel.release.regressed = true;
                    self.release_changed = true;
                }
            }
            None => self.release_changed = true,
        }
        for kind in transition::events(&h) {
            let message = match (&h.item_id, kind) {
                (Some(item), _) => format!("{item}: {} → {} ({})", state(h.from), state(Some(h.to)), h.message),
                (None, EventKind::ReleaseStarted) => format!("release {} started", rel.release.id),
                (None, EventKind::ReleaseDeployed) => format!("release {} deployed", rel.release.id),
                (None, _) => format!("{} {}: {}", rel.release.id, state(Some(h.to)), h.message),
            };
            self.event(rel, kind, h.item_id.as_deref(), probe, h.at, message);
            let evidence = h.item_id.as_ref().and_then(|i| rel.items.get(i)?.evidence.as_ref());
            if let (Some(e), Some(ev)) = (self.events.last_mut(), evidence) {
                e.evidence = Some(ev.evidence.clone());
            }
        }
        self.history.push(h);
    }
}

/// A cause for an item, with the sentence and evidence history and events will show.
pub(crate) struct Step {
    pub cause: Cause,
    pub message: String,
    pub evidence: Option<ItemEvidence>,
}

impl Step {
    /// An action item (`on: EVENT`) is done: its event happened or its notification was
    /// delivered (`status_code` of the receiver's answer). The table ticks only pending items.
    pub fn action(cause: Cause, message: String, status_code: Option<u16>) -> Step {
        let target = match &cause {
            Cause::Action { receiver, .. } => receiver.clone(),
            _ => None,
        };
        let evidence = Evidence { message: message.clone(), status_code, target, ..Default::default() };
        Step { cause, message, evidence: Some(ItemEvidence { probe: None, status: None, evidence }) }
    }
}

/// Move item `id` of `rel` by `step.cause` (through the transition table) and record the
/// change. `Ok(false)`: nothing changed.
pub(crate) fn move_item(
    cfg: &Config,
    rel: &mut Rel,
    id: &str,
    step: Step,
    now: DateTime<Utc>,
    fx: &mut Effects,
) -> Result<bool, Refused> {
    let Step { cause, message, evidence } = step;
    let Some(rec) = rel.items.get_mut(id) else { return Ok(false) };
    let probe = match &cause {
        Cause::Rule { probe, .. } => probe.clone(),
        _ => None,
    };
    // Decide on the shared record first: a change-less step copies nothing.
    if transition::item(Some(rec.state), transition::facts(rec, cfg.is_bound(id)), &cause)?.is_none() {
        return Ok(false);
    }
    let h = transition::apply_item(Arc::make_mut(rec), cfg.is_bound(id), cause, message, evidence, now)?;
    let Some(h) = h else { return Ok(false) };
    fx.changed(rel, h, probe.as_deref());
    Ok(true)
}

/// Apply one probe result to every item bound to that probe (`shadow` bindings only record it).
pub(crate) fn apply_result(cfg: &Config, rel: &mut Rel, result: ResultRecord, fx: &mut Effects) {
    let at = result.at;
    // `no_data: wait`: recorded, but no observation at all (neither a measurement nor an error).
    let waiting = result.evidence.details.get("no_data").is_some_and(|v| v == "wait");
    let watch = rules::Watch::of(&rel.release);
    for (id, b) in cfg.acting() {
        if waiting || !b.probes.contains(&result.probe) {
            continue;
        }
        let Some(item) = rel.items.get_mut(id) else { continue };
        let decision = rules::observe(b, Arc::make_mut(item), &result.probe, result.status, at, watch);
        fx.items.insert(id.clone());
        let Some((cause, mut why)) = decision else { continue };
        let evidence = match cause {
            // Unknown keeps the last good evidence (shown as old); the error is in the sentence.
            Cause::Unmeasured { .. } => {
                why = format!("{why}: {}", result.evidence.message);
                None
            }
            _ => Some(ItemEvidence {
                probe: Some(result.probe.clone()),
                status: Some(result.status),
                evidence: result.evidence.clone(),
            }),
        };
        // Rules only give causes the table takes for an automated item: never refused.
        let _ = move_item(cfg, rel, id, Step { cause, message: why, evidence }, at, fx);
    }
    rel.last.insert(result.probe.clone(), Arc::new(result.clone()));
    fx.results.push(result);
}

/// Items that are stale at `now` become `unknown` before a verdict is reached (no result
/// may have said so yet: after a restart, or when probes stopped answering at all).
fn mark_stale(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects) {
    let watch = rules::Watch::of(&rel.release);
    for (id, b) in cfg.acting().filter(|(_, b)| !b.probes.is_empty()) {
        let Some(item) = rel.items.get(id) else { continue };
        if !matches!(item.state, ItemState::Pending | ItemState::Complete) {
            continue;
        }
        let Some(since) = rules::stale_since(item, now, watch.origin, b.stale_after) else { continue };
        let last = b.probes.iter().filter_map(|p| rel.last.get(p)).max_by_key(|r| r.at);
        let error = last.filter(|r| r.at > since).map(|r| r.evidence.message.clone());
        let message = format!(
            "{}: {}",
            rules::unmeasured_since(since),
            error.unwrap_or_else(|| "no result since (was shipwatch down?)".into())
        );
        let step = Step { cause: Cause::Unmeasured { since }, message, evidence: None };
        let _ = move_item(cfg, rel, id, step, now, fx);
    }
}

/// The automated items as the verdict judges them.
fn judged<'a>(cfg: &'a Config, rel: &Rel, now: DateTime<Utc>) -> Vec<rules::Judged<'a>> {
    cfg.acting()
        .filter(|(_, b)| !b.probes.is_empty())
        .filter_map(|(id, b)| {
            let item = rel.items.get(id)?;
            Some(rules::Judged {
                id: id.as_str(),
                state: item.state,
                mode: b.mode,
                coverage: rules::coverage(item, &rel.release, now, b.stale_after),
                min_coverage: b.min_coverage,
            })
        })
        .collect()
}

/// Window closing, action items and the verdict, as of `now`.
///
/// `all`: re-evaluate every item's rules. After a probe result (`all = false`) only `sustained`
/// rules can have changed with time; the result's own items were evaluated as it was applied.
pub(crate) fn settle(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects, all: bool) {
    if rel.release.state == ReleaseState::Deployed {
        // `sustained` rules complete with time, not only with results.
        for (id, b) in cfg.acting().filter(|(_, b)| all || matches!(b.pass, PassRule::Sustained(_))) {
            let Some((met, why)) = rel.items.get(id).and_then(|item| rules::decide_item(b, item, now)) else {
                continue;
            };
            // The evidence is the latest result of the item's probes.
            let latest = b.probes.iter().filter_map(|p| rel.last.get(p)).max_by_key(|r| r.at);
            let ev = latest.map(|r| ItemEvidence {
                probe: Some(r.probe.clone()),
                status: Some(r.status),
                evidence: r.evidence.clone(),
            });
            let step = Step { cause: Cause::Rule { met, probe: None }, message: why, evidence: ev };
            let _ = move_item(cfg, rel, id, step, now, fx);
        }
        if rel.release.at(rel.release.window_min).is_some_and(|min| now >= min) {
            mark_stale(cfg, rel, now, fx);
        }
        if rules::window_closed(&rel.release, now) {
            for (id, b) in cfg.acting() {
                let Some(why) = rel.items.get(id).and_then(|item| rules::decide_close(b, item)) else { continue };
                let ev = ItemEvidence {
                    probe: None,
                    status: None,
                    evidence: Evidence { message: why.clone(), ..Default::default() },
                };
                let step = Step { cause: Cause::WindowClosed, message: why, evidence: Some(ev) };
                let _ = move_item(cfg, rel, id, step, now, fx);
            }
        }
        let aborting = cfg
            .acting()
            .find(|(id, b)| {
                b.fail.abort
                    && b.mode == Mode::Gate
                    && rel.items.get(*id).is_some_and(|i| matches!(i.state, ItemState::Failing | ItemState::Regressed))
            })
            .map(|(id, _)| id.as_str());
        let items = judged(cfg, rel, now);
        if let Some((to, reason)) = rules::verdict(&rel.release, &items, aborting, now)
            && let Ok(Some(h)) = transition::apply_release(&mut rel.release, Cause::Verdict { to }, reason, now)
        {
            fx.changed(rel, h, None);
        }
    }
    tick_actions(cfg, rel, now, fx);
}

/// Items bound with `on: EVENT` and no receivers tick when that event happens for their
/// release (those with receivers tick when their notification is delivered).
fn tick_actions(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects) {
    let mut i = fx.routed;
    while i < fx.events.len() {
        let (kind, at) = (fx.events[i].kind, fx.events[i].at);
        i += 1;
        for (id, b) in &cfg.items {
            if b.on != Some(kind) || !b.notify.is_empty() {
                continue;
            }
            let message = format!("event {} at {}", kind.as_str(), at.format("%Y-%m-%d %H:%M:%S UTC"));
            let step = Step::action(Cause::Action { event: kind, receiver: None }, message, None);
            let _ = move_item(cfg, rel, id, step, now, fx);
        }
    }
}
