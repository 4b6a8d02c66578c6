//! Alertmanager receiver: pushes alerts with `POST {source}/api/v2/alerts`.
//!
//! Alertmanager identifies an alert by its label set, so every alert shipwatch pushes has a
//! fixed identity:
//!
//! | alertname | identity labels | fires on | resolved on |
//! |---|---|---|---|
//! | `ShipwatchItemFailing` | release, item | `item.failing` | `item.completed`, `item.recovered` |
//! | `ShipwatchRegression` | release, item | `item.regressed` | `item.completed`, `item.recovered` |
//! | `ShipwatchUnknown` | release, item | `item.unknown` | `item.completed`, `item.recovered`, the keeper (measured again) |
//! | `ShipwatchReleaseFailed` | release | `release.failed` | expires after 4 × interval |
//! | `ShipwatchInconclusive` | release | `release.inconclusive` | expires after 4 × interval |
//!
//! Every alert also carries `service`, `environment`, `version` and `severity` (config,
//! default `page`); annotations are `summary`, `description` (the item text) and `link`;
//! `generatorURL` is the release in the status API. Use [`alert`] to build one, so the engine's
//! keeper and the event push agree on labels.
//!
//! Two ways alerts leave:
//! - [`send`] (event-driven, through the outbox): the event's alert is pushed firing with
//!   `endsAt = now + 4 × interval`, or its item's alerts resolved with `endsAt = now`.
//! - the keeper: every `interval` the engine computes the alerts that should be active and calls
//!   the pure [`plan`] with what it sent before ([`Sent`], persisted in the store), then [`post`].
//!   Active alerts are re-sent with a fresh `endsAt`; an alert no longer wanted is resolved
//!   (`endsAt = now`) and re-sent as resolved until `resolve_for` (default 5m) has passed. Since
//!   `prev` survives restarts, anything that ended while shipwatch was down is resolved on the
//!   first plan after start-up.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Context, Delivered, DeliveryError, ItemInfo, Notification, classify};
use crate::config::Notifier;
use crate::event::EventKind;
use crate::probe::source::SourceClient;
use crate::release::Release;

pub const REGRESSION: &str = "ShipwatchRegression";
pub const ITEM_FAILING: &str = "ShipwatchItemFailing";
pub const UNKNOWN: &str = "ShipwatchUnknown";
pub const INCONCLUSIVE: &str = "ShipwatchInconclusive";
pub const RELEASE_FAILED: &str = "ShipwatchReleaseFailed";

/// Default `severity` label.
pub const DEFAULT_SEVERITY: &str = "page";
/// Default re-send interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default time a resolved alert keeps being re-sent.
pub const DEFAULT_RESOLVE_FOR: Duration = Duration::from_secs(300);

/// An Alertmanager receiver's settings with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub source: String,
    pub severity: String,
    pub interval: Duration,
    pub resolve_for: Duration,
}

/// The settings of an `alertmanager` receiver (`None` for other kinds).
pub fn settings(kind: &Notifier) -> Option<Settings> {
    match kind {
        Notifier::Alertmanager { source, severity, interval, resolve_for } => Some(Settings {
            source: source.clone(),
            severity: severity.clone().unwrap_or_else(|| DEFAULT_SEVERITY.to_string()),
            interval: interval.as_ref().map(|d| d.0).unwrap_or(DEFAULT_INTERVAL),
            resolve_for: resolve_for.as_ref().map(|d| d.0).unwrap_or(DEFAULT_RESOLVE_FOR),
        }),
        _ => None,
    }
}

/// One alert as shipwatch pushes it (without `endsAt`, which each push decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub generator_url: String,
}

impl AmAlert {
    /// The alert's identity (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.labels)
    }

    /// The Alertmanager API v2 JSON of this alert ending at `ends_at`.
    pub fn to_json(&self, ends_at: DateTime<Utc>) -> Value {
        json!({
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(ends_at),
            "generatorURL": self.generator_url,
        })
    }
}

/// RFC 3339 in UTC with a `Z`, millisecond precision.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stable identity for a label set: `k="v"` pairs sorted by name, comma-joined.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",")
}

