//! No data is never a pass, against a real Prometheus (see `common::prom`): when the target's
//! traffic stops, an error ratio is 0/0 = NaN, which every series mode and no_data default
//! turns into `error`, never `pass`. Skipped (with a note) when Prometheus is not installed,
//! failed when it is missing under `CI=true`.

mod common;

use std::time::Duration;

use common::prom::*;
use common::*;
use serde_json::{Value, json};

/// Share of 500s over the last 5 s of job `api`: NaN once no request arrives for 5 s.
const ERR_Q: &str =
    r#"sum(rate(http_requests_total{job="api",code="500"}[5s])) / sum(rate(http_requests_total{job="api"}[5s]))"#;

const REVIEW: &str = "review-error-rates-and-system-health-metrics";
const DASHBOARDS: &str = "check-monitoring-dashboards-for-anomalies";

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
    let probes = [
        prom_probe("ratio", ERR_Q, r#"condition: "< 0.05""#),
        prom_probe("none-above", ERR_Q, r#"condition: "> 0.05", series: none"#),
    ];
    let items = [bind(REVIEW, &["ratio"], 1, 2), bind(DASHBOARDS, &["none-above"], 1, 2)];
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
}
