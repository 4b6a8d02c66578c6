//! The `compare` and `slo` probes against a real Prometheus (see `common::prom`) scraping a
//! target whose latency and error rate the test sets: a 30% latency shift at the deploy fails
//! `compare` (Mann-Whitney) with p < 0.05 and the effect in the evidence while an unshifted
//! release passes; a `min_samples` above what there is gives `error` with both counts; an error
//! burst fails `slo` with the burn rates in the evidence. Ranges and steps are seconds long.
//! Skipped (with a note) when Prometheus is not installed, failed when it is missing under
//! `CI=true`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::prom::*;
use common::*;
use serde_json::{Value, json};

/// Mean request latency over the last 2 s (the target's histogram sum / count).
const LATENCY_Q: &str = r#"sum(rate(http_request_duration_seconds_sum{job="api"}[2s])) / sum(rate(http_request_duration_seconds_count{job="api"}[2s]))"#;

const REVIEW: &str = "review-error-rates-and-system-health-metrics";
const LATENCY_ITEM: &str = "verify-performance-and-latency-are-acceptable";
const DASHBOARDS: &str = "check-monitoring-dashboards-for-anomalies";

/// Generous: results pile up every 500 ms once there are enough samples (not a speed bound).
const DEADLINE: Duration = Duration::from_secs(90);

/// Base latency (seconds) the noise task spreads ±10% around, changed by the test.
struct Latency(AtomicU64);

impl Latency {
    fn set(&self, secs: f64) {
        self.0.store(secs.to_bits(), Ordering::Relaxed);
    }
}

