//! A window that ended while the daemon was down is closed on start: the verdict is there on
//! the first request, stamped at the evaluation (at or after `deployed_at + max`, between the
//! start and the first answer), with a reason saying the window closed at max, and the closed
//! release is not probed again. One release had every automated item complete (→ verified);
//! one had an item failing (→ failed).
//!
//! The window (min 10 s, max 11 s) leaves the first daemon ample time to see the items settle
//! and stop before min, however slow the machine; the test then waits out max.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::common::*;

#[tokio::test]
async fn a_window_that_ended_while_down_is_closed_on_start() {
    let target = FakeTarget::start(); // serves version 1.4.2
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut first = Daemon::start(&fx);
    let (min, max) = (chrono::Duration::seconds(10), chrono::Duration::seconds(11));
    let window = json!({"min": "10s", "max": "11s"});
    let good = first.create(json!({"service": "api", "version": "1.4.2", "window": window})).await;
    let bad = first.create(json!({"service": "api", "version": "9.9.9", "window": window})).await;
    let (good, bad) = (good["id"].as_str().unwrap().to_string(), bad["id"].as_str().unwrap().to_string());
    first.wait_item(&good, SMOKE, "complete", SOON).await;
    first.wait_item(&good, VERSION, "complete", SOON).await;
    first.wait_item(&bad, VERSION, "failing", SOON).await;
    let before = [first.release(&good).await, first.release(&bad).await];
    assert!(before.iter().all(|r| r["state"] == "deployed"), "stopped before min: {before:?}");
    let status = first.terminate(Duration::from_secs(5));
    let stopped = Utc::now();
    // Not a speed bound: had min passed, the first daemon would have closed the good release.
    let min_at = ts(&before[0]["deployed_at"]) + min;
    assert!(stopped < min_at, "the first daemon must stop before window min ({min_at}), stopped {stopped}");
    assert_eq!(status.code(), Some(0));
    drop(first);

    // Wait past max, then start again.
    let deployed = ts(&before[0]["deployed_at"]);
    let max_at = deployed + max;
    let wait = (max_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(700);
    tokio::time::sleep(wait).await;
    let started = Utc::now();
    let second = Daemon::start(&fx);

    for (id, state, reason, prev) in [
        (&good, "verified", "window closed at max; all 2 automated items complete", &before[0]),
        (&bad, "failed", "window closed at max with 1 of 2 automated items not complete", &before[1]),
    ] {
        let rel = second.release(id).await; // the first request: no waiting
        let answered = Utc::now();
        assert_eq!(rel["state"], state, "{id}: {rel}");
        assert!(rel["reason"].as_str().unwrap().starts_with(reason), "{id}: {rel}");
        let closed = ts(&rel["closed_at"]);
        let max_at = ts(&rel["deployed_at"]) + max;
        assert!(closed >= max_at, "{id}: closed_at {closed} is at or after deployed_at + max {max_at}");
        assert!(
            closed >= started && closed <= answered,
            "{id}: closed at start-up (between {started} and the first answer {answered}), not {closed}"
        );
        assert_eq!(rel["deployed_at"], prev["deployed_at"]);
        let last = second.get_json(&format!("/api/v1/releases/{id}/history")).await;
        let last = last.as_array().and_then(|h| h.last().cloned()).unwrap_or_default();
        assert_eq!((&last["from"], &last["to"]), (&json!("deployed"), &json!(state)), "{id}: {last}");
        assert!(last["message"].as_str().unwrap().starts_with(reason), "{id}: {last}");
    }
    // The good release's items kept their states; the bad one's version item is still failing.
    let g = second.release(&good).await;
    assert_eq!((&item(&g, SMOKE)["state"], &item(&g, VERSION)["state"]), (&json!("complete"), &json!("complete")));
    assert_eq!(item(&second.release(&bad).await, VERSION)["state"], "failing");

    // Closed releases are not probed again: checked once a release opened on the second daemon
    // has been probed 5 times (its probe tasks are running).
    let n = [second.results(&good, None).await.len(), second.results(&bad, None).await.len()];
    let open = second.create(json!({"service": "web", "version": "1.4.2"})).await;
    let open = open["id"].as_str().unwrap().to_string();
    wait_for("5 health results of a release opened after the restart", SOON, || async {
        let k = second.results(&open, Some("health")).await.len();
        if k >= 5 { Ok(()) } else { Err(format!("{k} so far")) }
    })
    .await;
    let m = [second.results(&good, None).await.len(), second.results(&bad, None).await.len()];
    assert_eq!(n, m, "no probe runs for a closed release");
    let newest = second.results(&good, None).await.first().map(|r| ts(&r["at"])).expect("results");
    assert!(newest < started, "no result after the restart: {newest}");
}
