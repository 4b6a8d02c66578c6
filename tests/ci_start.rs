//! Releases from CI, safely retried (issue 14 §1): `POST /api/v1/releases` is idempotent on
//! (service, version, environment) while that release is open — a repeat answers 200 with the
//! open release — and `new: true` / `release start --new` starts another on purpose; an
//! `Idempotency-Key` makes any repeat safe (also across a restart); the commit and labels reach
//! the API and the page; `release start --wait` gates on the release.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

fn start(d: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["release", "start", "--server", &d.url])
        .args(args)
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn a_retried_start_answers_the_open_release_and_new_starts_another() {
    let target = FakeTarget::start();
    let d = Daemon::start(&Fixture::new(DAEMON_YAML, target.port));
    let first = d.create(json!({"service": "api", "version": "2.0.0"})).await;
    let id = first["id"].as_str().unwrap().to_string();

    let (code, again) = d.post("/api/v1/releases", &json!({"service": "api", "version": "2.0.0"})).await;
    assert_eq!((code, again["id"].as_str()), (200, Some(id.as_str())), "a repeat is the open release: {again}");
    let (code, prod) =
        d.post("/api/v1/releases", &json!({"service": "api", "version": "2.0.0", "environment": "production"})).await;
    assert_eq!((code, prod["id"].as_str()), (200, Some(id.as_str())), "production is the default environment");
    let (code, staging) =
        d.post("/api/v1/releases", &json!({"service": "api", "version": "2.0.0", "environment": "staging"})).await;
    assert_eq!(code, 201, "another environment is another release: {staging}");
    let (code, forced) = d.post("/api/v1/releases", &json!({"service": "api", "version": "2.0.0", "new": true})).await;
    assert_eq!(code, 201, "{forced}");
    assert!(forced["id"] != id.as_str() && forced["id"] != staging["id"], "a third release: {forced}");

    // The CLI prints the id either way and says when it was already watched.
    let (ok, out, err) = start(&d, &["--service", "web", "--version", "1.0"]);
    assert!(ok, "{err}");
    let (ok, again, err) = start(&d, &["--service", "web", "--version", "1.0"]);
    assert!(ok && again == out, "same id: {out} vs {again}");
    assert!(err.contains("already watched"), "{err}");
    let (ok, other, _) = start(&d, &["--service", "web", "--version", "1.0", "--new"]);
    assert!(ok && other != out, "--new starts another: {other}");

    // Once the release is closed, the same version starts a new watch.
    let (code, v) = d.post(&format!("/api/v1/releases/{out}/verdict"), &json!({"verdict": "failed", "by": "ci"})).await;
    assert_eq!(code, 200, "{v}");
    let (code, open) = d.post("/api/v1/releases", &json!({"service": "web", "version": "1.0"})).await;
    assert_eq!((code, open["id"].as_str()), (200, Some(other.as_str())), "the one still open answers");
    let (code, v) =
        d.post(&format!("/api/v1/releases/{other}/verdict"), &json!({"verdict": "failed", "by": "ci"})).await;
    assert_eq!(code, 200, "{v}");
    let (code, fresh) = d.post("/api/v1/releases", &json!({"service": "web", "version": "1.0"})).await;
    assert_eq!(code, 201, "both closed: a new watch {fresh}");

    // What the API takes, the CLI takes: when it was deployed and its own window.
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let args = ["--service", "db", "--version", "3", "--env", "staging", "--deployed-at", &at];
    let (ok, id, err) = start(&d, &[&args[..], &["--window-min", "10m", "--window-max", "2h"]].concat());
    assert!(ok, "{err}");
    let rel = d.release(&id).await;
    assert_eq!((rel["window_min"].as_f64(), rel["window_max"].as_f64()), (Some(600.0), Some(7200.0)), "{rel}");
    assert_eq!(ts(&rel["deployed_at"]).format("%Y-%m-%dT%H:%M:%SZ").to_string(), at);
    assert_eq!(rel["environment"], "staging");
    let (ok, _, err) = start(&d, &["--service", "db", "--version", "4", "--deployed-at", "yesterday"]);
    assert!(!ok && err.contains("--deployed-at") && err.contains("RFC 3339"), "{err}");
    let (ok, _, err) = start(&d, &["--service", "db", "--version", "4", "--window-max", "two hours"]);
    assert!(!ok && err.contains("--window-max"), "{err}");
}

/// POST a release with an `Idempotency-Key`.
async fn post_keyed(d: &Daemon, key: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/releases", d.url))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap())
}

