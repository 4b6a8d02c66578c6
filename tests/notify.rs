//! Notifications end to end: the real `shipwatch run` binary against a real Alertmanager (Debian
//! `prometheus-alertmanager`, skipped with a note when missing, failed under `CI=true`) and a
//! local webhook receiver the test scripts (status per request, signature check per request).
//!
//! The probed service here is [`Target`]: `/healthz` answers a status *pattern* cycled per
//! request, so "alternating every probe run" is exact rather than timer-dependent. Items use
//! `pass: {consecutive: 2}`, `fail: {consecutive: 2}`; probes run every 300 ms without jitter;
//! Alertmanager receivers use `interval: 1s`, `resolve_for: 30s`.
//!
//! No test sleeps and then asserts that something did not happen: each first waits for a later
//! event it can observe (more keeper pushes counted by Alertmanager, a newer probe result, a
//! later delivery, an empty outbox) and only then checks that the unwanted thing is absent.

mod common;
#[path = "notify/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use common::prom::require_bins;
use common::*;
use harness::{Am, Hook, Reserved, SECRET, Target};
use serde_json::{Value, json};

const ACTION: &str = "trigger-incident-response-and-notify-on-call-team";

/// A config: `health` probing `target` every 300 ms, the `receivers` and `items` entries, and
/// source `am` when given. The window (60s..120s) outlasts every test.
fn fixture(target: &Target, am: Option<&str>, receivers: &[String], items: &[String]) -> Fixture {
    let sources = am.map(|u| format!("sources:\n  am: {{ alertmanager: {{ url: \"{u}\" }} }}\n")).unwrap_or_default();
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         window: {{ min: 60s, max: 120s }}\n{sources}notify:\n{}probes:\n  health:\n    \
         http: {{ url: \"http://127.0.0.1:__PORT__/healthz\", expect: {{ status: [200] }} }}\n    every: 300ms\n    \
         jitter: 0s\nitems:\n{}",
        receivers.concat(),
        items.concat()
    );
    Fixture::new(&yaml, target.port)
}

fn am_receiver() -> String {
    // resolve_for outlasts the waits below, so "re-sent as resolved" is observable throughout.
    "  oncall: { alertmanager: { source: am, interval: 1s, resolve_for: 30s } }\n".into()
}

fn hook_receiver(port: u16, events: &[&str]) -> String {
    format!(
        "  hook: {{ webhook: {{ url: \"{}\", secret: \"${{HOOK_SECRET}}\" }}, events: [{}] }}\n",
        Hook::url(port),
        events.join(", ")
    )
}

fn smoke(notify: &[&str]) -> String {
    format!(
        "  {SMOKE}: {{ probes: [health], pass: {{ consecutive: 2 }}, fail: {{ consecutive: 2 }}, notify: [{}] }}\n",
        notify.join(", ")
    )
}

fn start(fx: &Fixture) -> Daemon {
    Daemon::start_with_env(fx, &[("HOOK_SECRET", SECRET)])
}

async fn create(d: &Daemon) -> String {
    create_service(d, "checkout-api").await
}

async fn create_service(d: &Daemon, service: &str) -> String {
    let rel = d.create(json!({"service": service, "version": "2.4.0", "environment": "production"})).await;
    rel["id"].as_str().unwrap().to_string()
}

async fn outbox(d: &Daemon) -> Vec<Value> {
    d.get_json("/api/v1/outbox").await.as_array().cloned().unwrap_or_default()
}

/// An outbox entry's event kind (`event`, or the notification's).
fn event_of(e: &Value) -> String {
    e["event"].as_str().or(e["notification"]["event"]["kind"].as_str()).unwrap_or_default().to_string()
}

/// Wait for an outbox entry of `receiver` with at least `attempts` attempts; returns it.
async fn wait_attempts(d: &Daemon, receiver: &str, attempts: u64) -> Value {
    wait_for(&format!("an outbox entry for {receiver} with {attempts}+ attempts"), SOON, || async move {
        let rows = outbox(d).await;
        rows.iter()
            .find(|e| e["receiver"] == receiver && e["attempts"].as_u64().unwrap_or(0) >= attempts)
            .cloned()
            .ok_or_else(|| Value::Array(rows).to_string())
    })
    .await
}

/// Wait until the outbox is empty (everything queued so far was delivered).
async fn wait_outbox_empty(d: &Daemon) {
    wait_for("the outbox to drain", SOON, || async {
        let rows = outbox(d).await;
        if rows.is_empty() { Ok(()) } else { Err(Value::Array(rows).to_string()) }
    })
    .await;
}

/// Wait until the hook accepted a `release.deployed` delivery for release `id`: a delivery
/// queued after everything the test looked at before, so it is the "later event".
async fn wait_deployed_delivery(h: &Hook, id: &str) {
    wait_for(&format!("the release.deployed delivery of {id}"), SOON, || async {
        let got = h.accepted();
        if got.iter().any(|g| g.key.contains(id) && g.event == "release.deployed") {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
}

/// Wait until Alertmanager has received at least `n` more alerts with `status` than `since`
/// (pushes that are not visible in its alert list: a refresh, a resolved alert).
async fn wait_received(am: &Am, status: &str, since: u64, n: u64) -> u64 {
    wait_for(&format!("{n} more {status} alerts pushed to Alertmanager (after {since})"), SOON, || async {
        let got = am.received(status).await;
        if got >= since + n { Ok(got) } else { Err(got.to_string()) }
    })
    .await
}

/// Wait until release `id` has at least `n` `health` results of runs started after `since`;
/// returns them oldest first.
async fn wait_results_after(d: &Daemon, id: &str, since: DateTime<Utc>, n: usize) -> Vec<Value> {
    wait_for(&format!("{n} health results after {since}"), SOON, || async {
        let mut rs: Vec<Value> =
            d.results(id, Some("health")).await.into_iter().filter(|r| ts(&r["at"]) > since).collect();
        rs.reverse();
        if rs.len() >= n { Ok(rs) } else { Err(format!("{} so far", rs.len())) }
    })
    .await
}

/// The `SMOKE` history rows of release `id` at or after `since`, as `from→to`.
async fn smoke_moves_since(d: &Daemon, id: &str, since: DateTime<Utc>) -> Vec<String> {
    let h = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let rows = h.as_array().expect("history").iter();
    rows.filter(|r| r["item_id"] == SMOKE && ts(&r["at"]) >= since)
        .map(|r| format!("{}→{}", r["from"].as_str().unwrap_or("-"), r["to"].as_str().unwrap_or("?")))
        .collect()
}

/// Wait until Alertmanager lists an active alert `name`; returns the list.
async fn wait_alert(am: &Am, name: &str, timeout: Duration) -> Vec<Value> {
    wait_for(&format!("{name} active in Alertmanager"), timeout, || async move {
        let a = am.alerts(name).await;
        if a.is_empty() { Err("none".into()) } else { Ok(a) }
    })
    .await
}

#[tokio::test]
async fn regression_fires_in_alertmanager_and_resolves() {
    if !require_bins() {
        return;
    }
    let am = Am::start().await;
    let t = Target::start(&[200]);
    let fx = fixture(&t, Some(&am.url), &[am_receiver()], &[smoke(&["oncall"])]);
    let d = start(&fx);
    let id = create(&d).await;
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    assert!(am.alerts("ShipwatchRegression").await.is_empty(), "no alert while healthy");

    t.set(&[500]);
    d.wait_item(&id, SMOKE, "regressed", SOON).await;
    wait_alert(&am, "ShipwatchRegression", SOON).await;
    // Two more firing pushes (keeper rounds, interval 1s) reach Alertmanager: still one alert.
    let firing = am.received("firing").await;
    wait_received(&am, "firing", firing, 2).await;
    let alerts = am.alerts("ShipwatchRegression").await;
    assert_eq!(alerts.len(), 1, "one alert per incident (event push and keeper agree on labels): {alerts:#?}");
    let a = &alerts[0];
    eprintln!("Alertmanager lists: {}", serde_json::to_string_pretty(a).unwrap());
    let l = &a["labels"];
    for (k, v) in [
        ("alertname", "ShipwatchRegression"),
        ("service", "checkout-api"),
        ("environment", "production"),
        ("version", "2.4.0"),
        ("item", SMOKE),
        ("severity", "page"),
        ("release", id.as_str()),
    ] {
        assert_eq!(l[k], v, "label {k}: {a}");
    }
    assert!(a["annotations"]["summary"].as_str().unwrap_or_default().contains("Regression"), "{a}");
    assert!(am.alerts("ShipwatchItemFailing").await.is_empty(), "the item was complete: regression, not failing");

    t.set(&[200]);
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    wait_for("ShipwatchRegression resolved", SOON, || async {
        let a = am.alerts("ShipwatchRegression").await;
        if a.is_empty() { Ok(()) } else { Err(Value::Array(a).to_string()) }
    })
    .await;
    // The keeper keeps re-sending it resolved (for resolve_for): once two more resolved
    // pushes have arrived, it must not have come back, nor been pushed firing again.
    let (firing, resolved) = (am.received("firing").await, am.received("resolved").await);
    wait_received(&am, "resolved", resolved, 2).await;
    assert!(am.alerts("ShipwatchRegression").await.is_empty(), "stays resolved");
    assert_eq!(am.received("firing").await, firing, "nothing pushed firing after the resolution");
}

#[tokio::test]
async fn alert_arrives_after_alertmanager_comes_back() {
    if !require_bins() {
        return;
    }
    let mut am = Am::start().await;
    let t = Target::start(&[200]);
    let fx = fixture(&t, Some(&am.url), &[am_receiver()], &[smoke(&["oncall"])]);
    let d = start(&fx);
    let id = create(&d).await;
    d.wait_item(&id, SMOKE, "complete", SOON).await;

    am.stop();
    t.set(&[500]);
    d.wait_item(&id, SMOKE, "regressed", SOON).await;
    let pending = wait_attempts(&d, "oncall", 1).await;
    assert_eq!(event_of(&pending), "item.regressed", "{pending}");
    assert!(pending["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{pending}");

    am.restart().await;
    let alerts = wait_alert(&am, "ShipwatchRegression", Duration::from_secs(20)).await;
    assert_eq!(alerts[0]["labels"]["item"], SMOKE);
    wait_outbox_empty(&d).await;
}

#[tokio::test]
async fn webhook_500_twice_then_200_is_delivered_once_signed() {
    let h = Hook::start(&[500, 500]);
    let t = Target::start(&[200]);
    let fx = fixture(&t, None, &[hook_receiver(h.port, &["release.deployed"])], &[smoke(&[])]);
    let d = start(&fx);
    let id = create(&d).await;

    let retried = wait_attempts(&d, "hook", 2).await;
    assert!(retried["last_error"].as_str().unwrap_or_default().contains("500"), "{retried}");
    assert_eq!(retried["dead"], false, "{retried}");
    wait_for("one accepted delivery", SOON, || async {
        if h.accepted().is_empty() { Err(format!("{:?}", h.got())) } else { Ok(()) }
    })
    .await;
    // A later notification (another release deployed) is delivered and nothing is left in
    // the outbox: only then can we tell the first one was not sent again.
    let later = create_service(&d, "search-api").await;
    wait_deployed_delivery(&h, &later).await;
    wait_outbox_empty(&d).await;

    let got: Vec<_> = h.got().into_iter().filter(|g| g.body["release"]["id"] == id.as_str()).collect();
    assert_eq!(got.iter().map(|g| g.answered).collect::<Vec<_>>(), [500, 500, 200], "{:#?}", h.got());
    let key = &got[0].key;
    assert!(key.contains(&id) && key.contains("release.deployed"), "key {key}");
    for g in &got {
        assert!(g.signature_ok, "valid X-Shipwatch-Signature on every attempt: {g:?}");
        assert_eq!((&g.key, &g.delivery, g.event.as_str()), (key, key, "release.deployed"), "{g:?}");
        assert_eq!(g.body, got[0].body, "a retry sends the same body");
    }
    let body = &got[2].body;
    eprintln!("webhook body: {}", serde_json::to_string_pretty(body).unwrap());
    assert_eq!((body["version"].as_u64(), body["receiver"].as_str()), (Some(1), Some("hook")));
    assert_eq!(body["release"]["id"], id.as_str());
    assert_eq!(body["event"]["kind"], "release.deployed");
    assert!(outbox(&d).await.is_empty(), "delivered → removed from the outbox");
    // The link must reach this daemon (it listens on the port it was given, not `:0`).
    assert_eq!(body["link"], format!("{}/api/v1/releases/{id}", d.url), "link to the status API");
}

#[tokio::test]
async fn pending_delivery_survives_kill_9() {
    let port = Reserved::new(); // held but not listening: connection refused
    let t = Target::start(&[200]);
    let fx = fixture(&t, None, &[hook_receiver(port.port(), &["release.deployed"])], &[smoke(&[])]);
    let mut d = start(&fx);
    let id = create(&d).await;
    let pending = wait_attempts(&d, "hook", 1).await;
    assert_eq!(event_of(&pending), "release.deployed", "{pending}");
    d.kill();

    let h = Hook::start_on(Some(port), &[]);
    let d = start(&fx);
    wait_deployed_delivery(&h, &id).await;
    // A later release's delivery arrives and the outbox is empty: the first one had every
    // chance to be sent twice.
    let later = create_service(&d, "search-api").await;
    wait_deployed_delivery(&h, &later).await;
    wait_outbox_empty(&d).await;
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for g in h.accepted() {
        assert!(g.signature_ok, "{g:?}");
        *per_key.entry(g.key).or_default() += 1;
    }
    assert!(per_key.keys().any(|k| k.contains(&id) && k.contains("release.deployed")), "{per_key:?}");
    assert!(per_key.values().all(|n| *n == 1), "exactly once per idempotency key: {per_key:?}");
}

#[tokio::test]
async fn flapping_target_sends_a_bounded_number_of_notifications() {
    let h = Hook::start(&[]);
    let t = Target::start(&[200]);
    let events = ["item.completed", "item.failing", "item.regressed", "item.recovered"];
    let fx = fixture(&t, None, &[hook_receiver(h.port, &events)], &[smoke(&["hook"])]);
    let d = start(&fx);
    let id = create(&d).await;
    d.wait_item(&id, SMOKE, "complete", SOON).await;

    // Alternating every probe run: never 2 fails in a row → the item stays complete. Checked
    // once 10 runs (5 fails) have been judged.
    let since = Utc::now();
    t.set(&[200, 500]);
    let rs = wait_results_after(&d, &id, since, 10).await;
    let st: Vec<&str> = rs.iter().map(|r| r["status"].as_str().unwrap_or("?")).collect();
    assert!(st.contains(&"fail") && st.contains(&"pass"), "the target flapped: {st:?}");
    assert!(!st.windows(2).any(|w| w == ["fail", "fail"]), "never two fails in a row: {st:?}");
    d.wait_item(&id, SMOKE, "complete", Duration::ZERO).await;
    assert_eq!(smoke_moves_since(&d, &id, since).await, Vec::<String>::new(), "no state change while alternating");
    // fail, fail, pass: regresses once; one pass never holds the pass rule (2) → no recovery.
    // Checked once 3 full cycles (9 runs) have been judged.
    let since = Utc::now();
    t.set(&[500, 500, 200]);
    let rs = wait_results_after(&d, &id, since, 9).await;
    let st: Vec<&str> = rs.iter().map(|r| r["status"].as_str().unwrap_or("?")).collect();
    assert!(st.iter().filter(|s| **s == "pass").count() >= 2, "passes in between: {st:?}");
    d.wait_item(&id, SMOKE, "regressed", Duration::ZERO).await;
    assert_eq!(smoke_moves_since(&d, &id, since).await, ["complete→regressed"], "one regression, no recovery");
    t.set(&[200]);
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    // Count once the recovery's notification was delivered, nothing waits in the outbox and 4
    // more runs (all passes) have been judged.
    wait_for("the item.recovered delivery", SOON, || async {
        let got = h.accepted();
        if got.iter().any(|g| g.event == "item.recovered") { Ok(()) } else { Err(format!("{got:?}")) }
    })
    .await;
    wait_outbox_empty(&d).await;
    wait_results_after(&d, &id, Utc::now(), 4).await;

    let runs = d.results(&id, Some("health")).await.len();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for g in h.accepted() {
        *count.entry(g.event).or_default() += 1;
    }
    let want: BTreeMap<String, usize> =
        [("item.completed", 1), ("item.regressed", 1), ("item.recovered", 1)].map(|(k, v)| (k.into(), v)).into();
    assert_eq!(count, want, "{runs} probe runs, {} requests: one per state change", h.got().len());
}

#[tokio::test]
async fn action_item_ticks_only_after_delivery() {
    let h = Hook::start(&[]);
    h.set_default(500);
    let t = Target::start(&[200]);
    let action = format!("  {ACTION}: {{ on: item.regressed, notify: [hook] }}\n");
    let fx = fixture(&t, None, &[hook_receiver(h.port, &[])], &[smoke(&[]), action]);
    let d = start(&fx);
    let id = create(&d).await;
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    assert_eq!(item(&d.release(&id).await, ACTION)["state"], "pending");

    t.set(&[500]);
    d.wait_item(&id, SMOKE, "regressed", SOON).await;
    let retried = wait_attempts(&d, "hook", 2).await;
    assert!(retried["last_error"].as_str().unwrap_or_default().contains("500"), "{retried}");
    let it = item(&d.release(&id).await, ACTION).clone();
    assert_eq!(it["state"], "pending", "not ticked while the receiver answers 500: {it}");

    h.set_default(200);
    let done = d.wait_item(&id, ACTION, "complete", SOON).await;
    let text = done["evidence"].to_string();
    assert!(text.contains("hook") && text.contains("200"), "evidence names the receiver and status: {done}");
    let accepted = h.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert_eq!(accepted[0].event, "item.regressed");
    assert!(accepted[0].key.ends_with(ACTION), "{}", accepted[0].key);
    assert!(accepted[0].signature_ok);
}
