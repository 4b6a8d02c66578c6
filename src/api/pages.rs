//! The status page's HTTP side: `GET /` and `GET /releases/{id}` read the engine's views and
//! hand them to `web` for rendering (`GET /` also the newest results of one probe per watched
//! release, for its sparkline). `GET /` is cached (and gzipped once per rendering) while
//! nothing people see has changed; a missing release is a 404 page, a store that cannot be read
//! a 503 page.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use maud::Markup;

use super::AppState;
use crate::config::Config;
use crate::engine::EngineError;
use crate::web::{self, Ctx};

/// The last rendering of `GET /`, reused while nothing people see has changed and within the
/// same second (the page shows times to the second). A probe result that changes no state
/// does not re-render the page, so it is at most one second behind on evidence text. The
/// gzip form (what browsers ask for) is made once per rendering, not per request.
#[derive(Default)]
pub struct PageCache {
    index: Mutex<Option<(PageKey, Rendered)>>,
}

#[derive(Clone)]
struct Rendered {
    plain: Bytes,
    gzip: Arc<OnceLock<Bytes>>,
}

struct PageKey {
    state_rev: u64,
    config: Arc<Config>,
    second: i64,
}

impl PartialEq for PageKey {
    fn eq(&self, o: &Self) -> bool {
        self.state_rev == o.state_rev && Arc::ptr_eq(&self.config, &o.config) && self.second == o.second
    }
}

fn gzip(b: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(b.len() / 8), flate2::Compression::fast());
    let _ = enc.write_all(b);
    enc.finish().unwrap_or_default().into()
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not refused with `q=0`).
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |part| {
            let mut it = part.split(';').map(str::trim);
            it.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip") || c == "*")
                && it.all(|p| !matches!(p.replace(' ', "").as_str(), "q=0" | "q=0.0"))
        },
    )
}

/// `GET /`: every release, red first.
pub async fn index(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = Ctx::new(st.engine.get().config().redactor.clone(), Utc::now());
    let key = PageKey {
        state_rev: st.engine.get().state_rev(),
        config: st.engine.get().config(),
        second: ctx.now().timestamp(),
    };
    let cached = {
        let cache = crate::sync::lock(&st.pages.index, "page cache");
        cache.as_ref().filter(|(k, _)| *k == key).map(|(_, r)| r.clone())
    };
    let page = match cached {
        Some(r) => r,
        None => {
            let engine = st.engine.get();
            // Named red items and each watched release's worst item come from the detailed
            // views (in memory); the sparklines read the newest results of one probe per
            // active release from the store (blocking SQLite): off the async workers.
            let html = tokio::task::spawn_blocking(move || {
                let cfg = engine.config();
                web::index_page(
                    &ctx,
                    &cfg,
                    &engine.releases(),
                    |id| engine.release(id).ok(),
                    |id, probe| engine.results_blocking(id, Some(probe), web::SPARK_READ).ok(),
                )
                .into_string()
            })
            .await;
            let html = match html {
                Ok(h) => h,
                Err(e) => {
                    return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Cannot show the releases", &e.to_string());
                }
            };
            let r = Rendered { plain: Bytes::from(html), gzip: Default::default() };
            *crate::sync::lock(&st.pages.index, "page cache") = Some((key, r.clone()));
            r
        }
    };
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if takes_gzip(&headers) {
        let body = page.gzip.get_or_init(|| gzip(&page.plain)).clone();
        let enc = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return ([vary, enc], Html(body)).into_response();
    }
    ([vary], Html(page.plain)).into_response()
}

/// `GET /releases/{id}`: one release's checklist with evidence.
pub async fn release(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let ctx = Ctx::new(st.engine.get().config().redactor.clone(), Utc::now());
    let engine = st.engine.get();
    // Results and history are read from the store (blocking SQLite): off the async workers.
    let page = tokio::task::spawn_blocking(move || -> Result<Markup, EngineError> {
        let view = engine.release(&id)?;
        let cfg = engine.config();
        // The timeline is a picture: a store that cannot give the history leaves it empty.
        let history = engine.history_blocking(&id).unwrap_or_default();
        Ok(web::release_page(&ctx, &cfg, &view, &history, |probe| {
            engine.results_blocking(&id, Some(probe), web::CHART_READ).ok()
        }))
    })
    .await;
    match page {
        Ok(Ok(markup)) => Html(markup.into_string()).into_response(),
        Ok(Err(EngineError::NotFound(msg))) => error_page(StatusCode::NOT_FOUND, "Release not found", &msg),
        Ok(Err(e)) => error_page(StatusCode::SERVICE_UNAVAILABLE, "Cannot show this release", &e.to_string()),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Cannot show this release", &e.to_string()),
    }
}

/// An HTML error page with status `code`.
fn error_page(code: StatusCode, title: &str, detail: &str) -> Response {
    (code, Html(web::error_page(title, detail).into_string())).into_response()
}

#[cfg(test)]
mod tests {
    use super::takes_gzip;
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn gzip_only_when_the_client_takes_it() {
        for (accept, want) in [
            (None, false),
            (Some("gzip, deflate, br"), true),
            (Some("br;q=1.0, GZIP;q=0.5"), true),
            (Some("deflate"), false),
            (Some("gzip;q=0"), false),
            (Some("gzip; q=0.0"), false),
            (Some("*"), true),
            (Some("identity"), false),
        ] {
            let mut h = HeaderMap::new();
            if let Some(a) = accept {
                h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(a));
            }
            assert_eq!(takes_gzip(&h), want, "{accept:?}");
        }
    }
}
