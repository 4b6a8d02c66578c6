//! `shipwatch gate ID`: a CI/CD step that waits on shipwatch's answer for a release.
//!
//! Polls `GET /api/v1/releases/{id}` until the selected items (see [`select`]) are all
//! `complete` or `waived` (exit 0), one of them is `failing`/`regressed` or the release `failed`
//! (exit 1), the release closed `inconclusive` (exit 3), or `--timeout` passes (exit 2). Setup errors (unknown release or item, bad flags,
//! daemon unreachable at the start) exit 1. A live progress line goes to stderr (rewritten in
//! place on a terminal, a line per change otherwise); `--junit FILE` writes a JUnit report.

mod cases;
mod select;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::ServerArgs;
use super::client::{self, Failure};
use super::junit::{self, Case, Suite, Verdict};
use super::progress::Progress;
use super::status::why_waiting;
use crate::release::{ItemState, ReleaseState};
use cases::{cases, evidence_text};
use select::Selection;

/// Exit codes: the contract with CI.
const PASSED: u8 = 0;
const FAILED: u8 = 1;
const TIMED_OUT: u8 = 2;
/// The release closed inconclusive: its evidence was not seen enough to tell (a person decides).
const INCONCLUSIVE: u8 = 3;

#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// Release id (as printed by `release start`).
    pub id: String,
    /// Wait for these item ids (comma-separated) instead of every automated item.
    #[arg(long)]
    pub items: Option<String>,
    /// Wait for the items under this checklist heading (or any heading enclosing them).
    #[arg(long)]
    pub section: Option<String>,
    /// Give up after this long (exit 2), e.g. 90s, 10m, 1h.
    #[arg(long, default_value = "10m")]
    pub timeout: String,
    /// How often to ask the daemon.
    #[arg(long, default_value = "2s")]
    pub interval: String,
    /// Write a JUnit XML report here (atomically).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// How a gate ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Passed,
    /// Red items, or the release failed (with its reason).
    Failed {
        red: Vec<String>,
        release: Option<String>,
    },
    TimedOut,
    /// The release closed `inconclusive` (with its reason): neither passed nor failed.
    Inconclusive(String),
    /// The daemon refused mid-way (release gone, token revoked).
    Aborted(String),
}

fn parse_dur(flag: &str, s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("{flag} must be more than 0")),
        Err(e) => Err(format!("{flag} {s:?} is not a duration ({e}); write e.g. 30s, 10m, 1h")),
    }
}

/// `1h2m3s`, `1m20s`, `45s`; rounded up (time left: "0s" only shows at the end).
fn compact(d: Duration) -> String {
    compact_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Like [`compact`], rounded down (time taken: a 3s timeout does not read "after 4s").
fn compact_floor(d: Duration) -> String {
    compact_secs(d.as_secs())
}

fn compact_secs(t: u64) -> String {
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// An item's state in the daemon's answer. A missing item, or a state this CLI does not know,
/// counts as pending: never as done.
fn state_of(rel: &Value, id: &str) -> ItemState {
    item(rel, id).and_then(|i| ItemState::deserialize(&i["state"]).ok()).unwrap_or(ItemState::Pending)
}

fn item<'a>(rel: &'a Value, id: &str) -> Option<&'a Value> {
    rel["items"].as_array()?.iter().find(|i| i["id"] == id)
}

fn is_red(state: ItemState) -> bool {
    matches!(state, ItemState::Failing | ItemState::Regressed)
}

/// A closed release's verdict is the answer (failed 1, inconclusive 3, verified 0: by the window
/// or by a person; `warn` items never block it); while it is open, red items fail the gate and
/// all items done pass it; `None` while still waiting. An inconclusive release never passes,
/// even with every item done: its evidence was not seen enough.
fn verdict(rel: &Value, selected: &[String]) -> Option<Outcome> {
    let red: Vec<String> = selected.iter().filter(|i| is_red(state_of(rel, i))).cloned().collect();
    // A release state this CLI does not know (a newer daemon) is never a pass: keep waiting.
    let Ok(release) = ReleaseState::deserialize(&rel["state"]) else { return None };
    let failed = release == ReleaseState::Failed;
    match release {
        ReleaseState::Inconclusive => {
            return Some(Outcome::Inconclusive(rel["reason"].as_str().unwrap_or("no reason given").to_string()));
        }
        ReleaseState::Verified => return Some(Outcome::Passed),
        _ => {}
    }
    if !red.is_empty() || failed {
        let reason = failed.then(|| rel["reason"].as_str().unwrap_or("no reason given").to_string());
        return Some(Outcome::Failed { red, release: reason });
    }
    selected.iter().all(|i| state_of(rel, i).is_done()).then_some(Outcome::Passed)
}

