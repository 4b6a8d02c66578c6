//! A source that cannot be read — Prometheus down, slower than the source's `timeout`, slower
//! than the probe's own `timeout`, answering 500, answering garbage JSON; Alertmanager down —
//! makes its probes `error`, never `fail`: the bound item (`fail: {consecutive: 1}`, so one
//! `fail` would show) never goes failing or regressed, runs keep their schedule (each gives up
//! within its timeout), the outage is logged once as a warning rather than once per run, and
//! when the source is back the probe passes again. Each case runs two outages: one from the
//! start (item pending) and one after the item completed.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::common::*;
use super::servers::{Answer, Fake};
use super::*;

const METRICS: &str = "review-error-rates-and-system-health-metrics";
const NO_ALERTS: &str = "confirm-no-unexpected-alerts-or-incidents";
/// A healthy instant-query answer: one series, 0.01 (the condition is `< 0.05`).
const PROM_OK: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1700000000,"0.01"]}]}}"#;
/// Results of each outage phase looked at.
const RUNS: usize = 6;

#[derive(Debug, Clone, Copy)]
enum Fault {
    Down,
    /// Slower than the source's `timeout: 300ms`.
    Slow,
    /// Slower than the probe's own `timeout: 300ms` (the source has none).
    SlowPastProbeTimeout,
    Http500,
    Garbage,
}

/// One source under test: its kind, the probe reading it, the item bound, a healthy answer.
struct Case {
    kind: &'static str,
    probe: &'static str,
    item: &'static str,
    ok: &'static str,
}

const PROM: Case = Case {
    kind: "prometheus",
    probe: r#"prometheus: { source: src, query: "job:error_ratio:rate1m", condition: "< 0.05" }"#,
    item: METRICS,
    ok: PROM_OK,
};

const AM: Case = Case {
    kind: "alertmanager",
    probe: r#"alerts: { source: src, matchers: ['service="api"'], since: any }"#,
    item: NO_ALERTS,
    ok: "[]",
};

fn inject(f: Fault, src: &mut Fake) {
    match f {
        Fault::Down => src.down(),
        Fault::Slow | Fault::SlowPastProbeTimeout => src.set(Answer::Slow(Duration::from_millis(1500), PROM_OK.into())),
        Fault::Http500 => src.set(Answer::Status(500, "internal server error".into())),
        Fault::Garbage => src.set(Answer::Garbage),
    }
}

fn heal(case: &Case, src: &mut Fake) {
    src.set(Answer::Json(case.ok.into()));
    src.up();
}

/// `line` without ANSI colour sequences (`ESC [ ... m`).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of the daemon's log that mention source `src`, without colours, leaving out the
/// start-up config check's note (`skipped the rate() window check`), which is about the
/// config, not the outage.
fn source_lines(d: &Daemon) -> Vec<String> {
    let mentions = |l: &String| l.contains("source=src") || l.contains("'src'");
    d.stderr().lines().map(plain).filter(mentions).filter(|l| !l.contains("rate() window check")).collect()
}

/// Warnings among `lines`: the start of an outage.
fn warnings(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" WARN ")).collect()
}

/// Runs during an outage keep their 200 ms schedule: each gives up within the 300 ms timeout.
#[track_caller]
fn assert_cadence(rs: &[Value], what: &str) {
    let at: Vec<_> = rs.iter().map(|r| ts(&r["at"])).collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
    assert!(gaps.iter().all(|g| *g < 800), "{what}: runs must give up within the 300 ms timeout; gaps {gaps:?} ms");
}

