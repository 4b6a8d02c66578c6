//! Restarts: a daemon stopped with SIGKILL (crash) or SIGTERM (graceful) and started again on
//! the same config and SQLite file must come back with every release, item state, `by`, note
//! and evidence, keep the stored results, and resume probing active releases.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};

/// What must survive a restart, per item.
fn item_facts(rel: &Value) -> Vec<Value> {
    rel["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| json!({"id": i["id"], "state": i["state"], "since": i["since"], "by": i["by"], "note": i["note"], "evidence": i["evidence"]}))
        .collect()
}

/// The release-level fields that must survive a restart.
fn release_facts(rel: &Value) -> Value {
    json!({"id": rel["id"], "service": rel["service"], "version": rel["version"], "environment": rel["environment"],
        "state": rel["state"], "deployed_at": rel["deployed_at"], "window_min": rel["window"]["min_s"], "window_max": rel["window"]["max_s"]})
}

/// A release whose HTTP items completed and one manual item ticked, on a long window so it is
/// still active after the restart. Returns its id.
async fn prepare(d: &Daemon) -> String {
    let rel = d.create(json!({"service": "api", "version": "1.4.2", "window": {"min": "5m", "max": "10m"}})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    d.wait_item(&id, VERSION, "complete", SOON).await;
    let tick = json!({"by": "carol", "note": "rollback doc is in the wiki"});
    let (status, body) = d.post(&format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/tick"), &tick).await;
    assert_eq!(status, 200, "tick: {body}");
    id
}

/// Stop the first daemon with `stop`, start a second one on the same files and check it.
async fn restart_keeps_everything(stop: impl FnOnce(&mut Daemon)) {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut first = Daemon::start(&fx);
    let id = prepare(&first).await;
    let before = first.release(&id).await;
    let old_results = first.results(&id, None).await;
    assert!(old_results.len() >= 3, "results before the restart: {old_results:?}");
    let old_history = first.get_json(&format!("/api/v1/releases/{id}/history")).await;
    stop(&mut first);

    let second = Daemon::start(&fx);
    let list = second.get_json("/api/v1/releases").await;
    let ids: Vec<&Value> = list["releases"].as_array().expect("release list").iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, vec![&json!(id)], "releases after the restart");

    let after = second.release(&id).await;
    assert_eq!(release_facts(&after), release_facts(&before));
    assert_eq!(item_facts(&after), item_facts(&before), "item states, by, note and evidence survive");
    let smoke = item(&after, SMOKE);
    assert_eq!(
        (&smoke["state"], &smoke["cause"]["kind"], &smoke["by"], &smoke["evidence"]["probe"]),
        (&json!("complete"), &json!("rule"), &Value::Null, &json!("health"))
    );
    let manual = item(&after, ROLLBACK_DOC);
    assert_eq!((&manual["state"], &manual["by"]), (&json!("complete"), &json!("carol")));
    assert_eq!(after["counts"], before["counts"]);

    // Every stored result and history row is still there.
    let new_results = second.results(&id, None).await;
    for old in &old_results {
        assert!(new_results.contains(old), "result lost in the restart: {old}");
    }
    let history = second.get_json(&format!("/api/v1/releases/{id}/history")).await;
    for old in old_history.as_array().expect("history") {
        assert!(history.as_array().expect("history").contains(old), "history row lost: {old}");
    }

    // Probing resumes: results newer than anything the first daemon wrote appear.
    let newest_old: DateTime<Utc> = new_results.iter().map(|r| ts(&r["at"])).max().expect("results");
    let restarted = Utc::now();
    for probe in ["health", "version"] {
        let what = format!("new {probe} results after the restart");
        let d = &second;
        let (id, probe) = (id.as_str(), probe);
        let fresh = wait_for(&what, SOON, || async move {
            let rs = d.results(id, Some(probe)).await;
            let newest = rs.first().map(|r| ts(&r["at"]));
            match newest {
                Some(at) if at > newest_old && at >= restarted => Ok(rs[0].clone()),
                _ => Err(format!("newest {newest:?}, before the restart {newest_old}")),
            }
        })
        .await;
        assert_eq!(fresh["status"], "pass", "target is healthy: {fresh}");
    }
    let later = second.release(&id).await;
    assert_eq!(later["state"], "deployed");
    assert_eq!(item_facts(&later), item_facts(&before), "resumed probing keeps the complete items as they were");
}

#[tokio::test]
async fn sigkill_then_restart_keeps_state_and_resumes_probing() {
    restart_keeps_everything(|d| d.kill()).await;
}

#[tokio::test]
async fn sigterm_exits_zero_and_restart_keeps_state() {
    restart_keeps_everything(|d| {
        let t0 = Instant::now();
        let status = d.terminate(Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "exit after SIGTERM: {status:?}\n{}", d.stderr());
        assert!(t0.elapsed() < Duration::from_secs(5));
    })
    .await;
}

#[tokio::test]
async fn closed_release_stays_closed_across_a_restart() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut first = Daemon::start(&fx);
    let rel = first.create(json!({"service": "api", "version": "1.4.2"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    let verified = first.wait_release(&id, "verified", SOON).await;
    let count = first.results(&id, None).await.len();
    first.kill();

    let second = Daemon::start(&fx);
    let after = second.release(&id).await;
    assert_eq!(after["state"], "verified");
    assert_eq!(after["window"]["elapsed_s"], verified["window"]["elapsed_s"], "the verdict time is kept");
    assert_eq!(item_facts(&after), item_facts(&verified));
    // A closed release is not probed again: checked once a release opened on the second daemon
    // has been probed 5 times (its probe tasks are running).
    let open = second.create(json!({"service": "web", "version": "1.4.2"})).await;
    let open = open["id"].as_str().unwrap().to_string();
    wait_for("5 health results of a release opened after the restart", SOON, || async {
        let n = second.results(&open, Some("health")).await.len();
        if n >= 5 { Ok(()) } else { Err(format!("{n} so far")) }
    })
    .await;
    assert_eq!(second.results(&id, None).await.len(), count, "a closed release is not probed again");
}
