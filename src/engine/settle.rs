//! Applying results and time to a working copy of a release: item transitions, window
//! closing, action items and the verdict. Pure with respect to I/O: it fills [`Effects`], which
//! the caller writes to the store before making the copy current.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Rel;
use crate::config::{Config, PassRule};
use crate::event::{Event, EventKind};
use crate::probe::Evidence;
use crate::release::{HistoryRecord, ItemEvidence, ItemState, ReleaseState, ResultRecord};
use crate::rules::{self, Change};
use crate::store::Batch;

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
        }
    }

    /// Whether a state people see changed (an item's or the release's), not only results.
    pub fn seen(&self) -> bool {
        !self.history.is_empty() || self.release_changed
    }

    /// Fold the effects of a later step on the same release into these.
    pub fn absorb(&mut self, other: Effects) {
        self.results.extend(other.results);
        self.history.extend(other.history);
        self.events.extend(other.events);
        self.items.extend(other.items);
        self.release_changed |= other.release_changed;
        self.outbox.extend(other.outbox);
        self.delivered.extend(other.delivered);
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
}

fn event_for(c: &Change) -> Option<EventKind> {
    use ItemState::*;
    Some(match (c.from, c.to) {
        (Regressed, Complete) => EventKind::ItemRecovered,
        (_, Complete) => EventKind::ItemCompleted,
        (_, Failing) => EventKind::ItemFailing,
        (_, Regressed) => EventKind::ItemRegressed,
        _ => return None,
    })
}

/// Record an item change: history row, event, evidence, regression flag.
pub(crate) fn record_change(
    rel: &mut Rel,
    item: &str,
    probe: Option<&str>,
    change: Change,
    evidence: Option<ItemEvidence>,
    at: DateTime<Utc>,
    fx: &mut Effects,
) {
    if let Some(rec) = rel.items.get_mut(item)
        && evidence.is_some()
    {
        Arc::make_mut(rec).evidence = evidence;
    }
    fx.items.insert(item.to_string());
    fx.history.push(HistoryRecord {
        release_id: rel.release.id.clone(),
        item_id: Some(item.to_string()),
        at,
        from: change.from.as_str().into(),
        to: change.to.as_str().into(),
        message: change.message.clone(),
    });
    if change.to == ItemState::Regressed && rel.release.state == ReleaseState::Deployed && !rel.release.regressed {
        rel.release.regressed = true;
        fx.release_changed = true;
    }
    if let Some(kind) = event_for(&change) {
        let msg = format!("{item}: {} → {} ({})", change.from.as_str(), change.to.as_str(), change.message);
        fx.event(rel, kind, Some(item), probe, at, msg);
        if let (Some(e), Some(rec)) = (fx.events.last_mut(), rel.items.get(item)) {
            e.evidence = rec.evidence.as_ref().map(|ev| ev.evidence.clone());
        }
    }
}

/// Apply one probe result to every item bound to that probe.
pub(crate) fn apply_result(cfg: &Config, rel: &mut Rel, result: ResultRecord, fx: &mut Effects) {
    let at = result.at;
    // `no_data: wait`: recorded, but no observation at all (neither an error nor blindness).
    let waiting = result.evidence.details.get("no_data").is_some_and(|v| v == "wait");
    for (id, b) in &cfg.items {
        if waiting || !b.probes.contains(&result.probe) {
            continue;
        }
        let Some(item) = rel.items.get_mut(id) else { continue };
        let change = rules::observe(b, Arc::make_mut(item), &result.probe, result.status, at);
        fx.items.insert(id.clone());
        if let Some(c) = change {
            let ev = ItemEvidence {
                probe: Some(result.probe.clone()),
                status: Some(result.status),
                evidence: result.evidence.clone(),
            };
            record_change(rel, id, Some(&result.probe), c, Some(ev), at, fx);
        }
    }
    // Blind: the probe could not measure `error_limit` times in a row (announced once per streak).
    if let Some(def) = cfg.probes.get(&result.probe)
        && result.status == crate::probe::Status::Error
        && !waiting
    {
        let streak = rel.error_streak(&result.probe);
        if streak == def.error_limit {
            let msg =
                format!("{}: could not measure {streak} times in a row: {}", result.probe, result.evidence.message);
            fx.event(rel, EventKind::VerifierBlind, None, Some(&result.probe), at, msg);
            if let Some(e) = fx.events.last_mut() {
                e.evidence = Some(result.evidence.clone());
            }
        }
    }
    rel.last.insert(result.probe.clone(), Arc::new(result.clone()));
    fx.results.push(result);
}

