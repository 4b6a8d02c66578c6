//! The final report of a release: items and who/what ticked them (with each automated item's
//! mode and coverage, and why an `unknown` one could not be seen), regressions with their
//! durations, probe pass rates and the verdict (with who gave it, when a person did, and how to
//! settle an inconclusive one) — a typed [`Report`], served as JSON and rendered as Markdown
//! (every text from people, probes or the checklist escaped).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Rel;
use super::view::{Counts, counts};
use crate::checklist::escape_inline as esc;
use crate::config::{Config, Mode};
use crate::release::{HistoryRecord, ItemRecord, ItemState, Release, ReleaseState, State};
use crate::rules::pct;
use crate::transition::Cause;

/// What an `unknown` item's last error is when no result came since its last measurement.
const NO_RESULT: &str = "no result since (was shipwatch down?)";

/// The report of one release (final once the release is closed).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: Release,
    pub verdict: ReleaseState,
    pub reason: Option<String>,
    /// The person who gave the verdict, when a person did (the latest such change).
    pub decided: Option<Decision>,
    pub generated_at: DateTime<Utc>,
    pub counts: Counts,
    pub items: Vec<ReportItem>,
    pub regressions: Vec<Regression>,
    pub probes: Vec<ProbeRate>,
}

/// One checklist item in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    pub id: String,
    pub text: String,
    pub section: Option<String>,
    pub state: ItemState,
    pub since: DateTime<Utc>,
    pub cause: Cause,
    pub by: Option<String>,
    pub note: Option<String>,
    /// The evidence that last changed its state (for an `unknown` item: its last good one, old).
    pub evidence: Option<String>,
    pub automated: bool,
    /// How its binding counts (`gate`, `warn`, `shadow`); none for a manual item.
    pub mode: Option<Mode>,
    /// Share of the window (up to its close, or now) in which the item was measured; for items
    /// bound to probes in `gate` or `warn` mode once deployed.
    pub coverage: Option<f64>,
    /// The least coverage a `verified` verdict needs.
    pub min_coverage: Option<f64>,
    /// Why an `unknown` item could not be seen.
    pub unmeasured: Option<Unmeasured>,
}

/// An `unknown` item: since when it could not be measured, and the last error of its probes.
#[derive(Debug, Clone, Serialize)]
pub struct Unmeasured {
    pub since: DateTime<Utc>,
    pub error: String,
}

/// A person's verdict: who, when, why, and what it changed.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub by: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    /// The state the release was in (`inconclusive` when the verdict settled it).
    pub from: ReleaseState,
    pub to: ReleaseState,
    /// The reason of that earlier state's verdict (why it was inconclusive), if it had one.
    pub from_reason: Option<String>,
}

/// A regression: when an item went `regressed` and when (if) it came back.
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub item: String,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    /// Until `to`, or until the report was made when still regressed.
    pub duration_s: i64,
}

/// How often one probe passed over the release.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRate {
    pub probe: String,
    pub passes: u64,
    pub fails: u64,
    pub errors: u64,
    pub pass_rate: f64,
}

fn regressions(history: &[HistoryRecord], now: DateTime<Utc>) -> Vec<Regression> {
    let regressed = State::Item(ItemState::Regressed);
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<Regression> = vec![];
    for h in history {
        let Some(item) = &h.item_id else { continue };
        if h.to == regressed {
            open.insert(item.clone(), out.len());
            out.push(Regression { item: item.clone(), from: h.at, to: None, duration_s: 0 });
        } else if h.from == Some(regressed)
            && let Some(i) = open.remove(item)
        {
            out[i].to = Some(h.at);
        }
    }
    for g in &mut out {
        g.duration_s = (g.to.unwrap_or(now) - g.from).num_seconds();
    }
    out
}

/// The latest verdict a person gave, with the reason of the state it replaced.
fn decision(history: &[HistoryRecord]) -> Option<Decision> {
    let releases: Vec<&HistoryRecord> = history.iter().filter(|h| h.item_id.is_none()).collect();
    releases.iter().enumerate().rev().find_map(|(n, h)| {
        let Cause::Decided { to, by, note } = &h.cause else { return None };
        let from = match h.from {
            Some(State::Release(s)) => s,
            _ => return None,
        };
        // The change that put the release in `from`, if it was a verdict (it had a reason).
        let from_reason = releases[..n]
            .iter()
            .rev()
            .find(|p| p.to == State::Release(from))
            .filter(|p| matches!(p.cause, Cause::Verdict { .. } | Cause::Decided { .. }))
            .map(|p| p.message.clone());
        Some(Decision { by: by.clone(), note: note.clone(), at: h.at, from, to: *to, from_reason })
    })
}

/// Why `rec`, an `unknown` item bound to `probes`, could not be seen: since its last
/// measurement, with the latest result of its probes after that as the error.
fn unmeasured(rel: &Rel, rec: &ItemRecord, probes: &[String]) -> Option<Unmeasured> {
    if rec.state != ItemState::Unknown {
        return None;
    }
    let since = match &rec.cause {
        Cause::Unmeasured { since } => *since,
        _ => rec.fresh_at.unwrap_or(rec.since),
    };
    let last = probes.iter().filter_map(|p| rel.last.get(p)).filter(|r| r.at > since).max_by_key(|r| r.at);
    let error = last.map_or_else(|| NO_RESULT.to_string(), |r| r.evidence.message.clone());
    Some(Unmeasured { since, error })
}

