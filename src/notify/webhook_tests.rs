//! Webhook tests against a local axum receiver; also the sample notifications the other
//! notifier tests share.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeZone, Utc};

use super::*;
use crate::event::{Event, EventKind};
use crate::notify::ItemInfo;
use crate::probe::Evidence;
use crate::release::{Release, ReleaseState};

pub(crate) const ITEM_ID: &str = "validate-critical-functionality-is-working";
pub(crate) const ITEM_TEXT: &str = "Validate critical functionality is working";

/// A notification of `kind` about checkout-api 2.4.0 in production (item events carry the
/// item and evidence `HTTP 500`).
pub(crate) fn sample(kind: EventKind) -> Notification {
    let at = Utc.with_ymd_and_hms(2025, 3, 4, 12, 0, 0).unwrap();
    let release = Release {
        id: "r-42".into(),
        service: "checkout-api".into(),
        version: "2.4.0".into(),
        environment: "production".into(),
        state: ReleaseState::Deployed,
        created_at: at,
        deployed_at: Some(at),
        window_min: Duration::from_secs(86400),
        window_max: Duration::from_secs(172800),
        regressed: false,
        closed_at: None,
        reason: None,
        commit: None,
        labels: Default::default(),
        origin: None,
        idempotency: None,
    };
    let is_item = kind.as_str().starts_with("item.");
    let (state, message) = match kind {
        EventKind::ItemRegressed => ("regressed", "complete → regressed (checkout failed 3 times in a row)"),
        EventKind::ItemFailing => ("failing", "pending → failing (checkout failed 3 times in a row)"),
        EventKind::ItemRecovered => ("complete", "regressed → complete (checkout passed 3 times in a row)"),
        EventKind::ItemUnknown => {
            ("unknown", "complete → unknown (could not measure since 12:00:00 UTC: prom unreachable)")
        }
        _ => ("complete", "pending → complete (checkout passed 1 time in a row)"),
    };
    let evidence = is_item.then(|| Evidence {
        target: Some("http://checkout/healthz".into()),
        status_code: Some(500),
        message: "HTTP 500, expected status in [200]".into(),
        ..Default::default()
    });
    let message = match kind {
        EventKind::ReleaseVerified => "all 6 automated items complete".to_string(),
        _ if is_item => format!("{ITEM_ID}: {message}"),
        _ => format!("{} {}", kind.as_str(), "happened"),
    };
    Notification {
        version: crate::notify::SCHEMA_VERSION,
        key: format!("r-42/{}/{ITEM_ID}/1/hook", kind.as_str()),
        receiver: "hook".into(),
        event: Event {
            kind,
            release: "r-42".into(),
            item: is_item.then(|| ITEM_ID.to_string()),
            probe: is_item.then(|| "checkout".to_string()),
            at,
            message,
            evidence: evidence.clone(),
        },
        release,
        item: is_item.then(|| ItemInfo {
            id: ITEM_ID.into(),
            text: ITEM_TEXT.into(),
            section: Some("Post-release".into()),
            state: state.into(),
        }),
        evidence,
        link: "http://127.0.0.1:9797/api/v1/releases/r-42".into(),
        report: None,
    }
}

pub(crate) fn cx() -> Context {
    let redactor = crate::redact::Redactor::default();
    redactor.add("hdr-secret-value");
    Context { http: reqwest::Client::new(), sources: Arc::new(Default::default()), redactor }
}

