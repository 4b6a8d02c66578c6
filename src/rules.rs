//! Pass/fail rules: the pure state machine that turns probe results into item states, and the
//! release verdict. No I/O and no clock of its own: callers pass `now`, so tests drive time.

use chrono::{DateTime, Utc};

use std::time::Duration;

use crate::config::{Binding, Mode, PassRule};
use crate::probe::Status;
use crate::release::{ItemRecord, ItemState, Release, ReleaseState};
use crate::transition::{Cause, Met};

/// What the evidence says about an item now: which rule it met, and why (a sentence).
pub type Decision = (Met, String);

/// Where a release's watch starts: `deployed` (None while planned) bounds the window that
/// coverage is counted over; `origin` is when the first measurement was due, for an item never
/// measured.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub deployed: Option<DateTime<Utc>>,
    pub origin: DateTime<Utc>,
}

impl Watch {
    /// The first measurement is due when shipwatch learned of the release, or at its deploy if
    /// that is later (a release registered after its deploy was not watched before: that part
    /// of the window is uncovered, but its items are not unknown before a probe could run).
    pub fn of(r: &Release) -> Watch {
        Watch { deployed: r.deployed_at, origin: r.deployed_at.map_or(r.created_at, |d| d.max(r.created_at)) }
    }
}

/// Count one result of `probe` on `item` (its rule counters and freshness) and return the
/// cause the evidence gives the item now, if any, with why; [`crate::transition::item`]
/// decides what that does to the state:
/// - a rule met (`Rule`);
/// - an `unknown` item measured again without meeting a rule (`Measured`);
/// - an `error` leaving the item unmeasured for longer than its `stale_after`
///   (`Unmeasured`; the caller adds the error to the sentence).
pub fn observe(
    binding: &Binding,
    item: &mut ItemRecord,
    probe: &str,
    status: Status,
    now: DateTime<Utc>,
    watch: Watch,
) -> Option<(Cause, String)> {
    if status != Status::Error {
        measured(item, now, watch.deployed, binding.stale_after);
    }
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
    if let Some((met, why)) = decide_item(binding, item, now) {
        return Some((Cause::Rule { met, probe: Some(probe.to_string()) }, why));
    }
    match (item.state, status) {
        (ItemState::Unknown, Status::Pass | Status::Fail) => {
            Some((Cause::Measured, format!("{probe} measures again ({})", status.as_str())))
        }
        (ItemState::Pending | ItemState::Complete, Status::Error) => {
            let since = stale_since(item, now, watch.origin, binding.stale_after)?;
            Some((Cause::Unmeasured { since }, unmeasured_since(since)))
        }
        _ => None,
    }
}

/// "could not measure since T" (the caller adds the last error).
pub fn unmeasured_since(since: DateTime<Utc>) -> String {
    format!("could not measure since {}", since.format("%Y-%m-%d %H:%M:%S UTC"))
}

/// A measurement of `item` at `at` (any bound probe, any result but `error`): the item is
/// fresh again. A gap since the last measurement (or the deploy) longer than `stale_after`
/// counts as stale time of the window, for the part after the deploy.
pub fn measured(item: &mut ItemRecord, at: DateTime<Utc>, deployed: Option<DateTime<Utc>>, stale_after: Duration) {
    if let Some(start) = deployed
        && at > start
    {
        let from = item.fresh_at.map_or(start, |f| f.max(start));
        item.stale_secs += overdue(from, at, stale_after);
    }
    item.fresh_at = Some(item.fresh_at.map_or(at, |f| f.max(at)));
}

/// Seconds of `[from, to]` past `stale_after` (a gap's stale part).
fn overdue(from: DateTime<Utc>, to: DateTime<Utc>, stale_after: Duration) -> f64 {
    ((to - from).as_seconds_f64() - stale_after.as_secs_f64()).max(0.0)
}

