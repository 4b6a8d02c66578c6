//! `POST /api/v1/hooks/github`: GitHub `deployment_status` webhooks start (or deploy) releases.
//!
//! Point a repository's (or organization's) webhook at `<external_url>/api/v1/hooks/github` with
//! content type `application/json`, the secret of `integrations.github.webhook_secret`, and the
//! "Deployment statuses" event. The API token is not asked for: the HMAC is the authentication.
//!
//! In order, before anything is read from the body: `Content-Type: application/json` (415, with
//! the GitHub setting to change), the body limits of every write (413/408), the integration
//! configured (503 without `integrations.github`), and `X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256 of the raw body>` compared in constant time (401 naming what is wrong). Then:
//!
//! | `X-GitHub-Event` | answer |
//! |---|---|
//! | `ping` | 200 `{"pong": true}` |
//! | `deployment_status`, state `success` | 201 with the new release, or 200 with the release this deployment already started (a redelivery), or the planned release of that service, version and environment, now deployed |
//! | `deployment_status`, any other state, or a status shipwatch posted itself | 202 `{"ignored": "<why>"}` |
//! | any other event | 202 `{"ignored": "<why>"}` |
//!
//! The release: service from `integrations.github.repositories` (else the repository's name,
//! lowercased), environment from `integrations.github.environments` (else GitHub's name
//! lowercased, with `/`, `_`, `.` and spaces as `-`), version = the deployment's `ref` when it is
//! a version tag (`v1.4.2`, `refs/tags/1.4.2`; a branch name is not a version) else the first 12
//! digits of its `sha`, commit = `sha`, `deployed_at` = the status's `created_at`, origin = the
//! repository and deployment id. Names that do not fit shipwatch's rules are answered 202 with
//! the reason (GitHub does not retry; the reason shows in its delivery log). The idempotency
//! key `github-deployment-<id>` makes concurrent redeliveries one release.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::config::GithubHook;
use crate::engine::NewRelease;
use crate::release::Origin;

/// The signature header.
pub const SIGNATURE: &str = "x-hub-signature-256";
/// The event header.
pub const EVENT: &str = "x-github-event";
/// The delivery id header (a GUID; logged).
pub const DELIVERY: &str = "x-github-delivery";

/// Whether `header` is `sha256=<hex HMAC-SHA256(secret, body)>`; the reason when not.
pub fn check_signature(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), &'static str> {
    let Some(h) = header else {
        return Err("missing X-Hub-Signature-256: set a secret in the GitHub webhook (the one in \
                    integrations.github.webhook_secret)");
    };
    let hex_sig = h.trim().strip_prefix("sha256=").ok_or("X-Hub-Signature-256 is not sha256=<hex>")?;
    let sig = hex::decode(hex_sig).map_err(|_| "X-Hub-Signature-256 is not sha256=<hex>")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    // Constant time.
    mac.verify_slice(&sig).map_err(|_| {
        "X-Hub-Signature-256 does not match the body: the webhook's secret differs from \
         integrations.github.webhook_secret"
    })
}

/// Outermost: a JSON body (GitHub's other content type, a form, is refused naming the setting).
pub async fn content_type(req: Request, next: Next) -> Response {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        let msg = "send the body as JSON: set the GitHub webhook's content type to application/json";
        return ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg.into()).into_response();
    }
    next.run(req).await
}

