//! Test doubles for `tests/github.rs`: [`FakeGithub`] (GitHub's two status endpoints as
//! documented: `POST /repos/{owner}/{repo}/statuses/{sha}` and
//! `POST /repos/{owner}/{repo}/deployments/{id}/statuses`, under `/api/v3` like GitHub
//! Enterprise Server; every request's token, `Accept`, API version, `User-Agent`, sha and body
//! fields are checked and each call is recorded, accepted or not; `pending` statuses of chosen
//! shas can be answered 502) and [`Health`] (a
//! `/healthz/{service}` that fails for services named `bad-*`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::common::servers::serve;

/// The token the daemon is configured with (`GH_TOKEN`).
pub const TOKEN: &str = "ghp_fake_token_for_tests_0123";

/// One call: which endpoint, the repository, the sha or deployment id, the body, and the
/// refusal (None: accepted with 201).
#[derive(Debug, Clone)]
pub struct Call {
    pub kind: &'static str,
    pub repo: String,
    pub target: String,
    pub body: Value,
    pub refused: Option<String>,
}

/// The calls so far, and the shas whose `pending` statuses are answered 502.
#[derive(Default)]
struct Seen {
    calls: Vec<Call>,
    unavailable_pending: Vec<String>,
}

type Calls = Arc<Mutex<Seen>>;

pub struct FakeGithub {
    pub port: u16,
    calls: Calls,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// What GitHub would refuse in the headers.
fn check_headers(h: &HeaderMap) -> Option<String> {
    let v = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if v("authorization") != format!("Bearer {TOKEN}") {
        return Some(format!("401 Bad credentials (authorization {:?})", v("authorization")));
    }
    if v("accept") != "application/vnd.github+json" {
        return Some(format!("415 accept {:?}", v("accept")));
    }
    if v("x-github-api-version") != "2022-11-28" {
        return Some(format!("400 x-github-api-version {:?}", v("x-github-api-version")));
    }
    if v("user-agent").is_empty() {
        return Some("403 no user-agent".into());
    }
    if !v("content-type").starts_with("application/json") {
        return Some(format!("415 content-type {:?}", v("content-type")));
    }
    None
}

/// What GitHub would refuse in a status body (`states` allowed; description at most 140).
fn check_body(b: &Value, states: &[&str], links: &[&str]) -> Option<String> {
    let state = b["state"].as_str().unwrap_or("");
    if !states.contains(&state) {
        return Some(format!("422 state {state:?}"));
    }
    if b["description"].as_str().is_none_or(|d| d.chars().count() > 140) {
        return Some(format!("422 description {}", b["description"]));
    }
    for l in links {
        if !b[*l].as_str().is_some_and(|u| u.starts_with("http://") || u.starts_with("https://")) {
            return Some(format!("422 {l} {}", b[*l]));
        }
    }
    None
}

async fn statuses(
    State(calls): State<Calls>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    h: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let sha_ok = sha.len() == 40 && sha.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    let unavailable = body["state"] == "pending" && calls.lock().unwrap().unavailable_pending.contains(&sha);
    let refused = check_headers(&h)
        .or_else(|| unavailable.then(|| "502 Server Error (scripted)".to_string()))
        .or_else(|| (!sha_ok).then(|| format!("422 No commit found for SHA: {sha}")))
        .or_else(|| check_body(&body, &["pending", "success", "failure", "error"], &["target_url"]))
        .or_else(|| body["context"].as_str().is_none_or(str::is_empty).then(|| "422 context".into()));
    record(&calls, "commit", format!("{owner}/{repo}"), sha, body.0, refused)
}

async fn deployment_statuses(
    State(calls): State<Calls>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    h: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let states = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];
    let refused = check_headers(&h)
        .or_else(|| id.parse::<u64>().is_err().then(|| format!("404 deployment {id}")))
        .or_else(|| check_body(&body, &states, &["log_url", "environment_url"]));
    record(&calls, "deployment", format!("{owner}/{repo}"), id, body.0, refused)
}

fn record(
    calls: &Calls,
    kind: &'static str,
    repo: String,
    target: String,
    body: Value,
    refused: Option<String>,
) -> (StatusCode, axum::Json<Value>) {
    let answer = match &refused {
        None => (StatusCode::CREATED, axum::Json(json!({ "id": 1, "state": body["state"] }))),
        Some(why) => {
            let code = why[..3].parse().unwrap_or(422);
            (StatusCode::from_u16(code).unwrap(), axum::Json(json!({ "message": why })))
        }
    };
    calls.lock().unwrap().calls.push(Call { kind, repo, target, body, refused });
    answer
}

impl FakeGithub {
    pub fn start() -> Self {
        let calls: Calls = Arc::default();
        let app = Router::new()
            .route("/api/v3/repos/{owner}/{repo}/statuses/{sha}", post(statuses))
            .route("/api/v3/repos/{owner}/{repo}/deployments/{id}/statuses", post(deployment_statuses))
            .with_state(calls.clone());
        let (port, stop, _) = serve(app, 0);
        FakeGithub { port, calls, _stop: stop }
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v3", self.port)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().calls.clone()
    }

    /// Answer every `pending` status of `sha` with 502 (GitHub having a bad moment).
    pub fn unavailable_for_pending(&self, sha: &str) {
        self.calls.lock().unwrap().unavailable_pending.push(sha.to_string());
    }

    /// The states of the accepted calls of `kind` for `target` (a sha or a deployment id), in
    /// order.
    pub fn states(&self, kind: &str, target: &str) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|c| c.kind == kind && c.target == target && c.refused.is_none())
            .map(|c| c.body["state"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// `/healthz/{service}`: 500 for services named `bad-*`, else 200 `ok`.
pub struct Health {
    pub port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Health {
    pub fn start() -> Self {
        let app = Router::new().route(
            "/healthz/{service}",
            get(|Path(s): Path<String>| async move {
                if s.starts_with("bad-") { (StatusCode::INTERNAL_SERVER_ERROR, "down") } else { (StatusCode::OK, "ok") }
            }),
        );
        let (port, stop, _) = serve(app, 0);
        Health { port, _stop: stop }
    }
}