/// Characters of the progress line (one terminal line on most screens).
const LINE_CHARS: usize = 160;

/// `s` cut to `n` characters, with `…` when something was cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(['…']).collect() }
}

/// `gate ID: 3/5 complete, 2 pending — 1m20s left · smoke: could not measure: …` (the part
/// before `—` is the change key; after the time, the first item still waited for and why).
fn progress_line(id: &str, rel: &Value, selected: &[String], left: Duration) -> (String, String) {
    let states: Vec<ItemState> = selected.iter().map(|i| state_of(rel, i)).collect();
    let n = |f: fn(ItemState) -> bool| states.iter().filter(|s| f(**s)).count();
    let mut key = format!("gate {id}: {}/{} complete", n(ItemState::is_done), states.len());
    let waived = n(|s| s == ItemState::Waived);
    if waived > 0 {
        key.push_str(&format!(" ({waived} waived)"));
    }
    key.push_str(&format!(", {} pending", n(|s| s == ItemState::Pending)));
    let manual = n(|s| s == ItemState::Manual);
    if manual > 0 {
        key.push_str(&format!(", {manual} manual (waiting for a tick)"));
    }
    let mut line = format!("{key} — {} left", compact(left));
    if let Some(first) = selected.iter().find(|i| !state_of(rel, i).is_done()) {
        let why = item(rel, first).map_or_else(|| "not in the release".to_string(), why_waiting);
        line.push_str(&format!(" · {first}: {why}"));
    }
    (key, cut(&line, LINE_CHARS))
}

/// The first line of a timed-out gate. It names the `--timeout` given, not the time measured: the
/// last poll ends a little after the deadline, and `--timeout 5s` read "timed out after 6s".
fn timed_out_line(id: &str, done: usize, total: usize, timeout: Duration) -> String {
    let given = humantime::format_duration(timeout).to_string().replace(' ', "");
    format!("gate {id}: timed out after {given} — {done}/{total} items complete; still waiting for:")
}

/// Print the final verdict on stdout and return its exit code.
fn report(id: &str, rel: &Value, selected: &[String], outcome: &Outcome, elapsed: Duration, timeout: Duration) -> u8 {
    let done = selected.iter().filter(|i| state_of(rel, i).is_done()).count();
    let total = selected.len();
    match outcome {
        Outcome::Passed => {
            println!("gate {id}: passed — {done}/{total} items complete after {}", compact_floor(elapsed));
            PASSED
        }
        Outcome::Failed { red, release } => {
            println!("gate {id}: FAILED — {done}/{total} items complete");
            for r in red {
                let it = item(rel, r).cloned().unwrap_or(Value::Null);
                println!("  ✗ {r} is {}: {}", state_of(rel, r).as_str(), evidence_text(&it).0);
            }
            if let Some(reason) = release {
                println!("  ✗ release {id} failed: {reason}");
            }
            FAILED
        }
        Outcome::TimedOut => {
            println!("{}", timed_out_line(id, done, total, timeout));
            for i in selected.iter().filter(|i| !state_of(rel, i).is_done()) {
                let why = item(rel, i).map_or_else(|| "not in the release".to_string(), why_waiting);
                println!("  … {i} ({}): {why}", state_of(rel, i).as_str());
            }
            TIMED_OUT
        }
        Outcome::Inconclusive(reason) => {
            println!("gate {id}: INCONCLUSIVE — {done}/{total} items complete");
            println!("  ? release {id} is inconclusive: {reason}");
            println!("  settle it: shipwatch verdict {id} --verified|--failed --by NAME --note WHY");
            INCONCLUSIVE
        }
        Outcome::Aborted(msg) => {
            println!("gate {id}: stopped — {msg}");
            FAILED
        }
    }
}

/// Write the JUnit report, if asked; a report that cannot be written turns the exit code to 1.
fn write_junit(a: &GateArgs, started: chrono::DateTime<chrono::Utc>, elapsed: f64, cases: Vec<Case>, code: u8) -> u8 {
    let Some(path) = &a.junit else { return code };
    let suite = Suite {
        name: format!("shipwatch gate {}", a.id),
        time_s: elapsed,
        timestamp: started.format("%Y-%m-%dT%H:%M:%S").to_string(),
        cases,
    };
    match junit::write_atomic(path, &junit::render(&suite)) {
        Ok(()) => code,
        Err(e) => {
            eprintln!("shipwatch: cannot write the JUnit report {}: {e}", path.display());
            FAILED
        }
    }
}