/// The report of `rel` as of `now`, from its history.
pub(crate) fn build(cfg: &Config, rel: &Rel, history: &[HistoryRecord], now: DateTime<Utc>) -> Report {
    let r = &rel.release;
    let at = r.closed_at.unwrap_or(now);
    let items = cfg
        .checklist
        .items
        .iter()
        .filter_map(|it| {
            let rec = rel.items.get(&it.id)?;
            let b = cfg.items.get(&it.id);
            // Coverage is for items whose probes move them (not shadow ones, not action items).
            let measured = b.filter(|b| !b.probes.is_empty() && b.mode != Mode::Shadow);
            Some(ReportItem {
                id: it.id.clone(),
                text: it.text.clone(),
                section: it.section.clone(),
                state: rec.state,
                since: rec.since,
                cause: rec.cause.clone(),
                by: rec.cause.person().map(String::from),
                note: rec.cause.note().map(String::from),
                evidence: rec.evidence.as_ref().map(|e| e.evidence.message.clone()),
                automated: cfg.is_bound(&it.id),
                mode: b.map(|b| b.mode),
                coverage: measured.and_then(|b| crate::rules::coverage(rec, r, at, b.stale_after)),
                min_coverage: measured.map(|b| b.min_coverage),
                unmeasured: measured.and_then(|b| unmeasured(rel, rec, &b.probes)),
            })
        })
        .collect();
    // Pass rates per probe, from the rule counters (every result counted once per probe).
    let mut rates: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for rec in rel.items.values() {
        for (p, t) in &rec.tracks {
            let e = rates.entry(p.clone()).or_default();
            *e = (e.0.max(t.passes), e.1.max(t.fails), e.2.max(t.errors));
        }
    }
    let probes = rates
        .into_iter()
        .map(|(probe, (passes, fails, errors))| {
            let total = passes + fails + errors;
            let rate = if total > 0 { passes as f64 / total as f64 } else { 0.0 };
            ProbeRate { probe, passes, fails, errors, pass_rate: (rate * 1000.0).round() / 1000.0 }
        })
        .collect();
    Report {
        release: r.clone(),
        verdict: r.state,
        reason: r.reason.clone(),
        decided: decision(history),
        generated_at: now,
        counts: counts(rel),
        items,
        regressions: regressions(history, now),
        probes,
    }
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let r = &report.release;
    let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_default();
    let mut out = format!(
        "# Release report: {} {} ({})\n\n**Verdict:** {}{}\n\n",
        esc(&r.service),
        esc(&r.version),
        esc(&r.environment),
        report.verdict.as_str(),
        report.reason.as_deref().map(|x| format!(" — {}", esc(x))).unwrap_or_default()
    );
    out.push_str(&verdict_lines(report));
    let deployed = r.deployed_at.map(|d| d.to_rfc3339()).unwrap_or_else(|| "not yet".into());
    out.push_str(&format!("Deployed at {deployed}; report generated at {}.\n\n", report.generated_at.to_rfc3339()));
    out.push_str("## Items\n\n| state | item | mode | coverage | by | evidence |\n|---|---|---|---|---|---|\n");
    for it in report.items.iter().filter(|i| i.state != ItemState::Manual) {
        let by = it.by.clone().or_else(|| (it.state == ItemState::Complete).then(|| "shipwatch".to_string()));
        let evidence = match &it.unmeasured {
            Some(u) => format!(
                "could not measure since {}: {}{}",
                u.since.to_rfc3339(),
                esc(&u.error),
                it.evidence.as_deref().map(|e| format!(" (last good evidence, old: {})", esc(e))).unwrap_or_default()
            ),
            None => opt(&it.evidence),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {evidence} |\n",
            it.state.as_str(),
            esc(&it.text),
            it.mode.map(Mode::as_str).unwrap_or_default(),
            coverage(it),
            opt(&by),
        ));
    }
    let manual = report.items.iter().filter(|i| i.state == ItemState::Manual).count();
    out.push_str(&format!("\n{manual} manual items were not ticked.\n\n## Regressions\n\n"));
    if report.regressions.is_empty() {
        out.push_str("None.\n");
    }
    for g in &report.regressions {
        let to = g.to.map(|t| t.to_rfc3339()).unwrap_or_else(|| "still regressed".into());
        out.push_str(&format!("- {}: {} → {to} ({} s)\n", esc(&g.item), g.from.to_rfc3339(), g.duration_s));
    }
    out.push_str("\n## Probes\n\n| probe | pass rate | passes | fails | errors |\n|---|---|---|---|---|\n");
    for p in &report.probes {
        out.push_str(&format!(
            "| {} | {:.1}% | {} | {} | {} |\n",
            esc(&p.probe),
            p.pass_rate * 100.0,
            p.passes,
            p.fails,
            p.errors
        ));
    }
    out
}

/// Under the verdict: who gave it (and what it was before), or how to settle an inconclusive one.
fn verdict_lines(report: &Report) -> String {
    if let Some(d) = &report.decided {
        let was = d.from_reason.as_deref().map(|x| format!(": {}", esc(x))).unwrap_or_default();
        let note = d.note.as_deref().map(|n| format!(" Note: {}", esc(n))).unwrap_or_default();
        return format!(
            "Verdict given by **{}** at {} (the release was {}{was}).{note}\n\n",
            esc(&d.by),
            d.at.to_rfc3339(),
            d.from.as_str()
        );
    }
    if report.verdict == ReleaseState::Inconclusive {
        let cmd = format!("shipwatch verdict {} --verified|--failed --by NAME --note WHY", report.release.id);
        return format!("Nobody could tell from the evidence, and nobody has settled it yet: {}\n\n", esc(&cmd));
    }
    String::new()
}

/// "93.4%", or "62.5% (below 90%)"; empty for items without a coverage.
fn coverage(it: &ReportItem) -> String {
    match (it.coverage, it.min_coverage) {
        (Some(c), Some(m)) if c < m => format!("{} (below {})", pct(c), pct(m)),
        (Some(c), _) => pct(c),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
