//! The on-call status page: server-rendered HTML (maud templates, one embedded stylesheet, no
//! JavaScript) that refreshes itself every 15 seconds.
//!
//! - `GET /` ([`index`]): every active release, red first, with its window progress and item
//!   counts (and the red items named), then the recently closed releases with their verdict.
//! - `GET /releases/{id}` ([`release`]): the team's checklist grouped by its own headings, each
//!   item's state (icon *and* word), its evidence, a strip of recent results per probe, and the
//!   items people ticked or waived.
//!
//! Handlers only read through [`AppState`]; every displayed string from evidence or config
//! passes through the config's redactor (on top of the engine's own redaction), and maud
//! escapes all of it.

mod index;
mod layout;
mod release;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::api::AppState;
use crate::config::Config;
use crate::engine::EngineError;
use crate::redact::Redactor;

/// What every template needs: the redactor and the time the page is rendered at.
pub(crate) struct Ctx {
    redactor: Redactor,
    now: DateTime<Utc>,
}

impl Ctx {
    fn new(st: &AppState) -> Self {
        Ctx { redactor: st.engine.config().redactor.clone(), now: Utc::now() }
    }

    /// A string safe to show: secrets masked (maud escapes HTML).
    fn s(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

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
    let ctx = Ctx::new(&st);
    let key = PageKey { state_rev: st.engine.state_rev(), config: st.engine.config(), second: ctx.now.timestamp() };
    let cached = {
        let cache = st.pages.index.lock().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().filter(|(k, _)| *k == key).map(|(_, r)| r.clone())
    };
    let page = match cached {
        Some(r) => r,
        None => {
            let engine = st.engine.clone();
            // Named red items come from the detailed views (in memory, no store reads).
            let html = index::page(&ctx, &engine.releases(), |id| engine.release(id).ok()).into_string();
            let r = Rendered { plain: Bytes::from(html), gzip: Default::default() };
            *st.pages.index.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, r.clone()));
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
    let ctx = Ctx::new(&st);
    let engine = st.engine.clone();
    // Recent results are read from the store (blocking SQLite): off the async workers.
    let page = tokio::task::spawn_blocking(move || -> Result<Markup, EngineError> {
        let view = engine.release(&id)?;
        let cfg = engine.config();
        Ok(release::page(&ctx, &cfg, &view, |probe| engine.results_blocking(&id, Some(probe), release::STRIP).ok()))
    })
    .await;
    match page {
        Ok(Ok(markup)) => Html(markup.into_string()).into_response(),
        Ok(Err(EngineError::NotFound(msg))) => error_page(StatusCode::NOT_FOUND, "Release not found", &msg),
        Ok(Err(e)) => error_page(StatusCode::SERVICE_UNAVAILABLE, "Cannot show this release", &e.to_string()),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Cannot show this release", &e.to_string()),
    }
}

/// A small HTML error page with a way back.
fn error_page(code: StatusCode, title: &str, detail: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p.notice { (detail) }
        p { a href="/" { "← All releases" } }
    };
    (code, Html(layout::page(title, false, body).into_string())).into_response()
}

/// `12h 3m`, `3m 20s`, `2d 4h`, `42s`: the two largest units.
pub(crate) fn human(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::{human, takes_gzip};
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

    #[test]
    fn human_durations_show_two_units() {
        for (secs, want) in [
            (0.0, "0s"),
            (42.4, "42s"),
            (60.0, "1m"),
            (200.0, "3m 20s"),
            (3600.0, "1h"),
            (43_380.0, "12h 3m"),
            (86_400.0, "1d"),
            (187_200.0, "2d 4h"),
            (-5.0, "0s"),
        ] {
            assert_eq!(human(secs), want, "{secs}");
        }
    }
}
