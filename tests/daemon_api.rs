//! The daemon over its HTTP API, end to end: the real `shipwatch run` binary probing a fake
//! target (see `common`). Windows are seconds long (config: min 3s, max 6s; probes every
//! 200 ms) so verdicts arrive within the test; every wait polls with a deadline.

mod common;

use chrono::Utc;
use common::*;
use serde_json::{Value, json};

const SMOKE_TEXT: &str = "Run post-deploy smoke tests on production";
const VERSION_TEXT: &str = "Confirm new version is running in production";
const ROLLBACK_TEXT: &str = "Document rollback procedure and steps";

/// `checklist.md` with every `[x]` box cleared and every ` — note` cut: what the team wrote.
fn strip_marks(md: &str) -> String {
    let lines: Vec<String> = md
        .split('\n')
        .map(|l| {
            let l = l.strip_prefix("- [x] ").map(|rest| format!("- [ ] {rest}")).unwrap_or_else(|| l.to_string());
            l.split(" — ").next().unwrap_or_default().to_string()
        })
        .collect();
    lines.join("\n")
}

#[tokio::test]
async fn http_items_tick_and_release_verifies_after_min() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    assert_eq!(d.get("/-/healthy").await.0, 200);
    assert_eq!(d.get("/-/ready").await.0, 200);
    // The log names the address as written, not `Some(127.0.0.1:…)`.
    let log = d.stderr();
    let line = log.lines().find(|l| l.contains("API listening")).unwrap_or_else(|| panic!("no listening line:\n{log}"));
    let addr = d.url.trim_start_matches("http://");
    assert!(line.contains(addr) && !line.contains("Some("), "{line}");

    let rel = d.create(json!({"service": "api", "version": "1.4.2", "environment": "prod-eu"})).await;
    let id = rel["id"].as_str().expect("release id").to_string();
    assert_eq!(
        (&rel["service"], &rel["version"], &rel["environment"]),
        (&json!("api"), &json!("1.4.2"), &json!("prod-eu"))
    );
    assert_eq!(rel["state"], "deployed");
    assert!(rel["deployed_at"].is_string(), "deployed_at: {}", rel["deployed_at"]);
    assert_eq!((rel["window"]["min_s"].as_f64(), rel["window"]["max_s"].as_f64()), (Some(3.0), Some(6.0)));
    assert_eq!(rel["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(rel["counts"]["pending"], 2, "counts: {}", rel["counts"]);
    assert_eq!(rel["counts"]["manual"], 48, "counts: {}", rel["counts"]);
    let smoke = item(&rel, SMOKE);
    assert_eq!(
        (&smoke["state"], &smoke["automated"], &smoke["probes"]),
        (&json!("pending"), &json!(true), &json!(["health"]))
    );
    assert_eq!(item(&rel, VERSION)["probes"], json!(["version"]), "item bound by its exact text");
    assert_eq!(
        (&item(&rel, ROLLBACK_DOC)["state"], &item(&rel, ROLLBACK_DOC)["automated"]),
        (&json!("manual"), &json!(false))
    );

    let smoke = d.wait_item(&id, SMOKE, "complete", SOON).await;
    assert_eq!((&smoke["cause"]["kind"], &smoke["cause"]["met"]), (&json!("rule"), &json!("pass")), "{smoke}");
    assert!(smoke.get("by").is_none(), "no person ticked it: {smoke}");
    assert_eq!(smoke["evidence"]["probe"], "health");
    assert_eq!(smoke["evidence"]["status"], "pass");
    assert_eq!(smoke["evidence"]["evidence"]["status_code"], 200, "evidence: {}", smoke["evidence"]);
    let version = d.wait_item(&id, VERSION, "complete", SOON).await;
    assert_eq!(version["evidence"]["probe"], "version");

    let (status, md) = d.get(&format!("/api/v1/releases/{id}/checklist.md")).await;
    assert_eq!(status, 200);
    for text in [SMOKE_TEXT, VERSION_TEXT] {
        let line = md_line(&md, text);
        assert!(line.starts_with(&format!("- [x] {text} — ✓ ")), "{line}");
        assert!(line.contains(" by shipwatch ("), "note names shipwatch and the evidence: {line}");
    }
    assert!(md_line(&md, SMOKE_TEXT).contains("(health: "), "{}", md_line(&md, SMOKE_TEXT));
    assert!(md_line(&md, VERSION_TEXT).contains("(version: "), "{}", md_line(&md, VERSION_TEXT));
    assert_eq!(md_line(&md, ROLLBACK_TEXT), format!("- [ ] {ROLLBACK_TEXT}"));
    assert_eq!(md.lines().filter(|l| l.starts_with("- [x] ")).count(), 2);
    assert_eq!(strip_marks(&md), CHECKLIST, "everything but the marks is the team's own Markdown");

    let (last_deployed, rel) = d.watch_verdict(&id, SOON).await;
    assert_eq!(rel["state"], "verified", "verdict: {rel}");
    let elapsed = rel["window"]["elapsed_s"].as_f64().unwrap_or(-1.0);
    assert!((3.0..6.0).contains(&elapsed), "verified at {elapsed}s; window is 3s..6s");
    assert!(last_deployed >= 2.5, "still deployed at {last_deployed}s at most: verdict came before min");
    assert_eq!(rel["counts"]["complete"], 2);
    assert!(d.extra_stdout().is_empty(), "stdout must hold only the listening line: {:?}", d.extra_stdout());
}

#[tokio::test]
async fn regression_is_kept_in_history_and_extends_the_watch_to_max() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.4.2", "window": {"min": "4s", "max": "8s"}})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    assert_eq!((rel["window"]["min_s"].as_f64(), rel["window"]["max_s"].as_f64()), (Some(4.0), Some(8.0)));

    d.wait_item(&id, SMOKE, "complete", SOON).await;
    target.set_health(500, "database down");
    let regressed = d.wait_item(&id, SMOKE, "regressed", SOON).await;
    assert_eq!(regressed["evidence"]["status"], "fail");
    assert_eq!(regressed["evidence"]["evidence"]["status_code"], 500, "evidence: {}", regressed["evidence"]);
    let (_, md) = d.get(&format!("/api/v1/releases/{id}/checklist.md")).await;
    assert!(
        md_line(&md, SMOKE_TEXT).starts_with("- [ ] "),
        "a regressed item is not ticked: {}",
        md_line(&md, SMOKE_TEXT)
    );

    target.set_health(200, "ok");
    let back = d.wait_item(&id, SMOKE, "complete", SOON).await;
    assert_eq!(back["evidence"]["status"], "pass");

    let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let moves: Vec<(String, String)> = history
        .as_array()
        .expect("history is an array")
        .iter()
        .filter(|h| h["item_id"] == SMOKE)
        .map(|h| (h["from"].as_str().unwrap_or("").to_string(), h["to"].as_str().unwrap_or("").to_string()))
        .collect();
    let want: Vec<(String, String)> = [("pending", "complete"), ("complete", "regressed"), ("regressed", "complete")]
        .map(|(a, b)| (a.into(), b.into()))
        .into();
    assert_eq!(moves, want, "history of {SMOKE}: {history}");

    let (last_deployed, rel) = d.watch_verdict(&id, SOON).await;
    assert!(
        last_deployed >= 7.0,
        "the regression must extend the watch to max (8s); verdict at {last_deployed}s: {rel}"
    );
    assert_eq!(rel["state"], "verified", "all items complete at max: {rel}");
    assert!(rel["window"]["elapsed_s"].as_f64().unwrap_or(0.0) >= 7.95, "window: {}", rel["window"]);
}

