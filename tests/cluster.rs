//! shipwatch on PostgreSQL (issue 12): the real daemon with `storage.postgres` on a real
//! server (`common::pg`), state surviving a `kill -9` and a restart, and what a second replica
//! on the same database does.

mod common;

use std::time::Duration;

use common::pg::Pg;
use common::*;
use serde_json::json;

const SMOKE: &str = "run-post-deploy-smoke-tests-on-production";
const NOTIFY: &str = "notify-customer-support-lead-that-release-is-complete";

/// A fresh database on the shared test server (None when PostgreSQL is not installed).
async fn database() -> Option<String> {
    tokio::task::spawn_blocking(|| Some(Pg::shared()?.database())).await.unwrap()
}

fn fixture(url: &str, target: u16) -> Fixture {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ postgres: {{ url: \"{url}\", pool: 4 }} }}\n\
         checklist: checklist.md\nwindow: {{ min: 1h, max: 2h }}\n\
         probes:\n  smoke: {{ http: {{ url: \"http://127.0.0.1:{target}/healthz\" }}, every: 300ms, jitter: 0s }}\n\
         items:\n  {SMOKE}: {{ probes: [smoke] }}\n"
    );
    Fixture::new(&yaml, 0)
}

#[tokio::test]
async fn a_daemon_on_postgres_keeps_its_state_across_kill_9() {
    let Some(url) = database().await else { return };
    let target = FakeTarget::start();
    let fx = fixture(&url, target.port);
    let mut d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.0"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", Duration::from_secs(20)).await;
    let (code, body) = d.post(&format!("/api/v1/releases/{id}/items/{NOTIFY}/tick"), &json!({"by": "ana"})).await;
    assert_eq!(code, 200, "{body}");
    let ready = d.get("/-/ready").await;
    assert_eq!(ready.0, 200, "{ready:?}");
    d.kill();

    let d = Daemon::start(&fx);
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, SMOKE)["state"], "complete", "{rel}");
    assert_eq!(item(&rel, NOTIFY)["by"], "ana", "{rel}");
    let results = d.results(&id, Some("smoke")).await;
    assert!(!results.is_empty());
    let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    assert!(history.as_array().unwrap().iter().any(|h| h["to"] == "complete"), "{history}");
    let list = d.get_json("/api/v1/releases?state=active").await;
    assert_eq!(list["releases"][0]["id"], id.as_str(), "{list}");
}
