//! Targets that misbehave at the transport level are `error` (nothing was measured): DNS
//! failure, a TLS handshake against a plain-HTTP port, a connection reset (RST) or closed
//! without an answer, a target that accepts and never answers (`timeout: 500ms` → `error`
//! after the timeout, later runs on schedule, other probes undisturbed). A 100 MB body is
//! read only up to `max_body` (1 MiB): the daemon's RSS grows far less than 100 MB and the
//! result is pass or fail by its checks, with the truncation in the evidence.
//!
//! Nothing here bounds how fast the machine is: waits are for a number of results (with a
//! generous deadline), and time bounds are on the daemon's own timestamps and latencies, with
//! margins that only a wrong schedule or a missing timeout could exceed.

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

/// How many results `probe` of release `id` has at or after `since`.
async fn count_since(d: &Daemon, id: &str, probe: &str, since: chrono::DateTime<Utc>) -> usize {
    d.results(id, Some(probe)).await.iter().filter(|r| ts(&r["at"]) >= since).count()
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

    // Sample RSS every 50 ms while the probes each pull a 100 MB body, until both have judged
    // 5 of them (so the samples cover at least 10 reads, however long they take).
    let (mut peak, deadline, mut round) = (idle, Instant::now() + SOON, 0u32);
    loop {
        peak = peak.max(rss_kib(d.pid()));
        round += 1;
        if round % 5 == 0 {
            let (ok, bad) = (count_since(&d, &id, "big-ok", t0).await, count_since(&d, &id, "big-bad", t0).await);
            if ok >= 5 && bad >= 5 {
                break;
            }
            assert!(Instant::now() < deadline, "5 results of each probe within {SOON:?}: {ok} and {bad}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("RSS idle {idle} KiB, peak {peak} KiB while reading 100 MB bodies");
    // A body read in full would add at least 100 MiB; the bounded reads add a few MiB.
    let grew = peak.saturating_sub(idle);
    assert!(grew < 50 * 1024, "RSS grew by {grew} KiB (idle {idle}, peak {peak}): a 100 MB body must not be buffered");

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
    let runs = ok.len() + bad.len();
    assert!(served >= runs, "each of the {runs} runs fetched the body ({served} connections)");
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
    let id = create(&d, "api", "1.0.0").await;

    // Each run gives up after its timeout: the lower bound proves it waited for it, the upper
    // bound (generous: a loaded machine fires timers late) that `timeout: 500ms` was applied
    // and not the 10 s default. Runs are 1 s apart on average (a schedule that waited for the
    // hanging run would be 1.5 s apart): the runner schedules at fixed rate, so a late wake-up
    // moves one run, not the ones after it; over 8 intervals, only a wake-up more than 2 s late
    // could push the average past 1.25 s.
    let rs = results_since(&d, &id, "hang", t0, 9).await;
    assert_all_error(&rs, &["timed out after 500ms"], "hang");
    let lat: Vec<f64> = rs.iter().map(|r| r["evidence"]["latency_ms"].as_f64().unwrap_or(0.0)).collect();
    eprintln!("hang: latencies {lat:?} ms");
    assert!(lat.iter().all(|l| (450.0..5000.0).contains(l)), "gave up after the 500 ms timeout: {lat:?}");
    let at: Vec<_> = rs.iter().map(|r| ts(&r["at"])).collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
    let mean = (at[at.len() - 1] - at[0]).num_milliseconds() / i64::try_from(gaps.len()).unwrap();
    eprintln!("hang: runs {gaps:?} ms apart, {mean} ms on average");
    assert!((800..=1250).contains(&mean), "runs stay 1 s apart on average: {gaps:?}");

    // The healthy probe of the same release ran on its own 200 ms schedule meanwhile: runs of
    // it started while a hang run was waiting for its timeout (a probe that blocked the others
    // would leave those 500 ms empty). Each such wait spans 2–3 health runs; at least half the
    // waits must hold one.
    let last = at[at.len() - 1] + chrono::Duration::milliseconds(lat[lat.len() - 1] as i64);
    let health: Vec<Value> = wait_for("health results up to the last hang run", SOON, || async {
        let h: Vec<Value> = d.results(&id, Some("health")).await.into_iter().filter(|r| ts(&r["at"]) >= t0).collect();
        if h.first().is_some_and(|r| ts(&r["at"]) > last) { Ok(h) } else { Err(format!("{} so far", h.len())) }
    })
    .await;
    let hat: Vec<_> = health.iter().map(|r| ts(&r["at"])).collect();
    let waits: Vec<_> =
        at.iter().zip(&lat).map(|(a, l)| (*a, *a + chrono::Duration::milliseconds(*l as i64))).collect();
    let overlapped = waits.iter().filter(|(from, to)| hat.iter().any(|h| h > from && h < to)).count();
    eprintln!("health: {} runs; {overlapped} of {} hang waits overlapped by one", hat.len(), waits.len());
    assert!(2 * overlapped >= waits.len(), "health ran during the hang runs: {overlapped} of {}", waits.len());
    assert!(health.iter().all(|r| r["status"] == "pass"));
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, LATENCY)["state"], "pending", "{}", item(&rel, LATENCY));
    assert_eq!(item(&rel, SMOKE)["state"], "complete");
}
