//! The final report of a release: items and who/what ticked them, regressions with their
//! durations, probe pass rates and the verdict — as JSON and as Markdown.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Rel;
use crate::config::Config;
use crate::release::{HistoryRecord, ItemState};

/// A regression: when an item went `regressed` and when (if) it came back.
struct Regression {
    item: String,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
}

fn regressions(history: &[HistoryRecord]) -> Vec<Regression> {
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<Regression> = vec![];
    for h in history {
        let Some(item) = &h.item_id else { continue };
        if h.to == "regressed" {
            open.insert(item.clone(), out.len());
            out.push(Regression { item: item.clone(), from: h.at, to: None });
        } else if h.from == "regressed"
            && let Some(i) = open.remove(item)
        {
            out[i].to = Some(h.at);
        }
    }
    out
}

/// The report as JSON.
pub(crate) fn build(cfg: &Config, rel: &Rel, history: &[HistoryRecord], now: DateTime<Utc>) -> Value {
    let r = &rel.release;
    let items: Vec<Value> = cfg
        .checklist
        .items
        .iter()
        .filter_map(|it| {
            let rec = rel.items.get(&it.id)?;
            Some(json!({
                "id": it.id,
                "text": it.text,
                "section": it.section,
                "state": rec.state,
                "since": rec.since,
                "by": rec.by,
                "note": rec.note,
                "evidence": rec.evidence.as_ref().map(|e| &e.evidence.message),
                "automated": cfg.items.contains_key(&it.id),
            }))
        })
        .collect();
    let regs: Vec<Value> = regressions(history)
        .iter()
        .map(|g| {
            let end = g.to.unwrap_or(now);
            json!({ "item": g.item, "from": g.from, "to": g.to, "duration_s": (end - g.from).num_seconds() })
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
    let probes: Vec<Value> = rates
        .iter()
        .map(|(p, (pa, fa, er))| {
            let total = pa + fa + er;
            let rate = if total > 0 { *pa as f64 / total as f64 } else { 0.0 };
            json!({ "probe": p, "passes": pa, "fails": fa, "errors": er, "pass_rate": (rate * 1000.0).round() / 1000.0 })
        })
        .collect();
    let count = |s: ItemState| rel.items.values().filter(|i| i.state == s).count();
    json!({
        "release": r,
        "verdict": r.state,
        "reason": r.reason,
        "generated_at": now,
        "counts": {
            "complete": count(ItemState::Complete), "pending": count(ItemState::Pending),
            "failing": count(ItemState::Failing), "regressed": count(ItemState::Regressed),
            "manual": count(ItemState::Manual), "waived": count(ItemState::Waived),
        },
        "items": items,
        "regressions": regs,
        "probes": probes,
    })
}

/// The report as Markdown.
pub fn markdown(report: &Value) -> String {
    let r = &report["release"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = format!(
        "# Release report: {} {} ({})\n\n**Verdict:** {}{}\n\n",
        s(&r["service"]),
        s(&r["version"]),
        s(&r["environment"]),
        s(&report["verdict"]),
        report["reason"].as_str().map(|x| format!(" — {x}")).unwrap_or_default()
    );
    out.push_str(&format!(
        "Deployed at {}; report generated at {}.\n\n",
        s(&r["deployed_at"]),
        s(&report["generated_at"])
    ));
    out.push_str("## Items\n\n| state | item | by | evidence |\n|---|---|---|---|\n");
    for it in report["items"].as_array().into_iter().flatten() {
        if it["state"] == "manual" {
            continue;
        }
        let cell = |v: &Value| s(v).replace('|', "\\|").replace('\n', " ");
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&it["state"]),
            cell(&it["text"]),
            cell(&it["by"]),
            cell(&it["evidence"])
        ));
    }
    let manual = report["items"].as_array().map(|a| a.iter().filter(|i| i["state"] == "manual").count()).unwrap_or(0);
    out.push_str(&format!("\n{manual} manual items were not ticked.\n\n## Regressions\n\n"));
    let regs = report["regressions"].as_array().cloned().unwrap_or_default();
    if regs.is_empty() {
        out.push_str("None.\n");
    }
    for g in regs {
        let to = g["to"].as_str().map(String::from).unwrap_or_else(|| "still regressed".into());
        out.push_str(&format!("- {}: {} → {} ({} s)\n", s(&g["item"]), s(&g["from"]), to, g["duration_s"]));
    }
    out.push_str("\n## Probes\n\n| probe | pass rate | passes | fails | errors |\n|---|---|---|---|---|\n");
    for p in report["probes"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| {} | {:.1}% | {} | {} | {} |\n",
            s(&p["probe"]),
            p["pass_rate"].as_f64().unwrap_or(0.0) * 100.0,
            p["passes"],
            p["fails"],
            p["errors"]
        ));
    }
    out
}
