//! Request handlers. Bodies are parsed by hand so a malformed body is a 400 and a body with a
//! wrong or unknown field a 422, each with a message naming the field.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::engine::{Cursor, DEFAULT_LIMIT, ListQuery, MAX_LIMIT, NewRelease};
use crate::release::ReleaseState;

/// Parse a JSON body: syntax errors are 400, shape errors 422.
pub fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, "empty body; send a JSON object".into()));
    }
    // Syntax first (400), then shape (422) with the path of the offending field.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    // serde would read a list into a struct field by field: only an object is a body.
    if !value.is_object() {
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, "the body must be a JSON object {...}".into()));
    }
    serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path.is_empty() { String::new() } else { format!("{path}: ") };
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{at}{}", e.inner()))
    })
}

/// The `Idempotency-Key` request header (its value is checked by the engine).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub async fn create(State(st): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ApiError> {
    let mut req: NewRelease = body(&bytes)?;
    if let Some(v) = headers.get(IDEMPOTENCY_KEY) {
        let key = v.to_str().map_err(|_| {
            unprocessable("Idempotency-Key: send visible ASCII only (e.g. the CI job id, github-run-8812-1)".into())
        })?;
        req.idempotency_key = Some(key.to_string());
    }
    let engine = st.engine.get();
    let (view, created) = tokio::task::spawn_blocking(move || engine.start_release(req))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    state: Option<String>,
    service: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn unprocessable(msg: String) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, msg)
}

/// `?state=` values: release states, comma-separated, and `active` / `closed` for two of them.
fn list_states(s: &str) -> Result<Vec<ReleaseState>, ApiError> {
    use ReleaseState::*;
    let mut out = vec![];
    for part in s.split(',').map(str::trim) {
        match part {
            "active" => out.extend([Planned, Deployed]),
            "closed" => out.extend([Verified, Failed, Inconclusive]),
            _ => out.push(ReleaseState::deserialize(serde_json::Value::from(part)).map_err(|_| {
                unprocessable(format!(
                    "state: {part:?} is not a release state; use planned, deployed, verified, failed, inconclusive, \
                     active or closed (comma-separated for several)"
                ))
            })?),
        }
    }
    Ok(out)
}

fn list_query(p: ListParams) -> Result<ListQuery, ApiError> {
    let limit = match p.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(unprocessable(format!("limit: {s:?} is not a number from 1 to {MAX_LIMIT}"))),
        },
    };
    if let Some(s) = &p.service {
        crate::validate::service(s).map_err(|m| unprocessable(format!("service: {m}")))?;
    }
    let cursor = p
        .cursor
        .as_deref()
        .map(|c| c.parse::<Cursor>())
        .transpose()
        .map_err(|m| unprocessable(format!("cursor {m}")))?;
    let states = p.state.as_deref().map(list_states).transpose()?.unwrap_or_default();
    Ok(ListQuery { states, service: p.service, limit, cursor })
}

/// `GET /api/v1/releases?state=&service=&limit=&cursor=`: a page of releases, newest first.
pub async fn list(
    State(st): State<AppState>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = q.map_err(|e| unprocessable(format!("{e}; use ?state=&service=&limit=&cursor=")))?;
    Ok(Json(st.engine.get().list(list_query(p)?).await?).into_response())
}

pub async fn get_release(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let json = st.engine.get().read(&id.clone(), move |e| e.release_json(&id)).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

pub async fn deploy(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let engine = st.engine.get();
    let v = tokio::task::spawn_blocking(move || engine.deploy(&id))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

pub async fn checklist(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let md = st.engine.get().read(&id.clone(), move |e| e.checklist_md(&id)).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    probe: Option<String>,
    limit: Option<String>,
}

pub async fn results(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ResultsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        q.map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}; use ?probe=NAME&limit=N")))?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("limit: {s:?} is not a number from 1 to 1000"),
                ));
            }
        },
    };
    Ok(Json(st.engine.get().results(&id, q.probe.as_deref(), limit).await?).into_response())
}

