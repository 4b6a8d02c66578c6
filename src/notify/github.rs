//! GitHub receiver: a commit status per release (and a deployment status for releases that came
//! from a GitHub deployment), so the verdict shows next to the commit and the deployment.
//!
//! ```yaml
//! notify:
//!   gh: { github: { repo: acme/checkout, token: "${GITHUB_TOKEN}" } }  # api_url: https://HOST/api/v3
//! ```
//!
//! # Requests
//! `POST {api_url}/repos/{owner}/{repo}/statuses/{sha}` with
//! `{"state", "context": "shipwatch/<environment>", "description", "target_url"}`, and, when the
//! release's origin is a deployment of this repository,
//! `POST {api_url}/repos/{owner}/{repo}/deployments/{id}/statuses` with
//! `{"state", "description", "log_url", "environment_url"}`. Headers: `Authorization: Bearer
//! <token>` (never logged), `Accept: application/vnd.github+json`, `X-GitHub-Api-Version:
//! 2022-11-28`, `User-Agent: shipwatch/<version>`. Path segments are percent-encoded; `repo` is
//! checked as `owner/name` at load and the commit as hex here.
//!
//! | release state | commit status | deployment status | description |
//! |---|---|---|---|
//! | planned | `pending` | `queued` | waiting for the deploy |
//! | deployed | `pending` | `in_progress` | when the verdict is due, or the item event's reason |
//! | verified | `success` | `success` | the verdict's reason |
//! | failed | `failure` | `failure` | the verdict's reason |
//! | inconclusive | `error` | `error` | the verdict's reason (a person settles it) |
//!
//! The state is the release's state when the notification was made; descriptions are cut to
//! GitHub's 140 characters and the links (`target_url`, `log_url`, `environment_url`) go to the
//! release's status page. Default events: `release.deployed`, `release.verified`,
//! `release.failed`, `release.inconclusive`.
//!
//! Delivery: 2xx is delivered; 429, 5xx, transport errors and a 403 that says the rate limit
//! is spent (`Retry-After`, or `X-RateLimit-Remaining: 0`) are retried; any other answer is
//! permanent (with GitHub's `message`). A release without a commit is a permanent failure
//! naming the fix. [`skip`] drops, without sending, a notification a newer state has superseded
//! (a retried `pending` must never land after `success`) or one about a deployment of another
//! repository.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde_json::{Value, json};

use super::webhook::{AGENT, TIMEOUT, read_answer};
use super::{Context, Delivered, DeliveryError, Notification};
use crate::release::{Origin, ReleaseState};

/// The REST API root when `api_url` is not set.
pub const DEFAULT_API: &str = "https://api.github.com";
/// The REST API version every request names.
pub const API_VERSION: &str = "2022-11-28";
/// GitHub's limit on a status description, in characters.
pub const MAX_DESCRIPTION: usize = 140;

/// What one notification tells GitHub.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The commit, lowercase hex.
    pub sha: String,
    /// `shipwatch/<environment>`.
    pub context: String,
    /// Commit status state: `pending`, `success`, `failure` or `error`.
    pub state: &'static str,
    /// Deployment status state: `queued`, `in_progress`, `success`, `failure` or `error`.
    pub deployment_state: &'static str,
    /// At most [`MAX_DESCRIPTION`] characters.
    pub description: String,
    /// The release's status page.
    pub page: String,
    /// The deployment to give a status too (origin of this repository).
    pub deployment: Option<u64>,
}

/// The release's status page: `<base>/releases/<id>` (the notification links the API view).
pub fn page_link(n: &Notification) -> String {
    let api = format!("/api/v1/releases/{}", n.release.id);
    match n.link.strip_suffix(&api) {
        Some(base) => format!("{base}/releases/{}", n.release.id),
        None => n.link.clone(),
    }
}

/// Cut `s` to [`MAX_DESCRIPTION`] characters (ending in `…` when cut), on one line.
pub fn description(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let s = one_line.trim();
    if s.chars().count() <= MAX_DESCRIPTION {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_DESCRIPTION - 1).collect();
    out.push('…');
    out
}

