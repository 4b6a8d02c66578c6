//! The human form of `shipwatch status`: a page of the release list, or one release with its
//! items. An `unknown` item says since when it could not be measured and its last error (in
//! amber) instead of old evidence; automated items show their coverage (amber below their
//! `min_coverage`) and `warn`/`shadow` bindings their mode; an inconclusive release says how a
//! person settles it. Pure functions of the API's JSON, so they are tested without a daemon.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::table;
use crate::release::{ItemState, ReleaseState};
use crate::rules::pct;

/// Characters of evidence shown per row (an unknown item's sentence gets more: it starts with
/// its time).
const EVIDENCE_CHARS: usize = 70;
const UNKNOWN_CHARS: usize = 110;

fn secs(v: &Value) -> String {
    match v.as_f64() {
        Some(s) => humantime::format_duration(std::time::Duration::from_secs(s.max(0.0) as u64)).to_string(),
        None => "-".into(),
    }
}

/// `s` cut to `n` characters, with `…` when something was cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(['…']).collect() }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

/// The `state` field of `v`, painted in its colour when `color` is on.
fn state_cell(v: &Value, color: bool) -> String {
    let s = v["state"].as_str().unwrap_or("");
    table::paint(s, s, color)
}

/// "could not measure since T: LAST ERROR" of an `unknown` item: `since` from its cause (else
/// its last measurement), the error from the latest result of its probes after that.
pub(super) fn unmeasured(i: &Value) -> String {
    let since = if i["cause"]["kind"] == "unmeasured" { time(&i["cause"]["since"]) } else { None };
    let since = since.or_else(|| time(&i["fresh_at"])).or_else(|| time(&i["since"]));
    let error = i["last_results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((time(&r["at"])?, r["evidence"]["message"].as_str()?)))
        .filter(|(at, _)| since.is_none_or(|s| *at > s))
        .max_by_key(|(at, _)| *at)
        .map_or("no result since (was shipwatch down?)", |(_, m)| m);
    match since {
        Some(s) => format!("could not measure since {}: {error}", s.format("%Y-%m-%d %H:%M:%S UTC")),
        None => format!("could not measure: {error}"),
    }
}

/// Why a `pending` item has not moved: its latest result ("could not measure: ERROR" for an
/// error, "latest fail: …" otherwise), or that none came yet.
pub(super) fn waiting(i: &Value) -> String {
    let latest = i["last_results"].as_array().into_iter().flatten().max_by_key(|r| time(&r["at"]));
    let Some(r) = latest else { return "no result yet".into() };
    let msg = r["evidence"]["message"].as_str().unwrap_or("");
    match r["status"].as_str().unwrap_or("?") {
        "error" => format!("could not measure: {msg}"),
        status => format!("latest {status}: {msg}"),
    }
}

/// The manual items of a release (state `manual`, not shadow-bound: those are in the table):
/// their ids to `tick`, each with the start of its text.
fn manual_list(v: &Value) -> String {
    let manual: Vec<Vec<String>> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["state"] == "manual" && i["mode"] != "shadow")
        .map(|i| vec![format!("  {}", i["id"].as_str().unwrap_or("")), cut(i["text"].as_str().unwrap_or(""), 60)])
        .collect();
    if manual.is_empty() {
        return String::new();
    }
    let (n, wait) = if manual.len() == 1 {
        ("1 manual item".to_string(), "waits")
    } else {
        (format!("{} manual items", manual.len()), "wait")
    };
    let id = v["id"].as_str().unwrap_or("ID");
    let mut out = format!("\n{n} {wait} for a person; tick one with: shipwatch tick {id} ITEM --by NAME\n");
    let width = manual.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    for row in manual {
        out.push_str(format!("{:width$}  {}", row[0], row[1]).trim_end());
        out.push('\n');
    }
    out
}

/// Why an item that is not done yet is still waited for: an `unknown` item's last error, a
/// `pending` one's latest result, a manual one's tick.
pub(super) fn why_waiting(i: &Value) -> String {
    match ItemState::deserialize(&i["state"]).ok() {
        Some(ItemState::Unknown) => unmeasured(i),
        Some(ItemState::Pending) => waiting(i),
        Some(ItemState::Manual) => "waits for a person to tick it".into(),
        _ => i["evidence"]["evidence"]["message"].as_str().unwrap_or("").to_string(),
    }
}

/// The coverage of an automated item ("93.4%"; "62.5% < 90%" in amber below its minimum), "-"
/// for an automated item without one yet, empty for others.
fn coverage_cell(i: &Value, color: bool) -> String {
    let Some(c) = i["coverage"].as_f64() else {
        return if i["automated"] == true { "-".into() } else { String::new() };
    };
    match i["min_coverage"].as_f64().filter(|m| c < *m) {
        Some(min) => table::paint("unknown", &format!("{} < {}", pct(c), pct(min)), color),
        None => pct(c),
    }
}