/// Build an alert. `item` adds the `item` label and the `description` annotation; `probe` adds
/// the `probe` label.
#[allow(clippy::too_many_arguments)]
pub fn alert(
    alertname: &str,
    release: &Release,
    item: Option<&ItemInfo>,
    probe: Option<&str>,
    severity: &str,
    summary: &str,
    link: &str,
    starts_at: DateTime<Utc>,
) -> AmAlert {
    // The release's own labels first: shipwatch's names win (the API refuses them anyway).
    let mut labels = release.labels.clone();
    labels.insert("alertname".to_string(), alertname.to_string());
    labels.insert("service".to_string(), release.service.clone());
    labels.insert("environment".to_string(), release.environment.clone());
    labels.insert("version".to_string(), release.version.clone());
    labels.insert("release".to_string(), release.id.clone());
    labels.insert("severity".to_string(), severity.to_string());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_string(), summary.to_string());
    annotations.insert("link".to_string(), link.to_string());
    if let Some(c) = &release.commit {
        annotations.insert("commit".to_string(), c.clone());
    }
    if let Some(i) = item {
        labels.insert("item".to_string(), i.id.clone());
        annotations.insert("description".to_string(), i.text.clone());
    }
    if let Some(p) = probe {
        labels.insert("probe".to_string(), p.to_string());
    }
    AmAlert { labels, annotations, starts_at, generator_url: link.to_string() }
}

/// A plain-text summary of a notification: `Regression — svc 1.0 (prod): item text — reason`.
pub fn summary(title: &str, n: &Notification) -> String {
    let reason = super::slack::reason(n);
    let mut s = format!("{title} — {}", super::slack::subject(n));
    if !reason.is_empty() {
        s.push_str(" — ");
        s.push_str(&reason);
    }
    s
}

/// The alerts an event pushes, as API JSON (`None`: nothing to push for this event kind).
pub fn event_payload(n: &Notification, s: &Settings, now: DateTime<Utc>) -> Option<Vec<Value>> {
    let until = now + chrono::Duration::from_std(s.interval * 4).unwrap_or_default();
    let starts = n.event.at.min(now);
    let item = n.item.as_ref();
    let firing = |name: &str, title: &str, item: Option<&ItemInfo>, probe: Option<&str>| {
        let a = alert(name, &n.release, item, probe, &s.severity, &summary(title, n), &n.link, starts);
        Some(vec![a.to_json(until)])
    };
    match n.event.kind {
        EventKind::ItemFailing => firing(ITEM_FAILING, "Failing", Some(item?), None),
        EventKind::ItemRegressed => firing(REGRESSION, "Regression", Some(item?), None),
        EventKind::ItemUnknown => firing(UNKNOWN, "Unknown", Some(item?), None),
        EventKind::ReleaseFailed => firing(RELEASE_FAILED, "Release failed", None, None),
        EventKind::ReleaseInconclusive => firing(INCONCLUSIVE, "Inconclusive", None, None),
        EventKind::ItemRecovered | EventKind::ItemCompleted => {
            let item = item?;
            let title = if n.event.kind == EventKind::ItemRecovered { "Recovered" } else { "Completed" };
            let out = [REGRESSION, ITEM_FAILING, UNKNOWN]
                .iter()
                .map(|name| {
                    alert(name, &n.release, Some(item), None, &s.severity, &summary(title, n), &n.link, now)
                        .to_json(now)
                })
                .collect();
            Some(out)
        }
        _ => None,
    }
}

/// Push the alerts of event `n` through the Alertmanager source `src`.
pub async fn send(
    src: &SourceClient,
    kind: &Notifier,
    n: &Notification,
    cx: &Context,
) -> Result<Delivered, DeliveryError> {
    let s = settings(kind).ok_or_else(|| DeliveryError::Permanent("not an alertmanager receiver".into()))?;
    let Some(payload) = event_payload(n, &s, Utc::now()) else {
        return Ok(Delivered {
            status: 200,
            detail: format!("nothing to push to Alertmanager for {}", n.event.kind.as_str()),
        });
    };
    post(src, &payload).await.map_err(|e| match e {
        DeliveryError::Retry(m) => DeliveryError::Retry(cx.redactor.redact(&m)),
        DeliveryError::Permanent(m) => DeliveryError::Permanent(cx.redactor.redact(&m)),
    })
}

