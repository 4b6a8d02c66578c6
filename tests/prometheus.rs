//! The `prometheus` and `rules` probes against a real Prometheus (see `common::prom`): a
//! metrics target whose error rate, latency and flag the test sets, scraped every second; the
//! real `shipwatch run` probing every 500 ms. Skipped (with a note) when Prometheus is not
//! installed, failed when it is missing under `CI=true`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::prom::*;
use common::*;
use serde_json::{Value, json};

/// Share of 500s over the last 5 s of job `api`.
const ERR_Q: &str =
    r#"sum(rate(http_requests_total{job="api",code="500"}[5s])) / sum(rate(http_requests_total{job="api"}[5s]))"#;
/// p99 latency of job `api` over the last 5 s.
const P99_Q: &str =
    r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5s])))"#;
/// A job that does not exist: always an empty vector.
const NOPE_Q: &str = r#"sum(rate(http_requests_total{job="nope"}[5s]))"#;

const REVIEW: &str = "review-error-rates-and-system-health-metrics";
const DASHBOARDS: &str = "check-monitoring-dashboards-for-anomalies";
const TRACK: &str = "track-key-metrics-error-rates-performance-user-feedback";
const PERF: &str = "verify-performance-and-latency-are-acceptable";
const RULES_ITEM: &str = "confirm-alerting-rules-are-configured-and-tested";
const DASH_UPDATED: &str = "verify-monitoring-dashboards-are-up-to-date";

/// A `prometheus:` probe line on source `prom` with `query` and extra `fields`.
fn prom_probe(name: &str, query: &str, fields: &str) -> String {
    probe(name, &format!("prometheus: {{ source: prom, query: '{query}', {fields} }}"))
}

/// Create a release of `service` deployed at `deployed_at` (now when `None`); returns its id.
async fn create(d: &Daemon, service: &str, deployed_at: Option<chrono::DateTime<Utc>>, window: Value) -> String {
    let mut body = json!({"service": service, "version": "1.0.0"});
    if let Some(t) = deployed_at {
        body["deployed_at"] = json!(t.to_rfc3339());
    }
    if !window.is_null() {
        body["window"] = window;
    }
    d.create(body).await["id"].as_str().expect("release id").to_string()
}

/// The evidence of a result as text, for "mentions X" checks.
fn ev_text(r: &Value) -> String {
    r["evidence"].to_string()
}

