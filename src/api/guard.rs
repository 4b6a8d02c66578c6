//! The limits of the HTTP layer: the request-head limits hyper enforces (431) and the ones that
//! come from the config (`server.request_timeout`, `header_read_timeout`, `max_connections`),
//! and the read deadline: reads are answered 503 after `server.request_timeout`; writes are never
//! cut off once they run (a 503 that still commits would leave the client guessing).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Request line plus headers, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Headers per request.
pub const MAX_HEADERS: usize = 100;

/// The limits a router applies that come from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Reads are answered 503 after this; the body of a write must arrive within it.
    pub request_timeout: Duration,
    /// See `server.header_read_timeout`.
    pub header_read_timeout: Duration,
    /// See `server.max_connections` (lowered at start to fit the file-descriptor limit).
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(s: &crate::config::Server) -> Self {
        Limits {
            request_timeout: s.request_timeout.0,
            header_read_timeout: s.header_read_timeout.0,
            max_connections: s.max_connections,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_config(&crate::config::Server::default())
    }
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Reads are answered 503 after `server.request_timeout`.
pub async fn read_deadline(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limit = st.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let msg = format!("the request took longer than server.request_timeout ({}); try again", human(limit));
            let mut r = ApiError(StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}