pub async fn history(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(st.engine.get().history(&id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickBody {
    by: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiveBody {
    by: String,
    reason: String,
}

pub async fn tick(
    State(st): State<AppState>,
    Path((id, item)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let b: TickBody = body(&bytes)?;
    let engine = st.engine.get();
    let v = tokio::task::spawn_blocking(move || engine.tick(&id, &item, &b.by, b.note))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

/// Body of `POST /api/v1/releases/{id}/verdict`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictBody {
    verdict: Verdict,
    by: String,
    #[serde(default)]
    note: Option<String>,
}

/// The verdicts a person can give.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Verified,
    Failed,
}

pub async fn verdict(State(st): State<AppState>, Path(id): Path<String>, bytes: Bytes) -> Result<Response, ApiError> {
    let b: VerdictBody = body(&bytes)?;
    let to = match b.verdict {
        Verdict::Verified => crate::release::ReleaseState::Verified,
        Verdict::Failed => crate::release::ReleaseState::Failed,
    };
    let engine = st.engine.get();
    let v = tokio::task::spawn_blocking(move || engine.verdict(&id, to, &b.by, b.note))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

pub async fn waive(
    State(st): State<AppState>,
    Path((id, item)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let b: WaiveBody = body(&bytes)?;
    let engine = st.engine.get();
    let v = tokio::task::spawn_blocking(move || engine.waive(&id, &item, &b.by, &b.reason))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

pub async fn ready(State(st): State<AppState>) -> Response {
    if st.engine.get().ready().await {
        (StatusCode::OK, "shipwatch is ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shipwatch is not ready: the store is not writable\n").into_response()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    format: Option<String>,
}

/// `GET /api/v1/releases/{id}/report[?format=md]`: the release report (final once closed).
pub async fn report(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}; use ?format=json|md")))?;
    let report = st.engine.get().report(&id).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(report).into_response()),
        Some("md") | Some("markdown") => {
            Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], crate::engine::report::markdown(&report))
                .into_response())
        }
        Some(other) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("format: {other:?}; use json or md"))),
    }
}

/// `GET /api/v1/outbox`: notifications waiting for delivery and dead letters.
pub async fn outbox(State(st): State<AppState>) -> Result<Response, ApiError> {
    let rows = st.engine.get().outbox().await?;
    Ok(Json(rows).into_response())
}

/// `POST /-/reload`: re-read the config and checklist and answer `{"reloaded": true, "path"}`;
/// an invalid config is rejected (422, JSON error) and the old one keeps running.
pub async fn reload(State(st): State<AppState>) -> Result<Response, ApiError> {
    let Some(path) = st.config_path.clone() else {
        return Err(ApiError(StatusCode::CONFLICT, "this shipwatch was not started from a config file".into()));
    };
    let engine = st.engine.get();
    let path_shown = path.display().to_string();
    match tokio::task::spawn_blocking(move || engine.reload_from(&path)).await {
        Ok(Ok(())) => Ok(Json(serde_json::json!({ "reloaded": true, "path": path_shown })).into_response()),
        Ok(Err(e)) => {
            Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("reload rejected, previous config kept: {e}")))
        }
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `GET /api/v1/cluster`: the replicas, which one leads, since when, at which epoch; a single
/// process on SQLite answers as a cluster of one that leads.
pub async fn cluster(State(st): State<AppState>) -> Response {
    match st.engine.cluster() {
        Some(c) => Json(serde_json::json!({ "storage": "postgres", "cluster": c })).into_response(),
        None => Json(serde_json::json!({
            "storage": "sqlite",
            "cluster": { "name": "standalone", "leader": null, "leader_url": null, "epoch": 0, "since": null,
                         "leading": true, "replicas": [] }
        }))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a create body answers: the 422 names the field and, for a time, its format.
    #[test]
    fn create_body_errors_name_field_and_format() {
        /// The body, and the `deployed_at` read (RFC 3339) or the status and start of the error.
        type Want<'a> = Result<Option<&'a str>, (u16, &'a str)>;
        let table: &[(&str, Want)] = &[
            (r#"{"service":"api","version":"1"}"#, Ok(None)),
            (r#"{"service":"api","version":"1","deployed_at":null}"#, Ok(None)),
            (
                r#"{"service":"api","version":"1","deployed_at":"2026-12-03T14:05:00Z"}"#,
                Ok(Some("2026-12-03T14:05:00+00:00")),
            ),
            (
                r#"{"service":"api","version":"1","deployed_at":"yesterday"}"#,
                Err((422, "deployed_at: write an RFC 3339 time such as 2026-12-03T14:05:00Z, not \"yesterday\"")),
            ),
            (r#"{"service":"api","version":"1","deployed_at":5}"#, Err((422, "deployed_at: invalid type"))),
            (r#"{"service":"api","version":"1""#, Err((400, "malformed JSON"))),
        ];
        for (raw, want) in table {
            let got = body::<NewRelease>(&Bytes::from_static(raw.as_bytes()));
            match (got, want) {
                (Ok(r), Ok(at)) => assert_eq!(r.deployed_at.map(|t| t.to_rfc3339()).as_deref(), *at, "{raw}"),
                (Err(ApiError(code, msg)), Err((c, piece))) => {
                    assert_eq!(code.as_u16(), *c, "{raw}: {msg}");
                    assert!(msg.starts_with(piece), "{raw}: {msg}");
                }
                (got, want) => panic!("{raw}: got {:?}, want {want:?}", got.map(|r| r.deployed_at).map_err(|e| e.1)),
            }
        }
    }
}