#[tokio::test]
async fn error_ratio_ticks_then_regresses_with_query_and_value_as_evidence() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| v < 0.05).await;
    let probes =
        [prom_probe("error-ratio", ERR_Q, r#"condition: "< 0.05""#), prom_probe("p99", P99_Q, r#"condition: "< 0.3""#)];
    let items = [bind(REVIEW, &["error-ratio"], 1, 2), bind(PERF, &["p99"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d, "api", None, Value::Null).await;

    let done = d.wait_item(&id, REVIEW, "complete", SOON).await;
    assert_eq!(done["evidence"]["status"], "pass", "ticked by a pass: {done}");
    let pass = d.results(&id, Some("error-ratio")).await[0].clone();
    let observed = num(&pass["evidence"]["observed"]).unwrap_or_else(|| panic!("no observed value: {pass}"));
    assert!((0.005..0.015).contains(&observed), "1% errors observed as {observed}: {pass}");

    target.set_rates(50.0, 50.0);
    let reg = d.wait_item(&id, REVIEW, "regressed", SOON).await;
    assert_eq!(reg["evidence"]["status"], "fail", "regressed by a fail: {reg}");
    let fail = d.results(&id, Some("error-ratio")).await.into_iter().find(|r| r["status"] == "fail").expect("a fail");
    let ev = &fail["evidence"];
    assert!(ev["target"].as_str().unwrap_or("").contains(ERR_Q), "evidence.target holds the query: {ev}");
    assert!(ev["expected"].as_str().unwrap_or("").contains("0.05"), "evidence.expected holds the condition: {ev}");
    let observed = num(&ev["observed"]).unwrap_or_else(|| panic!("no observed value: {ev}"));
    assert!(observed > 0.05 && observed <= 0.5 + 1e-9, "observed {observed} should exceed 0.05: {ev}");
    assert!(!ev["message"].as_str().unwrap_or("").is_empty(), "a message says why: {ev}");

    // Latency: 20 ms → p99 inside the (0.01, 0.05] bucket; 400 ms → inside (0.25, 0.5].
    d.wait_item(&id, PERF, "complete", SOON).await;
    target.set_latency(0.4);
    d.wait_item(&id, PERF, "regressed", SOON).await;
    let fail = d.results(&id, Some("p99")).await.into_iter().find(|r| r["status"] == "fail").expect("a p99 fail");
    let observed = num(&fail["evidence"]["observed"]).unwrap_or_else(|| panic!("no observed value: {fail}"));
    assert!((0.3..=0.5).contains(&observed), "p99 observed {observed}: {fail}");
}

#[tokio::test]
async fn baseline_holds_at_same_ratio_and_missing_baseline_is_error() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(90.0, 10.0);
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| (0.09..0.11).contains(&v)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // a few seconds of 10% before the deploy
    let fx = sw_fixture(
        Some(&prom.url),
        None,
        &[prom_probe("vs-baseline", ERR_Q, "max_increase: 1.5")],
        &[bind(REVIEW, &["vs-baseline"], 1, 2)],
    );
    let d = Daemon::start(&fx);
    let id = create(&d, "api", Some(Utc::now()), Value::Null).await;
    // Deployed an hour ago: Prometheus has no data at the deploy (it started seconds ago).
    let old =
        create(&d, "old-api", Some(Utc::now() - chrono::Duration::hours(1)), json!({"min": "2h", "max": "3h"})).await;

    let done = d.wait_item(&id, REVIEW, "complete", SOON).await;
    assert_eq!(done["evidence"]["status"], "pass", "{done}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let results = d.results(&id, Some("vs-baseline")).await;
    assert!(results.iter().all(|r| r["status"] == "pass"), "10% after a 10% baseline always passes: {results:?}");
    let text = ev_text(&results[0]);
    assert!(text.to_lowercase().contains("baseline"), "evidence mentions the baseline: {text}");
    assert!(nums_in(&text).iter().any(|v| (0.09..0.11).contains(v)), "evidence holds the ~0.10 baseline: {text}");

    let errs = wait_for("4 results for the release without baseline data", SOON, || async {
        let r = d.results(&old, Some("vs-baseline")).await;
        if r.len() >= 4 { Ok(r) } else { Err(format!("{r:?}")) }
    })
    .await;
    assert!(errs.iter().all(|r| r["status"] == "error"), "no baseline data is error, never pass: {errs:?}");
    assert!(ev_text(&errs[0]).to_lowercase().contains("baseline"), "the error names the baseline: {}", errs[0]);
    let rel = d.release(&old).await;
    assert_eq!(item(&rel, REVIEW)["state"], "pending", "errors neither tick nor fail: {}", item(&rel, REVIEW));
}

#[tokio::test]
async fn ratio_that_rose_above_its_baseline_fails() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(98.0, 2.0);
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| (0.015..0.025).contains(&v)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fx = sw_fixture(
        Some(&prom.url),
        None,
        &[prom_probe("vs-baseline", ERR_Q, "max_increase: 1.5")],
        &[bind(REVIEW, &["vs-baseline"], 1, 2)],
    );
    let d = Daemon::start(&fx);
    let id = create(&d, "api", Some(Utc::now()), Value::Null).await;
    target.set_rates(90.0, 10.0); // 10% is fine in absolute terms (no condition) but 5× the baseline

    let it = wait_state_in(&d, &id, REVIEW, &["failing", "regressed"], SOON).await;
    assert_eq!(it["evidence"]["status"], "fail", "{it}");
    let fail = d.results(&id, Some("vs-baseline")).await.into_iter().find(|r| r["status"] == "fail").expect("a fail");
    let observed = num(&fail["evidence"]["observed"]).unwrap_or_else(|| panic!("no observed value: {fail}"));
    assert!(observed > 0.03, "fails only above 1.5 × 2%: observed {observed}: {fail}");
    let text = ev_text(&fail);
    assert!(text.to_lowercase().contains("baseline"), "evidence mentions the baseline: {text}");
    assert!(nums_in(&text).iter().any(|v| (0.015..0.025).contains(v)), "evidence holds the ~0.02 baseline: {text}");
}

#[tokio::test]
async fn empty_result_follows_each_no_data_policy() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let prom = Prometheus::start(&target, RULES).await;
    let policies = ["error", "pass", "fail", "wait"];
    let probes: Vec<String> = policies
        .iter()
        .map(|p| prom_probe(&format!("nd-{p}"), NOPE_Q, &format!(r#"condition: "< 1", no_data: {p}"#)))
        .collect();
    let items = [
        bind(REVIEW, &["nd-error"], 1, 2),
        bind(DASHBOARDS, &["nd-pass"], 1, 2),
        bind(TRACK, &["nd-fail"], 1, 2),
        bind(PERF, &["nd-wait"], 1, 2),
    ];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d, "api", None, Value::Null).await;

    d.wait_item(&id, DASHBOARDS, "complete", SOON).await;
    d.wait_item(&id, TRACK, "failing", SOON).await;
    let all = wait_for("4 results of every no_data probe", SOON, || async {
        let mut all = Vec::new();
        for p in policies {
            let r = d.results(&id, Some(&format!("nd-{p}"))).await;
            if r.len() < 4 {
                return Err(format!("nd-{p}: {r:?}"));
            }
            all.push(r);
        }
        Ok(all)
    })
    .await;
    let statuses = |i: usize| all[i].iter().map(|r| r["status"].as_str().unwrap_or("?")).collect::<Vec<_>>();
    assert!(statuses(0).iter().all(|s| *s == "error"), "no_data: error → error: {:?}", all[0]);
    assert!(statuses(1).iter().all(|s| *s == "pass"), "no_data: pass → pass: {:?}", all[1]);
    assert!(statuses(2).iter().all(|s| *s == "fail"), "no_data: fail → fail: {:?}", all[2]);
    assert!(statuses(3).iter().all(|s| *s == "error"), "no_data: wait → error: {:?}", all[3]);
    for r in &all[3] {
        assert_eq!(r["evidence"]["details"]["no_data"], "wait", "wait is recorded in details: {r}");
    }
    let shown = all[0][0]["evidence"]["target"].as_str().unwrap_or("");
    assert!(shown.contains(NOPE_Q), "the error shows the query: {}", all[0][0]);
    let rel = d.release(&id).await;
    for (it, want) in [(REVIEW, "pending"), (DASHBOARDS, "complete"), (TRACK, "failing"), (PERF, "pending")] {
        assert_eq!(item(&rel, it)["state"], want, "{it}: {}", item(&rel, it));
    }
}

#[tokio::test]
async fn prometheus_down_is_error_not_fail_and_recovers_after_restart() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let mut prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(ERR_Q, |v| v < 0.05).await;
    let fx = sw_fixture(
        Some(&prom.url),
        None,
        &[prom_probe("error-ratio", ERR_Q, r#"condition: "< 0.05""#)],
        &[bind(REVIEW, &["error-ratio"], 1, 2)],
    );
    let d = Daemon::start(&fx);
    let id = create(&d, "api", None, Value::Null).await;
    d.wait_item(&id, REVIEW, "complete", SOON).await;

    prom.stop();
    let stopped = Utc::now();
    let during = wait_for("4 results while Prometheus is down", SOON, || async {
        let r: Vec<Value> = d.results(&id, Some("error-ratio")).await.into_iter().filter(|r| at(r) > stopped).collect();
        if r.len() >= 4 { Ok(r) } else { Err(format!("{r:?}")) }
    })
    .await;
    assert!(during.iter().all(|r| r["status"] == "error"), "source down is error, never fail: {during:?}");
    assert!(!during[0]["evidence"]["message"].as_str().unwrap_or("").is_empty(), "says why: {}", during[0]);
    let it = item(&d.release(&id).await, REVIEW).clone();
    assert_eq!(it["state"], "complete", "errors leave the item as it was: {it}");

    prom.restart().await;
    let back = wait_newest(&d, &id, "error-ratio", "pass", SOON).await;
    assert!(at(&back) > stopped, "{back}");
    let it = item(&d.release(&id).await, REVIEW).clone();
    assert_eq!(it["state"], "complete", "{it}");
}

#[tokio::test]
async fn for_range_needs_the_condition_to_hold_over_the_whole_range() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    target.set_flag(1.0);
    let prom = Prometheus::start(&target, RULES).await;
    let q = r#"shipwatch_test_flag{job="api"}"#;
    let fx = sw_fixture(
        Some(&prom.url),
        None,
        &[prom_probe("flag-3s", q, r#"condition: "< 1", for: 3s"#)],
        &[bind(DASHBOARDS, &["flag-3s"], 1, 2)],
    );
    let d = Daemon::start(&fx);
    let id = create(&d, "api", None, Value::Null).await;
    d.wait_item(&id, DASHBOARDS, "failing", SOON).await;

    target.set_flag(0.0);
    prom.wait_value(q, |v| v == 0.0).await;
    let instant_ok = Utc::now(); // from here an instant query would pass
    let done = d.wait_item(&id, DASHBOARDS, "complete", SOON).await;
    assert_eq!(done["evidence"]["status"], "pass", "{done}");
    let results = d.results(&id, Some("flag-3s")).await;
    let first_pass = results.iter().rev().find(|r| r["status"] == "pass").expect("a pass");
    let gap = (at(first_pass) - instant_ok).num_milliseconds();
    assert!(gap >= 1000, "passed {gap} ms after the flag dropped; `for: 3s` needs ~3 s of 0: {first_pass}");
    let fails_after: Vec<&Value> =
        results.iter().filter(|r| r["status"] == "fail" && (at(r) - instant_ok).num_milliseconds() >= 300).collect();
    assert!(!fails_after.is_empty(), "runs after the drop but within 3 s still fail: {results:?}");
    let ev = &fails_after[0]["evidence"];
    assert!(ev["target"].as_str().unwrap_or("").contains("shipwatch_test_flag"), "evidence: {ev}");
}

#[tokio::test]
async fn rules_probe_checks_alerting_rules_are_loaded() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0);
    let prom = Prometheus::start(&target, RULES).await;
    let probes = [
        probe("rules-loaded", "rules: { source: prom, names: [ShipwatchTestFlag] }"),
        probe("rules-missing", "rules: { source: prom, names: [ShipwatchTestFlag, NoSuchRule] }"),
    ];
    let items = [bind(RULES_ITEM, &["rules-loaded"], 1, 2), bind(DASH_UPDATED, &["rules-missing"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d, "api", None, Value::Null).await;

    let ok = d.wait_item(&id, RULES_ITEM, "complete", SOON).await;
    assert_eq!(ok["evidence"]["status"], "pass", "{ok}");
    let missing = d.wait_item(&id, DASH_UPDATED, "failing", SOON).await;
    assert_eq!(missing["evidence"]["status"], "fail", "{missing}");
    let results = d.results(&id, Some("rules-missing")).await;
    assert!(results.iter().all(|r| r["status"] == "fail"), "a missing rule fails every run: {results:?}");
    let msg = results[0]["evidence"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("NoSuchRule"), "the message names the missing rule: {}", results[0]);
    let loaded = d.results(&id, Some("rules-loaded")).await;
    assert!(loaded.iter().take(3).all(|r| r["status"] == "pass"), "loaded rules keep passing: {loaded:?}");
}

/// A JSON number, or the last number inside a string (`"0.34"`, `"{}=0.34"`).
fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| nums_in(s).last().copied()))
}

/// Every number written in `text` (`0.02`, `1.5e-3`), in order.
fn nums_in(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || ".eE+-".contains(c)))
        .filter_map(|t| {
            t.trim_start_matches(|c: char| !c.is_ascii_digit() && c != '.')
                .trim_end_matches(['.', 'e', 'E', '+', '-'])
                .parse()
                .ok()
        })
        .collect()
}