/// Every 100 ms the target's latency becomes `base × (1 ± up to 10%)` (a fixed pseudo-random
/// sequence), so samples are noisy like real ones and never all equal.
fn noisy_latency(target: Arc<MetricsTarget>, base: f64) -> Arc<Latency> {
    let latency = Arc::new(Latency(AtomicU64::new(base.to_bits())));
    let l = latency.clone();
    tokio::spawn(async move {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        loop {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            target.set_latency(f64::from_bits(l.0.load(Ordering::Relaxed)) * (0.9 + 0.2 * u));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    latency
}

fn compare_probe(name: &str, min_samples: u32) -> String {
    probe(
        name,
        &format!(
            "compare: {{ source: prom, query: '{LATENCY_Q}', current: 10s, baseline: {{ before_deploy: 10s }}, \
             step: 1s, test: mann-whitney, direction: increase, confidence: 0.95, min_effect: 10%, \
             min_samples: {min_samples} }}"
        ),
    )
}

async fn create(d: &Daemon, version: &str) -> String {
    d.create(json!({"service": "api", "version": version})).await["id"].as_str().expect("release id").to_string()
}

fn message(r: &Value) -> &str {
    r["evidence"]["message"].as_str().unwrap_or("")
}

fn detail(r: &Value, key: &str) -> f64 {
    r["evidence"]["details"][key].as_f64().unwrap_or_else(|| panic!("no numeric details.{key}: {r}"))
}

#[tokio::test]
async fn a_30_percent_latency_shift_fails_compare_and_no_shift_passes() {
    if !require_bins() {
        return;
    }
    let target = Arc::new(MetricsTarget::start(100.0, 0.0));
    let latency = noisy_latency(target.clone(), 0.1);
    let prom = Prometheus::start(&target, RULES).await;
    // At least 12 s of history before the first deploy: the 10 s baseline is all there.
    prom.wait_value(r#"count_over_time(up{job="api"}[12s])"#, |v| v >= 12.0).await;

    let probes = [compare_probe("latency", 8), compare_probe("starved", 1000)];
    let items = [bind(LATENCY_ITEM, &["latency"], 1, 2), bind(DASHBOARDS, &["starved"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));

    // No shift: once both sides have 8 samples, the latency is the same → pass.
    let steady = create(&d, "1.0.0").await;
    let pass = wait_newest(&d, &steady, "latency", "pass", DEADLINE).await;
    assert!(message(&pass).starts_with("no regression: median "), "{pass}");
    assert!(detail(&pass, "effect").abs() < 0.05, "the medians hardly differ: {pass}");
    assert!(detail(&pass, "n_current") >= 8.0 && detail(&pass, "n_baseline") >= 8.0, "{pass}");
    for r in d.results(&steady, Some("latency")).await {
        assert_ne!(r["status"], "fail", "nothing shifted yet: {r}");
        if r["status"] == "error" {
            assert!(message(&r).starts_with("not enough data: "), "early runs lack samples: {r}");
        }
    }
    // Too few samples for min_samples: error with both counts, never a pass.
    for r in d.results(&steady, Some("starved")).await {
        assert_eq!(r["status"], "error", "{r}");
        let msg = message(&r);
        assert!(msg.starts_with("not enough data: ") && msg.contains(" samples (min_samples: 1000 per side)"), "{r}");
        let counts: Vec<&str> = msg["not enough data: ".len()..].split(' ').take(3).collect();
        assert!(counts[0].parse::<u32>().is_ok() && counts[1] == "vs" && counts[2].parse::<u32>().is_ok(), "{r}");
    }

    // A deploy that makes every request 30% slower: a threshold on 0.13 s would not notice.
    let slower = create(&d, "1.0.1").await;
    latency.set(0.13);
    let fail = wait_newest(&d, &slower, "latency", "fail", DEADLINE).await;
    let p = detail(&fail, "p_value");
    let effect = detail(&fail, "effect");
    assert!(p < 0.05, "significant: {fail}");
    assert!((0.15..0.45).contains(&effect), "the effect is about +30%: {fail}");
    assert!(detail(&fail, "median_current") > detail(&fail, "median_baseline"), "{fail}");
    assert!(detail(&fail, "u") > 0.0 && detail(&fail, "n_current") >= 8.0, "{fail}");
    let msg = message(&fail);
    assert!(msg.starts_with("regression: median ") && msg.contains("Mann-Whitney U = "), "{fail}");
    assert!(fail["evidence"]["observed"].as_str().unwrap_or("").contains("p = "), "{fail}");
    let item = wait_state_in(&d, &slower, LATENCY_ITEM, &["failing", "regressed"], DEADLINE).await;
    assert_eq!(item["evidence"]["evidence"]["details"]["test"], "mann-whitney", "the item shows the evidence: {item}");
}

/// An error burst: `slo` fails with the burn rates, and a `poisson` `compare` of the error rate
/// since the deploy against the 10 s before it fails with both rates and counts.
#[tokio::test]
async fn an_error_burst_fails_slo_with_the_burn_rates_and_compare_poisson() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(99.0, 1.0); // 1% errors: 0.5× of a 98% objective's budget
    let prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(r#"count_over_time(up{job="api"}[12s])"#, |v| v >= 12.0).await;
    let q = |f: &str, codes: &str| format!(r#"sum({f}(http_requests_total{{job="api"{codes}}}[{{{{ window }}}}]))"#);
    let slo = format!(
        "slo: {{ source: prom, objective: 98%, errors: '{}', total: '{}', \
         windows: [{{ long: 20s, short: 5s, factor: 2 }}] }}",
        q("rate", r#",code=~"5..""#),
        q("rate", "")
    );
    let poisson = format!(
        "compare: {{ source: prom, test: poisson, query: '{}', total: '{}', current: 10s, \
         baseline: {{ before_deploy: 10s }}, min_effect: 50%, min_samples: 300 }}",
        q("increase", r#",code=~"5..""#),
        q("increase", "")
    );
    let probes = [probe("budget", &slo), probe("errors", &poisson)];
    let items = [bind(REVIEW, &["budget"], 1, 2), bind(DASHBOARDS, &["errors"], 1, 2)];
    let d = Daemon::start(&sw_fixture(Some(&prom.url), None, &probes, &items));
    let id = create(&d, "2.0.0").await;

    let pass = wait_newest(&d, &id, "budget", "pass", DEADLINE).await;
    assert!(message(&pass).starts_with("within the error budget: burn 20s "), "{pass}");
    let rates = &pass["evidence"]["details"]["burn_rates"];
    assert!(rates["20s"].as_f64().is_some_and(|b| b < 2.0), "{pass}");
    assert!(pass["evidence"]["details"]["budget_spent"].as_f64().is_some(), "{pass}");

    let steady = wait_newest(&d, &id, "errors", "pass", DEADLINE).await;
    assert!(message(&steady).starts_with("no regression: rate "), "1% vs 1%: {steady}");
    assert!(detail(&steady, "total_current") >= 300.0 && detail(&steady, "total_baseline") >= 300.0, "{steady}");

    target.set_rates(50.0, 50.0); // 50% errors: 25× the budget
    let fail = wait_newest(&d, &id, "budget", "fail", DEADLINE).await;
    let msg = message(&fail);
    assert!(msg.starts_with("burning the error budget: ") && msg.contains(" > 2×"), "{fail}");
    let rates = &fail["evidence"]["details"]["burn_rates"];
    for w in ["20s", "5s"] {
        assert!(rates[w].as_f64().is_some_and(|b| b > 2.0), "{w} burns faster than 2×: {fail}");
    }
    assert_eq!(fail["evidence"]["details"]["pairs"][0]["state"], "burning", "{fail}");
    let spent = fail["evidence"]["details"]["budget_spent"].as_f64().expect("budget spent");
    let left = fail["evidence"]["details"]["budget_remaining"].as_f64().expect("budget remaining");
    assert!(spent > 0.0 && (spent + left - 1.0).abs() < 1e-9, "{fail}");

    let errors = wait_newest(&d, &id, "errors", "fail", DEADLINE).await;
    assert!(detail(&errors, "p_value") < 1e-6, "{errors}");
    assert!(detail(&errors, "rate_current") > 5.0 * detail(&errors, "rate_baseline"), "{errors}");
    assert!(message(&errors).contains("conditional binomial test: "), "{errors}");

    // check-config against this Prometheus (scrapes every 1s): a compare query's rate() range
    // shorter than 2 scrapes is warned about, like a prometheus probe's.
    let short = "compare: { source: prom, query: 'rate(http_requests_total[1s])', current: 1m, baseline: { offset: 1h }, step: 1s }";
    let fx = sw_fixture(Some(&prom.url), None, &[probe("short", short)], &[bind(REVIEW, &["short"], 1, 2)]);
    let out = std::process::Command::new(BIN).args(["check-config", "--config"]).arg(&fx.config).output().unwrap();
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    assert!(text.contains("probe 'short': range [1s] is shorter than 2× the scrape interval"), "{text}");
}
