//! Targets that misbehave at the transport level are `error` (nothing was measured): DNS
//! failure, a TLS handshake against a plain-HTTP port, a connection reset (RST) or closed
//! without an answer, a target that accepts and never answers (`timeout: 500ms` → `error`
//! within about a second, later runs on schedule, other probes undisturbed). A 100 MB body is
//! read only up to `max_body` (1 MiB): the daemon's RSS stays far below 100 MB and the result
//! is pass or fail by its checks, with the truncation in the evidence.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::common::*;
use super::servers::{Answer, Fake};
use super::*;

const CRITICAL: &str = "validate-critical-functionality-is-working";
const INTEGRATIONS: &str = "check-integration-points-with-external-services";
const LATENCY: &str = "verify-performance-and-latency-are-acceptable";
const FLOWS: &str = "validate-critical-user-flows-and-api-endpoints";

fn http(url: &str, rest: &str) -> String {
    format!("http: {{ url: \"{url}\"{rest} }}")
}

#[tokio::test]
async fn dns_tls_reset_and_closed_connections_are_error() {
    let plain = FakeTarget::start(); // speaks plain HTTP: a TLS handshake with it fails
    let reset = Fake::start(Answer::Reset);
    let closed = Fake::start(Answer::Close);
    let probes = [
        probe("dns", &http("http://nonexistent.invalid/healthz", ", timeout: 2s"), "200ms"),
        probe("tls", &http(&format!("https://127.0.0.1:{}/healthz", plain.port), ", timeout: 2s"), "200ms"),
        probe("reset", &http(&format!("{}/healthz", reset.url()), ", timeout: 2s"), "200ms"),
        probe("closed", &http(&format!("{}/healthz", closed.url()), ", timeout: 2s"), "200ms"),
    ];
    let items = [
        bind(SMOKE, &["dns"], 1, 1),
        bind(CRITICAL, &["tls"], 1, 1),
        bind(INTEGRATIONS, &["reset"], 1, 1),
        bind(FLOWS, &["closed"], 1, 1),
    ];
    let d = Daemon::start(&fixture(("60s", "120s"), "./shipwatch.db", "", &probes, &items));
    let t0 = Utc::now();
    let id = create(&d, "api", "1.0.0").await;
    let cases: [(&str, &str, &[&str]); 4] = [
        ("dns", SMOKE, &["DNS lookup failed for host nonexistent.invalid"]),
        ("tls", CRITICAL, &["TLS error"]),
        ("reset", INTEGRATIONS, &["connection reset"]),
        ("closed", FLOWS, &["connection reset", "connection closed"]),
    ];
    for (p, item_id, needles) in cases {
        let rs = results_since(&d, &id, p, t0, 4).await;
        let msg = assert_all_error(&rs, needles, p);
        eprintln!("{p}: {msg}");
        assert!(rs[0]["evidence"]["status_code"].is_null(), "{p}: no HTTP status was seen: {}", rs[0]);
        let it = item(&d.release(&id).await, item_id).clone();
        assert_eq!(it["state"], "pending", "{p}: error neither ticks nor fails {item_id}: {it}");
        assert_never_failed(&d, &id, item_id, p).await;
    }
    assert!(reset.hits() >= 4 && closed.hits() >= 4, "the probes did connect: {} {}", reset.hits(), closed.hits());
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: libc::pid_t) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS value")
}

