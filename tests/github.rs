//! GitHub in and out, end to end with the real `shipwatch run` binary.
//!
//! In: GitHub's documented `deployment_status` and `ping` payload examples
//! (`tests/fixtures/github/`, from octokit/webhooks), signed like GitHub signs them, sent to
//! `POST /api/v1/hooks/github`: a valid signature starts a release with commit and origin, a
//! missing or wrong one is 401 and changes nothing, a redelivery answers with the same release,
//! other states and events are 202 with the reason, and a planned release is deployed.
//!
//! Out: a `github` receiver pointed at [`FakeGithub`] (GitHub's status endpoints, checking
//! token, headers, sha and body): `pending` then `success` for a release that verifies in a
//! short window, `pending` then `failure` for one that fails, deployment statuses
//! `in_progress` then `success` for the release the webhook started, and a `pending` GitHub
//! kept refusing (502) dropped once the release verified rather than sent after `success`.

mod common;
#[path = "github/fake.rs"]
mod fake;

use chrono::Utc;
use serde_json::{Value, json};

use common::*;
use fake::{FakeGithub, Health, TOKEN};
use shipwatch::notify::webhook::signature;

const SECRET: &str = "gh-hook-secret-for-tests";
const SUCCESS: &str = include_str!("fixtures/github/deployment_status.json");
const IN_PROGRESS: &str = include_str!("fixtures/github/deployment_status-gh-pages.json");
const PING: &str = include_str!("fixtures/github/ping.json");
const SHA: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const HOOK: &str = "/api/v1/hooks/github";
const ITEM: &str = "run-post-deploy-smoke-tests-on-production";

/// A config: the GitHub integration (secret from `GH_HOOK_SECRET`), a `health` probe of
/// `/healthz/{{ release.service }}` on `health` every 200 ms bound to the smoke item (failing
/// after 2 fails: the release fails at max), window 2s..4s, and `receivers` under `notify:`.
fn fixture(health: &Health, receivers: &str) -> Fixture {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         window: {{ min: 2s, max: 4s }}\n\
         integrations:\n  github:\n    webhook_secret: \"${{GH_HOOK_SECRET}}\"\n    environments: {{ \"Prod/EU\": prod-eu }}\n\
         notify:\n{receivers}\
         probes:\n  health:\n    http: {{ url: \"http://127.0.0.1:__PORT__/healthz/{{{{ release.service }}}}\", expect: {{ status: [200] }} }}\n    every: 200ms\n    jitter: 0s\n\
         items:\n  {ITEM}: {{ probes: [health], fail: {{ consecutive: 2 }} }}\n"
    );
    Fixture::new(&yaml, health.port)
}

fn start(fx: &Fixture) -> Daemon {
    Daemon::start_with_env(fx, &[("GH_HOOK_SECRET", SECRET), ("GH_TOKEN", TOKEN)])
}

/// The example `json` with `edit` applied and `created_at` now (a deploy of 2019 is too old to
/// watch), as GitHub would send it: compact JSON bytes.
fn payload(json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    v["deployment_status"]["created_at"] = Utc::now().to_rfc3339().into();
    edit(&mut v);
    v.to_string()
}

