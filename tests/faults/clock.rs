//! A window that ended while the daemon was down is closed on start: the verdict is there on
//! the first request, stamped at the evaluation (at or after `deployed_at + max`, within a
//! second of the start), with a reason saying the window closed at max, and the closed release
//! is not probed again. One release had every automated item complete (→ verified); one had
//! an item failing (→ failed).

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use super::common::*;

#[tokio::test]
async fn a_window_that_ended_while_down_is_closed_on_start() {
    let target = FakeTarget::start(); // serves version 1.4.2
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut first = Daemon::start(&fx);
    let window = json!({"min": "2s", "max": "3s"});
    let good = first.create(json!({"service": "api", "version": "1.4.2", "window": window})).await;
    let bad = first.create(json!({"service": "api", "version": "9.9.9", "window": window})).await;
    let created = Instant::now();
    let (good, bad) = (good["id"].as_str().unwrap().to_string(), bad["id"].as_str().unwrap().to_string());
    first.wait_item(&good, SMOKE, "complete", Duration::from_millis(1500)).await;
    first.wait_item(&good, VERSION, "complete", Duration::from_millis(1500)).await;
    first.wait_item(&bad, VERSION, "failing", Duration::from_millis(1500)).await;
    let before = [first.release(&good).await, first.release(&bad).await];
    assert!(before.iter().all(|r| r["state"] == "deployed"), "stopped before min: {before:?}");
    let status = first.terminate(Duration::from_secs(5));
    assert!(created.elapsed() < Duration::from_secs(2), "stopped before window min (2s)");
    assert_eq!(status.code(), Some(0));
    drop(first);

    // Wait past max (3 s after the deploy), then start again.
    let deployed = ts(&before[0]["deployed_at"]);
    let max_at = deployed + chrono::Duration::seconds(3);
    let wait = (max_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(700);
    tokio::time::sleep(wait).await;
    let started = Utc::now();
    let second = Daemon::start(&fx);
    let ready = Utc::now();

    for (id, state, reason, prev) in [
        (&good, "verified", "window closed at max; all 2 automated items complete", &before[0]),
        (&bad, "failed", "window closed at max with 1 of 2 automated items not complete", &before[1]),
    ] {
        let rel = second.release(id).await; // the first request: no waiting
        assert_eq!(rel["state"], state, "{id}: {rel}");
        assert_eq!(rel["reason"], reason, "{id}");
        let closed = ts(&rel["closed_at"]);
        let max_at = ts(&rel["deployed_at"]) + chrono::Duration::seconds(3);
        assert!(closed >= max_at, "{id}: closed_at {closed} is at or after deployed_at + max {max_at}");
        assert!(
            closed >= started && closed <= ready + chrono::Duration::seconds(1),
            "{id}: closed at start-up ({started}..{ready}), not {closed}"
        );
        assert_eq!(rel["deployed_at"], prev["deployed_at"]);
        let last = second.get_json(&format!("/api/v1/releases/{id}/history")).await;
        let last = last.as_array().and_then(|h| h.last().cloned()).unwrap_or_default();
        assert_eq!((&last["from"], &last["to"]), (&json!("deployed"), &json!(state)), "{id}: {last}");
        assert_eq!(last["message"], reason);
    }
    // The good release's items kept their states; the bad one's version item is still failing.
    let g = second.release(&good).await;
    assert_eq!((&item(&g, SMOKE)["state"], &item(&g, VERSION)["state"]), (&json!("complete"), &json!("complete")));
    assert_eq!(item(&second.release(&bad).await, VERSION)["state"], "failing");

    // Closed releases are not probed again.
    let n = [second.results(&good, None).await.len(), second.results(&bad, None).await.len()];
    tokio::time::sleep(Duration::from_millis(800)).await;
    let m = [second.results(&good, None).await.len(), second.results(&bad, None).await.len()];
    assert_eq!(n, m, "no probe runs for a closed release");
    let newest = second.results(&good, None).await.first().map(|r| ts(&r["at"])).expect("results");
    assert!(newest < started, "no result after the restart: {newest}");
}