/// The deployment of an origin, when it is a deployment of `repo` (ignoring case).
fn deployment_of(origin: Option<&Origin>, repo: &str) -> Option<u64> {
    match origin {
        Some(Origin::GithubDeployment { repository, deployment_id }) if repository.eq_ignore_ascii_case(repo) => {
            Some(*deployment_id)
        }
        _ => None,
    }
}

/// What to tell GitHub about `n` for `repo`, or the permanent reason it cannot be told.
pub fn plan(repo: &str, n: &Notification) -> Result<Plan, String> {
    let r = &n.release;
    let Some(sha) = r.commit.as_deref().map(str::to_ascii_lowercase) else {
        return Err(format!(
            "github: release {} has no commit, so no commit status can be set; start releases with \
             --commit SHA (or \"commit\" in the API body), or from a GitHub deployment",
            r.id
        ));
    };
    crate::validate::commit(&sha).map_err(|e| format!("github: release {}: {e}", r.id))?;
    let reason = || r.reason.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| n.event.message.clone());
    let (state, deployment_state, text) = match r.state {
        ReleaseState::Planned => {
            ("pending", "queued", format!("{} {} planned: waiting for the deploy", r.service, r.version))
        }
        ReleaseState::Deployed if n.item.is_some() => ("pending", "in_progress", super::slack::reason(n)),
        ReleaseState::Deployed => {
            let at = |d| r.at(d).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "?".into());
            let text = format!("watching: verdict from {} (at the latest {})", at(r.window_min), at(r.window_max));
            ("pending", "in_progress", text)
        }
        ReleaseState::Verified => ("success", "success", format!("verified: {}", reason())),
        ReleaseState::Failed => ("failure", "failure", format!("failed: {}", reason())),
        ReleaseState::Inconclusive => ("error", "error", format!("inconclusive, a person decides: {}", reason())),
    };
    Ok(Plan {
        sha,
        context: format!("shipwatch/{}", r.environment),
        state,
        deployment_state,
        description: description(&text),
        page: page_link(n),
        deployment: deployment_of(r.origin.as_ref(), repo),
    })
}

/// Why `n` should not be sent to `repo` at all (it is removed from the outbox as done), given
/// the release's state now (`None`: no longer in memory, so closed): a newer state superseded
/// it, or it is about a deployment of another repository.
pub fn skip(repo: &str, n: &Notification, now: Option<ReleaseState>) -> Option<String> {
    let r = &n.release;
    if let Some(Origin::GithubDeployment { repository, .. }) = &r.origin
        && !repository.eq_ignore_ascii_case(repo)
    {
        return Some(format!("release {} came from a deployment of {repository}, not {repo}", r.id));
    }
    match now {
        Some(s) if s != r.state => Some(format!(
            "superseded: release {} is {} now (this status was for {})",
            r.id,
            s.as_str(),
            r.state.as_str()
        )),
        None if r.state.is_active() => {
            Some(format!("superseded: release {} has closed (this status was for {})", r.id, r.state.as_str()))
        }
        _ => None,
    }
}

/// `{api_url}/repos/{owner}/{repo}/{rest...}`, every segment percent-encoded.
pub fn endpoint(api_url: &str, repo: &str, rest: &[&str]) -> Result<reqwest::Url, String> {
    let (owner, name) = repo.split_once('/').ok_or_else(|| format!("github.repo '{repo}' is not owner/name"))?;
    let mut url = reqwest::Url::parse(api_url).map_err(|e| format!("github.api_url is not valid: {e}"))?;
    url.path_segments_mut()
        .map_err(|()| "github.api_url cannot take a path".to_string())?
        .pop_if_empty()
        .extend(["repos", owner, name])
        .extend(rest);
    Ok(url)
}

