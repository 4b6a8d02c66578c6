//! The final report of a release: items and who/what ticked them, regressions with their
//! durations, probe pass rates and the verdict — a typed [`Report`], served as JSON and
//! rendered as Markdown (every text from people, probes or the checklist escaped).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Rel;
use super::view::{Counts, counts};
use crate::checklist::escape_inline as esc;
use crate::config::Config;
use crate::release::{HistoryRecord, ItemState, Release, ReleaseState, State};
use crate::transition::Cause;

/// The report of one release (final once the release is closed).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: Release,
    pub verdict: ReleaseState,
    pub reason: Option<String>,
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
    pub evidence: Option<String>,
    pub automated: bool,
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

/// The report of `rel` as of `now`, from its history.
pub(crate) fn build(cfg: &Config, rel: &Rel, history: &[HistoryRecord], now: DateTime<Utc>) -> Report {
    let r = &rel.release;
    let items = cfg
        .checklist
        .items
        .iter()
        .filter_map(|it| {
            let rec = rel.items.get(&it.id)?;
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
    let deployed = r.deployed_at.map(|d| d.to_rfc3339()).unwrap_or_else(|| "not yet".into());
    out.push_str(&format!("Deployed at {deployed}; report generated at {}.\n\n", report.generated_at.to_rfc3339()));
    out.push_str("## Items\n\n| state | item | by | evidence |\n|---|---|---|---|\n");
    for it in report.items.iter().filter(|i| i.state != ItemState::Manual) {
        let by = it.by.clone().or_else(|| (it.state == ItemState::Complete).then(|| "shipwatch".to_string()));
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            it.state.as_str(),
            esc(&it.text),
            opt(&by),
            opt(&it.evidence)
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