/// When `item` was last measured, if that is longer than `stale_after` ago at `now` (never
/// measured: since `origin`, when the first measurement was due).
pub fn stale_since(
    item: &ItemRecord,
    now: DateTime<Utc>,
    origin: DateTime<Utc>,
    stale_after: Duration,
) -> Option<DateTime<Utc>> {
    let since = item.fresh_at.unwrap_or(origin);
    (overdue(since, now, stale_after) > 0.0).then_some(since)
}

/// The share of the elapsed window (deploy → `now`, at most the window's max) in which `item`
/// was measured: 1 − stale time / elapsed. Time shipwatch was down counts as stale, since the
/// gap shows in the stored `fresh_at`. None before the window has elapsed at all.
pub fn coverage(item: &ItemRecord, release: &Release, now: DateTime<Utc>, stale_after: Duration) -> Option<f64> {
    let start = release.deployed_at?;
    let end = release.at(release.window_max).map_or(now, |max| max.min(now));
    let elapsed = (end - start).as_seconds_f64();
    if elapsed <= 0.0 {
        return None;
    }
    let from = item.fresh_at.map_or(start, |f| f.max(start));
    let tail = if end > from { overdue(from, end, stale_after) } else { 0.0 };
    Some((1.0 - (item.stale_secs + tail) / elapsed).clamp(0.0, 1.0))
}

/// A count as words: `1 time`, `3 times`.
pub fn times(n: u32) -> String {
    if n == 1 { "1 time".into() } else { format!("{n} times") }
}

/// Whether the fail rule is met now: some bound probe failed `fail.consecutive` times in a row.
fn fail_met(binding: &Binding, item: &ItemRecord) -> Option<String> {
    binding.probes.iter().find_map(|p| {
        let t = item.tracks.get(p)?;
        (t.consecutive_fail >= binding.fail.consecutive)
            .then(|| format!("{p} failed {} in a row", times(t.consecutive_fail)))
    })
}