/// Window closing, action items and the verdict, as of `now`.
///
/// `all`: re-evaluate every item's rules. After a probe result (`all = false`) only `sustained`
/// rules can have changed with time; the result's own items were evaluated as it was applied.
pub(crate) fn settle(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects, all: bool) {
    if rel.release.state == ReleaseState::Deployed {
        // `sustained` rules complete with time, not only with results.
        for (id, b) in cfg.items.iter().filter(|(_, b)| all || matches!(b.pass, PassRule::Sustained(_))) {
            if let Some(item) = rel.items.get_mut(id)
                && let Some(c) = rules::decide_item(b, item, now)
            {
                rules::apply(Arc::make_mut(item), c.to, now);
                // The evidence is the latest result of the item's probes.
                let latest = b.probes.iter().filter_map(|p| rel.last.get(p)).max_by_key(|r| r.at);
                let ev = latest.map(|r| ItemEvidence {
                    probe: Some(r.probe.clone()),
                    status: Some(r.status),
                    evidence: r.evidence.clone(),
                });
                record_change(rel, id, None, c, ev, now, fx);
            }
        }
        if rules::window_closed(&rel.release, now) {
            for (id, b) in &cfg.items {
                if let Some(item) = rel.items.get_mut(id)
                    && let Some(c) = rules::decide_close(b, item)
                {
                    rules::apply(Arc::make_mut(item), c.to, now);
                    {
                        let ev = ItemEvidence {
                            probe: None,
                            status: None,
                            evidence: Evidence { message: c.message.clone(), ..Default::default() },
                        };
                        record_change(rel, id, None, c, Some(ev), now, fx);
                    }
                }
            }
        }
        let automated: Vec<ItemState> = cfg
            .items
            .iter()
            .filter(|(_, b)| !b.probes.is_empty())
            .filter_map(|(id, _)| rel.items.get(id).map(|i| i.state))
            .collect();
        let aborting = cfg
            .items
            .iter()
            .find(|(id, b)| {
                b.fail.abort
                    && rel.items.get(*id).is_some_and(|i| matches!(i.state, ItemState::Failing | ItemState::Regressed))
            })
            .map(|(id, _)| id.as_str());
        if let Some((state, reason)) = rules::verdict(&rel.release, &automated, aborting, now) {
            let from = rel.release.state;
            rel.release.state = state;
            rel.release.closed_at = Some(now);
            rel.release.reason = Some(reason.clone());
            fx.release_changed = true;
            fx.history.push(HistoryRecord {
                release_id: rel.release.id.clone(),
                item_id: None,
                at: now,
                from: from.as_str().into(),
                to: state.as_str().into(),
                message: reason.clone(),
            });
            let kind =
                if state == ReleaseState::Verified { EventKind::ReleaseVerified } else { EventKind::ReleaseFailed };
            fx.event(rel, kind, None, None, now, format!("{} {}: {reason}", rel.release.id, state.as_str()));
        }
    }
    tick_actions(cfg, rel, now, fx);
}

/// Items bound with `on: EVENT` tick when that event happens for their release.
fn tick_actions(cfg: &Config, rel: &mut Rel, now: DateTime<Utc>, fx: &mut Effects) {
    let mut i = 0;
    while i < fx.events.len() {
        let ev = fx.events[i].clone();
        i += 1;
        for (id, b) in &cfg.items {
            // Action items with receivers tick when their notification is delivered.
            if b.on != Some(ev.kind) || !b.notify.is_empty() {
                continue;
            }
            if rel.items.get(id).is_none_or(|i| i.state != ItemState::Pending) {
                continue;
            }
            let message = format!("event {} at {}", ev.kind.as_str(), ev.at.format("%Y-%m-%d %H:%M:%S UTC"));
            tick_action(rel, id, Evidence { message, ..Default::default() }, now, fx);
        }
    }
}

/// An action item (`on: EVENT`) is done: pending → complete, by shipwatch, with `evidence`
/// (the event, or the delivery that ticked it). No-op unless the item is pending.
pub(crate) fn tick_action(rel: &mut Rel, item: &str, evidence: Evidence, now: DateTime<Utc>, fx: &mut Effects) {
    let Some(rec) = rel.items.get_mut(item).filter(|r| r.state == ItemState::Pending) else { return };
    let rec = Arc::make_mut(rec);
    rec.state = ItemState::Complete;
    rec.since = now;
    rec.ever_complete = true;
    rec.by = Some("shipwatch".into());
    let message = evidence.message.clone();
    let ev = ItemEvidence { probe: None, status: None, evidence };
    let change = Change { from: ItemState::Pending, to: ItemState::Complete, message };
    record_change(rel, item, None, change, Some(ev), now, fx);
}
