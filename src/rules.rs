//! Pass/fail rules: the pure state machine that turns probe results into item states, and the
//! release verdict. No I/O and no clock of its own: callers pass `now`, so tests drive time.

use chrono::{DateTime, Utc};

use crate::config::{Binding, PassRule};
use crate::probe::Status;
use crate::release::{ItemRecord, ItemState, Release, ReleaseState};
use crate::transition::Met;

/// What the evidence says about an item now: which rule it met, and why (a sentence).
pub type Decision = (Met, String);

/// Count one result of `probe` on `item` (its rule counters) and return what the rules say
/// now, if anything; [`crate::transition::item`] decides what that does to the state.
pub fn observe(
    binding: &Binding,
    item: &mut ItemRecord,
    probe: &str,
    status: Status,
    now: DateTime<Utc>,
) -> Option<Decision> {
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
    decide_item(binding, item, now)
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

/// Which rule the item's evidence meets now (after a result, or as time passes for
/// `sustained`). Only rules that could still move the item are checked: a failing item's fail
/// rule and a complete item's pass rule are skipped.
pub fn decide_item(binding: &Binding, item: &ItemRecord, now: DateTime<Utc>) -> Option<Decision> {
    use ItemState::*;
    if binding.probes.is_empty() || matches!(item.state, Manual | Waived) {
        // Action items (`on: EVENT`) tick on their event, never by rule.
        return None;
    }
    if let Some(why) = fail_met(binding, item) {
        return matches!(item.state, Pending | Complete).then_some((Met::Fail, why));
    }
    if item.state == Complete {
        return None;
    }
    pass_met(binding, item, now).map(|why| (Met::Pass, why))
}

/// Whether the window closing completes the item: a `window: true` item still pending, never
/// failing, with at least one pass from every bound probe. Returns why.
pub fn decide_close(binding: &Binding, item: &ItemRecord) -> Option<String> {
    if binding.pass != PassRule::Window || item.state != ItemState::Pending {
        return None;
    }
    let all_passed = binding.probes.iter().all(|p| item.tracks.get(p).is_some_and(|t| t.passes > 0));
    all_passed.then(|| "no failure across the window".to_string())
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