/// After the body is read (bounded): the integration is configured and the signature matches.
pub async fn verify(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let cfg = st.engine.get().config();
    let Some(gh) = &cfg.integrations.github else {
        let msg = "the GitHub webhook is not configured here: add integrations.github.webhook_secret to the config";
        return ApiError(StatusCode::SERVICE_UNAVAILABLE, msg.into()).into_response();
    };
    let (parts, body) = req.into_parts();
    // The body guard read it already, within its limit.
    let bytes = match axum::body::to_bytes(body, super::guard::MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}")).into_response(),
    };
    let sig = parts.headers.get(SIGNATURE).and_then(|v| v.to_str().ok());
    if let Err(why) = check_signature(&gh.webhook_secret, &bytes, sig) {
        tracing::warn!(delivery = %delivery(&parts.headers), reason = why, "github webhook refused");
        return ApiError(StatusCode::UNAUTHORIZED, why.into()).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The delivery id, if it looks like one (it goes into logs).
fn delivery(h: &HeaderMap) -> String {
    let v = h.get(DELIVERY).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ok = !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { v.to_string() } else { "-".into() }
}

/// The parts of a `deployment_status` event shipwatch reads (everything else is ignored).
#[derive(Debug, Deserialize)]
pub struct DeploymentStatusEvent {
    pub deployment_status: StatusPart,
    pub deployment: DeploymentPart,
    pub repository: RepositoryPart,
}

#[derive(Debug, Deserialize)]
pub struct StatusPart {
    pub state: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub target_url: Option<String>,
    #[serde(default)]
    pub log_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentPart {
    pub id: u64,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment: String,
}

#[derive(Debug, Deserialize)]
pub struct RepositoryPart {
    pub full_name: String,
    pub name: String,
}

/// What an event asks for: nothing (why), or this release.
#[derive(Debug)]
pub enum Decision {
    Ignore(String),
    Start(Box<NewRelease>),
}

/// Lowercase; `/`, `_`, `.` and spaces as `-`; no `-` doubled or at the ends.
pub fn normalize(s: &str) -> String {
    let mapped: String =
        s.chars().map(|c| if matches!(c, '/' | '_' | '.' | ' ') { '-' } else { c.to_ascii_lowercase() }).collect();
    mapped.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

/// The version of a deployment: its ref when that is a version tag, else the short sha.
pub fn version_of(git_ref: &str, sha: &str) -> String {
    let r = git_ref.strip_prefix("refs/tags/").unwrap_or(git_ref);
    let digits = r.strip_prefix(['v', 'V']).unwrap_or(r);
    let tag = digits.starts_with(|c: char| c.is_ascii_digit())
        && crate::validate::version(r).is_ok()
        && !sha.to_ascii_lowercase().starts_with(&r.to_ascii_lowercase());
    if tag { r.to_string() } else { sha.chars().take(12).collect::<String>().to_ascii_lowercase() }
}

/// One line, at most 100 characters, quoted: for untrusted names in answers.
fn quoted(s: &str) -> String {
    format!("{:?}", s.chars().take(100).collect::<String>())
}

/// What a verified `deployment_status` event asks for. `base` is this shipwatch's link base
/// (a status whose link points here was posted by shipwatch itself); `now` and `max` bound how
/// old a deploy may be to be watched.
pub fn decide(
    hook: &GithubHook,
    ev: &DeploymentStatusEvent,
    base: &str,
    now: DateTime<Utc>,
    max: std::time::Duration,
) -> Decision {
    let (st, dep, repo) = (&ev.deployment_status, &ev.deployment, &ev.repository);
    if st.state != "success" {
        return Decision::Ignore(format!(
            "deployment_status state {} is not success: shipwatch starts watching when the deploy succeeded",
            quoted(&st.state)
        ));
    }
    let ours = format!("{base}/releases/");
    if [&st.target_url, &st.log_url].into_iter().flatten().any(|u| u.starts_with(&ours)) {
        return Decision::Ignore("this status was posted by shipwatch itself".into());
    }
    let service = match hook.service_of(&repo.full_name) {
        Some(s) => s.to_string(),
        None => normalize(&repo.name),
    };
    if let Err(e) = crate::validate::service(&service) {
        return Decision::Ignore(format!(
            "repository {} gives the service {}, which is not valid: {e}; map it under \
             integrations.github.repositories",
            quoted(&repo.full_name),
            quoted(&service)
        ));
    }
    let environment = match hook.environment_of(&dep.environment) {
        Some(e) => e.to_string(),
        None => normalize(&dep.environment),
    };
    if let Err(e) = crate::validate::environment(&environment) {
        return Decision::Ignore(format!(
            "GitHub environment {} gives the environment {}, which is not valid: {e}; map it under \
             integrations.github.environments",
            quoted(&dep.environment),
            quoted(&environment)
        ));
    }
    if let Err(e) = crate::validate::commit(&dep.sha) {
        return Decision::Ignore(format!("the deployment's sha {} is not a commit: {e}", quoted(&dep.sha)));
    }
    let age = (now - st.created_at).to_std().unwrap_or_default();
    if age > max {
        return Decision::Ignore(format!(
            "the deploy succeeded at {}, longer ago than the window (max {}): too old to watch",
            st.created_at.to_rfc3339(),
            humantime::format_duration(max)
        ));
    }
    Decision::Start(Box::new(NewRelease {
        service,
        version: version_of(&dep.git_ref, &dep.sha),
        environment: Some(environment),
        deployed_at: Some(st.created_at),
        commit: Some(dep.sha.to_ascii_lowercase()),
        origin: Some(Origin::GithubDeployment { repository: repo.full_name.clone(), deployment_id: dep.id }),
        idempotency_key: Some(format!("github-deployment-{}", dep.id)),
        ..Default::default()
    }))
}

fn ignored(why: String) -> Response {
    (StatusCode::ACCEPTED, Json(json!({ "ignored": why }))).into_response()
}

/// The handler (behind [`content_type`], the body guard, [`verify`] and forwarding).
pub async fn receive(State(st): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ApiError> {
    let event = headers.get(EVENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let id = delivery(&headers);
    match event {
        "ping" => {
            tracing::info!(delivery = %id, "github webhook ping");
            return Ok(Json(json!({ "pong": true })).into_response());
        }
        "deployment_status" => {}
        "" => return Err(ApiError(StatusCode::BAD_REQUEST, "missing X-GitHub-Event".into())),
        other => {
            return Ok(ignored(format!(
                "event {} is not handled: shipwatch acts on deployment_status (and answers ping)",
                quoted(other)
            )));
        }
    }
    let ev: DeploymentStatusEvent = super::handlers::body(&bytes)?;
    let engine = st.engine.get();
    let cfg = engine.config();
    let Some(hook) = &cfg.integrations.github else {
        return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "the GitHub webhook is no longer configured".into()));
    };
    let req = match decide(hook, &ev, &engine.base_url(), engine.now(), cfg.window.max.0) {
        Decision::Ignore(why) => {
            tracing::info!(delivery = %id, reason = %why, "github deployment_status ignored");
            return Ok(ignored(why));
        }
        Decision::Start(req) => *req,
    };
    let (view, created) = tokio::task::spawn_blocking(move || start(&engine, req))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    tracing::info!(delivery = %id, release = %view.release.id, created, "github deployment_status accepted");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)).into_response())
}

