//! Binding modes (issue 11 §4): `warn` changes its item and notifies but never fails or blocks
//! the release; `shadow` records and shows its probe's results but changes nothing — the item
//! stays manual, nothing is notified, nothing counts for the verdict.
//!
//! One real daemon, one fake target. Its `/healthz` answers 200: `smoke` (expects 200) passes,
//! `strict` (expects 201) fails. The notifier points at a closed port, so whatever is routed to
//! it stays in the outbox, where the test can see it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const GATE: &str = "run-post-deploy-smoke-tests-on-production";
const WARN: &str = "check-monitoring-dashboards-for-anomalies";
const SHADOW: &str = "review-error-rates-and-system-health-metrics";

const YAML: &str = r#"
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./shipwatch.db }
checklist: checklist.md
notify:
  hook: { webhook: { url: "http://127.0.0.1:9/never" } }
probes:
  smoke: { http: { url: "http://127.0.0.1:__PORT__/healthz" }, every: 300ms, jitter: 0s }
  strict: { http: { url: "http://127.0.0.1:__PORT__/healthz", expect: { status: [201] } }, every: 300ms, jitter: 0s }
  trial: { http: { url: "http://127.0.0.1:__PORT__/healthz", expect: { status: [201] } }, every: 300ms, jitter: 0s }
items:
  run-post-deploy-smoke-tests-on-production: { probes: [smoke] }
  check-monitoring-dashboards-for-anomalies: { probes: [strict], mode: warn, notify: [hook], fail: { consecutive: 2 } }
  review-error-rates-and-system-health-metrics: { probes: [trial], mode: shadow, notify: [hook], fail: { consecutive: 1 } }
"#;

/// Outbox rows routed for `item`.
async fn outbox_for(d: &Daemon, item: &str) -> Vec<Value> {
    let (code, body) = d.get("/api/v1/outbox").await;
    assert_eq!(code, 200, "{body}");
    let rows: Value = serde_json::from_str(&body).unwrap();
    rows.as_array().unwrap().iter().filter(|r| r.to_string().contains(item)).cloned().collect()
}

#[tokio::test]
async fn warn_and_shadow_change_what_they_say_and_nothing_else() {
    let target = FakeTarget::start();
    let fx = Fixture::new(YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.0", "window": {"min": "5s", "max": "8s"}})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    assert_eq!(item(&rel, SHADOW)["state"], "manual", "a shadow item is a manual item: {rel}");
    assert_eq!(item(&rel, SHADOW)["mode"], "shadow");
    assert_eq!(item(&rel, WARN)["mode"], "warn");

    // warn: the item changes state and notifies.
    let warn = d.wait_item(&id, WARN, "failing", Duration::from_secs(20)).await;
    assert_eq!(warn["evidence"]["status"], "fail", "{warn}");
    let routed = wait_for("item.failing of the warn item in the outbox", Duration::from_secs(20), || async {
        let rows = outbox_for(&d, WARN).await;
        if rows.iter().any(|r| r.to_string().contains("item.failing")) { Ok(rows) } else { Err(format!("{rows:?}")) }
    })
    .await;
    assert!(!routed.is_empty());

    // shadow: results are recorded, the item does not move.
    let trial = wait_for("3 shadow results", Duration::from_secs(20), || async {
        let r = d.results(&id, Some("trial")).await;
        if r.len() >= 3 { Ok(r) } else { Err(format!("{} results", r.len())) }
    })
    .await;
    assert!(trial.iter().all(|r| r["status"] == "fail"), "{trial:?}");

    // The warn item failing does not fail or block the release; the verdict lists it.
    let done = d.wait_release(&id, "verified", Duration::from_secs(30)).await;
    let reason = done["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("warn items not complete: {WARN} (failing")), "{reason}");
    assert!(!reason.contains(SHADOW), "a shadow item is never part of the verdict: {reason}");
    assert_eq!(item(&done, GATE)["state"], "complete");
    assert_eq!(item(&done, SHADOW)["state"], "manual", "still manual after failing results: {done}");

    let history: Value = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let shadow_rows: Vec<&Value> =
        history.as_array().unwrap().iter().filter(|h| h["item_id"] == SHADOW && !h["from"].is_null()).collect();
    assert!(shadow_rows.is_empty(), "no state change of the shadow item: {shadow_rows:?}");
    assert!(outbox_for(&d, SHADOW).await.is_empty(), "nothing is notified for the shadow item");

    // A person can still tick the shadow item: it is theirs.
    let (code, ticked) = d
        .post(&format!("/api/v1/releases/{id}/items/{SHADOW}/tick"), &json!({"by": "ana", "note": "checked by hand"}))
        .await;
    assert_eq!(code, 200, "{ticked}");
    assert_eq!(ticked["state"], "complete");
}

#[test]
fn check_config_counts_items_per_mode() {
    let fx = Fixture::new(YAML, 9);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipwatch"))
        .args(["check-config", "--config"])
        .arg(&fx.config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let total = CHECKLIST.lines().filter(|l| l.trim_start().starts_with("- [")).count();
    assert!(
        stdout.contains(&format!("3 of {total} checklist items automated (1 gate, 1 warn, 1 shadow; ")),
        "{stdout}"
    );
}