/// A gate that could not start: print why, write a one-case report if asked, exit 1.
fn setup_error(a: &GateArgs, started: chrono::DateTime<chrono::Utc>, msg: &str) -> ExitCode {
    eprintln!("shipwatch: {msg}");
    let case = Case {
        classname: "shipwatch".into(),
        name: "gate setup".into(),
        time_s: 0.0,
        verdict: Verdict::Error { message: msg.lines().next().unwrap_or("").into(), body: msg.into() },
        output: None,
    };
    ExitCode::from(write_junit(a, started, 0.0, vec![case], FAILED))
}

/// Run the gate.
pub async fn run(a: GateArgs) -> anyhow::Result<ExitCode> {
    let (start, started) = (Instant::now(), chrono::Utc::now());
    let settings = parse_dur("--timeout", &a.timeout).and_then(|t| {
        let i = parse_dur("--interval", &a.interval)?;
        let sel = Selection::from_args(a.items.as_deref(), a.section.as_deref())?;
        Ok((t, i.max(Duration::from_millis(100)), sel))
    });
    let (timeout, interval, selection) = match settings {
        Ok(s) => s,
        Err(msg) => return Ok(setup_error(&a, started, &msg)),
    };
    let deadline = start + timeout;
    let (server, id) = (a.server.server.as_str(), a.id.as_str());
    let path = match client::api_path(&["releases", id]) {
        Ok(p) => p,
        Err(e) => return Ok(setup_error(&a, started, &e.to_string())),
    };
    let fetch = |path: String| async move {
        match tokio::time::timeout_at(deadline.into(), client::get(server, &path)).await {
            Ok(Ok(resp)) => resp.json::<Value>().await.map_err(|e| Failure::Unreachable(e.to_string())).map(Some),
            Ok(Err(f)) => Err(f),
            Err(_) => Ok(None),
        }
    };
    let mut rel = match fetch(path.clone()).await {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(setup_error(&a, started, &format!("no answer from {server} within {}", a.timeout))),
        Err(f @ Failure::Http(401, _)) => {
            let hint = "set SHIPWATCH_API_TOKEN to the daemon's server.read_token or server.api_token";
            return Ok(setup_error(&a, started, &format!("{f}\n  {hint}")));
        }
        Err(f) => return Ok(setup_error(&a, started, &f.to_string())),
    };
    let items = rel["items"].as_array().cloned().unwrap_or_default();
    let paths = match &selection {
        Selection::Section(_) => match client::get(server, &format!("{path}/checklist.md")).await {
            Ok(r) => select::section_paths(&r.text().await.unwrap_or_default(), &items),
            Err(_) => HashMap::new(),
        },
        _ => HashMap::new(),
    };
    let selected = match select::select(id, &items, &selection, &paths) {
        Ok(s) => s,
        Err(msg) => return Ok(setup_error(&a, started, &msg)),
    };
    let tty = std::io::stderr().is_terminal();
    let mut progress = Progress::new(tty);
    let mut done_at: HashMap<String, f64> = HashMap::new();
    let mut trouble: Option<String> = None;
    let outcome = loop {
        let now = Instant::now();
        for i in selected.iter().filter(|i| state_of(&rel, i).is_done()) {
            done_at.entry(i.clone()).or_insert_with(|| now.duration_since(start).as_secs_f64());
        }
        if let Some(o) = verdict(&rel, &selected) {
            break o;
        }
        if now >= deadline {
            break Outcome::TimedOut;
        }
        // On a terminal the time left ticks every second between polls.
        let next_poll = now + interval.min(deadline - now);
        loop {
            let now = Instant::now();
            let (mut key, mut line) = progress_line(id, &rel, &selected, deadline.saturating_duration_since(now));
            if let Some(t) = &trouble {
                line = format!("{line} ({t}; retrying)");
                key.push_str(" (trouble)");
            }
            progress.show(&key, &line);
            let step = if tty { Duration::from_secs(1) } else { interval };
            let wake = next_poll.min(now + step);
            if wake <= now {
                break;
            }
            tokio::time::sleep(wake - now).await;
            if wake >= next_poll {
                break;
            }
        }
        match fetch(path.clone()).await {
            Ok(Some(v)) => (rel, trouble) = (v, None),
            Ok(None) => {}
            Err(Failure::Http(code @ (401 | 403 | 404), msg)) => break Outcome::Aborted(format!("{code}: {msg}")),
            Err(f) => trouble = Some(f.to_string()),
        }
    };
    progress.finish();
    let elapsed = start.elapsed();
    let code = report(id, &rel, &selected, &outcome, elapsed, timeout);
    let cases = cases(&rel, &selected, &outcome, &done_at, elapsed.as_secs_f64());
    Ok(ExitCode::from(write_junit(&a, started, elapsed.as_secs_f64(), cases, code)))
}

#[cfg(test)]
mod tests;