#[tokio::test]
async fn failing_target_and_version_mismatch_do_not_tick() {
    let target = FakeTarget::start();
    target.set_health(500, "boom");
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "9.9"})).await;
    let id = rel["id"].as_str().unwrap().to_string();

    let smoke = d.wait_item(&id, SMOKE, "failing", SOON).await;
    assert_eq!(smoke["evidence"]["status"], "fail");
    assert_eq!(smoke["evidence"]["evidence"]["status_code"], 500, "evidence: {}", smoke["evidence"]);
    assert_eq!(smoke["evidence"]["evidence"]["observed"], "500");

    // The version item: the target serves 1.4.2, the release is 9.9.
    let version = d.wait_item(&id, VERSION, "failing", SOON).await;
    let ev = &version["evidence"]["evidence"];
    assert!(ev["observed"].as_str().unwrap_or("").contains("1.4.2"), "evidence names the observed value: {ev}");
    assert!(ev["message"].as_str().unwrap_or("").contains("1.4.2"), "message: {ev}");
    let last: Vec<&Value> = version["last_results"].as_array().expect("last_results").iter().collect();
    assert_eq!(last.len(), 1, "one bound probe: {last:?}");
    assert_eq!((&last[0]["probe"], &last[0]["status"]), (&json!("version"), &json!("fail")));

    let results = d.get_json(&format!("/api/v1/releases/{id}/results?probe=version&limit=3")).await;
    let results = results.as_array().expect("results array");
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results.iter().all(|r| r["probe"] == "version" && r["status"] == "fail"), "{results:?}");
    let at: Vec<_> = results.iter().map(|r| ts(&r["at"])).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "results newest first: {at:?}");

    target.set_version("9.9");
    let fixed = d.wait_item(&id, VERSION, "complete", SOON).await;
    assert_eq!(fixed["evidence"]["status"], "pass", "failing → complete once the version matches: {fixed}");

    let (_, md) = d.get(&format!("/api/v1/releases/{id}/checklist.md")).await;
    assert!(md_line(&md, SMOKE_TEXT).starts_with("- [ ] "), "{}", md_line(&md, SMOKE_TEXT));
    assert!(md_line(&md, VERSION_TEXT).starts_with("- [x] "), "{}", md_line(&md, VERSION_TEXT));

    let (last_deployed, rel) = d.watch_verdict(&id, SOON).await;
    assert_eq!(rel["state"], "failed", "items not complete at max: {rel}");
    assert!(last_deployed >= 5.0, "failed only at max (6s); still deployed until {last_deployed}s");
    assert_eq!(
        (&rel["counts"]["failing"], &rel["counts"]["complete"]),
        (&json!(1), &json!(1)),
        "counts: {}",
        rel["counts"]
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_the_right_status() {
    let target = FakeTarget::start();
    target.set_health(500, "down"); // the automated item never completes
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let create = |body: &'static str| d.post_raw("/api/v1/releases", body, None);

    assert_error(&create(r#"{"service": "api", "version": "#).await, 400, "JSON", "malformed JSON");
    assert_error(&create(r#"{"service":"api","version":"1","colour":"red"}"#).await, 422, "colour", "unknown field");
    assert_error(&create(r#"{"version":"1"}"#).await, 422, "service", "missing service");
    assert_error(&create(r#"{"service":"api","version":5}"#).await, 422, "version", "wrong type");
    assert_error(&create(r#"{"service":"has space","version":"1"}"#).await, 422, "service", "invalid service");
    assert_error(&create(r#"{"service":"api","version":"1","window":{"min":"5x"}}"#).await, 422, "5x", "bad window");
    // Only objects: serde reads a list into a struct field by field.
    assert_error(
        &create(r#"{"service":"api","version":"1","window":[null,null]}"#).await,
        422,
        "window",
        "window list",
    );
    assert_error(
        &create(r#"{"service":"api","version":"1","window":["1h","2h"]}"#).await,
        422,
        "window",
        "window list",
    );
    assert_error(
        &create(r#"{"service":"api","version":"1","deployed_at":"yesterday"}"#).await,
        422,
        "deployed_at: write an RFC 3339 time such as 2026-12-03T14:05:00Z",
        "a time that is not RFC 3339",
    );
    assert_error(&create(r#"["api","1"]"#).await, 422, "JSON object", "a list body");
    assert_error(&create(r#""api""#).await, 422, "JSON object", "a string body");
    // Found while fuzzing: a window past chrono's range once panicked and broke the release list.
    let huge = create(r#"{"service":"api","version":"1","window":{"max":"1000000years"}}"#).await;
    assert_error(&huge, 422, "too long", "huge window");
    assert_eq!(
        d.get_json("/api/v1/releases").await,
        json!({"releases": []}),
        "no release may be created by a bad request"
    );

    let rel = d.create(json!({"service": "api", "version": "1.0"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    let (status, body) = d.get("/api/v1/releases/nope-1").await;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    assert_error(&(status, body), 404, "nope-1", "unknown release");
    let tick = json!({"by": "alice"});
    assert_error(
        &d.post(&format!("/api/v1/releases/nope-1/items/{ROLLBACK_DOC}/tick"), &tick).await,
        404,
        "nope-1",
        "tick, unknown release",
    );
    assert_error(
        &d.post(&format!("/api/v1/releases/{id}/items/run-smoke-tests/tick"), &tick).await,
        404,
        "did you mean 'run-smoke-tests-in-staging-environment'",
        "unknown item",
    );
    assert_error(
        &d.post(&format!("/api/v1/releases/{id}/items/{SMOKE}/tick"), &tick).await,
        409,
        SMOKE,
        "tick automated item",
    );
    let no_by = json!({"note": "who?"});
    assert_error(
        &d.post(&format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/tick"), &no_by).await,
        422,
        "by",
        "tick without by",
    );
    let no_reason = json!({"by": "bob"});
    assert_error(
        &d.post(&format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/waive"), &no_reason).await,
        422,
        "reason",
        "waive without reason",
    );
    assert_error(
        &d.post(&format!("/api/v1/releases/{id}/deploy"), &json!({})).await,
        409,
        "planned",
        "deploy a deployed release",
    );
    assert_eq!(item(&d.release(&id).await, ROLLBACK_DOC)["state"], "manual", "rejected calls change nothing");

    d.wait_item(&id, SMOKE, "failing", SOON).await; // a few results exist now
    for bad in ["0", "1001", "abc"] {
        let (status, body) = d.get(&format!("/api/v1/releases/{id}/results?limit={bad}")).await;
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        assert_error(&(status, body), 422, "limit", &format!("limit={bad}"));
    }
    let some = d.get_json(&format!("/api/v1/releases/{id}/results?limit=2")).await;
    assert_eq!(some.as_array().map(Vec::len), Some(2), "{some}");
}

#[tokio::test]
async fn api_token_guards_mutating_calls_and_never_leaks() {
    const TOKEN: &str = "tok-4711-s3cr3t-value";
    let target = FakeTarget::start();
    let fx = Fixture::new(TOKEN_YAML, target.port);
    let d = Daemon::start_with_env(&fx, &[("TEST_TOKEN", TOKEN)]);
    let body = json!({"service": "api", "version": "1.4.2"}).to_string();
    let mut seen: Vec<String> = vec![];

    let missing = d.post_raw("/api/v1/releases", &body, None).await;
    assert_error(&missing, 401, "", "no token");
    let wrong = d.post_raw("/api/v1/releases", &body, Some("wrong-token")).await;
    assert_error(&wrong, 401, "", "wrong token");
    assert_eq!(d.get_json("/api/v1/releases").await, json!({"releases": []}), "rejected calls create nothing");
    let (status, rel) = d.post_raw("/api/v1/releases", &body, Some(TOKEN)).await;
    assert_eq!(status, 201, "right token: {rel}");
    let id = rel["id"].as_str().unwrap().to_string();
    let tick_path = format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/tick");
    let tick = json!({"by": "alice"}).to_string();
    let unauth = d.post_raw(&tick_path, &tick, None).await;
    assert_error(&unauth, 401, "", "tick without token");
    let (status, ticked) = d.post_raw(&tick_path, &tick, Some(TOKEN)).await;
    assert_eq!(status, 200, "tick with token: {ticked}");
    seen.extend([missing.1, wrong.1, rel, unauth.1, ticked].iter().map(Value::to_string));

    // The `keyed` probe has the token in its URL; its evidence must not show it.
    d.wait_item(&id, "validate-critical-functionality-is-working", "complete", SOON).await;
    let keyed = d.results(&id, Some("keyed")).await;
    let target_url = keyed.first().map(|r| r["evidence"]["target"].to_string()).unwrap_or_default();
    assert!(target_url.contains("/healthz"), "evidence shows the probed URL: {target_url}");
    for path in [
        "/api/v1/releases".to_string(),
        format!("/api/v1/releases/{id}"),
        format!("/api/v1/releases/{id}/checklist.md"),
        format!("/api/v1/releases/{id}/results?limit=1000"),
        format!("/api/v1/releases/{id}/history"),
    ] {
        let (status, text) = d.get(&path).await;
        assert_eq!(status, 200, "GET {path} needs no token: {text}");
        seen.push(text);
    }
    for text in &seen {
        assert!(!text.contains(TOKEN), "the API token leaked into a response: {text}");
    }
    assert!(!d.stderr().contains(TOKEN), "the API token leaked into the logs");
}

#[tokio::test]
async fn planned_release_starts_its_window_on_deploy() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "web", "version": "2.0.0", "planned": true})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    assert_eq!(rel["state"], "planned");
    assert!(rel["deployed_at"].is_null(), "deployed_at: {}", rel["deployed_at"]);
    assert!(rel["window"]["elapsed_s"].is_null(), "window: {}", rel["window"]);

    // Post-deploy probes do not run before the deploy: checked once a release deployed after
    // this one was created has been probed 5 times (the probe tasks are running).
    let other = d.create(json!({"service": "api", "version": "1.4.2"})).await;
    let other = other["id"].as_str().unwrap().to_string();
    wait_for("5 health results of a deployed release", SOON, || async {
        let n = d.results(&other, Some("health")).await.len();
        if n >= 5 { Ok(()) } else { Err(format!("{n} so far")) }
    })
    .await;
    assert_eq!(d.results(&id, None).await.len(), 0, "probes ran while planned");
    assert_eq!(item(&d.release(&id).await, SMOKE)["state"], "pending");

    let before = Utc::now();
    let (status, deployed) = d.post(&format!("/api/v1/releases/{id}/deploy"), &json!({})).await;
    let after = Utc::now();
    assert_eq!(status, 200, "deploy: {deployed}");
    assert_eq!(deployed["state"], "deployed");
    let at = ts(&deployed["deployed_at"]);
    let slack = chrono::Duration::seconds(1);
    assert!(at >= before - slack && at <= after + slack, "deployed_at {at} not between {before} and {after}");
    assert_eq!(d.release(&id).await["deployed_at"], deployed["deployed_at"]);

    d.wait_item(&id, SMOKE, "complete", SOON).await;
    assert_error(&d.post(&format!("/api/v1/releases/{id}/deploy"), &json!({})).await, 409, "planned", "second deploy");
}

#[tokio::test]
async fn manual_tick_and_waiver_record_who_and_why() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.4.2"})).await;
    let id = rel["id"].as_str().unwrap().to_string();

    let note = json!({"by": "alice", "note": "runbook v3 reviewed"});
    let (status, body) = d.post(&format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/tick"), &note).await;
    assert_eq!(status, 200, "tick: {body}");
    let rel = d.release(&id).await;
    let it = item(&rel, ROLLBACK_DOC);
    assert_eq!(
        (&it["state"], &it["by"], &it["note"]),
        (&json!("complete"), &json!("alice"), &json!("runbook v3 reviewed"))
    );

    let (_, md) = d.get(&format!("/api/v1/releases/{id}/checklist.md")).await;
    let line = md_line(&md, ROLLBACK_TEXT);
    assert!(line.starts_with(&format!("- [x] {ROLLBACK_TEXT} — ✓ ")), "{line}");
    assert!(line.ends_with(" by alice: runbook v3 reviewed"), "{line}");

    let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let moved = history
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["item_id"] == ROLLBACK_DOC && h["from"] == "manual" && h["to"] == "complete");
    assert!(moved, "history records the tick: {history}");

    let waiver = "verify-rollback-can-be-executed-within-acceptable-timeframe";
    let reason = json!({"by": "bob", "reason": "no schema change in this release"});
    let (status, body) = d.post(&format!("/api/v1/releases/{id}/items/{waiver}/waive"), &reason).await;
    assert_eq!(status, 200, "waive: {body}");
    let rel = d.release(&id).await;
    let it = item(&rel, waiver);
    assert_eq!((&it["state"], &it["by"]), (&json!("waived"), &json!("bob")));
    assert_eq!(rel["counts"]["waived"], 1, "counts: {}", rel["counts"]);
}

#[tokio::test]
async fn ticking_a_completed_automated_item_is_refused() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.4.2", "window": {"min": "1m", "max": "2m"}})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    let done = d.wait_item(&id, SMOKE, "complete", SOON).await;

    let tick = json!({"by": "mallory", "note": "looks fine to me"});
    let got = d.post(&format!("/api/v1/releases/{id}/items/{SMOKE}/tick"), &tick).await;
    assert_error(&got, 409, SMOKE, "tick a complete automated item");
    let after = d.release(&id).await;
    let it = item(&after, SMOKE);
    assert_eq!((&it["by"], &it["evidence"]), (&done["by"], &done["evidence"]), "shipwatch's evidence must stay: {it}");
}
