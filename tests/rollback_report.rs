//! The rollback hook runs only with `auto_rollback: true`, once, on the first regression, and
//! ticks "Execute documented rollback procedure"; the release report lists the regression.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn yaml(auto: bool, marker: &std::path::Path) -> String {
    format!(
        r#"
server: {{ listen: 127.0.0.1:0 }}
storage: {{ sqlite: ./shipwatch.db }}
checklist: checklist.md
window: {{ min: 2s, max: 4s }}
probes:
  health:
    http: {{ url: "http://127.0.0.1:__PORT__/healthz", expect: {{ status: [200] }} }}
    every: 200ms
    jitter: 0s
items:
  run-post-deploy-smoke-tests-on-production: {{ probes: [health], fail: {{ consecutive: 2 }} }}
rollback:
  auto_rollback: {auto}
  command: {{ argv: ["sh", "-c", "echo rolled back {{{{ release.version }}}} >> {}"] }}
"#,
        marker.display()
    )
}

async fn regress_and_recover(target: &FakeTarget, d: &Daemon, id: &str) {
    d.wait_item(id, SMOKE, "complete", SOON).await;
    target.set_health(500, "down");
    d.wait_item(id, SMOKE, "regressed", SOON).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    target.set_health(200, "ok");
    d.wait_item(id, SMOKE, "complete", SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_rollback_runs_once_and_ticks_its_item_and_the_report_lists_the_regression() {
    let target = FakeTarget::start();
    let marker = tempfile::NamedTempFile::new().unwrap();
    let fx = Fixture::new(&yaml(true, marker.path()), target.port);
    let d = Daemon::start(&fx);
    let id = d.create(json!({"service": "api", "version": "7.1.0"})).await["id"].as_str().unwrap().to_string();
    regress_and_recover(&target, &d, &id).await;
    let rb = d.wait_item(&id, "execute-documented-rollback-procedure", "complete", SOON).await;
    assert!(rb["evidence"]["evidence"]["message"].as_str().unwrap().contains("rollback command succeeded"), "{rb}");
    // A second regression does not roll back again.
    target.set_health(500, "down");
    d.wait_item(&id, SMOKE, "regressed", SOON).await;
    target.set_health(200, "ok");
    let r = d.wait_release(&id, "verified", Duration::from_secs(20)).await;
    let ran = std::fs::read_to_string(marker.path()).unwrap();
    assert_eq!(ran, "rolled back 7.1.0\n", "the hook ran exactly once, templated");

    let report = d.get_json(&format!("/api/v1/releases/{id}/report")).await;
    assert_eq!(report["verdict"], "verified", "{}", r["reason"]);
    let regs = report["regressions"].as_array().unwrap();
    assert_eq!(regs.len(), 2, "both regressions listed: {regs:?}");
    assert_eq!(regs[0]["item"], SMOKE);
    assert!(regs[0]["duration_s"].as_i64().unwrap() >= 0);
    let health = report["probes"].as_array().unwrap().iter().find(|p| p["probe"] == "health").unwrap().clone();
    assert!(health["fails"].as_u64().unwrap() >= 2 && health["passes"].as_u64().unwrap() >= 2, "{health}");
    let (code, md) = d.get(&format!("/api/v1/releases/{id}/report?format=md")).await;
    assert_eq!(code, 200);
    assert!(md.starts_with("# Release report: api 7.1.0"), "{md}");
    assert!(md.contains("## Regressions") && md.contains(SMOKE), "{md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auto_rollback_the_hook_never_runs() {
    let target = FakeTarget::start();
    let marker = tempfile::NamedTempFile::new().unwrap();
    let fx = Fixture::new(&yaml(false, marker.path()), target.port);
    let d = Daemon::start(&fx);
    let id = d.create(json!({"service": "api", "version": "7.1.0"})).await["id"].as_str().unwrap().to_string();
    regress_and_recover(&target, &d, &id).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "", "hook must not run without auto_rollback");
    let r = d.release(&id).await;
    assert_eq!(item(&r, "execute-documented-rollback-procedure")["state"], "manual");
    let outbox = d.get_json("/api/v1/outbox").await;
    assert_eq!(outbox, json!([]), "nothing queued");
}