/// POST `body` as GitHub does: event and delivery headers, signed with `secret` (None: no
/// signature header); status and JSON answer.
async fn deliver(d: &Daemon, event: &str, body: &str, secret: Option<&str>) -> (u16, Value) {
    let mut req = d
        .client
        .post(format!("{}{HOOK}", d.url))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header("user-agent", "GitHub-Hookshot/044aadd")
        .body(body.to_string());
    if let Some(s) = secret {
        req = req.header("x-hub-signature-256", signature(s, body.as_bytes()));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn release_count(d: &Daemon) -> usize {
    d.get_json("/api/v1/releases").await["releases"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn webhooks_in_start_releases_once_and_refuse_what_is_not_signed() {
    let health = Health::start();
    let fx = fixture(&health, "");
    let d = start(&fx);
    let body = payload(SUCCESS, |v| v["deployment"]["ref"] = "v1.4.2".into());

    // Not signed, or signed with another secret: 401 with the reason, nothing started.
    let got = deliver(&d, "deployment_status", &body, None).await;
    assert_error(&got, 401, "missing X-Hub-Signature-256", "no signature");
    let got = deliver(&d, "deployment_status", &body, Some("not-the-secret")).await;
    assert_error(&got, 401, "does not match the body", "wrong secret");
    let tampered = body.replace("v1.4.2", "v6.6.6");
    let sig = signature(SECRET, body.as_bytes());
    let resp = d
        .client
        .post(format!("{}{HOOK}", d.url))
        .header("content-type", "application/json")
        .header("x-github-event", "deployment_status")
        .header("x-hub-signature-256", sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "a body changed after signing");
    let form = d
        .client
        .post(format!("{}{HOOK}", d.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("payload={body}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    assert!(form.text().await.unwrap().contains("content type to application/json"));
    assert_eq!(release_count(&d).await, 0, "nothing refused started a release");

    // ping, other events, other states: answered without a release.
    let got = deliver(&d, "ping", PING, Some(SECRET)).await;
    assert_eq!(got, (200, json!({"pong": true})));
    let got = deliver(&d, "push", "{}", Some(SECRET)).await;
    assert_eq!(got.0, 202, "{got:?}");
    assert!(got.1["ignored"].as_str().unwrap().contains("event \"push\" is not handled"), "{got:?}");
    let got = deliver(&d, "deployment_status", &payload(IN_PROGRESS, |_| {}), Some(SECRET)).await;
    assert_eq!(got.0, 202, "{got:?}");
    assert!(got.1["ignored"].as_str().unwrap().contains("\"in_progress\" is not success"), "{got:?}");
    for state in ["pending", "queued", "failure", "error", "inactive"] {
        let b = payload(SUCCESS, |v| v["deployment_status"]["state"] = state.into());
        let got = deliver(&d, "deployment_status", &b, Some(SECRET)).await;
        assert_eq!(got.0, 202, "{state}: {got:?}");
    }
    let b = payload(SUCCESS, |v| v["deployment"]["environment"] = "Prod:EU".into());
    let got = deliver(&d, "deployment_status", &b, Some(SECRET)).await;
    assert_eq!(got.0, 202, "{got:?}");
    assert!(got.1["ignored"].as_str().unwrap().contains("map it under integrations.github.environments"), "{got:?}");
    assert_eq!(release_count(&d).await, 0, "nothing ignored started a release");

    // A successful deployment: a release with the commit and where it came from.
    let (status, rel) = deliver(&d, "deployment_status", &body, Some(SECRET)).await;
    assert_eq!(status, 201, "{rel}");
    assert_eq!(
        (&rel["service"], &rel["version"], &rel["environment"], &rel["state"]),
        (&json!("hello-world"), &json!("v1.4.2"), &json!("production"), &json!("deployed"))
    );
    assert_eq!(rel["commit"], SHA);
    assert_eq!(
        rel["origin"],
        json!({"kind": "github_deployment", "repository": "Codertocat/Hello-World", "deployment_id": 145988746})
    );
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ts(&rel["deployed_at"]), ts(&sent["deployment_status"]["created_at"]));
    let id = rel["id"].as_str().unwrap().to_string();

    // GitHub redelivers: the same release, not a second one.
    let (status, again) = deliver(&d, "deployment_status", &body, Some(SECRET)).await;
    assert_eq!((status, &again["id"]), (200, &json!(id)), "{again}");
    assert_eq!(release_count(&d).await, 1);

    // A planned release of that service, version and environment is deployed by the webhook.
    let planned = d
        .create(json!({"service": "hello-world", "version": "v2.0.0", "environment": "prod-eu", "planned": true}))
        .await;
    assert_eq!(planned["state"], "planned");
    let b = payload(SUCCESS, |v| {
        v["deployment"]["ref"] = "refs/tags/v2.0.0".into();
        v["deployment"]["id"] = 145988999.into();
        v["deployment"]["environment"] = "Prod/EU".into();
    });
    let (status, deployed) = deliver(&d, "deployment_status", &b, Some(SECRET)).await;
    assert_eq!((status, &deployed["id"]), (200, &planned["id"]), "{deployed}");
    assert_eq!(deployed["state"], "deployed");
    assert_eq!(deployed["commit"], SHA);
    assert_eq!(deployed["origin"]["deployment_id"], 145988999);
    assert_eq!(release_count(&d).await, 2);
}

#[tokio::test]
async fn statuses_out_follow_the_release_to_its_verdict() {
    let health = Health::start();
    let gh = FakeGithub::start();
    let receiver = format!(
        "  gh: {{ github: {{ repo: Codertocat/Hello-World, token: \"${{GH_TOKEN}}\", api_url: \"{}\" }} }}\n",
        gh.api_url()
    );
    let fx = fixture(&health, &receiver);
    let d = start(&fx);
    let good_sha = "ab".repeat(20);
    let bad_sha = "cd".repeat(20);
    let good = d.create(json!({"service": "good-api", "version": "1.0.0", "commit": good_sha.to_uppercase()})).await;
    let bad = d.create(json!({"service": "bad-api", "version": "1.0.0", "commit": bad_sha})).await;
    let bare = d.create(json!({"service": "bare-api", "version": "1.0.0"})).await;
    // GitHub answers this commit's `pending` with 502 until the release has verified: the
    // retried `pending` must then be dropped, never land after `success`.
    let flaky_sha = "ef".repeat(20);
    gh.unavailable_for_pending(&flaky_sha);
    let flaky = d.create(json!({"service": "flaky-api", "version": "1.0.0", "commit": flaky_sha})).await;
    let body = payload(SUCCESS, |v| v["deployment"]["ref"] = "v1.4.2".into());
    let (status, hooked) = deliver(&d, "deployment_status", &body, Some(SECRET)).await;
    assert_eq!(status, 201, "{hooked}");
    let id = |r: &Value| r["id"].as_str().unwrap().to_string();

    d.wait_release(&id(&good), "verified", SOON).await;
    d.wait_release(&id(&bad), "failed", SOON).await;
    d.wait_release(&id(&hooked), "verified", SOON).await;
    d.wait_release(&id(&flaky), "verified", SOON).await;
    wait_for("the final statuses", SOON, || async {
        let done = [
            gh.states("commit", &good_sha).last().map(String::as_str) == Some("success"),
            gh.states("commit", &bad_sha).last().map(String::as_str) == Some("failure"),
            gh.states("commit", SHA).last().map(String::as_str) == Some("success"),
            gh.states("deployment", "145988746").last().map(String::as_str) == Some("success"),
            gh.states("commit", &flaky_sha).last().map(String::as_str) == Some("success"),
        ];
        if done.iter().all(|x| *x) { Ok(()) } else { Err(format!("{done:?} {:?}", gh.calls())) }
    })
    .await;

    // The superseded `pending` leaves the outbox unsent (without being dead-lettered).
    wait_for("the superseded pending of flaky-api to leave the outbox", SOON, || async {
        let rows = d.get_json("/api/v1/outbox").await;
        let left = rows.as_array().into_iter().flatten().any(|r| r["release"] == flaky["id"]);
        if left { Err(rows.to_string()) } else { Ok(()) }
    })
    .await;
    assert_eq!(gh.states("commit", &flaky_sha), ["success"], "no pending after success");
    let tried = gh.calls().iter().filter(|c| c.target == flaky_sha && c.refused.is_some()).count();
    assert!(tried >= 1, "the pending was tried and answered 502");
    assert!(d.stderr().contains("superseded: release flaky-api-1-0-0 is verified now"), "{}", d.stderr());

    let calls: Vec<_> = gh.calls().into_iter().filter(|c| c.target != flaky_sha).collect();
    let refused: Vec<_> = calls.iter().filter(|c| c.refused.is_some()).collect();
    assert!(refused.is_empty(), "GitHub would have refused: {refused:?}");
    assert!(calls.iter().all(|c| c.repo == "Codertocat/Hello-World"), "{calls:?}");
    assert_eq!(gh.states("commit", &good_sha), ["pending", "success"]);
    assert_eq!(gh.states("commit", &bad_sha), ["pending", "failure"]);
    assert_eq!(gh.states("commit", SHA), ["pending", "success"]);
    assert_eq!(gh.states("deployment", "145988746"), ["in_progress", "success"]);
    let deployments: Vec<_> = calls.iter().filter(|c| c.kind == "deployment").collect();
    assert_eq!(deployments.len(), 2, "deployment statuses only for the release from the webhook: {deployments:?}");
    for c in &calls {
        let rel = [&good, &bad, &hooked].into_iter().find(|r| {
            r["commit"].as_str() == Some(c.target.as_str()) || c.kind == "deployment" && r["origin"].is_object()
        });
        let page = format!("{}/releases/{}", d.url, id(rel.unwrap_or_else(|| panic!("whose call? {c:?}"))));
        let link = if c.kind == "commit" { &c.body["target_url"] } else { &c.body["log_url"] };
        assert_eq!(link, &json!(page), "{c:?}");
        if c.kind == "commit" {
            assert_eq!(c.body["context"], "shipwatch/production");
        }
    }
    let fail = calls.iter().find(|c| c.target == bad_sha && c.body["state"] == "failure").unwrap();
    assert!(fail.body["description"].as_str().unwrap().starts_with("failed: "), "{fail:?}");

    // The release without a commit: no call, a dead letter naming the fix.
    let dead = wait_for("the dead letter of the release without a commit", SOON, || async {
        let rows = d.get_json("/api/v1/outbox").await;
        rows.as_array()
            .into_iter()
            .flatten()
            .find(|r| r["release"] == bare["id"] && r["dead"] == true)
            .cloned()
            .ok_or_else(|| rows.to_string())
    })
    .await;
    assert!(dead["last_error"].as_str().unwrap().contains("has no commit"), "{dead}");
    assert!(dead["last_error"].as_str().unwrap().contains("--commit"), "{dead}");
    assert!(!d.stderr().contains(TOKEN), "the token is never logged");
}
