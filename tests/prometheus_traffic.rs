//! No data is never a pass, against a real Prometheus (see `common::prom`): when the target's
//! traffic stops, an error ratio is 0/0 = NaN, which every series mode and no_data default
//! turns into `error`, never `pass`; `min_traffic` makes a result over too little traffic
//! `error` whatever `no_data` says, and leaves it alone over enough. Skipped (with a note) when Prometheus is not installed,
//! failed when it is missing under `CI=true`.

mod common;

use std::time::Duration;

use common::prom::*;
use common::*;
use serde_json::{Value, json};

/// Share of 500s over the last 5 s of job `api`: NaN once no request arrives for 5 s.
const ERR_Q: &str =
    r#"sum(rate(http_requests_total{job="api",code="500"}[5s])) / sum(rate(http_requests_total{job="api"}[5s]))"#;

/// Requests per second of the release's service, through the same template variables.
const TRAFFIC_Q: &str = r#"sum(rate(http_requests_total{job="{{ release.service }}"}[5s]))"#;

const REVIEW: &str = "review-error-rates-and-system-health-metrics";
const DASHBOARDS: &str = "check-monitoring-dashboards-for-anomalies";
const TRACK: &str = "track-key-metrics-error-rates-performance-user-feedback";

/// How long to wait for results to pile up (a deadline, not a speed assertion).
const DEADLINE: Duration = Duration::from_secs(60);

/// A `prometheus:` probe line on source `prom` with `query` and extra `fields`.
fn prom_probe(name: &str, query: &str, fields: &str) -> String {
    probe(name, &format!("prometheus: {{ source: prom, query: '{query}', {fields} }}"))
}

/// Create a release of service `api` deployed now; returns its id.
async fn create(d: &Daemon) -> String {
    d.create(json!({"service": "api", "version": "1.0.0"})).await["id"].as_str().expect("release id").to_string()
}

/// Wait until `probe` has at least `n` stored results for release `id`; returns all of them.
async fn results(d: &Daemon, id: &str, probe: &str, n: usize) -> Vec<Value> {
    wait_for(&format!("{n} results of {probe}"), DEADLINE, || async {
        let r = d.results(id, Some(probe)).await;
        if r.len() >= n { Ok(r) } else { Err(format!("{r:?}")) }
    })
    .await
}

fn message(r: &Value) -> &str {
    r["evidence"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn stopped_traffic_makes_the_error_ratio_nan_which_is_error_never_pass() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| v < 0.05).await;
    target.set_rates(0.0, 0.0);
    prom.wait_value(ERR_Q, f64::is_nan).await;

    // `series: none` with "> 0.05" ("no series above 5%") was the one a NaN used to pass.
    // And `min_traffic` turns the result into "not enough traffic" even with no_data: pass.
    let guarded = format!(r#"condition: "< 0.05", no_data: pass, min_traffic: {{ query: '{TRAFFIC_Q}', min: 1 }}"#);
    let probes = [
        prom_probe("ratio", ERR_Q, r#"condition: "< 0.05""#),
        prom_probe("none-above", ERR_Q, r#"condition: "> 0.05", series: none"#),
        prom_probe("guarded", ERR_Q, &guarded),
    ];
    let items =
        [bind(REVIEW, &["ratio"], 1, 2), bind(DASHBOARDS, &["none-above"], 1, 2), bind(TRACK, &["guarded"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d).await;

    for (p, it) in [("ratio", REVIEW), ("none-above", DASHBOARDS)] {
        let all = results(&d, &id, p, 6).await;
        for r in &all {
            assert_eq!(r["status"], "error", "{p}: NaN is no data, never pass or fail: {r}");
            assert!(message(r).contains("NaN/Inf"), "{p}: the message says the query returned NaN: {r}");
            assert!(message(r).contains("no_data: error"), "{p}: the message names the policy: {r}");
        }
        let rel = d.release(&id).await;
        assert_eq!(item(&rel, it)["state"], "pending", "{p}: errors neither tick nor fail: {}", item(&rel, it));
    }
    let all = results(&d, &id, "guarded", 6).await;
    for r in &all {
        assert_eq!(r["status"], "error", "no traffic is error even with no_data: pass: {r}");
        assert!(message(r).contains("not enough traffic: 0 < 1 req/s"), "the message gives the traffic: {r}");
        assert_eq!(r["evidence"]["details"]["traffic"], 0.0, "details carry the traffic: {r}");
    }
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, TRACK)["state"], "pending", "{}", item(&rel, TRACK));
}

#[tokio::test]
async fn min_traffic_above_the_traffic_is_error_naming_it_and_below_the_traffic_passes() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0); // 100 requests a second, 1% errors
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| v < 0.05).await;
    prom.wait_value(&TRAFFIC_Q.replace("{{ release.service }}", "api"), |v| (80.0..120.0).contains(&v)).await;

    let min = |m: u32| format!(r#"condition: "< 0.05", min_traffic: {{ query: '{TRAFFIC_Q}', min: {m} }}"#);
    let probes = [prom_probe("starved", ERR_Q, &min(1000)), prom_probe("fed", ERR_Q, &min(10))];
    let items = [bind(REVIEW, &["starved"], 1, 2), bind(DASHBOARDS, &["fed"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d).await;

    let done = d.wait_item(&id, DASHBOARDS, "complete", DEADLINE).await;
    assert_eq!(done["evidence"]["status"], "pass", "enough traffic: the ratio decides: {done}");
    for r in results(&d, &id, "fed", 6).await {
        assert_eq!(r["status"], "pass", "100 req/s ≥ 10: {r}");
        let traffic = r["evidence"]["details"]["traffic"].as_f64().unwrap_or_else(|| panic!("no traffic: {r}"));
        assert!((80.0..120.0).contains(&traffic), "details carry the ~100 req/s traffic: {r}");
        assert!(r["evidence"]["details"]["traffic_query"].as_str().unwrap_or("").contains(r#"job="api""#), "{r}");
    }
    for r in results(&d, &id, "starved", 6).await {
        assert_eq!(r["status"], "error", "100 req/s < 1000: never pass, never fail: {r}");
        let msg = message(&r);
        assert!(msg.starts_with("not enough traffic: ") && msg.ends_with(" < 1000 req/s"), "{r}");
        let shown: f64 = msg["not enough traffic: ".len()..].split(' ').next().unwrap().parse().unwrap();
        assert!((80.0..120.0).contains(&shown), "the message gives the ~100 req/s traffic: {r}");
        assert_eq!(r["evidence"]["details"]["min_traffic"], 1000.0, "details carry the minimum: {r}");
    }
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, REVIEW)["state"], "pending", "{}", item(&rel, REVIEW));
}
