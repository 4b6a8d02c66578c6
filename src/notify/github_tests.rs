//! GitHub receiver tests: the plan per release state, what is skipped, answer classes, URLs,
//! and delivery against a local server that checks the headers and records the calls.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use super::*;
use crate::event::EventKind;
use crate::notify::webhook::tests::{cx, sample};

const SHA: &str = "4f2a9c1e0b7d4c2a9f114f2a9c1e0b7d4c2a9f11";
const REPO: &str = "acme/checkout";
const TOKEN: &str = "ghp_test_token_0123456789";

fn with_commit(kind: EventKind, state: ReleaseState) -> Notification {
    let mut n = sample(kind);
    n.release.commit = Some(SHA.to_uppercase());
    n.release.state = state;
    n
}

fn deployment(mut n: Notification, repo: &str) -> Notification {
    n.release.origin = Some(Origin::GithubDeployment { repository: repo.into(), deployment_id: 77 });
    n
}

#[test]
fn the_plan_follows_the_release_state() {
    use ReleaseState::*;
    let cases = [
        (EventKind::ReleaseStarted, Planned, "pending", "queued", "checkout-api 2.4.0 planned: waiting for the deploy"),
        (
            EventKind::ReleaseDeployed,
            Deployed,
            "pending",
            "in_progress",
            "watching: verdict from 2025-03-05 12:00 UTC (at the latest 2025-03-06 12:00 UTC)",
        ),
        (EventKind::ItemRegressed, Deployed, "pending", "in_progress", "checkout failed 3 times in a row"),
        (EventKind::ReleaseVerified, Verified, "success", "success", "verified: all 6 automated items complete"),
        (EventKind::ReleaseFailed, Failed, "failure", "failure", "failed: release.failed happened"),
        (
            EventKind::ReleaseInconclusive,
            Inconclusive,
            "error",
            "error",
            "inconclusive, a person decides: release.inconclusive happened",
        ),
    ];
    for (kind, state, commit_state, deployment_state, text) in cases {
        let p = plan(REPO, &with_commit(kind, state)).unwrap();
        assert_eq!((p.state, p.deployment_state), (commit_state, deployment_state), "{kind:?}");
        assert_eq!(p.description, text, "{kind:?}");
        assert_eq!(p.sha, SHA, "lowercase");
        assert_eq!(p.context, "shipwatch/production");
        assert_eq!(p.page, "http://127.0.0.1:9797/releases/r-42");
        assert_eq!(p.deployment, None);
    }
    let mut n = with_commit(EventKind::ReleaseFailed, Failed);
    n.release.reason = Some("smoke tests failing at max".into());
    assert_eq!(plan(REPO, &n).unwrap().description, "failed: smoke tests failing at max", "the verdict's reason");
}

#[test]
fn deployment_statuses_only_for_deployments_of_this_repository() {
    let n = with_commit(EventKind::ReleaseVerified, ReleaseState::Verified);
    assert_eq!(plan(REPO, &deployment(n.clone(), "Acme/Checkout")).unwrap().deployment, Some(77));
    assert_eq!(plan(REPO, &deployment(n.clone(), "acme/other")).unwrap().deployment, None);
    let why = skip(REPO, &deployment(n, "acme/other"), Some(ReleaseState::Verified)).unwrap();
    assert!(why.contains("came from a deployment of acme/other, not acme/checkout"), "{why}");
}

#[test]
fn no_commit_or_a_bad_one_is_permanent_with_the_fix() {
    let n = sample(EventKind::ReleaseDeployed);
    let why = plan(REPO, &n).unwrap_err();
    assert!(why.contains("release r-42 has no commit") && why.contains("--commit SHA"), "{why}");
    let mut n = sample(EventKind::ReleaseDeployed);
    n.release.commit = Some("../../x".into());
    assert!(plan(REPO, &n).unwrap_err().contains("commit contains '.'"));
}

#[test]
fn descriptions_fit_githubs_limit_on_one_line() {
    assert_eq!(description("  ok\nnext  "), "ok next");
    let long = "é".repeat(300);
    let d = description(&long);
    assert_eq!(d.chars().count(), MAX_DESCRIPTION);
    assert!(d.ends_with('…'));
    assert_eq!(description(&"x".repeat(140)), "x".repeat(140), "140 fits");
}

#[test]
fn a_newer_state_supersedes_a_status_not_sent_yet() {
    use ReleaseState::*;
    let deployed = with_commit(EventKind::ReleaseDeployed, Deployed);
    let inconclusive = with_commit(EventKind::ReleaseInconclusive, Inconclusive);
    assert_eq!(skip(REPO, &deployed, Some(Deployed)), None);
    assert_eq!(skip(REPO, &inconclusive, Some(Inconclusive)), None);
    assert_eq!(skip(REPO, &inconclusive, None), None, "a closed release out of memory still gets its verdict");
    let why = skip(REPO, &deployed, Some(Verified)).unwrap();
    assert!(why.contains("superseded: release r-42 is verified now (this status was for deployed)"), "{why}");
    assert!(skip(REPO, &deployed, None).unwrap().contains("has closed"));
    assert!(skip(REPO, &inconclusive, Some(Verified)).is_some(), "a person's verdict replaces inconclusive");
}