fn headers(token: &str) -> Result<HeaderMap, DeliveryError> {
    let mut h = HeaderMap::new();
    // Never echo the token: it is a secret.
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| DeliveryError::Permanent("github: the token is not a valid header value".into()))?;
    auth.set_sensitive(true);
    h.insert(AUTHORIZATION, auth);
    h.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
    h.insert("x-github-api-version", HeaderValue::from_static(API_VERSION));
    h.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(h)
}

/// Classify GitHub's answer: 2xx delivered; 429, 5xx and a spent rate limit (403 with
/// `Retry-After` or `X-RateLimit-Remaining: 0`) retried; anything else permanent, with
/// GitHub's `message` and a hint.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> Result<Delivered, DeliveryError> {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    if (200..300).contains(&status) {
        return Ok(Delivered { status, detail: String::new() });
    }
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let rate_limited =
        status == 403 && (header("retry-after").is_some() || header("x-ratelimit-remaining") == Some("0"));
    if status == 429 || status >= 500 || rate_limited {
        let wait = header("retry-after").map(|s| format!(" (Retry-After: {s}s)")).unwrap_or_default();
        return Err(DeliveryError::Retry(format!("HTTP {status}{wait}: {message}")));
    }
    let hint = match status {
        401 => "; the token is not valid (expired or revoked?)",
        403 | 404 => "; check that the repository exists and the token may write statuses to it",
        422 => "; GitHub refused the status (is the commit in this repository, as a full SHA?)",
        _ => "",
    };
    Err(DeliveryError::Permanent(format!("HTTP {status}: {message}{hint}")))
}

async fn post(url: reqwest::Url, body: Value, h: &HeaderMap, what: &str, cx: &Context) -> Result<u16, DeliveryError> {
    let resp = cx.http.post(url).timeout(TIMEOUT).headers(h.clone()).json(&body).send().await.map_err(|e| {
        DeliveryError::Retry(
            cx.redactor.redact(&format!("github {what}: {}", crate::probe::http::transport_reason(&e))),
        )
    })?;
    let (status, answer_headers) = (resp.status().as_u16(), resp.headers().clone());
    let answer = read_answer(resp).await;
    match classify(status, &answer_headers, &answer) {
        Ok(d) => Ok(d.status),
        Err(DeliveryError::Retry(m)) => Err(DeliveryError::Retry(cx.redactor.redact(&format!("github {what}: {m}")))),
        Err(DeliveryError::Permanent(m)) => {
            Err(DeliveryError::Permanent(cx.redactor.redact(&format!("github {what}: {m}"))))
        }
    }
}

/// Set the commit status (and the deployment status) for `n`.
pub async fn send(
    repo: &str,
    token: &str,
    api_url: Option<&str>,
    n: &Notification,
    cx: &Context,
) -> Result<Delivered, DeliveryError> {
    let plan = plan(repo, n).map_err(|m| DeliveryError::Permanent(cx.redactor.redact(&m)))?;
    let api = api_url.unwrap_or(DEFAULT_API);
    let bad = |m: String| DeliveryError::Permanent(cx.redactor.redact(&format!("github: {m}")));
    let h = headers(token)?;
    let url = endpoint(api, repo, &["statuses", &plan.sha]).map_err(bad)?;
    let body = json!({
        "state": plan.state,
        "context": plan.context,
        "description": plan.description,
        "target_url": plan.page,
    });
    let status = post(url, body, &h, "commit status", cx).await?;
    let mut detail = format!("commit status {} on {} ({})", plan.state, plan.sha, plan.context);
    if let Some(id) = plan.deployment {
        let url = endpoint(api, repo, &["deployments", &id.to_string(), "statuses"]).map_err(bad)?;
        let body = json!({
            "state": plan.deployment_state,
            "description": plan.description,
            "log_url": plan.page,
            "environment_url": plan.page,
        });
        post(url, body, &h, "deployment status", cx).await?;
        detail.push_str(&format!("; deployment {id} status {}", plan.deployment_state));
    }
    Ok(Delivered { status, detail })
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
