//! The on-call status page (being written).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};

use crate::api::AppState;

/// `GET /`: every release, red first.
pub async fn index(State(_st): State<AppState>) -> Response {
    Html("<!doctype html><title>shipwatch</title><p>status page coming</p>").into_response()
}

/// `GET /releases/{id}`: one release's checklist with evidence.
pub async fn release(State(_st): State<AppState>, Path(_id): Path<String>) -> Response {
    Html("<!doctype html><title>shipwatch</title><p>release page coming</p>").into_response()
}
