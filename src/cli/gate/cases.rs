//! The JUnit cases of a gate: one per selected item, passed, failed (with the evidence that
//! failed it), errored (still waiting at the timeout) or skipped (the gate stopped early).

use std::collections::HashMap;

use serde_json::Value;

use super::{Outcome, is_red, item, state_of};
use crate::cli::junit::{Case, Verdict};

/// What to say about an item's evidence: its message and the details, one per line.
pub(super) fn evidence_text(it: &Value) -> (String, String) {
    let ev = &it["evidence"];
    let e = &ev["evidence"];
    let message = e["message"].as_str().unwrap_or("").to_string();
    let mut lines = Vec::new();
    if let Some(p) = ev["probe"].as_str() {
        lines.push(format!("probe: {p} ({})", ev["status"].as_str().unwrap_or("?")));
    }
    for (k, label) in [("target", "target"), ("expected", "expected"), ("observed", "observed")] {
        if let Some(v) = e[k].as_str() {
            lines.push(format!("{label}: {v}"));
        }
    }
    for (k, label) in [("status_code", "HTTP status"), ("exit_code", "exit code"), ("latency_ms", "latency ms")] {
        if !e[k].is_null() {
            lines.push(format!("{label}: {}", e[k]));
        }
    }
    if let Some(a) = e["alerts"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
        lines.push(format!("alerts: {}", names.join(", ")));
    }
    if !message.is_empty() {
        lines.push(message.clone());
    }
    (message, lines.join("\n"))
}

/// Latest probe results of a waiting item, for the timed-out report.
fn last_results(it: &Value) -> String {
    let rs: Vec<String> = it["last_results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let (p, s) = (r["probe"].as_str().unwrap_or("?"), r["status"].as_str().unwrap_or("?"));
                    format!("last {p}: {s} — {}", r["evidence"]["message"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default();
    rs.join("\n")
}

/// The JUnit cases for the selected items as they ended.
pub(super) fn cases(
    rel: &Value,
    selected: &[String],
    outcome: &Outcome,
    done_at: &HashMap<String, f64>,
    total: f64,
) -> Vec<Case> {
    let mut out: Vec<Case> = selected
        .iter()
        .map(|id| {
            let it = item(rel, id).cloned().unwrap_or(Value::Null);
            let state = state_of(rel, id);
            let (message, body) = evidence_text(&it);
            let verdict = if state.is_done() {
                Verdict::Passed
            } else if is_red(state) {
                Verdict::Failure { message: format!("{}: {message}", state.as_str()), body }
            } else {
                let body = format!("still {}\n{}", state.as_str(), last_results(&it)).trim_end().to_string();
                match outcome {
                    Outcome::TimedOut => Verdict::Error { message: "timed out".into(), body },
                    Outcome::Failed { release: Some(r), .. } => {
                        Verdict::Failure { message: format!("release failed: {r}"), body }
                    }
                    Outcome::Inconclusive(r) => Verdict::Error { message: format!("release inconclusive: {r}"), body },
                    _ => {
                        Verdict::Skipped { message: format!("not finished when the gate stopped ({})", state.as_str()) }
                    }
                }
            };
            let output = state.is_done().then(|| {
                let state = state.as_str();
                let by = it["by"].as_str().map(|b| format!("{state} by {b}")).unwrap_or_else(|| state.to_string());
                let why = it["note"].as_str().map(String::from).unwrap_or(message);
                if why.is_empty() { by } else { format!("{by}: {why}") }
            });
            Case {
                classname: it["section"].as_str().unwrap_or("checklist").to_string(),
                name: it["text"].as_str().unwrap_or(id).to_string(),
                time_s: done_at.get(id).copied().unwrap_or(total),
                verdict,
                output,
            }
        })
        .collect();
    // The release's own verdict, when it is what stopped the gate and no item case says so.
    if let Outcome::Inconclusive(r) = outcome {
        out.push(Case {
            classname: "release".into(),
            name: "release verdict".into(),
            time_s: total,
            verdict: Verdict::Error { message: format!("release inconclusive: {r}"), body: r.clone() },
            output: None,
        });
    }
    out
}
