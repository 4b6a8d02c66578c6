//! Releases from CI, safely retried (issue 14 §1): `POST /api/v1/releases` is idempotent on
//! (service, version, environment) while that release is open — a repeat answers 200 with the
//! open release — and `new: true` / `release start --new` starts another on purpose.

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