#[test]
fn answers_are_classified_with_githubs_message() {
    let h = |pairs: &[(&'static str, &'static str)]| {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    };
    let msg = r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;
    assert!(classify(201, &h(&[]), "{}").is_ok());
    for (status, headers, retry, piece) in [
        (500, h(&[]), true, "HTTP 500: Bad credentials"),
        (429, h(&[("retry-after", "30")]), true, "(Retry-After: 30s)"),
        (403, h(&[("x-ratelimit-remaining", "0")]), true, "HTTP 403"),
        (403, h(&[("retry-after", "60")]), true, "HTTP 403 (Retry-After: 60s)"),
        (403, h(&[("x-ratelimit-remaining", "4999")]), false, "may write statuses"),
        (401, h(&[]), false, "the token is not valid"),
        (404, h(&[]), false, "check that the repository exists"),
        (422, h(&[]), false, "full SHA"),
    ] {
        match classify(status, &headers, msg) {
            Err(DeliveryError::Retry(m)) if retry => assert!(m.contains(piece), "{status}: {m}"),
            Err(DeliveryError::Permanent(m)) if !retry => assert!(m.contains(piece), "{status}: {m}"),
            other => panic!("{status} {headers:?}: {other:?}"),
        }
    }
}

#[test]
fn urls_keep_the_api_path_and_encode_segments() {
    let u = endpoint("https://github.example.com/api/v3/", REPO, &["statuses", SHA]).unwrap();
    assert_eq!(u.as_str(), format!("https://github.example.com/api/v3/repos/acme/checkout/statuses/{SHA}"));
    let u = endpoint(DEFAULT_API, REPO, &["deployments", "77", "statuses"]).unwrap();
    assert_eq!(u.as_str(), "https://api.github.com/repos/acme/checkout/deployments/77/statuses");
    let u = endpoint(DEFAULT_API, "a/b?c#d", &["x y"]).unwrap();
    assert_eq!(u.as_str(), "https://api.github.com/repos/a/b%3Fc%23d/x%20y");
    assert!(endpoint("mailto:x@y", REPO, &[]).is_err());
}

/// One call the fake GitHub got: path, headers, body.
type Calls = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

/// A fake GitHub API answering `status` to every status call, under `/api/v3`.
async fn github(status: u16) -> (String, Calls) {
    let calls: Calls = Arc::default();
    async fn record(
        State((calls, status)): State<(Calls, u16)>,
        Path(rest): Path<String>,
        h: HeaderMap,
        body: axum::Json<Value>,
    ) -> (StatusCode, &'static str) {
        calls.lock().unwrap().push((rest, h, body.0));
        (StatusCode::from_u16(status).unwrap(), r#"{"message":"as scripted"}"#)
    }
    let app = Router::new().route("/api/v3/repos/{*rest}", post(record)).with_state((calls.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v3"), calls)
}

#[tokio::test]
async fn sets_the_commit_and_the_deployment_status_with_githubs_headers() {
    let (api, calls) = github(201).await;
    let n = deployment(with_commit(EventKind::ReleaseVerified, ReleaseState::Verified), REPO);
    let d = send(REPO, TOKEN, Some(&api), &n, &cx()).await.unwrap();
    assert_eq!(d.status, 201);
    assert!(d.detail.contains("commit status success") && d.detail.contains("deployment 77 status success"), "{d:?}");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (path, h, body) = &calls[0];
    assert_eq!(path, &format!("acme/checkout/statuses/{SHA}"));
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}").as_str());
    assert_eq!(h["accept"], "application/vnd.github+json");
    assert_eq!(h["x-github-api-version"], "2022-11-28");
    assert!(h["user-agent"].to_str().unwrap().starts_with("shipwatch/"));
    assert_eq!(body["state"], "success");
    assert_eq!(body["context"], "shipwatch/production");
    assert_eq!(body["target_url"], "http://127.0.0.1:9797/releases/r-42");
    assert_eq!(body["description"], "verified: all 6 automated items complete");
    let (path, _, body) = &calls[1];
    assert_eq!(path, "acme/checkout/deployments/77/statuses");
    assert_eq!(body["state"], "success");
    assert_eq!(body["log_url"], "http://127.0.0.1:9797/releases/r-42");
    assert_eq!(body["environment_url"], "http://127.0.0.1:9797/releases/r-42");
}

#[tokio::test]
async fn refusals_never_echo_the_token_and_transport_errors_are_retried() {
    let (api, calls) = github(422).await;
    let c = cx();
    c.redactor.add(TOKEN);
    let n = with_commit(EventKind::ReleaseDeployed, ReleaseState::Deployed);
    match send(REPO, TOKEN, Some(&api), &n, &c).await {
        Err(DeliveryError::Permanent(m)) => {
            assert!(m.contains("github commit status: HTTP 422: as scripted"), "{m}");
            assert!(!m.contains(TOKEN), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls.lock().unwrap().len(), 1, "no deployment status without an origin");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v3", closed.local_addr().unwrap());
    drop(closed);
    assert!(matches!(send(REPO, TOKEN, Some(&url), &n, &c).await, Err(DeliveryError::Retry(_))));
}
