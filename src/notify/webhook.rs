//! Webhook receiver: POSTs the [`Notification`] as JSON, HMAC-signed.
//!
//! # Request
//! `POST <url>` with a 10 s timeout and these headers:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `User-Agent` | `shipwatch/<version>` |
//! | `X-Shipwatch-Event` | the event kind, e.g. `item.regressed` |
//! | `X-Shipwatch-Delivery` | the notification's idempotency key (same as `Idempotency-Key`) |
//! | `Idempotency-Key` | the idempotency key: a retry or a re-send after a restart carries the same key |
//! | `X-Shipwatch-Signature` | `sha256=<lowercase hex HMAC-SHA256(secret, raw body bytes)>`, when `secret:` is set |
//!
//! Configured `headers:` are added too (their values are treated as secrets: marked sensitive
//! and never logged); they cannot replace the headers above.
//!
//! Verify a delivery by computing the HMAC over the raw body bytes exactly as received (before
//! any JSON parsing) and comparing in constant time — [`verify`] does that. Drop a delivery
//! whose `Idempotency-Key` you have already processed: shipwatch delivers at least once.
//!
//! Answers: 2xx is delivered; 429 and 5xx (and connection errors, timeouts) are retried with
//! backoff; any other status is a permanent failure (dead-lettered).
//!
//! # Body (schema version 1)
//! ```json
//! {
//!   "version": 1,
//!   "key": "…",
//!   "receiver": "hook",
//!   "event": { "kind": "item.regressed", "release": "…", "item": "…", "probe": "…",
//!              "at": "2025-01-01T12:00:00Z", "message": "…", "evidence": { … } },
//!   "release": { "id": "…", "service": "checkout-api", "version": "2.4.0", … },
//!   "item": { "id": "…", "text": "…", "section": "…", "state": "regressed" },
//!   "evidence": { "target": "…", "expected": "…", "observed": "…", "status_code": 500,
//!                 "latency_ms": 12.5, "message": "…" },
//!   "link": "http://127.0.0.1:9797/api/v1/releases/…",
//!   "report": null
//! }
//! ```
//! - `version` (integer) — schema version ([`super::SCHEMA_VERSION`]); a field is only ever
//!   added within a version, never renamed or removed.
//! - `key` (string) — idempotency key: the same event to the same receiver always has the same
//!   key (also sent as `Idempotency-Key` / `X-Shipwatch-Delivery`).
//! - `receiver` (string) — the configured receiver name this was sent to.
//! - `event` (object) — what happened:
//!   - `kind` — one of `release.started`, `release.deployed`, `item.completed`, `item.failing`,
//!     `item.regressed`, `item.recovered`, `item.unknown`, `item.rebound`, `release.verified`,
//!     `release.failed`, `release.inconclusive`;
//!   - `release` — release id; `item` — item id (absent for release events); `probe` — the
//!     probe behind the change (absent when none);
//!   - `at` — RFC 3339 UTC time of the change; `message` — one human sentence;
//!   - `evidence` — the evidence behind the change (absent when none; same shape as below).
//! - `release` (object) — the release after the event: `id`, `service`, `version`,
//!   `environment`, `state` (`planned|deployed|verified|failed|inconclusive`), `created_at`, `deployed_at`
//!   (RFC 3339 or null), `window_min` / `window_max` (seconds, number), `regressed` (bool: a
//!   regression happened in the window), `closed_at` (RFC 3339 or null), `reason` (verdict
//!   reason or null).
//! - `item` (object or null) — the item the event is about: `id` (stable slug), `text` (the
//!   checklist line), `section` (heading or null), `state` (after the event:
//!   `manual|pending|complete|failing|regressed|waived`).
//! - `evidence` (object or null) — what the probe saw; every field but `message` is optional:
//!   `target` (resolved URL/query/argv, secrets redacted), `expected` (condition checked),
//!   `observed` (value that decided), `status_code`, `exit_code`, `latency_ms`, `alerts` (alert
//!   names), `message` (why it passed/failed/could not measure), `details` (kind-specific map),
//!   `perfdata` (a Nagios plugin's performance data: `label`, `value` (null when unknown),
//!   `uom`, `warn`, `crit`, `min`, `max`).
//! - `link` (string) — the release in the status API.
//! - `report` (object or null) — the final report, on `release.verified` / `release.failed`.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use sha2::Sha256;