/// One item: state, id (with its mode unless `gate`), coverage, and its evidence, or why it
/// can't be seen.
fn item_row(i: &Value, color: bool) -> Vec<String> {
    let state = ItemState::deserialize(&i["state"]).ok();
    let mode = i["mode"].as_str().filter(|m| *m != "gate");
    let id = i["id"].as_str().unwrap_or("");
    let why = if state == Some(ItemState::Unknown) {
        table::paint("unknown", &cut(&unmeasured(i), UNKNOWN_CHARS), color)
    } else if mode == Some("shadow") {
        // The item stays manual; what its probes said is shown, marked.
        let last = i["last_results"].as_array().into_iter().flatten().max_by_key(|r| time(&r["at"]));
        let said = last.map(|r| {
            format!("{}: {}", r["status"].as_str().unwrap_or("?"), r["evidence"]["message"].as_str().unwrap_or(""))
        });
        cut(&format!("shadow, changes nothing; latest {}", said.as_deref().unwrap_or("none yet")), EVIDENCE_CHARS)
    } else if state == Some(ItemState::Pending) {
        cut(&waiting(i), EVIDENCE_CHARS)
    } else {
        let ev = i["evidence"]["evidence"]["message"].as_str().or(i["note"].as_str()).unwrap_or("");
        cut(ev, EVIDENCE_CHARS)
    };
    let id = match mode {
        Some(m) => format!("{id} ({m})"),
        None => id.to_string(),
    };
    vec![state_cell(i, color), id, coverage_cell(i, color), why]
}

/// The human form of `status`: a page of the release list, or one release with its items.
pub fn render_status_colored(v: &Value, one: bool, color: bool) -> String {
    if one { render_release(v, color, true) } else { render_list(v, color) }
}

/// One release with its items; `manual`: end with the manual items to tick (the demo lists
/// them itself, with why each is manual).
pub fn render_release(v: &Value, color: bool, manual: bool) -> String {
    let mut out = format!(
        "{} {} {} ({}) — {}{}\n",
        v["id"].as_str().unwrap_or(""),
        v["service"].as_str().unwrap_or(""),
        v["version"].as_str().unwrap_or(""),
        v["environment"].as_str().unwrap_or(""),
        state_cell(v, color),
        v["reason"].as_str().map(|r| format!(": {r}")).unwrap_or_default()
    );
    if ReleaseState::deserialize(&v["state"]).ok() == Some(ReleaseState::Inconclusive) {
        out.push_str(&format!(
            "nobody could tell: settle it with shipwatch verdict {} --verified|--failed --by NAME [--note WHY]\n",
            v["id"].as_str().unwrap_or("ID")
        ));
    }
    out.push_str(&format!(
        "window: {} elapsed, {} left\n\n",
        secs(&v["window"]["elapsed_s"]),
        secs(&v["window"]["remaining_s"])
    ));
    let rows: Vec<Vec<String>> = v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| {
                    i["automated"].as_bool() == Some(true)
                        || i["mode"] == "shadow"
                        || ItemState::deserialize(&i["state"]).ok() != Some(ItemState::Manual)
                })
                .map(|i| item_row(i, color))
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&table::render(&["STATE", "ITEM", "COVERAGE", "EVIDENCE"], &rows));
    let unknown = v["counts"]["unknown"].as_u64().unwrap_or(0);
    if unknown > 0 {
        let (s, were) = if unknown == 1 { ("", "its probes") } else { ("s", "their probes") };
        out.push_str(&format!("\n{unknown} item{s} can't be seen: {were} could not measure (unknown)\n"));
    }
    if manual {
        out.push_str(&manual_list(v));
    }
    out
}

/// A page of the release list.
fn render_list(v: &Value, color: bool) -> String {
    let rows: Vec<Vec<String>> = v["releases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let c = &r["counts"];
                    let n = |k: &str| c[k].as_u64().unwrap_or(0);
                    let unknown = match n("unknown") {
                        0 => "0".to_string(),
                        u => table::paint("unknown", &u.to_string(), color),
                    };
                    vec![
                        r["id"].as_str().unwrap_or("").into(),
                        format!("{} {}", r["service"].as_str().unwrap_or(""), r["version"].as_str().unwrap_or("")),
                        r["environment"].as_str().unwrap_or("").into(),
                        state_cell(r, color),
                        format!(
                            "{}/{}/{}/{unknown}/{}",
                            n("complete"),
                            n("pending"),
                            n("failing") + n("regressed"),
                            n("manual")
                        ),
                        secs(&r["window"]["remaining_s"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        return "no releases match; start one with: shipwatch release start --service S --version V\n".into();
    }
    let mut out = table::render(&["ID", "RELEASE", "ENV", "STATE", "DONE/PEND/RED/UNKNOWN/MANUAL", "LEFT"], &rows);
    if let Some(next) = v["next_cursor"].as_str() {
        out.push_str(&format!("more releases: add --cursor {next} (same filters) for the next page\n"));
    }
    out
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
