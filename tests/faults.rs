//! Fault injection against the real `shipwatch run` binary (issue 6, "Faults"):
//!
//! - `sources`: a Prometheus source that is down, slow, answering 500 or garbage JSON, and an
//!   Alertmanager that is down → results `error`, never `fail`; items never go failing; the
//!   outage is logged once; recovery → `pass`.
//! - `targets`: DNS failure, TLS failure, connection reset, a 100 MB body (bounded read, RSS
//!   stays low), a hanging target (timeout, schedule kept).
//! - `disk`: the SQLite file becomes unwritable while running: its filesystem fills up (a small
//!   tmpfs) or the file turns read-only (`chattr +i`); root only → the daemon stays up,
//!   `/-/ready` 503, nothing stored is lost, recovery.
//! - `clock`: a window that ended while the daemon was down is closed on start.
//!
//! `kill -9` in a loop lives in `tests/kill_loop.rs`. Misbehaving servers: `faults/servers.rs`.
//! Windows are seconds long and probes run every 200 ms without jitter.

#[path = "faults/clock.rs"]
mod clock;
mod common;
#[path = "faults/disk.rs"]
mod disk;
#[path = "faults/servers.rs"]
mod servers;
#[path = "faults/sources.rs"]
mod sources;
#[path = "faults/targets.rs"]
mod targets;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};

/// A config with `extra` (top-level YAML such as `sources:`), the `probes:` and `items:`
/// entries, window `min`..`max`, SQLite at `db` (relative to the config), the real checklist.
pub fn fixture(window: (&str, &str), db: &str, extra: &str, probes: &[String], items: &[String]) -> Fixture {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: {db} }}\nchecklist: checklist.md\n\
         window: {{ min: {}, max: {} }}\n{extra}probes:\n{}items:\n{}",
        window.0,
        window.1,
        probes.concat(),
        items.concat()
    );
    Fixture::new(&yaml, 0)
}

/// A `probes:` entry: `kind` is one YAML flow line such as `http: { url: "..." }`.
pub fn probe(name: &str, kind: &str, every: &str) -> String {
    format!("  {name}:\n    {kind}\n    every: {every}\n    jitter: 0s\n")
}

/// An `items:` entry binding `item` to `probes` with `pass`/`fail: {consecutive: N}`.
pub fn bind(item: &str, probes: &[&str], pass: u32, fail: u32) -> String {
    format!(
        "  {item}: {{ probes: [{}], pass: {{ consecutive: {pass} }}, fail: {{ consecutive: {fail} }} }}\n",
        probes.join(", ")
    )
}

/// Create release `service` `version` (window from the config); returns its id.
pub async fn create(d: &Daemon, service: &str, version: &str) -> String {
    let rel = d.create(json!({"service": service, "version": version})).await;
    rel["id"].as_str().unwrap().to_string()
}

/// Wait until `probe` of release `id` has at least `n` results at or after `since`; returns
/// them, oldest first.
pub async fn results_since(d: &Daemon, id: &str, probe: &str, since: DateTime<Utc>, n: usize) -> Vec<Value> {
    let what = format!("{n} {probe} results of {id} since {since}");
    wait_for(&what, SOON, || async move {
        let mut rs: Vec<Value> =
            d.results(id, Some(probe)).await.into_iter().filter(|r| ts(&r["at"]) >= since).collect();
        rs.reverse();
        if rs.len() >= n { Ok(rs) } else { Err(format!("{} so far: {rs:?}", rs.len())) }
    })
    .await
}

/// The statuses of `results`, as strings.
pub fn statuses(results: &[Value]) -> Vec<String> {
    results.iter().map(|r| r["status"].as_str().unwrap_or("?").to_string()).collect()
}

/// Assert every result is `error` (never `fail`), with a message containing one of `needles`;
/// returns the first message.
#[track_caller]
pub fn assert_all_error(results: &[Value], needles: &[&str], what: &str) -> String {
    for r in results {
        assert_eq!(r["status"], "error", "{what}: every result is error, never fail or pass: {r}");
        let msg = r["evidence"]["message"].as_str().unwrap_or_default();
        assert!(needles.iter().any(|n| msg.contains(n)), "{what}: message {msg:?} should mention one of {needles:?}");
    }
    results[0]["evidence"]["message"].as_str().unwrap_or_default().to_string()
}

/// The history rows of release `id` for `item`.
pub async fn item_history(d: &Daemon, id: &str, item: &str) -> Vec<Value> {
    let h = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    h.as_array().expect("history").iter().filter(|r| r["item_id"] == item).cloned().collect()
}

/// Assert `item` of `id` never went `failing` or `regressed`.
pub async fn assert_never_failed(d: &Daemon, id: &str, item_id: &str, what: &str) {
    let h = item_history(d, id, item_id).await;
    let bad: Vec<&Value> = h.iter().filter(|r| r["to"] == "failing" || r["to"] == "regressed").collect();
    assert!(bad.is_empty(), "{what}: {item_id} must never go failing/regressed: {bad:?}");
}

/// `GET path` on the daemon without panicking on connection errors: `Some(status)`.
pub async fn status_of(d: &Daemon, path: &str) -> Option<u16> {
    let r = d.client.get(format!("{}{path}", d.url)).timeout(Duration::from_secs(3)).send().await;
    r.ok().map(|r| r.status().as_u16())
}