/// What the receiver saw: headers and raw body of each request.
pub(crate) type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver answering `status` with `body` at `/hook`; returns its URL and what it saw.
pub(crate) async fn receiver(status: u16, body: &'static str) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(move |State(seen): State<Seen>, h: HeaderMap, b: Bytes| async move {
                seen.lock().unwrap().push((h, b));
                (StatusCode::from_u16(status).unwrap(), body)
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

#[test]
fn signature_is_hmac_sha256_hex() {
    // RFC 4231 test case 2.
    let sig = signature("Jefe", b"what do ya want for nothing?");
    assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert!(verify("Jefe", b"what do ya want for nothing?", &sig));
    for bad in [
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "sha256=zz",
        "sha256=",
        "",
    ] {
        assert!(!verify("Jefe", b"what do ya want for nothing?", bad), "{bad}");
    }
    assert!(!verify("other", b"what do ya want for nothing?", &sig));
    assert!(!verify("Jefe", b"what do ya want for nothing!", &sig));
}

#[tokio::test]
async fn delivers_signed_json_with_idempotency_headers() {
    let (url, seen) = receiver(200, "thanks").await;
    let n = sample(EventKind::ItemRegressed);
    let custom: BTreeMap<String, String> = [
        ("Authorization".to_string(), "Bearer hdr-secret-value".to_string()),
        ("X-Shipwatch-Event".to_string(), "spoofed".to_string()),
    ]
    .into();
    let got = send(&url, Some("s3cret"), &custom, &n, &cx()).await.expect("delivered");
    assert_eq!(got, Delivered { status: 200, detail: "thanks".into() });

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (h, body) = &seen[0];
    let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(verify("s3cret", body, &hv("x-shipwatch-signature")), "signature {}", hv("x-shipwatch-signature"));
    assert_eq!(hv("idempotency-key"), n.key);
    assert_eq!(hv("x-shipwatch-delivery"), n.key);
    assert_eq!(hv("x-shipwatch-event"), "item.regressed");
    assert_eq!(hv("content-type"), "application/json");
    assert_eq!(hv("user-agent"), AGENT);
    assert_eq!(hv("authorization"), "Bearer hdr-secret-value");
    let back: Notification = serde_json::from_slice(body).expect("body is the Notification");
    assert_eq!(back, n);
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["event"]["kind"], "item.regressed");
    assert_eq!(v["event"]["at"], "2025-03-04T12:00:00Z");
    assert_eq!(v["item"]["id"], ITEM_ID);
    assert_eq!(v["evidence"]["status_code"], 500);
}

#[tokio::test]
async fn no_secret_no_signature_header() {
    let (url, seen) = receiver(204, "").await;
    let got = send(&url, None, &BTreeMap::new(), &sample(EventKind::ReleaseDeployed), &cx()).await;
    assert_eq!(got.unwrap().status, 204);
    assert!(seen.lock().unwrap()[0].0.get("x-shipwatch-signature").is_none());
}

#[tokio::test]
async fn answers_are_classified() {
    for (status, retry) in [(500, true), (503, true), (429, true), (404, false), (400, false), (401, false)] {
        let (url, _) = receiver(status, "nope hdr-secret-value").await;
        let err = send(&url, Some("k"), &BTreeMap::new(), &sample(EventKind::ItemFailing), &cx()).await.unwrap_err();
        let msg = match (&err, retry) {
            (DeliveryError::Retry(m), true) | (DeliveryError::Permanent(m), false) => m,
            _ => panic!("HTTP {status}: got {err:?}"),
        };
        assert!(msg.contains(&status.to_string()), "{msg}");
        assert!(!msg.contains("hdr-secret-value") && msg.contains("<redacted>"), "redacted: {msg}");
    }
}

#[tokio::test]
async fn connection_refused_is_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/hook");
    let err = send(&url, None, &BTreeMap::new(), &sample(EventKind::ItemRegressed), &cx()).await.unwrap_err();
    match err {
        DeliveryError::Retry(m) => assert!(m.starts_with("webhook: "), "{m}"),
        other => panic!("want Retry, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_config_is_permanent_and_does_not_echo_values() {
    let n = sample(EventKind::ItemRegressed);
    let bad_value: BTreeMap<String, String> = [("X-Token".to_string(), "hdr-secret-value\n".to_string())].into();
    let err = send("http://127.0.0.1:9/hook", None, &bad_value, &n, &cx()).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Permanent(m) if !m.contains("hdr-secret") && m.contains("X-Token")),
        "{err:?}"
    );
    let err = send("not a url", None, &BTreeMap::new(), &n, &cx()).await.unwrap_err();
    assert!(matches!(&err, DeliveryError::Permanent(m) if m.contains("url")), "{err:?}");
}
