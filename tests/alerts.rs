//! The `alerts` probe against a real Alertmanager and a real Prometheus (see `common::prom`):
//! alerts posted with chosen start times, silences created through Alertmanager's API, and an
//! alerting rule driven by the metrics target's `shipwatch_test_flag`. Skipped (with a note)
//! when the binaries are not installed, failed when they are missing under `CI=true`.

mod common;

use chrono::{Duration, Utc};
use common::prom::*;
use common::*;
use serde_json::{Value, json};

const NO_ALERTS: &str = "confirm-no-unexpected-alerts-or-incidents";
const DASHBOARDS: &str = "check-monitoring-dashboards-for-anomalies";

/// Names in a result's `evidence.alerts`.
fn alert_names(r: &Value) -> Vec<String> {
    let alerts = r["evidence"]["alerts"].as_array().cloned().unwrap_or_default();
    alerts.iter().filter_map(|a| a.as_str().map(str::to_string)).collect()
}

/// The newest result of `probe` with `status`.
async fn newest_with(d: &Daemon, id: &str, probe: &str, status: &str) -> Value {
    let results = d.results(id, Some(probe)).await;
    results.iter().find(|r| r["status"] == status).cloned().unwrap_or_else(|| panic!("no {status}: {results:?}"))
}

/// A daemon whose `no-new-alerts` probe watches `am` for `service="api"` alerts since the
/// deploy, bound to [`NO_ALERTS`] (pass 1, fail 2).
fn am_daemon(am: &Alertmanager) -> Daemon {
    let probes = [probe("no-new-alerts", r#"alerts: { source: am, matchers: ['service="api"'], since: deploy }"#)];
    Daemon::start(&sw_fixture(None, Some(&am.url), &probes, &[bind(NO_ALERTS, &["no-new-alerts"], 1, 2)]))
}

#[tokio::test]
async fn alerts_from_before_the_deploy_are_ignored_and_new_ones_fail() {
    if !require_bins() {
        return;
    }
    let am = Alertmanager::start().await;
    let deploy = Utc::now();
    am.post_alert(&[("alertname", "OldAlert"), ("service", "api"), ("severity", "page")], deploy - Duration::hours(1))
        .await;
    am.post_alert(&[("alertname", "BillingAlert"), ("service", "billing")], deploy).await;
    let d = am_daemon(&am);
    let rel = d.create(json!({"service": "api", "version": "2.0.0", "deployed_at": deploy.to_rfc3339()})).await;
    let id = rel["id"].as_str().unwrap().to_string();

    let done = d.wait_item(&id, NO_ALERTS, "complete", SOON).await;
    assert_eq!(done["evidence"]["status"], "pass", "an alert from before the deploy is not the release's: {done}");
    let active = am.active_names().await;
    assert!(active.contains(&"OldAlert".to_string()), "OldAlert is still firing in Alertmanager: {active:?}");

    am.post_alert(&[("alertname", "NewAlert"), ("service", "api"), ("severity", "page")], Utc::now()).await;
    let it = wait_state_in(&d, &id, NO_ALERTS, &["failing", "regressed"], SOON).await;
    assert_eq!(it["state"], "regressed", "it was complete before: {it}");
    assert_eq!(it["evidence"]["status"], "fail", "{it}");
    let fail = newest_with(&d, &id, "no-new-alerts", "fail").await;
    let names = alert_names(&fail);
    assert!(names.contains(&"NewAlert".to_string()), "evidence.alerts names the new alert: {fail}");
    assert!(!names.contains(&"OldAlert".to_string()), "but not the one from before the deploy: {fail}");
    assert!(!names.contains(&"BillingAlert".to_string()), "nor another service's: {fail}");
}

#[tokio::test]
async fn a_silenced_alert_is_ignored() {
    if !require_bins() {
        return;
    }
    let am = Alertmanager::start().await;
    let d = am_daemon(&am);
    let rel = d.create(json!({"service": "api", "version": "2.0.0"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    am.post_alert(&[("alertname", "KnownIssue"), ("service", "api"), ("severity", "page")], Utc::now()).await;

    let it = wait_state_in(&d, &id, NO_ALERTS, &["failing", "regressed"], SOON).await;
    assert_eq!(it["evidence"]["status"], "fail", "{it}");
    assert!(alert_names(&newest_with(&d, &id, "no-new-alerts", "fail").await).contains(&"KnownIssue".to_string()));

    let silence = am.silence(&[("alertname", "KnownIssue"), ("service", "api")]).await;
    assert!(!silence.is_empty(), "Alertmanager returned a silence id");
    let silenced_at = Utc::now();
    let back = d.wait_item(&id, NO_ALERTS, "complete", SOON).await;
    assert_eq!(back["evidence"]["status"], "pass", "a silenced alert no longer counts: {back}");
    let pass = wait_newest(&d, &id, "no-new-alerts", "pass", SOON).await;
    assert!(at(&pass) > silenced_at, "{pass}");
    assert!(!alert_names(&pass).contains(&"KnownIssue".to_string()), "{pass}");
}

#[tokio::test]
async fn prometheus_alert_fires_and_resolves_through_the_rule() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let am = Alertmanager::start().await;
    let prom = Prometheus::start_with(&target, RULES, Some(&am)).await;
    let matcher = r#"['alertname="ShipwatchTestFlag"']"#;
    let probes = [
        probe("prom-alerts", &format!("alerts: {{ source: prom, matchers: {matcher} }}")),
        probe("am-alerts", &format!(r#"alerts: {{ source: am, matchers: {matcher}, since: any }}"#)),
    ];
    let items = [bind(NO_ALERTS, &["prom-alerts"], 1, 2), bind(DASHBOARDS, &["am-alerts"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), Some(&am.url), &probes, &items));
    let rel = d.create(json!({"service": "api", "version": "2.0.0"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, NO_ALERTS, "complete", SOON).await;
    d.wait_item(&id, DASHBOARDS, "complete", SOON).await;

    target.set_flag(1.0);
    let fired = d.wait_item(&id, NO_ALERTS, "regressed", SOON).await;
    assert_eq!(fired["evidence"]["status"], "fail", "{fired}");
    let fail = newest_with(&d, &id, "prom-alerts", "fail").await;
    assert!(alert_names(&fail).contains(&"ShipwatchTestFlag".to_string()), "evidence.alerts: {fail}");
    // Prometheus forwards the firing alert to Alertmanager; the probe on `am` sees it too.
    let via_am = d.wait_item(&id, DASHBOARDS, "regressed", SOON).await;
    assert_eq!(via_am["evidence"]["status"], "fail", "{via_am}");
    let fail = newest_with(&d, &id, "am-alerts", "fail").await;
    assert!(alert_names(&fail).contains(&"ShipwatchTestFlag".to_string()), "evidence.alerts: {fail}");

    target.set_flag(0.0);
    let resolved_from = Utc::now();
    let back = d.wait_item(&id, NO_ALERTS, "complete", SOON).await;
    assert_eq!(back["evidence"]["status"], "pass", "the resolved alert no longer counts: {back}");
    let pass = wait_newest(&d, &id, "prom-alerts", "pass", SOON).await;
    assert!(at(&pass) > resolved_from && alert_names(&pass).is_empty(), "{pass}");
    let back = d.wait_item(&id, DASHBOARDS, "complete", SOON).await;
    assert_eq!(back["evidence"]["status"], "pass", "resolved in Alertmanager too: {back}");
}
