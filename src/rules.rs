//! Pass/fail rules: the pure state machine that turns probe results into item states, and the
//! release verdict. No I/O and no clock of its own: callers pass `now`, so tests drive time.

use chrono::{DateTime, Utc};

use crate::config::{Binding, PassRule};
use crate::probe::Status;
use crate::release::{ItemRecord, ItemState, Release, ReleaseState};

/// A change of an item's state caused by a result or the window closing.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub from: ItemState,
    pub to: ItemState,
    pub message: String,
}

/// Record one result of `probe` on `item` and return the state change it causes, if any.
pub fn observe(
    binding: &Binding,
    item: &mut ItemRecord,
    probe: &str,
    status: Status,
    now: DateTime<Utc>,
) -> Option<Change> {
    let t = item.tracks.entry(probe.to_string()).or_default();
    t.last = Some(status);
    match status {
        Status::Pass => {
            t.passes += 1;
            t.consecutive_pass += 1;
            t.consecutive_fail = 0;
            t.consecutive_error = 0;
            t.pass_since.get_or_insert(now);
        }
        Status::Fail => {
            t.fails += 1;
            t.consecutive_fail += 1;
            t.consecutive_pass = 0;
            t.consecutive_error = 0;
            t.pass_since = None;
        }
        // Could not measure: neither a pass nor a fail; streaks are left as they are.
        Status::Error => {
            t.errors += 1;
            t.consecutive_error += 1;
        }
    }
    evaluate_item(binding, item, now)
}

/// Whether the fail rule is met now: some bound probe failed `fail.consecutive` times in a row.
fn fail_met(binding: &Binding, item: &ItemRecord) -> Option<String> {
    binding.probes.iter().find_map(|p| {
        let t = item.tracks.get(p)?;
        (t.consecutive_fail >= binding.fail.consecutive)
            .then(|| format!("{p} failed {} times in a row", t.consecutive_fail))
    })
}

/// Whether the pass rule is met now for every bound probe.
fn pass_met(binding: &Binding, item: &ItemRecord, now: DateTime<Utc>) -> Option<String> {
    let mut parts = vec![];
    for p in &binding.probes {
        let t = item.tracks.get(p)?;
        match binding.pass {
            PassRule::Consecutive(n) if t.consecutive_pass >= n => parts.push(format!("{p} passed {n}× in a row")),
            PassRule::Sustained(d) => {
                let since = t.pass_since?;
                let held = (now - since).to_std().ok()?;
                if held < d {
                    return None;
                }
                parts.push(format!("{p} passing for {}", humantime::format_duration(d)));
            }
            _ => return None,
        }
    }
    Some(parts.join("; "))
}

/// Re-evaluate an item against its rules (after a result, or as time passes for `sustained`).
pub fn evaluate_item(binding: &Binding, item: &mut ItemRecord, now: DateTime<Utc>) -> Option<Change> {
    let c = decide_item(binding, item, now)?;
    apply(item, c.to, now);
    Some(c)
}

/// What [`evaluate_item`] would change, without changing it.
pub fn decide_item(binding: &Binding, item: &ItemRecord, now: DateTime<Utc>) -> Option<Change> {
    use ItemState::*;
    if binding.probes.is_empty() {
        // Action items (`on: EVENT`) tick on their event, never by rule.
        return None;
    }
    let from = item.state;
    let (to, message) = match from {
        Manual | Waived => return None,
        Pending | Complete | Failing | Regressed => {
            if let Some(why) = fail_met(binding, item) {
                match from {
                    Pending => (Failing, why),
                    Complete => (Regressed, why),
                    _ => return None,
                }
            } else if from != Complete
                && let Some(why) = pass_met(binding, item, now)
            {
                match from {
                    Pending | Failing | Regressed => (Complete, why),
                    _ => return None,
                }
            } else {
                return None;
            }
        }
    };
    Some(Change { from, to, message })
}

/// Put `item` in state `to` as of `now` (what a [`Change`] does to the record).
pub fn apply(item: &mut ItemRecord, to: ItemState, now: DateTime<Utc>) {
    item.state = to;
    item.since = now;
    if to == ItemState::Complete {
        item.ever_complete = true;
        item.by = Some("shipwatch".into());
    }
}

/// The window closes: a `window: true` item still pending, never failing, with at least one
/// pass from every bound probe, completes.
pub fn close_window(binding: &Binding, item: &mut ItemRecord, now: DateTime<Utc>) -> Option<Change> {
    let c = decide_close(binding, item)?;
    apply(item, c.to, now);
    Some(c)
}

/// What [`close_window`] would change, without changing it.
pub fn decide_close(binding: &Binding, item: &ItemRecord) -> Option<Change> {
    if binding.pass != PassRule::Window || item.state != ItemState::Pending {
        return None;
    }
    let all_passed = binding.probes.iter().all(|p| item.tracks.get(p).is_some_and(|t| t.passes > 0));
    if !all_passed {
        return None;
    }
    Some(Change { from: ItemState::Pending, to: ItemState::Complete, message: "no failure across the window".into() })
}

/// The verdict a deployed release reaches now, if any: `(state, reason)`.
///
/// `aborting` says whether a failing item has `fail: {abort: true}`. `automated` lists the
/// states of items bound to probes (manual items never block).
pub fn verdict(
    release: &Release,
    automated: &[ItemState],
    aborting: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(ReleaseState, String)> {
    if release.state != ReleaseState::Deployed {
        return None;
    }
    if let Some(item) = aborting {
        return Some((ReleaseState::Failed, format!("item '{item}' failed and aborts the release")));
    }
    let min = release.at(release.window_min)?;
    let max = release.at(release.window_max)?;
    let done = automated.iter().filter(|s| s.is_done()).count();
    let all_done = done == automated.len();
    if now >= max {
        return Some(if all_done {
            (ReleaseState::Verified, format!("window closed at max; all {done} automated items complete"))
        } else {
            (
                ReleaseState::Failed,
                format!(
                    "window closed at max with {} of {} automated items not complete",
                    automated.len() - done,
                    automated.len()
                ),
            )
        });
    }
    if now >= min && !release.regressed && all_done {
        return Some((ReleaseState::Verified, format!("window reached min; all {done} automated items complete")));
    }
    None
}

/// When the window "closes" for `window: true` items: at min without a regression, else at max.
pub fn window_closed(release: &Release, now: DateTime<Utc>) -> bool {
    let (Some(min), Some(max)) = (release.at(release.window_min), release.at(release.window_max)) else {
        return false;
    };
    now >= max || (now >= min && !release.regressed)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