#[tokio::test]
async fn a_100_mb_body_is_read_bounded_and_judged() {
    const BODY: u64 = 100 * 1024 * 1024;
    let big = Fake::start(Answer::Big(BODY));
    let url = format!("{}/big", big.url());
    let probes = [
        probe("big-ok", &http(&url, r#", expect: { status: [200], body_contains: "aaaa" }"#), "200ms"),
        probe("big-bad", &http(&url, r#", expect: { status: [200], body_regex: "b" }"#), "200ms"),
    ];
    let items = [bind(SMOKE, &["big-ok"], 2, 2), bind(CRITICAL, &["big-bad"], 2, 2)];
    let d = Daemon::start(&fixture(("60s", "120s"), "./shipwatch.db", "", &probes, &items));
    let idle = rss_kib(d.pid());
    let t0 = Utc::now();
    let id = create(&d, "api", "1.0.0").await;

    // Sample RSS while the probes each pull a 100 MB body five times a second.
    let (mut peak, until) = (idle, Instant::now() + Duration::from_secs(4));
    while Instant::now() < until {
        peak = peak.max(rss_kib(d.pid()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("RSS idle {idle} KiB, peak {peak} KiB while reading 100 MB bodies");
    assert!(peak < 60 * 1024, "RSS peaked at {peak} KiB: a 100 MB body must not be buffered");

    let ok = results_since(&d, &id, "big-ok", t0, 5).await;
    let bad = results_since(&d, &id, "big-bad", t0, 5).await;
    for r in &ok {
        assert_eq!(r["status"], "pass", "the first MiB holds \"aaaa\": {r}");
        let msg = r["evidence"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("truncated at 1048576 bytes"), "truncation noted: {msg}");
        assert_eq!(r["evidence"]["details"]["body_truncated"], true, "{r}");
    }
    for r in &bad {
        assert_eq!(r["status"], "fail", "no \"b\" in the first MiB: {r}");
        let msg = r["evidence"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("does not match") && msg.contains("truncated"), "{msg}");
    }
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, SMOKE)["state"], "complete");
    assert_eq!(item(&rel, CRITICAL)["state"], "failing");
    let served = big.hits();
    assert!(served >= 20, "each run fetched the body ({served} connections)");
}

#[tokio::test]
async fn a_hanging_target_times_out_and_keeps_the_schedule() {
    let hang = Fake::start(Answer::Hang);
    let healthy = FakeTarget::start();
    let probes = [
        probe("hang", &http(&format!("{}/healthz", hang.url()), ", timeout: 500ms"), "1s"),
        probe("health", &http(&format!("http://127.0.0.1:{}/healthz", healthy.port), ""), "200ms"),
    ];
    let items = [bind(LATENCY, &["hang"], 1, 1), bind(SMOKE, &["health"], 2, 2)];
    let d = Daemon::start(&fixture(("60s", "120s"), "./shipwatch.db", "", &probes, &items));
    let t0 = Utc::now();
    let started = Instant::now();
    let id = create(&d, "api", "1.0.0").await;

    let first = results_since(&d, &id, "hang", t0, 1).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "the first hang result took {took:?}");
    assert_all_error(&first, &["timed out after 500ms"], "hang");
    let lat = first[0]["evidence"]["latency_ms"].as_f64().unwrap_or(0.0);
    assert!((450.0..1000.0).contains(&lat), "gave up after about 500 ms, not {lat} ms");

    let rs = results_since(&d, &id, "hang", t0, 5).await;
    assert_all_error(&rs, &["timed out after 500ms"], "hang");
    let at: Vec<_> = rs.iter().map(|r| ts(&r["at"])).collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
    eprintln!("hang: runs {gaps:?} ms apart");
    assert!(gaps.iter().all(|g| (850..=1250).contains(g)), "runs stay 1 s apart: {gaps:?}");

    // The healthy probe of the same release ran on its own 200 ms schedule meanwhile.
    let health: Vec<Value> = results_since(&d, &id, "health", t0, 15).await;
    let hat: Vec<_> = health.iter().map(|r| ts(&r["at"])).filter(|t| *t <= at[at.len() - 1]).collect();
    let worst = hat.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).max().unwrap_or(0);
    assert!(hat.len() >= 15 && worst < 450, "health every 200 ms: {} runs, worst gap {worst} ms", hat.len());
    assert!(health.iter().all(|r| r["status"] == "pass"));
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, LATENCY)["state"], "pending", "{}", item(&rel, LATENCY));
    assert_eq!(item(&rel, SMOKE)["state"], "complete");
}
