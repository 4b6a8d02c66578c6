//! What the demo says about its config and its release: the items it counts (the same way the
//! verdict does: `gate` items bound to probes decide), why each remaining item stays manual
//! (taken from the config: unbound, or bound in `shadow` mode), and the progress line printed
//! while the window runs. Pure functions of the config and the API's JSON.

use serde_json::Value;

use crate::config::{Config, Mode};

/// The demo config's items, counted as the verdict counts them.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Bound to probes in `gate` mode: these decide the verdict ("all N automated items").
    pub gate: Vec<String>,
    /// Bound to probes in `warn` mode: they move and notify, never decide.
    pub warn: Vec<String>,
    /// Action items: ticked when their event is delivered (`on: item.regressed`).
    pub on_event: Vec<String>,
    /// Items a person ticks, each with why, from the config.
    pub manual: Vec<(String, String)>,
    /// Checklist items in all.
    pub total: usize,
}

/// Sort the checklist's items by what the config (shown as `file`) makes of them.
pub fn plan(cfg: &Config, file: &str) -> Plan {
    let mut p = Plan { total: cfg.checklist.items.len(), ..Plan::default() };
    for it in &cfg.checklist.items {
        let id = it.id.clone();
        match cfg.items.get(&it.id) {
            Some(b) if b.mode == Mode::Shadow => {
                let why = format!("shadow mode in {file}: {} run and show, change nothing", b.probes.join(", "));
                p.manual.push((id, why));
            }
            Some(b) if b.probes.is_empty() => p.on_event.push(id),
            Some(b) if b.mode == Mode::Warn => p.warn.push(id),
            Some(_) => p.gate.push(id),
            None if cfg.is_bound(&it.id) => p.on_event.push(id),
            None if it.checked => {}
            None => p.manual.push((id, format!("not bound in {file}: no probe or event under items:"))),
        }
    }
    p
}

impl Plan {
    /// The header's line: the same count the verdict gives.
    pub fn header(&self) -> String {
        let mut s = format!("{} of {} items decide the verdict (gate, bound to probes)", self.gate.len(), self.total);
        if !self.warn.is_empty() {
            s.push_str(&format!(", {} only warn", self.warn.len()));
        }
        if !self.on_event.is_empty() {
            s.push_str(&format!(", {} tick on an event", self.on_event.len()));
        }
        s.push_str(&format!(", {} stay manual", self.manual.len()));
        s
    }

    /// The closing list: every manual item with why it is manual, grouped by reason.
    pub fn manual_list(&self, id: &str, api: &str) -> String {
        if self.manual.is_empty() {
            return String::new();
        }
        let n = self.manual.len();
        let (stay, them) = if n == 1 { ("item stays", "it") } else { ("items stay", "them") };
        let mut out = format!("{n} {stay} manual: a person ticks {them}\n");
        // Grouped by reason, in checklist order of each reason's first item.
        let mut groups: Vec<(&str, Vec<&str>)> = vec![];
        for (item, why) in &self.manual {
            match groups.iter_mut().find(|(w, _)| w == why) {
                Some((_, ids)) => ids.push(item),
                None => groups.push((why, vec![item])),
            }
        }
        for (why, ids) in groups {
            out.push_str(&format!("  {why} ({}):\n", ids.len()));
            for i in ids {
                out.push_str(&format!("    - {i}\n"));
            }
        }
        out.push_str(&format!("  tick one: shipwatch tick {id} ITEM --by NAME --server {api}\n"));
        out
    }
}

fn secs(v: &Value) -> Option<u64> {
    v.as_f64().map(|s| s.max(0.0).round() as u64)
}

/// The demo's progress line from the release JSON: the window and the gate items' states, e.g.
/// `window 12s: 8s to min, 28s to max · 5 of 11 gate items complete, 5 pending, 1 red`. The
/// key changes every 10 s of the window and with the counts (for plain output).
pub fn progress(rel: &Value, gate: &[String]) -> (String, String) {
    let w = &rel["window"];
    let elapsed = secs(&w["elapsed_s"]).unwrap_or(0);
    let min = secs(&w["min_s"]).unwrap_or(0);
    let window = match secs(&w["remaining_s"]) {
        Some(left) if elapsed < min => format!("window {elapsed}s: {}s to min, {left}s to max", min - elapsed),
        Some(left) => format!("window {elapsed}s: min reached, {left}s to max"),
        None => format!("window {elapsed}s: closed"),
    };
    let state = |id: &str| {
        rel["items"].as_array().into_iter().flatten().find(|i| i["id"] == id).and_then(|i| i["state"].as_str())
    };
    let n = |want: &[&str]| gate.iter().filter(|i| state(i).is_some_and(|s| want.contains(&s))).count();
    let mut counts = format!("{} of {} gate items complete", n(&["complete", "waived"]), gate.len());
    for (label, states) in
        [("pending", &["pending"][..]), ("red", &["failing", "regressed"]), ("unknown", &["unknown"])]
    {
        let k = n(states);
        if k > 0 || label == "pending" {
            counts.push_str(&format!(", {k} {label}"));
        }
    }
    (format!("{} {counts}", elapsed / 10), format!("{window} · {counts}"))
}

#[cfg(test)]
#[path = "demo_plan_tests.rs"]
mod tests;
