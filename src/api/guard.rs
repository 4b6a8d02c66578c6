//! The middleware between the socket and the handlers: the documented request limits, the
//! content type of writes, the read deadline, JSON bodies on every error and the security
//! headers on every answer. The router in `mod.rs` says which route gets which.
//!
//! Limits (the same whatever the config; listed in the OpenAPI document):
//! - request line and headers at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] headers (431,
//!   enforced by hyper; `wire.rs` gives its answer a JSON body), the request target at most
//!   [`MAX_URI`] bytes (414), a body at most [`MAX_BODY`] bytes (413);
//! - writes with a body need `Content-Type: application/json` (415); the body must arrive within
//!   `server.request_timeout`, or the write is refused (408) before anything is changed;
//! - reads are answered 503 after `server.request_timeout`; writes are never cut off once they
//!   run (a 503 that still commits would leave the client guessing).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{ApiError, AppState};

/// Request line plus headers, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Headers per request.
pub const MAX_HEADERS: usize = 100;
/// The request target (path and query), in bytes.
pub const MAX_URI: usize = 8 * 1024;
/// A request body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The policy of the HTML pages: their only resource is the inline stylesheet (and `style`
/// attributes); no scripts, images, frames or forms.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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

/// `nosniff`, no referrer and no framing on every answer; the page policy on HTML.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if html {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    }
    resp
}

/// Errors that are not JSON yet (axum's rejections: 405, a path that does not decode, ...)
/// become `{"error": "..."}` with the same status and headers. HTML error pages stay HTML and
/// `/-/ready` stays plain text (a probe reads it).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = next.run(req).await;
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ctype = ctype.to_ascii_lowercase();
    if resp.status().as_u16() < 400
        || path == "/-/ready"
        || ctype.starts_with("application/json")
        || ctype.starts_with("text/html")
    {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match Limited::new(body, 4096).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let msg = if parts.status == StatusCode::METHOD_NOT_ALLOWED {
        // axum adds the `Allow` header outside this layer.
        format!("method {method} is not allowed on {path}; the Allow header lists those that are")
    } else if text.is_empty() {
        parts.status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let mut out = ApiError(parts.status, msg).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}

/// 414 for a request target longer than [`MAX_URI`].
pub async fn uri_limit(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return ApiError(StatusCode::URI_TOO_LONG, format!("URI too long: {len} bytes, at most {MAX_URI}"))
            .into_response();
    }
    next.run(req).await
}

/// Whether `Content-Type` is `application/json` (parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn unsupported(msg: &str) -> Response {
    ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg.into()).into_response()
}

/// A write with a JSON body: `Content-Type: application/json` (415), at most [`MAX_BODY`]
/// bytes (413), all of it within `server.request_timeout` (408). The body is read here, before
/// the handler runs, so a refusal never follows a change.
pub async fn json_body(State(st): State<AppState>, req: Request, next: Next) -> Response {
    // Other methods on the same path get their 405 from the router.
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    if !is_json(req.headers()) {
        return unsupported("send the body as JSON with the header Content-Type: application/json");
    }
    let too_large = || {
        ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("request body too large: at most {MAX_BODY} bytes"))
            .into_response()
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let limit = st.limits.request_timeout;
    let bytes = match tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Ok(Err(e)) => {
            return ApiError(StatusCode::BAD_REQUEST, format!("could not read the request body: {e}")).into_response();
        }
        Err(_) => {
            let msg = format!(
                "the request body did not arrive within server.request_timeout ({}); nothing was changed",
                human(limit)
            );
            return ApiError(StatusCode::REQUEST_TIMEOUT, msg).into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// A write that takes no body (`deploy`, `/-/reload`): no `Content-Type`, or JSON (a browser
/// form, which always has another one, is refused with 415). A body is ignored.
pub async fn no_body(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.headers().contains_key(header::CONTENT_TYPE) && !is_json(req.headers()) {
        return unsupported("this call takes no body: send none, or Content-Type: application/json");
    }
    next.run(req).await
}

/// Reads (and the probes) are answered 503 after `server.request_timeout`.
pub async fn read_deadline(State(st): State<AppState>, req: Request, next: Next) -> Response {
    within(st.limits.request_timeout, next.run(req)).await
}

/// `answer`, or a JSON 503 with `Retry-After` when it takes longer than `limit`.
async fn within(limit: Duration, answer: impl std::future::Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, answer).await {
        Ok(resp) => resp,
        Err(_) => {
            let msg = format!("the request took longer than server.request_timeout ({}); try again", human(limit));
            let mut r = ApiError(StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slow(d: Duration) -> Response {
        tokio::time::sleep(d).await;
        StatusCode::OK.into_response()
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_is_cut_off_after_the_request_timeout_with_json() {
        let limit = Duration::from_millis(300);
        for (took, want) in [(Duration::from_millis(299), 200), (Duration::from_secs(30), 503)] {
            let r = within(limit, slow(took)).await;
            assert_eq!(r.status().as_u16(), want, "a read taking {took:?}");
            if want == 503 {
                assert_eq!(r.headers()[header::RETRY_AFTER], "1");
                let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert!(v["error"].as_str().unwrap().contains("server.request_timeout (300ms)"), "{v}");
            }
        }
    }
}