/// Two outages of kind `fault` of the source of `case`; `needles`: what the error says.
async fn outage(case: Case, fault: Fault, needles: &[&str]) {
    let mut src = Fake::start(Answer::Json(case.ok.into()));
    let (src_timeout, probe_line) = match fault {
        Fault::SlowPastProbeTimeout => (String::new(), case.probe.replace(" }", ", timeout: 300ms }")),
        _ => (", timeout: 300ms".to_string(), case.probe.to_string()),
    };
    let sources = format!("sources:\n  src: {{ {}: {{ url: \"{}\"{src_timeout} }} }}\n", case.kind, src.url());
    let probes = [probe("watch", &probe_line, "200ms")];
    let fx = fixture(("60s", "120s"), "./shipwatch.db", &sources, &probes, &[bind(case.item, &["watch"], 2, 1)]);
    let what = format!("{} {fault:?}", case.kind);

    // Outage 1, from the start: only errors, the item stays pending.
    inject(fault, &mut src);
    let d = Daemon::start(&fx);
    let t0 = Utc::now();
    let id = create(&d, "api", "1.0.0").await;
    let rs = results_since(&d, &id, "watch", t0, RUNS).await;
    let msg = assert_all_error(&rs, needles, &what);
    eprintln!("{what}: error evidence: {msg}");
    assert_cadence(&rs, &what);
    let it = item(&d.release(&id).await, case.item).clone();
    assert_eq!(it["state"], "pending", "{what}: an error neither ticks nor fails: {it}");
    let lines1 = source_lines(&d);

    // Back: passes, the item completes.
    heal(&case, &mut src);
    d.wait_item(&id, case.item, "complete", SOON).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines_healthy = source_lines(&d);

    // Outage 2, while complete: errors, the item stays complete.
    inject(fault, &mut src);
    let t2 = Utc::now() + chrono::Duration::milliseconds(100);
    let rs = results_since(&d, &id, "watch", t2, RUNS).await;
    assert_all_error(&rs, needles, &what);
    assert_cadence(&rs, &what);
    let it = item(&d.release(&id).await, case.item).clone();
    assert_eq!(it["state"], "complete", "{what}: errors do not regress a complete item: {it}");
    let lines2 = source_lines(&d);

    heal(&case, &mut src);
    let t3 = Utc::now() + chrono::Duration::milliseconds(100);
    let back = results_since(&d, &id, "watch", t3, 2).await;
    assert_eq!(statuses(&back), ["pass", "pass"], "{what}: passes once the source is back: {back:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_never_failed(&d, &id, case.item, &what).await;
    let all = d.results(&id, Some("watch")).await;
    let fails: Vec<&Value> = all.iter().filter(|r| r["status"] == "fail").collect();
    assert!(fails.is_empty(), "{what}: no result is ever fail: {fails:?}");
    assert_eq!(d.release(&id).await["state"], "deployed");

    // Logged once per outage, not once per run: each outage ran ≥ RUNS times.
    let lines = source_lines(&d);
    eprintln!("{what}: log lines mentioning the source:\n{}", lines.join("\n"));
    let errors = all.iter().filter(|r| r["status"] == "error").count();
    assert!(errors >= 2 * RUNS, "{what}: {errors} error runs");
    let (w1, w2) = (warnings(&lines1), warnings(&lines2[lines_healthy.len()..]));
    assert_eq!(
        (w1.len(), w2.len()),
        (1, 1),
        "{what}: each outage ({RUNS}+ runs; the first from start-up, the second later) must be logged \
         once as a warning; first: {w1:#?}, second: {w2:#?}"
    );
    // Per outage at most: its start (warning), the verifier.blind event, its end.
    assert!(lines.len() <= 6, "{what}: two outages of {RUNS}+ runs each, {} lines: {lines:#?}", lines.len());
}

#[tokio::test]
async fn prometheus_down_is_error_logged_once_and_recovers() {
    outage(PROM, Fault::Down, &["unreachable", "refused"]).await;
}

#[tokio::test]
async fn prometheus_slower_than_the_source_timeout_is_error() {
    outage(PROM, Fault::Slow, &["timed out"]).await;
}

#[tokio::test]
async fn prometheus_slower_than_the_probe_timeout_is_error_within_it() {
    outage(PROM, Fault::SlowPastProbeTimeout, &["timed out", "did not finish"]).await;
}

#[tokio::test]
async fn prometheus_answering_500_is_error() {
    outage(PROM, Fault::Http500, &["500"]).await;
}

#[tokio::test]
async fn prometheus_answering_garbage_json_is_error() {
    outage(PROM, Fault::Garbage, &["not a Prometheus API response", "JSON", "json"]).await;
}

#[tokio::test]
async fn alertmanager_down_is_error_and_recovers() {
    outage(AM, Fault::Down, &["unreachable", "refused"]).await;
}