/// The release this deployment already started, or the planned one of its service, version and
/// environment deployed now, or the open one, or a new one (`true`).
fn start(engine: &crate::engine::Engine, req: NewRelease) -> Result<(crate::engine::ReleaseView, bool), ApiError> {
    let releases = engine.releases();
    if let Some(Origin::GithubDeployment { repository, deployment_id }) = &req.origin {
        let same = releases.iter().find(|v| {
            matches!(&v.release.origin, Some(Origin::GithubDeployment { repository: r, deployment_id: d })
                if d == deployment_id && r.eq_ignore_ascii_case(repository))
        });
        if let Some(v) = same {
            return Ok((engine.release(&v.release.id)?, false));
        }
    }
    let open = releases.iter().find(|v| {
        let r = &v.release;
        r.state.is_active()
            && r.service == req.service
            && r.version == req.version
            && Some(&r.environment) == req.environment.as_ref()
    });
    match open {
        Some(v) if v.release.state == crate::release::ReleaseState::Planned => {
            Ok((engine.deploy_from(&v.release.id, req.commit, req.origin)?, false))
        }
        Some(v) => Ok((engine.release(&v.release.id)?, false)),
        None => Ok(engine.start_release(req)?),
    }
}

#[cfg(test)]
#[path = "github_hook_tests.rs"]
mod tests;