#[tokio::test]
async fn an_idempotency_key_makes_any_repeat_safe_even_across_a_restart() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut d = Daemon::start(&fx);
    let body =
        json!({"service": "api", "version": "7.0", "new": true, "commit": "4F2A9C1", "labels": {"team": "payments"}});
    let (code, first) = post_keyed(&d, "run-8812-1", &body).await;
    assert_eq!(code, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    // `new: true` alone would start another; with the key, a repeat is the same release.
    let (code, again) = post_keyed(&d, "run-8812-1", &body).await;
    assert_eq!((code, again["id"].as_str()), (200, Some(id.as_str())), "{again}");
    let (code, other) = post_keyed(&d, "run-8812-2", &body).await;
    assert_eq!(code, 201, "another key, another release (new: true): {other}");
    // A CI re-run (a new attempt, so a new key) without `new` is still the open release.
    let (code, rerun) = post_keyed(&d, "run-8812-3", &json!({"service": "api", "version": "7.0"})).await;
    assert_eq!(code, 200, "the open release answers a re-run with another key: {rerun}");
    // The same key with another request is a client bug: refused, naming the key's release.
    let changed = json!({"service": "api", "version": "7.1"});
    let (code, err) = post_keyed(&d, "run-8812-1", &changed).await;
    assert_eq!(code, 422, "{err}");
    let msg = err["error"].as_str().unwrap();
    assert!(msg.starts_with("Idempotency-Key: was already used") && msg.contains(&id), "{msg}");
    let (code, err) = post_keyed(&d, "bad key", &changed).await;
    assert!(code == 422 && err["error"].as_str().unwrap().contains("visible ASCII"), "{err}");

    // Commit (lowercased) and labels are on the release, in the API and on the page.
    assert_eq!((first["commit"].as_str(), first["labels"]["team"].as_str()), (Some("4f2a9c1"), Some("payments")));
    let (code, page) = d.get(&format!("/releases/{id}")).await;
    assert_eq!(code, 200);
    assert!(page.contains("team=payments") && page.contains("4f2a9c1"), "labels and commit on the page");
    for (bad, field) in [
        (json!({"service": "api", "version": "8", "commit": "main"}), "commit: commit has 4 characters"),
        (json!({"service": "api", "version": "8", "labels": {"alertname": "x"}}), "labels: label name \"alertname\""),
        (json!({"service": "api", "version": "8", "labels": {"team": "<b>\n"}}), "labels: labels.team contains"),
    ] {
        let (code, err) = d.post("/api/v1/releases", &bad).await;
        assert!(code == 422 && err["error"].as_str().unwrap().starts_with(field), "{bad}: {err}");
    }

    // The key is stored with its release: a restart keeps the answer.
    d.terminate(SOON);
    let d = Daemon::start(&fx);
    let (code, again) = post_keyed(&d, "run-8812-1", &body).await;
    assert_eq!((code, again["id"].as_str()), (200, Some(id.as_str())), "after a restart: {again}");

    // The CLI sends the key and the labels; a label given badly is refused before any request.
    let args = ["--service", "api", "--version", "7.0", "--new", "--commit", "4f2a9c1", "--label", "team=payments"];
    let (ok, out, err) = start(&d, &[&args[..], &["--idempotency-key", "run-8812-1"]].concat());
    assert!(ok && out == id, "{out} {err}");
    let (ok, _, err) = start(&d, &["--service", "api", "--version", "9", "--label", "team"]);
    assert!(!ok && err.contains("NAME=VALUE"), "{err}");
}

#[tokio::test]
async fn release_start_wait_gates_on_the_release() {
    let target = FakeTarget::start();
    let d = Daemon::start(&Fixture::new(DAEMON_YAML, target.port));
    target.set_version("5.0");
    let junit = tempfile::tempdir().unwrap();
    let report = junit.path().join("gate.xml");
    let args = ["--service", "api", "--version", "5.0", "--wait", "--timeout", "60s", "--interval", "200ms"];
    let out = Command::new(BIN)
        .args(["release", "start", "--server", &d.url])
        .args(args)
        .arg("--junit")
        .arg(&report)
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the smoke and version items pass: {err}");
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.contains("<testsuite") && xml.contains("Run post-deploy smoke tests on production"), "{xml}");

    // A failing target: the gate fails (exit 1), naming the red item.
    target.set_health(500, "down");
    let out = Command::new(BIN)
        .args(["release", "start", "--server", &d.url, "--service", "web", "--version", "5.0", "--wait"])
        .args(["--timeout", "60s", "--interval", "200ms"])
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED") && said.contains(SMOKE), "names the failing item: {said}");
}
