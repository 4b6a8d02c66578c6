//! Prometheus metrics of shipwatch itself (being written).

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::api::AppState;

/// Counters and histograms the engine updates; gauges are computed when scraped.
#[derive(Debug, Default)]
pub struct Metrics {}

/// `GET /metrics`.
pub async fn handler(State(_st): State<AppState>) -> Response {
    "".into_response()
}
