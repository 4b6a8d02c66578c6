//! The HTTP API (axum): releases, items, results, the ticked checklist, and the Prometheus-style
//! `/-/healthy` and `/-/ready`. Handlers only translate HTTP to engine calls and back; errors
//! are JSON `{"error": "..."}` (400/401/404/408/409/413/414/415/422/431/503), whoever answers.
//!
//! Access: reading needs the read token (or the API token) when `server.read_token` is set;
//! writing needs the API token when `server.api_token` is set, and otherwise the read token when
//! only that is set, so writes are never less protected than reads. `POST /api/v1/hooks/github`
//! asks for no token: GitHub signs its body (`github_hook.rs`). Limits, content types and
//! security headers: `guard.rs`; the listener: `listen.rs`; the status page (rendered by `web`):
//! `pages.rs`; `GET /metrics`: `metrics.rs`.

mod fds;
mod forward;
mod github_hook;
mod guard;
pub(crate) mod handlers;
mod listen;
pub mod metrics;
pub mod openapi;
mod openapi_schemas;
pub mod pages;
mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use guard::Limits;
use guard::{MAX_BODY, MAX_HEAD, MAX_HEADERS, MAX_URI, PAGE_CSP};

use crate::engine::{EngineCell, EngineError};

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub engine: EngineCell,
    /// Needed for mutating calls, when set.
    pub token: Option<String>,
    /// Needed (or `token`) for reading, when set; and for mutating calls when `token` is not.
    pub read_token: Option<String>,
    /// Request timeout and connection limits from `server:`.
    pub limits: Limits,
    /// The config file `POST /-/reload` re-reads.
    pub config_path: Option<std::path::PathBuf>,
    /// Rendered status page, reused while unchanged.
    pub pages: std::sync::Arc<pages::PageCache>,
}

/// A JSON error response.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, e.to_string())
    }
}

/// Constant-time comparison, so response timing does not reveal how much of a token matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request presents: `Bearer <token>`, or the password of HTTP basic auth (so a
/// browser can open the status page).
fn presented(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(t) = v.strip_prefix("Bearer ") {
        return Some(t.trim().to_string());
    }
    let b = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.split_once(':').map(|(_, p)| p.to_string())
}

fn unauthorized(msg: &str) -> Response {
    let mut r = ApiError(StatusCode::UNAUTHORIZED, msg.into()).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Basic realm=\"shipwatch\""));
    r
}

/// Writing needs the API token; with only a read token configured, the read token (a reader must
/// not get less protection for writes than for reads).
async fn require_token(State(st): State<AppState>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if let Some(want) = st.token.as_ref().or(st.read_token.as_ref()) {
        match presented(&headers) {
            None => return unauthorized("missing Authorization: Bearer <token>"),
            Some(t) if !same(t.as_bytes(), want.as_bytes()) => {
                return unauthorized(if st.token.is_some() {
                    "wrong API token"
                } else {
                    "wrong token (with only server.read_token set, writes need the read token)"
                });
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

/// Reading needs the read token or the API token, when a read token is configured.
async fn require_read(State(st): State<AppState>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if let Some(read) = &st.read_token {
        let ok = presented(&headers).is_some_and(|t| {
            same(t.as_bytes(), read.as_bytes()) || st.token.as_ref().is_some_and(|w| same(t.as_bytes(), w.as_bytes()))
        });
        if !ok {
            return unauthorized("this shipwatch needs a read token: Authorization: Bearer <token>");
        }
    }
    next.run(req).await
}

/// Build the router.
pub fn router(state: AppState) -> Router {
    let with_body = Router::new()
        .route("/api/v1/releases", post(handlers::create))
        .route("/api/v1/releases/{id}/items/{item}/tick", post(handlers::tick))
        .route("/api/v1/releases/{id}/items/{item}/waive", post(handlers::waive))
        .route("/api/v1/releases/{id}/verdict", post(handlers::verdict))
        .route_layer(middleware::from_fn_with_state(state.clone(), forward::to_leader))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::json_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let deploy = Router::new()
        .route("/api/v1/releases/{id}/deploy", post(handlers::deploy))
        .route_layer(middleware::from_fn_with_state(state.clone(), forward::to_leader))
        .route_layer(middleware::from_fn(guard::no_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    // GitHub cannot send the API token: the HMAC signature is the authentication (checked on
    // the replica that receives it, before forwarding to the leader).
    let hook = Router::new()
        .route("/api/v1/hooks/github", post(github_hook::receive))
        .route_layer(middleware::from_fn_with_state(state.clone(), forward::to_leader))
        .route_layer(middleware::from_fn_with_state(state.clone(), github_hook::verify))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::json_body))
        .route_layer(middleware::from_fn(github_hook::content_type));
    // Each replica reloads its own config file: never forwarded.
    let without_body = Router::new()
        .route("/-/reload", post(handlers::reload))
        .route_layer(middleware::from_fn(guard::no_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let reading = Router::new()
        .route("/api/v1/releases", get(handlers::list))
        .route("/api/v1/releases/{id}", get(handlers::get_release))
        .route("/api/v1/releases/{id}/checklist.md", get(handlers::checklist))
        .route("/api/v1/releases/{id}/results", get(handlers::results))
        .route("/api/v1/releases/{id}/history", get(handlers::history))
        .route("/api/v1/releases/{id}/report", get(handlers::report))
        .route("/api/v1/outbox", get(handlers::outbox))
        .route("/api/v1/cluster", get(handlers::cluster))
        .route("/", get(pages::index))
        .route("/releases/{id}", get(pages::release))
        .route("/metrics", get(metrics::handler))
        .route("/api/v1/openapi.json", get(openapi::spec))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::read_deadline))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_read));
    Router::new()
        .route("/-/healthy", get(|| async { "shipwatch is healthy\n" }))
        .route("/-/ready", get(handlers::ready))
        .merge(reading)
        .merge(with_body)
        .merge(deploy)
        .merge(hook)
        .merge(without_body)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint; see /api/v1/releases".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(guard::uri_limit))
        .layer(middleware::from_fn(guard::json_errors))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}

/// Serve until `shutdown` completes (see `listen.rs`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    listen::serve(listener, router(state), limits, shutdown).await
}
