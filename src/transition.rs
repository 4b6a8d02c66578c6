//! The state machine: the one place where an item's or a release's state changes.
//!
//! Every change has a typed [`Cause`]: a probe result meeting a rule, time passing, the window
//! closing, a person's tick or waiver, an action's event or delivery, a reload rebinding an
//! item, a deploy, a verdict. [`item`] and [`release`] are the transition tables: given the
//! current state and the cause they answer the new state, "nothing changes", or a refusal.
//! [`apply_item`] and [`apply_release`] are the only code that assigns a state; each returns
//! the [`HistoryRecord`] of the change, which the engine stores and announces.
//!
//! Who ticked an item is part of its cause (`Tick { by }`), never a magic `by` string: a
//! person called `checklist` or `shipwatch` is still a person.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::release::{HistoryRecord, ItemEvidence, ItemRecord, ItemState, Release, ReleaseSpec, ReleaseState, State};

/// Which rule of a binding the evidence met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Met {
    Pass,
    Fail,
}

/// Why a state changed. Stored with every item record and history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// The item record was created with its release (or when the checklist gained it).
    Created,
    /// The release was started (`planned` ones wait for their deploy).
    Started { planned: bool },
    /// The item is pre-ticked (`[x]`) in the checklist.
    Checklist,
    /// Probe evidence met the binding's pass or fail rule. `probe` is the probe whose result
    /// decided; none when time passing decided (`sustained`).
    Rule {
        met: Met,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        probe: Option<String>,
    },
    /// The window closed with no failure across it (`pass: {window: true}`).
    WindowClosed,
    /// A person ticked the item.
    Tick {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A person waived the item.
    Waive { by: String, reason: String },
    /// The action item's event happened (`on: EVENT`), or, when `receiver` is set, its
    /// notification was delivered there.
    Action {
        event: EventKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receiver: Option<String>,
    },
    /// A reload (or a restart with a changed config) bound probes to the item or unbound them.
    Rebind { bound: bool },
    /// A planned release was deployed.
    Deploy,
    /// Every bound probe has been unable to measure since `since` (longer than the item's
    /// `stale_after`): the item is `unknown`.
    Unmeasured { since: DateTime<Utc> },
    /// Measurements of an `unknown` item resumed without meeting a rule yet: back to pending.
    Measured,
    /// The rules reached the release's verdict.
    Verdict { to: ReleaseState },
    /// A person gave the verdict: settled an inconclusive release, or ended an open one early
    /// (a manual promote or abort).
    Decided {
        to: ReleaseState,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Stored by a shipwatch that did not record causes (rows migrated from schema 2).
    Unrecorded,
}

impl Cause {
    /// The person behind the change, if a person made it.
    pub fn person(&self) -> Option<&str> {
        match self {
            Cause::Tick { by, .. } | Cause::Waive { by, .. } | Cause::Decided { by, .. } => Some(by),
            _ => None,
        }
    }

    /// The person's note or waiver reason.
    pub fn note(&self) -> Option<&str> {
        match self {
            Cause::Tick { note, .. } | Cause::Decided { note, .. } => note.as_deref(),
            Cause::Waive { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// A change the transition table refuses (the caller asked for something impossible).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("it is automated: shipwatch ticks it when its evidence holds; use waive to override it")]
    Automated,
    #[error("it is {0}, not planned")]
    NotPlanned(&'static str),
    #[error("{cause} cannot change a {state} {what}")]
    Invalid { cause: &'static str, state: &'static str, what: &'static str },
}

fn cause_name(c: &Cause) -> &'static str {
    match c {
        Cause::Created => "creation",
        Cause::Started { .. } => "a start",
        Cause::Checklist => "the checklist",
        Cause::Rule { .. } => "a rule",
        Cause::WindowClosed => "the window closing",
        Cause::Tick { .. } => "a tick",
        Cause::Waive { .. } => "a waiver",
        Cause::Action { .. } => "an action",
        Cause::Rebind { .. } => "a rebind",
        Cause::Deploy => "a deploy",
        Cause::Unmeasured { .. } => "staleness",
        Cause::Measured => "a measurement",
        Cause::Verdict { .. } => "a verdict",
        Cause::Decided { .. } => "a person's verdict",
        Cause::Unrecorded => "an unrecorded cause",
    }
}

/// What the item table needs to know of an item besides its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Probes or an `on:` event are bound to the item (in a mode that moves it).
    pub automated: bool,
    /// The item has been complete in this release: a failure now is a regression.
    pub ever_complete: bool,
}

impl Facts {
    pub fn automated(automated: bool) -> Facts {
        Facts { automated, ever_complete: false }
    }
}

/// The item transition table. `from` is None for a record being created. `Ok(None)`: nothing
/// changes (e.g. a second tick).
///
/// `unknown`: a pending or complete item becomes unknown when it cannot be measured; a failing
/// or regressed one stays red (a failure seen is not erased by blindness). It leaves unknown by
/// the rules (complete, failing — regressed if it was ever complete) or, when measurements
/// resume without meeting a rule, back to pending.
pub fn item(from: Option<ItemState>, facts: Facts, cause: &Cause) -> Result<Option<ItemState>, Refused> {
    let automated = facts.automated;
    use ItemState::*;
    let invalid = |state: &'static str| Refused::Invalid { cause: cause_name(cause), state, what: "item" };
    let Some(from) = from else {
        return match cause {
            Cause::Created if automated => Ok(Some(Pending)),
            Cause::Created => Ok(Some(Manual)),
            Cause::Checklist => Ok(Some(Complete)),
            _ => Err(invalid("new")),
        };
    };
    let to = match (cause, from) {
        (Cause::Rule { met: Met::Fail, .. }, Pending) => Failing,
        (Cause::Rule { met: Met::Fail, .. }, Complete) => Regressed,
        (Cause::Rule { met: Met::Fail, .. }, Unknown) if facts.ever_complete => Regressed,
        (Cause::Rule { met: Met::Fail, .. }, Unknown) => Failing,
        (Cause::Rule { met: Met::Pass, .. }, Pending | Failing | Regressed | Unknown) => Complete,
        (Cause::Rule { .. }, _) => return Ok(None),
        (Cause::WindowClosed, Pending) => Complete,
        (Cause::WindowClosed, _) => return Ok(None),
        (Cause::Action { .. }, Pending) => Complete,
        (Cause::Action { .. }, _) => return Ok(None),
        (Cause::Tick { .. }, _) if automated => return Err(Refused::Automated),
        (Cause::Tick { .. }, Manual | Waived) => Complete,
        (Cause::Tick { .. }, _) => return Ok(None),
        (Cause::Waive { .. }, Waived) => return Ok(None),
        (Cause::Waive { .. }, _) => Waived,
        (Cause::Rebind { bound: true }, Manual) => Pending,
        (Cause::Unmeasured { .. }, Pending | Complete) => Unknown,
        (Cause::Unmeasured { .. }, _) => return Ok(None),
        (Cause::Measured, Unknown) => Pending,
        (Cause::Measured, _) => return Ok(None),
        (Cause::Rebind { bound: false }, Pending | Unknown) => Manual,
        (Cause::Rebind { .. }, _) => return Ok(None),
        (_, s) => return Err(invalid(s.as_str())),
    };
    Ok((to != from).then_some(to))
}

/// The release transition table (`from` None: being created).
pub fn release(from: Option<ReleaseState>, cause: &Cause) -> Result<Option<ReleaseState>, Refused> {
    use ReleaseState::*;
    let invalid = |state: &'static str| Refused::Invalid { cause: cause_name(cause), state, what: "release" };
    match (from, cause) {
        (None, Cause::Started { planned: true }) => Ok(Some(Planned)),
        (None, Cause::Started { planned: false }) => Ok(Some(Deployed)),
        (None, _) => Err(invalid("new")),
        (Some(Planned), Cause::Deploy) => Ok(Some(Deployed)),
        (Some(s), Cause::Deploy) => Err(Refused::NotPlanned(s.as_str())),
        (Some(Deployed), Cause::Verdict { to: to @ (Verified | Failed | Inconclusive) }) => Ok(Some(*to)),
        (Some(Planned), Cause::Decided { to: Verified, .. }) => {
            Err(Refused::Invalid { cause: "a verified verdict", state: "planned", what: "release (deploy it first)" })
        }
        (Some(Planned | Deployed | Inconclusive), Cause::Decided { to: to @ (Verified | Failed), .. }) => Ok(Some(*to)),
        (Some(s), _) => Err(invalid(s.as_str())),
    }
}

/// A fresh item record: pending when `automated`, manual otherwise, complete when pre-ticked.
pub fn new_item(release_id: &str, item_id: &str, automated: bool, pre_ticked: bool, now: DateTime<Utc>) -> ItemRecord {
    let cause = if pre_ticked { Cause::Checklist } else { Cause::Created };
    let state = item(None, Facts::automated(automated), &cause).ok().flatten().unwrap_or(ItemState::Manual);
    ItemRecord {
        release_id: release_id.to_string(),
        item_id: item_id.to_string(),
        state,
        since: now,
        cause,
        evidence: None,
        tracks: Default::default(),
        ever_complete: pre_ticked,
        fresh_at: None,
        stale_secs: 0.0,
    }
}

/// A fresh release in the state its start gives it (deployed now unless `spec` says when, or
/// planned), with the history row of that start.
pub fn new_release(spec: ReleaseSpec, planned: bool, now: DateTime<Utc>) -> Result<(Release, HistoryRecord), Refused> {
    let cause = Cause::Started { planned };
    let to = release(None, &cause)?.ok_or(Refused::Invalid { cause: "a start", state: "new", what: "release" })?;
    let deployed = to == ReleaseState::Deployed;
    let r = Release {
        id: spec.id,
        service: spec.service,
        version: spec.version,
        environment: spec.environment,
        state: to,
        created_at: now,
        deployed_at: deployed.then(|| spec.deployed_at.unwrap_or(now)),
        window_min: spec.window_min,
        window_max: spec.window_max,
        regressed: false,
        closed_at: None,
        reason: None,
        commit: spec.commit,
        labels: spec.labels,
        origin: spec.origin,
        idempotency: spec.idempotency,
    };
    let message = format!("release {} {} started", r.service, r.version);
    let h = history(&r.id, None, now, None, State::Release(to), cause, message);
    Ok((r, h))
}

/// Move `rec` as `cause` says. `evidence`, when given, becomes the item's evidence. Returns
/// the history row, or None when nothing changes.
pub fn apply_item(
    rec: &mut ItemRecord,
    automated: bool,
    cause: Cause,
    message: String,
    evidence: Option<ItemEvidence>,
    now: DateTime<Utc>,
) -> Result<Option<HistoryRecord>, Refused> {
    let from = rec.state;
    let Some(to) = item(Some(from), facts(rec, automated), &cause)? else { return Ok(None) };
    rec.state = to;
    rec.since = now;
    rec.cause = cause.clone();
    rec.ever_complete |= to == ItemState::Complete;
    if evidence.is_some() {
        rec.evidence = evidence;
    }
    let item = Some(rec.item_id.as_str());
    Ok(Some(history(&rec.release_id, item, now, Some(State::Item(from)), State::Item(to), cause, message)))
}

/// Move release `r` as `cause` says: a deploy starts the window now; a verdict closes it with
/// `message` as the reason. Returns the history row, or None when nothing changes.
pub fn apply_release(
    r: &mut Release,
    cause: Cause,
    message: String,
    now: DateTime<Utc>,
) -> Result<Option<HistoryRecord>, Refused> {
    let from = r.state;
    let Some(to) = release(Some(from), &cause)? else { return Ok(None) };
    r.state = to;
    match cause {
        Cause::Deploy => r.deployed_at = Some(now),
        _ if !to.is_active() => {
            r.closed_at = Some(now);
            r.reason = Some(message.clone());
        }
        _ => {}
    }
    Ok(Some(history(&r.id, None, now, Some(State::Release(from)), State::Release(to), cause, message)))
}

/// The facts of record `rec` for the item table.
pub fn facts(rec: &ItemRecord, automated: bool) -> Facts {
    Facts { automated, ever_complete: rec.ever_complete }
}

fn history(
    release_id: &str,
    item: Option<&str>,
    at: DateTime<Utc>,
    from: Option<State>,
    to: State,
    cause: Cause,
    message: String,
) -> HistoryRecord {
    HistoryRecord { release_id: release_id.to_string(), item_id: item.map(String::from), at, from, to, cause, message }
}

/// The events a change announces (a release started deployed announces both).
pub fn events(h: &HistoryRecord) -> Vec<EventKind> {
    use ItemState::*;
    let one = match (h.from, h.to) {
        (None, State::Release(to)) => {
            let mut v = vec![EventKind::ReleaseStarted];
            if to == ReleaseState::Deployed {
                v.push(EventKind::ReleaseDeployed);
            }
            return v;
        }
        (_, State::Item(_)) if matches!(h.cause, Cause::Rebind { .. }) => EventKind::ItemRebound,
        (Some(State::Item(Regressed)), State::Item(Complete)) => EventKind::ItemRecovered,
        (_, State::Item(Complete)) => EventKind::ItemCompleted,
        (_, State::Item(Failing)) => EventKind::ItemFailing,
        (_, State::Item(Regressed)) => EventKind::ItemRegressed,
        (_, State::Item(Unknown)) => EventKind::ItemUnknown,
        (_, State::Release(ReleaseState::Deployed)) => EventKind::ReleaseDeployed,
        (_, State::Release(ReleaseState::Verified)) => EventKind::ReleaseVerified,
        (_, State::Release(ReleaseState::Failed)) => EventKind::ReleaseFailed,
        (_, State::Release(ReleaseState::Inconclusive)) => EventKind::ReleaseInconclusive,
        _ => return vec![],
    };
    vec![one]
}

#[cfg(test)]
#[path = "transition_tests.rs"]
mod tests;
