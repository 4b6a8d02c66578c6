//! The HTTP API (axum): releases, items, results, the ticked checklist, and the Prometheus-style
//! `/-/healthy` and `/-/ready`. Handlers only translate HTTP to engine calls and back; errors
//! are JSON `{"error": "..."}` with 400/401/404/409/422.

mod handlers;
pub mod openapi;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::engine::{Engine, EngineError};

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub token: Option<String>,
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

async fn require_token(State(st): State<AppState>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if let Some(want) = &st.token {
        let got =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match got {
            None => {
                return ApiError(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer <token>".into())
                    .into_response();
            }
            Some(t) if !same(t.trim().as_bytes(), want.as_bytes()) => {
                return ApiError(StatusCode::UNAUTHORIZED, "wrong API token".into()).into_response();
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

/// Build the router.
pub fn router(state: AppState) -> Router {
    let mutating = Router::new()
        .route("/api/v1/releases", post(handlers::create))
        .route("/api/v1/releases/{id}/deploy", post(handlers::deploy))
        .route("/api/v1/releases/{id}/items/{item}/tick", post(handlers::tick))
        .route("/api/v1/releases/{id}/items/{item}/waive", post(handlers::waive))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/api/v1/releases", get(handlers::list))
        .route("/api/v1/releases/{id}", get(handlers::get_release))
        .route("/api/v1/releases/{id}/checklist.md", get(handlers::checklist))
        .route("/api/v1/releases/{id}/results", get(handlers::results))
        .route("/api/v1/releases/{id}/history", get(handlers::history))
        .route("/api/v1/releases/{id}/report", get(handlers::report))
        .route("/api/v1/outbox", get(handlers::outbox))
        .route("/", get(crate::web::index))
        .route("/releases/{id}", get(crate::web::release))
        .route("/metrics", get(crate::metrics::handler))
        .route("/api/v1/openapi.json", get(openapi::spec))
        .route("/-/healthy", get(|| async { "shipwatch is healthy\n" }))
        .route("/-/ready", get(handlers::ready))
        .merge(mutating)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint; see /api/v1/releases".into()) })
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

/// Serve until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "API listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