/// What the keeper last sent for one alert; the engine persists a map of these by fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub alert: AmAlert,
    /// When it was resolved (`endsAt` of the resolved re-sends); `None` while firing.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// One keeper round: the payload to push now and the new `prev`.
///
/// - every `desired` alert is sent firing with `endsAt = now + 4 × interval`; its `startsAt` is
///   kept from when it first fired (a new one, or one that comes back after resolution, starts
///   at its own `starts_at`, but never before the previous resolution nor after `now`);
/// - a previously sent alert that is no longer desired is resolved now (`endsAt = now`) and
///   re-sent as resolved on every round until `resolve_for` has passed, then forgotten.
pub fn plan(
    prev: &BTreeMap<String, Sent>,
    desired: &[AmAlert],
    now: DateTime<Utc>,
    interval: Duration,
    resolve_for: Duration,
) -> (Vec<Value>, BTreeMap<String, Sent>) {
    let until = now + chrono::Duration::from_std(interval * 4).unwrap_or_default();
    let resolve_for = chrono::Duration::from_std(resolve_for).unwrap_or_default();
    let mut out = Vec::new();
    let mut next = BTreeMap::new();
    for want in desired {
        let fp = want.fingerprint();
        if next.contains_key(&fp) {
            continue;
        }
        let starts_at = match prev.get(&fp) {
            Some(Sent { alert, resolved_at: None }) => alert.starts_at,
            Some(Sent { resolved_at: Some(r), .. }) if want.starts_at <= *r => now,
            _ => want.starts_at.min(now),
        };
        let alert = AmAlert { starts_at, ..want.clone() };
        out.push(alert.to_json(until));
        next.insert(fp, Sent { alert, resolved_at: None });
    }
    for (fp, sent) in prev {
        if next.contains_key(fp) {
            continue;
        }
        let resolved_at = match sent.resolved_at {
            None => now,
            Some(r) if now - r < resolve_for => r,
            Some(_) => continue,
        };
        out.push(sent.alert.to_json(resolved_at));
        next.insert(fp.clone(), Sent { alert: sent.alert.clone(), resolved_at: Some(resolved_at) });
    }
    (out, next)
}

/// POST `payload` to `{src.url}/api/v2/alerts` (an empty payload sends nothing). Transport
/// errors and 429/5xx are [`DeliveryError::Retry`]; they also mark the source down.
pub async fn post(src: &SourceClient, payload: &[Value]) -> Result<Delivered, DeliveryError> {
    if payload.is_empty() {
        return Ok(Delivered { status: 200, detail: "no alerts to push".into() });
    }
    let url = format!("{}/api/v2/alerts", src.url);
    let resp = match src.http.post(&url).json(payload).send().await {
        Ok(r) => r,
        Err(e) => {
            let msg =
                format!("alertmanager source '{}' unreachable: {}", src.name, crate::probe::http::transport_reason(&e));
            src.observe(false, &msg);
            return Err(DeliveryError::Retry(msg));
        }
    };
    src.observe(true, "");
    let status = resp.status();
    let body = super::webhook::read_answer(resp).await;
    match classify(status, &body) {
        Ok(d) => Ok(Delivered {
            status: d.status,
            detail: format!("pushed {} alert(s) to alertmanager source '{}'", payload.len(), src.name),
        }),
        Err(DeliveryError::Retry(m)) => {
            Err(DeliveryError::Retry(format!("alertmanager source '{}' answered {m}", src.name)))
        }
        Err(DeliveryError::Permanent(m)) => {
            Err(DeliveryError::Permanent(format!("alertmanager source '{}' answered {m}", src.name)))
        }
    }
}

#[cfg(test)]
#[path = "alertmanager_tests.rs"]
mod tests;
