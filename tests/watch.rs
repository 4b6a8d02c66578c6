//! `watch:` on a real Prometheus (issue 14 §2): Prometheus scrapes a target whose
//! `app_build_info{version=...}` the test changes, and the daemon's watch (every 1s, settle 6s)
//! starts a release for each version that stays. One daemon and one Prometheus go through the
//! cases in turn:
//!
//! 1. the version running at the first poll is the baseline (no release); a new one gets a
//!    release after settle, deployed when it was first seen, with the watch as origin;
//! 2. a version that appears and goes before settle (rolled back) gets none;
//! 3. a version that already has a release (closed, made through the API) gets no second one;
//! 4. with Prometheus stopped nothing is started, the daemon keeps serving and `/metrics`
//!    counts failed polls; once it is back, the version seen before the outage gets its release,
//!    deployed when it was first seen (the outage did not reset that);
//! 5. after a restart the daemon resumes what it saw: a version waiting when it stopped gets
//!    its release with the first-seen time from before the restart (no new baseline).
//!
//! Every wait has a generous deadline; nothing asserts how fast things happen.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::prom::{MetricsTarget, Prometheus, RULES, require_bins};
use common::*;
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(6);
const LONG: Duration = Duration::from_secs(60);

fn config(prom: &str) -> String {
    format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         window: {{ min: 60s, max: 120s }}\nsources:\n  prom: {{ prometheus: {{ url: \"{prom}\", timeout: 2s }} }}\n\
         watch:\n  checkout:\n    prometheus: {{ source: prom, query: 'count by (version) (app_build_info{{job=\"api\"}})' }}\n    \
         service: checkout\n    every: 1s\n    settle: {}s\n",
        SETTLE.as_secs()
    )
}

/// The value of the `/metrics` series written exactly as `series` (name and labels).
async fn metric(d: &Daemon, series: &str) -> Option<f64> {
    let (status, text) = d.get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn polls(d: &Daemon, result: &str) -> f64 {
    metric(d, &format!("shipwatch_watch_polls_total{{watch=\"checkout\",result=\"{result}\"}}")).await.unwrap_or(0.0)
}

async fn started(d: &Daemon) -> f64 {
    metric(d, r#"shipwatch_watch_releases_total{watch="checkout"}"#).await.unwrap_or(-1.0)
}

/// Wait until the watch has `n` versions waiting to settle.
async fn wait_waiting(d: &Daemon, n: f64) {
    wait_for(&format!("{n} version(s) waiting"), LONG, || async move {
        match metric(d, r#"shipwatch_watch_waiting_versions{watch="checkout"}"#).await {
            Some(v) if v == n => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Wait until `n` more polls of `result` than `from` were counted.
async fn wait_polls(d: &Daemon, result: &str, from: f64, n: f64) {
    wait_for(&format!("{n} more {result} polls"), LONG, || async move {
        let now = polls(d, result).await;
        if now >= from + n { Ok(()) } else { Err(format!("{now}")) }
    })
    .await
}

/// Every release of service `checkout` at `version`.
async fn releases(d: &Daemon, version: &str) -> Vec<Value> {
    let page = d.get_json("/api/v1/releases?service=checkout&limit=100").await;
    let all = page["releases"].as_array().unwrap_or_else(|| panic!("no releases array: {page}")).clone();
    all.into_iter().filter(|r| r["version"] == version).collect()
}

/// Wait until version `version` has a release; returns it.
async fn wait_release(d: &Daemon, version: &str) -> Value {
    wait_for(&format!("a release of checkout {version}"), LONG, || async move {
        match releases(d, version).await.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// A release the watch started: origin, service, environment, and `deployed_at` within
/// `[after, before]` (first seen) with `settle` between it and the release's creation.
fn assert_watched(rel: &Value, after: DateTime<Utc>, before: DateTime<Utc>) {
    assert_eq!(rel["origin"], json!({"kind": "watch", "watch": "checkout"}), "{rel}");
    assert_eq!((rel["service"].as_str(), rel["environment"].as_str()), (Some("checkout"), Some("production")));
    assert_eq!(rel["state"], "deployed", "{rel}");
    let (deployed, created) = (ts(&rel["deployed_at"]), ts(&rel["created_at"]));
    // The daemon's clock and the test's are the same wall clock, read a little apart.
    let slack = chrono::Duration::milliseconds(500);
    assert!(
        deployed >= after - slack && deployed <= before + slack,
        "deployed_at {deployed} not in [{after}, {before}]: {rel}"
    );
    let settle = chrono::Duration::from_std(SETTLE).unwrap();
    assert!(created - deployed >= settle, "created {created} less than settle after first seen {deployed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_starts_releases_for_versions_that_stay() {
    if !require_bins() {
        return;
    }
    let target = MetricsTarget::start(1.0, 0.0);
    target.set_builds(&["1.0"]);
    let mut prom = Prometheus::start(&target, RULES).await;
    prom.wait_value(r#"count(app_build_info{version="1.0"})"#, |v| v == 1.0).await;
    let fx = Fixture::new(&config(&prom.url), 0);

    let out = std::process::Command::new(BIN).args(["check-config", "--config"]).arg(&fx.config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(
            "watch checkout: every 1s, settle 6s, source prom, label version; starts releases of checkout in production"
        ),
        "{stdout}"
    );

    let mut d = Daemon::start(&fx);

    // 1. 1.0 runs at the first poll: the baseline. 2.0 replaces it and stays: a release.
    // Polls for longer than settle: a version that was not the baseline would be started by now.
    wait_polls(&d, "ok", 0.0, (SETTLE.as_secs() + 3) as f64).await;
    assert!(releases(&d, "1.0").await.is_empty(), "the running version is the baseline");
    let switched = Utc::now();
    target.set_builds(&["2.0"]);
    wait_waiting(&d, 1.0).await;
    let seen = Utc::now();
    let rel = wait_release(&d, "2.0").await;
    assert_watched(&rel, switched, seen);
    assert!(releases(&d, "1.0").await.is_empty(), "1.0 never gets one");
    assert_eq!(started(&d).await, 1.0);

    // 2. 3.0 shows up beside 2.0, then goes before it settled: rolled back, no release.
    target.set_builds(&["2.0", "3.0"]);
    wait_waiting(&d, 1.0).await;
    target.set_builds(&["2.0"]);
    wait_waiting(&d, 0.0).await;
    let from = polls(&d, "ok").await;
    wait_polls(&d, "ok", from, 3.0).await;
    assert!(releases(&d, "3.0").await.is_empty(), "a version gone before settle gets no release");
    assert_eq!(started(&d).await, 1.0);

    // 3. 4.0 already has a release (made through the API, then closed): no second one.
    let api = d.create(json!({"service": "checkout", "version": "4.0"})).await;
    let id = api["id"].as_str().unwrap();
    let (code, v) = d.post(&format!("/api/v1/releases/{id}/verdict"), &json!({"verdict": "failed", "by": "ci"})).await;
    assert_eq!(code, 200, "{v}");
    target.set_builds(&["4.0"]);
    wait_waiting(&d, 1.0).await;
    wait_waiting(&d, 0.0).await; // settled while still present: found the existing release
    let four = releases(&d, "4.0").await;
    assert_eq!(four.len(), 1, "no duplicate: {four:?}");
    assert_eq!((four[0]["id"].as_str(), four[0].get("origin")), (Some(id), None), "{four:?}");
    assert_eq!(started(&d).await, 1.0);

    // 4. 5.0 is seen, then Prometheus stops for longer than settle: nothing is started, the
    // daemon serves, failed polls are counted. Back up, 5.0 gets its release, deployed when it
    // was first seen before the outage.
    let before_five = Utc::now();
    target.set_builds(&["5.0"]);
    wait_waiting(&d, 1.0).await;
    let errors = polls(&d, "error").await;
    let stopped = Utc::now();
    prom.stop();
    wait_polls(&d, "error", errors, (SETTLE.as_secs() + 2) as f64).await;
    assert!(releases(&d, "5.0").await.is_empty(), "nothing is started while the source is down");
    assert_eq!(d.get("/-/healthy").await.0, 200);
    assert!(d.stderr().contains("watch poll failed"), "the failure is logged");
    prom.restart().await;
    let rel = wait_release(&d, "5.0").await;
    assert_watched(&rel, before_five, stopped);
    assert_eq!(started(&d).await, 2.0);

    // 5. 6.0 is seen, the daemon restarts before it settled: it resumes and starts 6.0's
    // release with the first-seen time from before (a new baseline would have hidden it).
    let before_six = Utc::now();
    target.set_builds(&["5.0", "6.0"]);
    wait_waiting(&d, 1.0).await;
    let seen = Utc::now();
    d.terminate(Duration::from_secs(30));
    let d = Daemon::start(&fx);
    let rel = wait_release(&d, "6.0").await;
    assert_watched(&rel, before_six, seen);
    assert_eq!(releases(&d, "5.0").await.len(), 1, "5.0 is not started twice");
    assert_eq!(started(&d).await, 1.0, "counted by the daemon that started it");
    assert!(d.stderr().contains("watch resumes what it saw before"), "{}", d.stderr());

    // The watch families pass promtool's lint (promtool comes with Debian's prometheus).
    let (_, text) = d.get("/metrics").await;
    let mut lint = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    std::io::Write::write_all(&mut lint.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = lint.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !said.contains("watch"), "promtool: {said}");
}
