//! The OpenAPI description of the HTTP API (being written).

use axum::Json;
use axum::response::{IntoResponse, Response};

/// `GET /api/v1/openapi.json`.
pub async fn spec() -> Response {
    Json(serde_json::json!({"openapi": "3.1.0"})).into_response()
}
