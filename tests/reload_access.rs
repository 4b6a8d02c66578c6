//! Reload (POST /-/reload and SIGHUP) keeps running releases and rejects a bad config; the
//! read token guards reading; secrets never appear in the API, the page or /metrics.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const READ_YAML: &str = r#"
server: { listen: 127.0.0.1:0, api_token: "${W_TOKEN}", read_token: "${R_TOKEN}" }
storage: { sqlite: ./shipwatch.db }
checklist: checklist.md
window: { min: 60s, max: 120s }
probes:
  health:
    http:
      url: "http://127.0.0.1:__PORT__/healthz"
      headers: { X-Api-Key: "${SECRET_HEADER}" }
      expect: { status: [200] }
    every: 200ms
    jitter: 0s
items:
  run-post-deploy-smoke-tests-on-production: { probes: [health] }
"#;

async fn get_with(d: &Daemon, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let mut req = d.client.get(format!("{}{path}", d.url));
    match auth {
        Some(("bearer", t)) => req = req.bearer_auth(t),
        Some((_, t)) => req = req.basic_auth("oncall", Some(t)),
        None => {}
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn read_token_guards_reading_and_secrets_never_leak() {
    let target = FakeTarget::start();
    let fx = Fixture::new(READ_YAML, target.port);
    let secret = "hdr-secret-8c1f2e";
    let env = [("W_TOKEN", "write-token-1234"), ("R_TOKEN", "read-token-5678"), ("SECRET_HEADER", secret)];
    let mut d = Daemon::start_with_env(&fx, &env);
    d.token = Some("write-token-1234".into());
    let created = d.create(json!({"service": "api", "version": "1.0"})).await;
    let id = created["id"].as_str().unwrap().to_string();
    for path in ["/api/v1/releases", "/", "/metrics"] {
        let (code, _) = get_with(&d, path, None).await;
        assert_eq!(code, 401, "{path} without a token");
        let (code, _) = get_with(&d, path, Some(("bearer", "nope"))).await;
        assert_eq!(code, 401, "{path} with a wrong token");
        let (code, _) = get_with(&d, path, Some(("bearer", "read-token-5678"))).await;
        assert_eq!(code, 200, "{path} with the read token");
        let (code, _) = get_with(&d, path, Some(("basic", "read-token-5678"))).await;
        assert_eq!(code, 200, "{path} with the read token as basic-auth password (browsers)");
        let (code, _) = get_with(&d, path, Some(("bearer", "write-token-1234"))).await;
        assert_eq!(code, 200, "{path} with the API token");
    }
    let (code, _) = get_with(&d, "/-/healthy", None).await;
    assert_eq!(code, 200, "health checks stay open");
    // The read token cannot write.
    let (code, _) = d.post_raw("/api/v1/releases", r#"{"service":"x","version":"1"}"#, Some("read-token-5678")).await;
    assert_eq!(code, 401, "read token must not create releases");
    // Let the probe run, then look everywhere for the secret header value and the tokens.
    let auth = Some(("bearer", "read-token-5678"));
    wait_for("the smoke item to complete", SOON, || async {
        let (_, body) = get_with(&d, &format!("/api/v1/releases/{id}"), auth).await;
        if body.contains("\"state\":\"complete\"") { Ok(()) } else { Err(body) }
    })
    .await;
    for path in [
        "/api/v1/releases".to_string(),
        format!("/api/v1/releases/{id}"),
        format!("/api/v1/releases/{id}/results"),
        format!("/api/v1/releases/{id}/checklist.md"),
        format!("/api/v1/releases/{id}/report"),
        format!("/releases/{id}"),
        "/".to_string(),
        "/metrics".to_string(),
    ] {
        let (code, body) = get_with(&d, &path, auth).await;
        assert_eq!(code, 200, "{path}");
        for s in [secret, "write-token-1234", "read-token-5678"] {
            assert!(!body.contains(s), "{path} leaks {s}");
        }
    }
    assert!(!d.stderr().contains(secret), "the log leaks the secret header");
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_swaps_valid_configs_and_keeps_the_old_one_on_errors() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let mut d = Daemon::start(&fx);
    let created =
        d.create(json!({"service": "api", "version": "1.4.2", "window": {"min": "60s", "max": "120s"}})).await;
    let id = created["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;

    // A broken config is rejected with the error, and the old one keeps running.
    let good = std::fs::read_to_string(&fx.config).unwrap();
    std::fs::write(&fx.config, good.replace("probes: [health]", "probes: [helth]")).unwrap();
    let (code, body) = d.post_raw("/-/reload", "", None).await;
    assert_eq!(code, 422, "bad reload: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("did you mean 'health'")), "a JSON error: {body}");
    let (_, metrics) = d.get("/metrics").await;
    assert!(metrics.contains("shipwatch_config_reload_success 0"), "reload failure exposed in /metrics");
    let before = d.results(&id, Some("health")).await.len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(d.results(&id, Some("health")).await.len() > before, "old config keeps probing");

    // A valid config that binds one more item: the release keeps its state, the new item starts
    // pending and gets probed.
    let extra = "  verify-deployment-completes-without-errors: { probes: [script] }\n";
    std::fs::write(&fx.config, format!("{good}{extra}")).unwrap();
    let (code, body) = d.post_raw("/-/reload", "", None).await;
    assert_eq!(code, 200, "good reload: {body}");
    assert_eq!(body["reloaded"], true, "JSON like every other endpoint: {body}");
    let r = d.release(&id).await;
    assert_eq!(item(&r, SMOKE)["state"], "complete", "state kept across reload");
    d.wait_item(&id, "verify-deployment-completes-without-errors", "complete", SOON).await;
    let (_, metrics) = d.get("/metrics").await;
    assert!(metrics.contains("shipwatch_config_reload_success 1"), "{metrics}");

    // SIGHUP reloads too: drop the new binding again; the item record stays in history.
    std::fs::write(&fx.config, &good).unwrap();
    let pid = d.pid();
    // SAFETY: kill(2) with SIGHUP on our own, still running child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for("SIGHUP reload", SOON, || async {
        let r = d.release(&id).await;
        let it = item(&r, "verify-deployment-completes-without-errors").clone();
        if it["automated"] == false { Ok(()) } else { Err(it.to_string()) }
    })
    .await;
    let status = d.terminate(Duration::from_secs(10));
    assert!(status.success(), "clean exit after reloads: {status:?}");
}

/// A read token and no API token.
const READ_ONLY_YAML: &str = r#"
server: { listen: 127.0.0.1:0, read_token: "${R_TOKEN}" }
storage: { sqlite: ./shipwatch.db }
checklist: checklist.md
window: { min: 60s, max: 120s }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_read_token_alone_guards_writes_too() {
    const READER: &str = "only-read-token-2468";
    let target = FakeTarget::start();
    let fx = Fixture::new(READ_ONLY_YAML, target.port);
    let d = Daemon::start_with_env(&fx, &[("R_TOKEN", READER)]);
    let create = r#"{"service":"api","version":"1.0","planned":true}"#;
    let (code, body) = d.post_raw("/api/v1/releases", create, None).await;
    assert_error(&(code, body), 401, "token", "create without a token");
    let (code, body) = d.post_raw("/api/v1/releases", create, Some("wrong")).await;
    assert_error(&(code, body), 401, "token", "create with a wrong token");
    let (code, rel) = d.post_raw("/api/v1/releases", create, Some(READER)).await;
    assert_eq!(code, 201, "create with the read token: {rel}");
    let id = rel["id"].as_str().unwrap();
    let tick = (format!("/api/v1/releases/{id}/items/{ROLLBACK_DOC}/tick"), r#"{"by":"dave"}"#);
    let waive = (format!("/api/v1/releases/{id}/items/{SMOKE}/waive"), r#"{"by":"dave","reason":"r"}"#);
    let deploy = (format!("/api/v1/releases/{id}/deploy"), "");
    let reload = ("/-/reload".to_string(), "");
    for (path, body) in [tick, waive, deploy, reload] {
        let (code, got) = d.post_raw(&path, body, None).await;
        assert_error(&(code, got), 401, "token", &format!("POST {path} without a token"));
        let (code, got) = d.post_raw(&path, body, Some(READER)).await;
        assert_eq!(code, 200, "POST {path} with the read token: {got}");
    }
    let (code, _) = get_with(&d, "/api/v1/releases", None).await;
    assert_eq!(code, 401, "reading still needs the token");
}

/// `shipwatch check-config` on `server:` written as `server`: exit status and stderr.
fn check_config(fx: &Fixture, server: &str) -> (bool, String) {
    let yaml = format!("server: {server}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n");
    std::fs::write(&fx.config, yaml).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&fx.config)
        .env_remove("SHIPWATCH_API_TOKEN")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_beyond_loopback_without_a_token_is_warned_about() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let needle = "accepts connections from other hosts";
    for open in
        ["{ listen: 0.0.0.0:9797 }", "{ listen: \"[::]:9797\" }", "{ listen: \"myhost:9797\", api_token: \"\" }"]
    {
        let (ok, err) = check_config(&fx, open);
        assert!(ok, "a warning, not an error: {err}");
        assert!(err.contains("warning:") && err.contains(needle), "{open}: {err}");
        assert!(err.contains("shipwatch.yaml:1:"), "{open}: the warning points at server.listen: {err}");
    }
    for guarded in [
        "{ listen: 0.0.0.0:9797, api_token: t }",
        "{ listen: 0.0.0.0:9797, read_token: t }",
        "{ listen: 127.0.0.1:9797 }",
        "{ listen: \"[::1]:9797\" }",
        "{ listen: localhost:9797 }",
    ] {
        let (ok, err) = check_config(&fx, guarded);
        assert!(ok && !err.contains(needle), "{guarded}: {err}");
    }
    // `run` logs the same warning.
    check_config(&fx, "{ listen: 0.0.0.0:9797 }");
    let d = Daemon::start(&fx);
    assert!(d.stderr().contains(needle), "run logs the warning:\n{}", d.stderr());
}