/// Whether the pass rule is met now for every bound probe.
fn pass_met(binding: &Binding, item: &ItemRecord, now: DateTime<Utc>) -> Option<String> {
    let mut parts = vec![];
    for p in &binding.probes {
        let t = item.tracks.get(p)?;
        match binding.pass {
            PassRule::Consecutive(n) if t.consecutive_pass >= n => {
                parts.push(format!("{p} passed {} in a row", times(n)))
            }
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
    // An unknown item leaves by the rules only once measured again: errors keep the streaks
    // they interrupted, which must not tick it back while it still cannot be measured.
    if item.state == Unknown
        && item.fresh_at.is_none_or(|f| (now - f).to_std().unwrap_or_default() > binding.stale_after)
    {
        return None;
    }
    if let Some(why) = fail_met(binding, item) {
        return matches!(item.state, Pending | Complete | Unknown).then_some((Met::Fail, why));
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

/// One automated item as the verdict sees it.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    pub id: &'a str,
    /// Its state now (`unknown` if it is stale now, even before a result said so).
    pub state: ItemState,
    pub mode: Mode,
    /// Share of the window measured (None: no window elapsed yet).
    pub coverage: Option<f64>,
    pub min_coverage: f64,
}

impl Judged<'_> {
    fn covered(&self) -> bool {
        self.state == ItemState::Waived || self.coverage.is_none_or(|c| c >= self.min_coverage)
    }
    fn describe(&self) -> String {
        let cov = self.coverage.map(|c| format!(", coverage {}", pct(c))).unwrap_or_default();
        format!("{} ({}{cov})", self.id, self.state.as_str())
    }
}

/// A share as a percentage with at most one decimal (`0.905` → `90.5%`).
pub fn pct(share: f64) -> String {
    let p = (share * 1000.0).floor() / 10.0;
    format!("{p}%")
}

/// The verdict a deployed release reaches now, if any: `(state, reason)`.
///
/// `items` are the automated items (bound to probes, `gate` or `warn`); `aborting` names a
/// failing `gate` item with `fail: {abort: true}`. Only `gate` items decide; `warn` items are
/// listed in the reason. At window max: a gate item failing or regressed, or pending although
/// measured enough, fails the release; else one `unknown` now or measured for less than its
/// `min_coverage` (pending or complete) makes it `inconclusive`; else verified. At min, verified early only when
/// every gate item is done and covered. With no gate item at all nothing was measured: the
/// release is inconclusive at max, never verified.
pub fn verdict(
    release: &Release,
    items: &[Judged],
    aborting: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(ReleaseState, String)> {
    use ItemState::*;
    if release.state != ReleaseState::Deployed {
        return None;
    }
    if let Some(item) = aborting {
        return Some((ReleaseState::Failed, format!("item '{item}' failed and aborts the release")));
    }
    let min = release.at(release.window_min)?;
    let max = release.at(release.window_max)?;
    let gate: Vec<&Judged> = items.iter().filter(|j| j.mode == Mode::Gate).collect();
    // Red, or measured enough and still not complete: failed. A pending item that was not
    // measured enough is not evidence of a failure: it counts as unseen (inconclusive).
    let not_done: Vec<&&Judged> = gate
        .iter()
        .filter(|j| matches!(j.state, Failing | Regressed | Manual) || (j.state == Pending && j.covered()))
        .collect();
    let unseen: Vec<&&Judged> = gate
        .iter()
        .filter(|j| !matches!(j.state, Failing | Regressed | Manual) && (j.state == Unknown || !j.covered()))
        .collect();
    let warn: Vec<String> =
        items.iter().filter(|j| j.mode == Mode::Warn && !j.state.is_done()).map(Judged::describe).collect();
    let warned =
        if warn.is_empty() { String::new() } else { format!("; warn items not complete: {}", warn.join(", ")) };
    let list = |v: &[&&Judged]| v.iter().map(|j| j.describe()).collect::<Vec<_>>().join(", ");
    if now >= max {
        if gate.is_empty() {
            let why = "window closed at max, but no gate item is bound to a probe: nothing was measured";
            return Some((ReleaseState::Inconclusive, format!("{why}{warned}")));
        }
        if !not_done.is_empty() {
            let why = format!(
                "window closed at max with {} of {} automated items not complete: {}",
                not_done.len(),
                gate.len(),
                list(&not_done)
            );
            return Some((ReleaseState::Failed, format!("{why}{warned}")));
        }
        if !unseen.is_empty() {
            let why = format!(
                "window closed at max, but {} of {} automated items were not measured enough to tell: {}",
                unseen.len(),
                gate.len(),
                unseen.iter().map(|j| unseen_why(j)).collect::<Vec<_>>().join("; ")
            );
            return Some((ReleaseState::Inconclusive, format!("{why}{warned}")));
        }
        let why = format!("window closed at max; all {} automated items complete", gate.len());
        return Some((ReleaseState::Verified, format!("{why}{warned}")));
    }
    if now >= min && !release.regressed && !gate.is_empty() && not_done.is_empty() && unseen.is_empty() {
        let why = format!("window reached min; all {} automated items complete", gate.len());
        return Some((ReleaseState::Verified, format!("{why}{warned}")));
    }
    None
}

/// Why one item keeps a release from a verdict: unknown now, or its coverage too low.
fn unseen_why(j: &Judged) -> String {
    let cov = j.coverage.map(pct).unwrap_or_else(|| "n/a".into());
    if j.state == ItemState::Unknown {
        format!("'{}' is unknown (coverage {cov})", j.id)
    } else if j.state == ItemState::Pending {
        format!("'{}' is pending with coverage {cov} < min_coverage {}", j.id, pct(j.min_coverage))
    } else {
        format!("'{}' coverage {cov} < min_coverage {}", j.id, pct(j.min_coverage))
    }
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
