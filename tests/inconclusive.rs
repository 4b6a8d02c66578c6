//! No false green (issue 11): a release is verified only by evidence that was actually seen.
//!
//! A real daemon watches a fake target over short windows. When the target dies after its item
//! completed, the item goes `unknown` and the window closes `inconclusive` with the item's
//! coverage in the reason; `gate` exits 3 and a real Alertmanager receives
//! `ShipwatchInconclusive`. With the target up throughout, the same release is `verified`. A
//! `kill -9` of shipwatch itself for 30 s is uncovered time too, measured from what was stored.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::prom::{Alertmanager, require_bins};
use common::*;
use serde_json::{Value, json};

const ITEM: &str = "validate-critical-functionality-is-working";
const BIN: &str = env!("CARGO_BIN_EXE_shipwatch");

/// A config with one HTTP probe every 300 ms bound to [`ITEM`] (stale after 2 s), and, with
/// `am`, an Alertmanager receiver subscribed to `release.failed` (so to `release.inconclusive`).
fn fixture(target: u16, am: Option<&str>, min_coverage: f64) -> Fixture {
    let route = if am.is_some() { ", notify: [oncall]" } else { "" };
    let (source, notify) = match am {
        Some(url) => (
            format!("sources:\n  am: {{ alertmanager: {{ url: \"{url}\" }} }}\n"),
            "notify:\n  oncall: { alertmanager: { source: am, interval: 10s }, events: [release.failed] }\n"
                .to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         {source}{notify}\
         coverage: {{ min_coverage: {min_coverage} }}\n\
         probes:\n  smoke: {{ http: {{ url: \"http://127.0.0.1:{target}/healthz\" }}, every: 300ms, jitter: 0s }}\n\
         items:\n  {ITEM}: {{ probes: [smoke], stale_after: 2s{route} }}\n"
    );
    Fixture::new(&yaml, 0)
}

async fn start(d: &Daemon, window: &str) -> String {
    let rel = d.create(json!({"service": "api", "version": "2.0.0", "window": {"min": window, "max": window}})).await;
    rel["id"].as_str().unwrap().to_string()
}

/// `shipwatch gate ID` (exit code, stdout), writing a JUnit report to `dir/gate.xml`.
fn gate(d: &Daemon, dir: &Path, id: &str) -> (Option<i32>, String, String) {
    let junit = dir.join("gate.xml");
    let out = Command::new(BIN)
        .args(["gate", id, "--server", &d.url, "--interval", "200ms", "--timeout", "30s", "--junit"])
        .arg(&junit)
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .expect("run shipwatch gate");
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), xml)
}

fn coverage(rel: &Value) -> f64 {
    item(rel, ITEM)["coverage"].as_f64().unwrap_or_else(|| panic!("no coverage: {}", item(rel, ITEM)))
}

#[tokio::test]
async fn a_target_killed_after_its_item_completed_makes_the_release_inconclusive() {
    if !require_bins() {
        return;
    }
    let am = Alertmanager::start().await;
    let target = FakeTarget::start();
    let fx = fixture(target.port, Some(&am.url), 0.9);
    let d = Daemon::start(&fx);
    let id = start(&d, "10s").await;
    d.wait_item(&id, ITEM, "complete", Duration::from_secs(20)).await;
    drop(target);

    // Unmeasured for longer than stale_after: unknown, with the last good evidence kept.
    let it = d.wait_item(&id, ITEM, "unknown", Duration::from_secs(20)).await;
    assert_eq!(it["cause"]["kind"], "unmeasured", "{it}");
    assert_eq!(it["evidence"]["status"], "pass", "the last good evidence stays visible: {it}");
    let history: Value = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let to_unknown = history.as_array().unwrap().iter().find(|h| h["to"] == "unknown").cloned().unwrap_or_default();
    let message = to_unknown["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("could not measure since "), "{to_unknown}");
    assert!(message.contains("refused") || message.contains("connect"), "names the last error: {message}");

    // item.unknown goes to the item's notify: like item.failing: on-call sees it at once.
    let unknown = wait_for("ShipwatchUnknown in Alertmanager", Duration::from_secs(30), || async {
        let a = am.alerts("ShipwatchUnknown").await;
        if a.is_empty() { Err("none yet".to_string()) } else { Ok(a) }
    })
    .await;
    assert_eq!(unknown[0]["labels"]["item"], ITEM, "{unknown:?}");

    let rel = d.wait_release(&id, "inconclusive", Duration::from_secs(30)).await;
    let reason = rel["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("'{ITEM}' is unknown (coverage ")), "names the item and its coverage: {reason}");
    let cov = coverage(&rel);
    assert!(cov < 0.9, "coverage {cov} is below min_coverage");
    assert!(reason.contains(&format!("{}%", (cov * 1000.0).floor() / 10.0)), "the coverage in the reason: {reason}");

    let fired = wait_for("ShipwatchInconclusive in Alertmanager", Duration::from_secs(30), || async {
        let a = am.alerts("ShipwatchInconclusive").await;
        if a.is_empty() { Err("none yet".to_string()) } else { Ok(a) }
    })
    .await;
    assert_eq!(fired[0]["labels"]["release"], id.as_str(), "{fired:?}");
    let (code, stdout, xml) = gate(&d, fx.path(), &id);
    assert_eq!(code, Some(3), "gate exits 3 for inconclusive: {stdout}");
    assert!(stdout.contains("INCONCLUSIVE") && stdout.contains("coverage"), "{stdout}");
    assert!(xml.contains("<error message=\"release inconclusive: "), "JUnit error case with the reason: {xml}");

    let text = d.get("/metrics").await.1;
    assert!(text.contains("shipwatch_releases{state=\"inconclusive\"} 1"), "{text}");

    // A person settles it: a bad verdict is refused, a good one is recorded with who and why.
    let path = format!("/api/v1/releases/{id}/verdict");
    assert_error(&d.post(&path, &json!({"verdict": "maybe", "by": "ana"})).await, 422, "verdict", "unknown verdict");
    assert_error(&d.post(&path, &json!({"verdict": "verified"})).await, 422, "by", "no by");
    let out = Command::new(BIN)
        .args(["verdict", &id, "--verified", "--by", "ana", "--note", "dashboards checked by hand", "--server", &d.url])
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains(&format!("{id} is verified: verified by ana: dashboards checked by hand")), "{said}");
    let history: Value = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let last = history.as_array().unwrap().last().cloned().unwrap();
    assert_eq!((&last["from"], &last["to"]), (&json!("inconclusive"), &json!("verified")), "{last}");
    assert_eq!(
        last["cause"],
        json!({"kind": "decided", "to": "verified", "by": "ana", "note": "dashboards checked by hand"})
    );
    let (code, _, _) = gate(&d, fx.path(), &id);
    assert_eq!(code, Some(0), "settled: the gate passes");
}

#[tokio::test]
async fn a_target_up_throughout_verifies_the_release() {
    let target = FakeTarget::start();
    let fx = fixture(target.port, None, 0.9);
    let d = Daemon::start(&fx);
    let id = start(&d, "6s").await;
    d.wait_item(&id, ITEM, "complete", Duration::from_secs(20)).await;
    let text = d.get("/metrics").await.1;
    let series = format!("shipwatch_item_coverage_ratio{{release=\"{id}\",item=\"{ITEM}\"}} ");
    let ratio: f64 = text.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.parse().ok()).unwrap_or(-1.0);
    assert!((0.9..=1.0).contains(&ratio), "{series} in:\n{text}");
    let rel = d.wait_release(&id, "verified", Duration::from_secs(30)).await;
    assert!(coverage(&rel) >= 0.9, "{rel}");
    assert_eq!(item(&rel, ITEM)["state"], "complete");
    let (code, stdout, _) = gate(&d, fx.path(), &id);
    assert_eq!(code, Some(0), "{stdout}");
}

/// Two daemons watch the same target; both are killed with SIGKILL once the item completed and
/// restarted 30 s later. The 30 s gap breaks a min_coverage of 0.9 (inconclusive) and not one
/// of 0.2 (verified): downtime counts, read back from the stored freshness.
#[tokio::test]
async fn shipwatch_down_for_30s_is_uncovered_time() {
    let target = FakeTarget::start();
    let strict = fixture(target.port, None, 0.9);
    let lenient = fixture(target.port, None, 0.2);
    let mut ds = [Daemon::start(&strict), Daemon::start(&lenient)];
    let mut ids = vec![];
    for d in &ds {
        let id = start(d, "45s").await;
        d.wait_item(&id, ITEM, "complete", Duration::from_secs(20)).await;
        ids.push(id);
    }
    for d in &mut ds {
        d.kill();
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    let ds = [Daemon::start(&strict), Daemon::start(&lenient)];
    let inconclusive = ds[0].wait_release(&ids[0], "inconclusive", Duration::from_secs(40)).await;
    let verified = ds[1].wait_release(&ids[1], "verified", Duration::from_secs(40)).await;
    for rel in [&inconclusive, &verified] {
        let cov = coverage(rel);
        // 45 s window, ≥ 28 s of it stale (30 s down, minus stale_after), the rest measured.
        assert!((0.2..0.9).contains(&cov), "coverage {cov} shows the gap: {rel}");
    }
    assert!(inconclusive["reason"].as_str().unwrap().contains("< min_coverage 90%"), "{inconclusive}");
}