use super::{Context, Delivered, DeliveryError, Notification, classify};

/// Per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The `User-Agent` of every notification request.
pub const AGENT: &str = concat!("shipwatch/", env!("CARGO_PKG_VERSION"));
/// Answer bytes kept for the error message (classify keeps 200 chars).
const ANSWER_LIMIT: usize = 4096;

type HmacSha256 = hmac::Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length")
}

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`, the `X-Shipwatch-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// Whether `header` is a valid `X-Shipwatch-Signature` of `body` (constant-time compare).
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&sig).is_ok()
}

/// Read at most [`ANSWER_LIMIT`] bytes of the answer body (lossy UTF-8); the status decides.
pub(super) async fn read_answer(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < ANSWER_LIMIT {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(ANSWER_LIMIT);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Send a request and classify the answer; errors are redacted.
pub(super) async fn post_classified(
    req: reqwest::RequestBuilder,
    what: &str,
    cx: &Context,
) -> Result<Delivered, DeliveryError> {
    let resp = req.send().await.map_err(|e| {
        DeliveryError::Retry(cx.redactor.redact(&format!("{what}: {}", crate::probe::http::transport_reason(&e))))
    })?;
    let status = resp.status();
    let body = read_answer(resp).await;
    match classify(status, &body) {
        Ok(d) => Ok(Delivered { status: d.status, detail: cx.redactor.redact(&d.detail) }),
        Err(DeliveryError::Retry(m)) => Err(DeliveryError::Retry(cx.redactor.redact(&format!("{what}: {m}")))),
        Err(DeliveryError::Permanent(m)) => Err(DeliveryError::Permanent(cx.redactor.redact(&format!("{what}: {m}")))),
    }
}

/// Parse a receiver URL; a bad one is permanent (the URL itself is not echoed: it may be secret).
pub(super) fn parse_url(url: &str, what: &str, cx: &Context) -> Result<reqwest::Url, DeliveryError> {
    reqwest::Url::parse(url)
        .map_err(|e| DeliveryError::Permanent(cx.redactor.redact(&format!("{what}: the url is not valid: {e}"))))
}

/// The request headers: custom ones first, then shipwatch's own (which win on a clash).
fn headers(
    secret: Option<&str>,
    custom: &BTreeMap<String, String>,
    n: &Notification,
    body: &[u8],
) -> Result<HeaderMap, DeliveryError> {
    let mut h = HeaderMap::new();
    for (k, v) in custom {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| DeliveryError::Permanent(format!("webhook header name {k:?} is not a valid header name")))?;
        // Never echo the value: it may be a secret.
        let mut value = HeaderValue::from_str(v)
            .map_err(|_| DeliveryError::Permanent(format!("webhook header {k:?} has a value that is not valid")))?;
        value.set_sensitive(true);
        h.insert(name, value);
    }
    let key = HeaderValue::from_str(&n.key)
        .map_err(|_| DeliveryError::Permanent("notification key is not a valid header value".into()))?;
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    h.insert("x-shipwatch-event", HeaderValue::from_static(n.event.kind.as_str()));
    h.insert("x-shipwatch-delivery", key.clone());
    h.insert("idempotency-key", key);
    if let Some(s) = secret {
        let sig = HeaderValue::from_str(&signature(s, body)).expect("hex is a valid header value");
        h.insert("x-shipwatch-signature", sig);
    }
    Ok(h)
}

/// POST `n` as JSON to `url`, signed with `secret` when set, with the custom `headers`.
pub async fn send(
    url: &str,
    secret: Option<&str>,
    headers: &BTreeMap<String, String>,
    n: &Notification,
    cx: &Context,
) -> Result<Delivered, DeliveryError> {
    let body = serde_json::to_vec(n)
        .map_err(|e| DeliveryError::Permanent(format!("cannot encode the notification as JSON: {e}")))?;
    let h = self::headers(secret, headers, n, &body)?;
    let url = parse_url(url, "webhook", cx)?;
    let req = cx.http.post(url).timeout(TIMEOUT).headers(h).body(body);
    post_classified(req, "webhook", cx).await
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
pub(super) mod tests;
