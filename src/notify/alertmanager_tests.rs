//! Alertmanager tests: the keeper's plan (data-driven), the event mapping, labels and JSON.

use chrono::TimeZone;

use super::*;
use crate::notify::webhook::tests::{ITEM_ID, ITEM_TEXT, cx, receiver, sample};

const MIN: Duration = Duration::from_secs(60);

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 12, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn settings_default() -> Settings {
    let kind = Notifier::Alertmanager { source: "am".into(), severity: None, interval: None, resolve_for: None };
    settings(&kind).unwrap()
}

fn regression(starts: i64) -> AmAlert {
    let n = sample(EventKind::ItemRegressed);
    alert(REGRESSION, &n.release, n.item.as_ref(), None, "page", "s", &n.link, t(starts))
}

fn unknown(starts: i64) -> AmAlert {
    let n = sample(EventKind::ItemUnknown);
    alert(UNKNOWN, &n.release, n.item.as_ref(), None, "page", "s", &n.link, t(starts))
}

#[test]
fn labels_and_annotations() {
    let a = regression(0);
    let want: BTreeMap<String, String> = [
        ("alertname", REGRESSION),
        ("service", "checkout-api"),
        ("environment", "production"),
        ("version", "2.4.0"),
        ("release", "r-42"),
        ("item", ITEM_ID),
        ("severity", "page"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(a.labels, want);
    assert_eq!(a.annotations["description"], ITEM_TEXT);
    assert_eq!(a.annotations["summary"], "s");
    assert_eq!(a.annotations["link"], "http://127.0.0.1:9797/api/v1/releases/r-42");
    assert_eq!(a.generator_url, a.annotations["link"]);
    let b = unknown(0);
    assert_eq!(b.labels["alertname"], UNKNOWN);
    assert_eq!(b.labels["item"], ITEM_ID, "an unknown item is alerted per item, like a failing one");
    assert!(!b.labels.contains_key("probe"));
}

#[test]
fn release_labels_and_commit_travel_with_the_alert() {
    let mut n = sample(EventKind::ItemRegressed);
    n.release.labels = [("team", "payments"), ("service", "forged")].map(|(k, v)| (k.into(), v.into())).into();
    n.release.commit = Some("4f2a9c1".into());
    let a = alert(REGRESSION, &n.release, n.item.as_ref(), None, "page", "s", &n.link, t(0));
    assert_eq!(a.labels["team"], "payments", "a release label is an alert label (for routing)");
    assert_eq!(a.labels["service"], "checkout-api", "shipwatch's own labels win");
    assert_eq!(a.annotations["commit"], "4f2a9c1");
}

#[test]
fn fingerprint_is_stable_and_sorted() {
    let a = regression(0);
    let mut b = regression(99);
    b.annotations.insert("summary".into(), "other".into());
    assert_eq!(a.fingerprint(), b.fingerprint(), "identity is the label set only");
    assert_ne!(a.fingerprint(), unknown(0).fingerprint());
    assert!(a.fingerprint().starts_with("alertname=\"ShipwatchRegression\",environment=\"production\","));
}

#[test]
fn payload_json_shape() {
    let v = regression(0).to_json(t(240));
    assert_eq!(v["startsAt"], "2025-03-04T12:00:00.000Z");
    assert_eq!(v["endsAt"], "2025-03-04T12:04:00.000Z");
    assert_eq!(v["generatorURL"], "http://127.0.0.1:9797/api/v1/releases/r-42");
    assert_eq!(v["labels"]["alertname"], REGRESSION);
    assert_eq!(v["annotations"]["description"], ITEM_TEXT);
    assert_eq!(v.as_object().unwrap().len(), 5);
}

#[test]
fn settings_defaults() {
    let s = settings_default();
    assert_eq!((s.severity.as_str(), s.interval, s.resolve_for), ("page", MIN, Duration::from_secs(300)));
    assert_eq!(settings(&Notifier::Slack { url: "x".into() }), None);
}

#[test]
fn event_mapping() {
    let s = settings_default();
    let now = t(30);
    // (event, [(alertname, endsAt offset from t(0))])
    for (kind, want) in [
        (EventKind::ItemFailing, vec![(ITEM_FAILING, 30 + 240)]),
        (EventKind::ItemRegressed, vec![(REGRESSION, 30 + 240)]),
        (EventKind::ItemUnknown, vec![(UNKNOWN, 30 + 240)]),
        (EventKind::ReleaseFailed, vec![(RELEASE_FAILED, 30 + 240)]),
        (EventKind::ReleaseInconclusive, vec![(INCONCLUSIVE, 30 + 240)]),
        (EventKind::ItemRecovered, vec![(REGRESSION, 30), (ITEM_FAILING, 30), (UNKNOWN, 30)]),
        (EventKind::ItemCompleted, vec![(REGRESSION, 30), (ITEM_FAILING, 30), (UNKNOWN, 30)]),
        (EventKind::ReleaseStarted, vec![]),
        (EventKind::ReleaseDeployed, vec![]),
        (EventKind::ReleaseVerified, vec![]),
    ] {
        let n = sample(kind);
        let got: Vec<(String, String)> = event_payload(&n, &s, now)
            .unwrap_or_default()
            .iter()
            .map(|a| (a["labels"]["alertname"].as_str().unwrap().to_string(), a["endsAt"].as_str().unwrap().into()))
            .collect();
        let want: Vec<(String, String)> = want.iter().map(|(a, e)| (a.to_string(), rfc3339(t(*e)))).collect();
        assert_eq!(got, want, "{kind:?}");
        for a in event_payload(&n, &s, now).unwrap_or_default() {
            assert_eq!(a["labels"]["severity"], "page");
            assert_eq!(a["labels"]["service"], "checkout-api");
            let has_item = a["labels"].get("item").is_some();
            assert_eq!(has_item, kind.as_str().starts_with("item."), "{kind:?}");
            assert!(a["labels"].get("probe").is_none(), "{kind:?}: alerts are per item or release, not per probe");
        }
    }
    let fired = &event_payload(&sample(EventKind::ItemRegressed), &s, now).unwrap()[0];
    assert_eq!(fired["startsAt"], "2025-03-04T12:00:00.000Z", "starts when the event happened");
    assert_eq!(
        fired["annotations"]["summary"],
        format!("Regression — checkout-api 2.4.0 (production): {ITEM_TEXT} — checkout failed 3 times in a row")
    );
    let custom = Notifier::Alertmanager {
        source: "am".into(),
        severity: Some("critical".into()),
        interval: Some(crate::probe::Dur(Duration::from_secs(1))),
        resolve_for: None,
    };
    let fired = &event_payload(&sample(EventKind::ItemRegressed), &settings(&custom).unwrap(), now).unwrap()[0];
    assert_eq!(
        (fired["labels"]["severity"].as_str(), fired["endsAt"].as_str()),
        (Some("critical"), Some(&*rfc3339(t(34))))
    );
}

/// One plan round: the desired alerts, and what should be sent as (alertname, startsAt, endsAt).
struct Round {
    now: i64,
    desired: Vec<AmAlert>,
    sent: Vec<(&'static str, i64, i64)>,
    remembered: usize,
}

#[test]
fn plan_fires_keeps_resolves_resends_forgets_refires() {
    let iv = MIN;
    let rf = Duration::from_secs(300);
    let rounds = [
        // fire: a new alert starts at its own startsAt
        Round { now: 10, desired: vec![regression(5)], sent: vec![(REGRESSION, 5, 10 + 240)], remembered: 1 },
        // keep firing: startsAt kept from when it first fired even if desired says otherwise
        Round {
            now: 70,
            desired: vec![regression(60), unknown(65)],
            sent: vec![(REGRESSION, 5, 70 + 240), (UNKNOWN, 65, 70 + 240)],
            remembered: 2,
        },
        // resolve: no longer desired → endsAt = now
        Round {
            now: 130,
            desired: vec![unknown(0)],
            sent: vec![(UNKNOWN, 65, 130 + 240), (REGRESSION, 5, 130)],
            remembered: 2,
        },
        // resolved re-send keeps endsAt = resolution time; blind resolves too
        Round { now: 190, desired: vec![], sent: vec![(UNKNOWN, 65, 190), (REGRESSION, 5, 130)], remembered: 2 },
        Round { now: 429, desired: vec![], sent: vec![(UNKNOWN, 65, 190), (REGRESSION, 5, 130)], remembered: 2 },
        // forget after resolve_for (regression resolved at 130: 430 - 130 = 300)
        Round { now: 430, desired: vec![], sent: vec![(UNKNOWN, 65, 190)], remembered: 1 },
        // re-fire after resolution: a new startsAt (desired's stale 5 is before the resolution → now)
        Round {
            now: 440,
            desired: vec![regression(5), unknown(0)],
            sent: vec![(UNKNOWN, 440, 440 + 240), (REGRESSION, 5, 440 + 240)],
            remembered: 2,
        },
        Round {
            now: 500,
            desired: vec![regression(5), unknown(0)],
            sent: vec![(UNKNOWN, 440, 500 + 240), (REGRESSION, 5, 500 + 240)],
            remembered: 2,
        },
    ];
    let mut prev = BTreeMap::new();
    for (i, r) in rounds.iter().enumerate() {
        let (payload, next) = plan(&prev, &r.desired, t(r.now), iv, rf);
        let mut got: Vec<(String, String, String)> = payload
            .iter()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap().to_string(),
                    a["startsAt"].as_str().unwrap().to_string(),
                    a["endsAt"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let mut want: Vec<(String, String, String)> =
            r.sent.iter().map(|(n, s, e)| (n.to_string(), rfc3339(t(*s)), rfc3339(t(*e)))).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "round {i} at +{}s", r.now);
        assert_eq!(next.len(), r.remembered, "round {i}");
        // The keeper's state survives a restart: it round-trips through JSON.
        let json = serde_json::to_string(&next).unwrap();
        prev = serde_json::from_str(&json).unwrap();
        assert_eq!(prev, next);
    }
}

#[test]
fn plan_refire_with_fresh_start_keeps_it_and_startup_resolves_stale() {
    let iv = Duration::from_secs(1);
    let rf = Duration::from_secs(5);
    let (_, prev) = plan(&BTreeMap::new(), &[regression(0)], t(1), iv, rf);
    let (_, prev) = plan(&prev, &[], t(2), iv, rf);
    // comes back with its own (later) start: that start is used
    let (p, prev) = plan(&prev, &[regression(3)], t(4), iv, rf);
    assert_eq!(p[0]["startsAt"], rfc3339(t(3)));
    // a start in the future is clamped to now
    let (p, _) = plan(&BTreeMap::new(), &[regression(100)], t(4), iv, rf);
    assert_eq!(p[0]["startsAt"], rfc3339(t(4)));
    // "startup": prev from the store, the item recovered while shipwatch was down → resolved now
    let (p, next) = plan(&prev, &[], t(3600), iv, rf);
    assert_eq!((p.len(), p[0]["endsAt"].as_str()), (1, Some(&*rfc3339(t(3600)))));
    assert_eq!(next.values().next().unwrap().resolved_at, Some(t(3600)));
    // duplicates in desired are sent once
    let (p, next) = plan(&BTreeMap::new(), &[regression(0), regression(1)], t(4), iv, rf);
    assert_eq!((p.len(), next.len()), (1, 1));
}

#[tokio::test]
async fn post_and_send_through_a_source() {
    let (url, seen) = receiver(200, "").await;
    let base = url.trim_end_matches("/hook").to_string();
    // The receiver only routes /hook; point the source at a prefix that maps /api/v2/alerts → 404.
    let src = source(&base);
    let empty = post(&src, &[]).await.unwrap();
    assert_eq!(empty.status, 200);
    assert!(seen.lock().unwrap().is_empty(), "empty payload sends nothing");
    let err = post(&src, &[regression(0).to_json(t(1))]).await.unwrap_err();
    assert!(matches!(&err, DeliveryError::Permanent(m) if m.contains("404")), "{err:?}");

    let (am, seen) = am_receiver(200).await;
    let src = source(&am);
    let kind = Notifier::Alertmanager { source: "am".into(), severity: None, interval: None, resolve_for: None };
    let got = send(&src, &kind, &sample(EventKind::ItemRegressed), &cx()).await.unwrap();
    assert_eq!(got.status, 200);
    let body: Value = serde_json::from_slice(&seen.lock().unwrap()[0].1).unwrap();
    assert_eq!(body[0]["labels"]["alertname"], REGRESSION);
    let got = send(&src, &kind, &sample(EventKind::ReleaseDeployed), &cx()).await.unwrap();
    assert_eq!(got.detail, "nothing to push to Alertmanager for release.deployed");
    assert_eq!(seen.lock().unwrap().len(), 1, "no HTTP for events without alerts");

    let (am, _) = am_receiver(503).await;
    let err = send(&source(&am), &kind, &sample(EventKind::ItemFailing), &cx()).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Retry(_)), "{err:?}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let src = source(&down);
    let err = send(&src, &kind, &sample(EventKind::ItemFailing), &cx()).await.unwrap_err();
    assert!(matches!(&err, DeliveryError::Retry(m) if m.contains("unreachable")), "{err:?}");
    assert!(src.is_down());
}

fn source(url: &str) -> SourceClient {
    let src: crate::config::Source =
        serde_json::from_value(serde_json::json!({ "alertmanager": { "url": url } })).expect("alertmanager source");
    SourceClient::build("am", &src, std::path::Path::new(".")).unwrap()
}

/// A fake Alertmanager accepting `POST /api/v2/alerts` with `status`.
async fn am_receiver(status: u16) -> (String, crate::notify::webhook::tests::Seen) {
    use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
    let seen: crate::notify::webhook::tests::Seen = Default::default();
    let app = Router::new()
        .route(
            "/api/v2/alerts",
            post(move |State(s): State<crate::notify::webhook::tests::Seen>, b: Bytes| async move {
                s.lock().unwrap().push((Default::default(), b));
                StatusCode::from_u16(status).unwrap()
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}
