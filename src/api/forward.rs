//! Writes on a follower replica go to the leader: the request (method, path, query, body and
//! the headers that matter) is sent to the leader's URL and its answer returned as it is, so a
//! client may talk to any replica. The engine writes only on the leader, through its fenced
//! store; a follower never writes. With no leader right now (a takeover under way) the answer
//! is 503 with a hint to retry; a request already forwarded once is never forwarded again.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Marks a forwarded request (and names the replica that forwarded it).
pub const FORWARDED: &str = "x-shipwatch-forwarded-by";

/// Headers sent on to the leader.
const KEPT: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static(super::handlers::IDEMPOTENCY_KEY),
    HeaderName::from_static(super::github_hook::SIGNATURE),
    HeaderName::from_static(super::github_hook::EVENT),
    HeaderName::from_static(super::github_hook::DELIVERY),
];

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a plain HTTP client builds")
    })
}

fn unavailable(why: &str) -> Response {
    let mut r = ApiError(StatusCode::SERVICE_UNAVAILABLE, why.to_string()).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    r
}

/// Middleware on write routes: handle here when this replica leads (or runs alone), else
/// forward to the leader.
pub async fn to_leader(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let leader = match st.engine.forward_to() {
        None => return next.run(req).await,
        Some(Err(())) => {
            return unavailable("no replica leads right now (a takeover is under way); retry in a few seconds");
        }
        Some(Ok(url)) => url,
    };
    if req.headers().contains_key(FORWARDED) {
        return unavailable("this replica does not lead either (the leader just changed); retry in a few seconds");
    }
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("{}{path}", leader.trim_end_matches('/'));
    // The guards before this one bounded the body already.
    let bytes = match axum::body::to_bytes(body, super::guard::MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}")).into_response(),
    };
    let name = st.engine.cluster().map(|c| c.name).unwrap_or_default();
    let mut out = client().request(parts.method.clone(), &target).header(FORWARDED, name).body(bytes);
    for h in KEPT {
        if let Some(v) = parts.headers.get(&h) {
            out = out.header(h, v);
        }
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(leader = %leader, error = %e, "cannot forward a write to the leader");
            return unavailable("the leader cannot be reached right now; retry in a few seconds");
        }
    };
    let status = answer.status();
    let kind = answer.headers().get(header::CONTENT_TYPE).cloned();
    let body = answer.bytes().await.unwrap_or_default();
    let mut r = Response::builder().status(status.as_u16());
    if let Some(k) = kind {
        r = r.header(header::CONTENT_TYPE, k);
    }
    r.body(Body::from(body)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
