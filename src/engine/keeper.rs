//! The Alertmanager keeper: for each `alertmanager` receiver, every `interval`, push the alerts
//! that should be firing now (regressed, failing and unknown items of active releases)
//! with `endsAt = now + 4 × interval`, and resolve — and keep re-sending as resolved for
//! `resolve_for` — those that stopped. What was sent is stored, so alerts that ended while
//! shipwatch was down are resolved at start-up.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Inner;
use crate::config::{Config, Receiver};
use crate::event::EventKind;
use crate::notify::ItemInfo;
use crate::notify::alertmanager::{self, AmAlert, Sent, Settings};
use crate::release::ItemState;

/// The alerts `receiver` should see firing now.
fn desired(inner: &Inner, cfg: &Config, receiver: &Receiver, s: &Settings) -> Vec<AmAlert> {
    let base = inner.base_url(cfg);
    let routed =
        |notify: &[String], kind: EventKind| notify.contains(&receiver.name) || receiver.events.contains(&kind);
    let mut out = vec![];
    for rel in inner.state().values().filter(|r| r.release.state.is_active()) {
        let r = &rel.release;
        let link = format!("{base}/api/v1/releases/{}", r.id);
        for (id, b) in &cfg.items {
            let Some(rec) = rel.items.get(id) else { continue };
            let (name, kind, title) = match rec.state {
                ItemState::Regressed => ("ShipwatchRegression", EventKind::ItemRegressed, "Regression"),
                ItemState::Failing => ("ShipwatchItemFailing", EventKind::ItemFailing, "Failing"),
                ItemState::Unknown => (alertmanager::UNKNOWN, EventKind::ItemUnknown, "Unknown"),
                _ => continue,
            };
            if !routed(&b.notify, kind) {
                continue;
            }
            let text = cfg.checklist.get(id).map(|i| i.text.clone()).unwrap_or_else(|| id.clone());
            let info = ItemInfo { id: id.clone(), text: text.clone(), section: None, state: rec.state.as_str().into() };
            // An unknown item's last evidence is old: say why it cannot be measured instead.
            let why = if rec.state == ItemState::Unknown {
                let last = b.probes.iter().filter_map(|p| rel.last.get(p)).max_by_key(|l| l.at);
                last.map(|l| format!(" — cannot measure: {}", l.evidence.message)).unwrap_or_default()
            } else {
                rec.evidence.as_ref().map(|e| format!(" — {}", e.evidence.message)).unwrap_or_default()
            };
            let summary = format!("{title} — {} {} ({}): {text}{why}", r.service, r.version, r.environment);
            // Item alerts are identified by release and item only (as the event pushes are), so
            // a different probe deciding never resolves and re-fires the same incident.
            out.push(alertmanager::alert(name, r, Some(&info), None, &s.severity, &summary, &link, rec.since));
        }
    }
    out
}

/// Start a keeper for every Alertmanager receiver of the config in force that has none (at
/// start, and after a reload that adds receivers). A keeper reads its receiver's settings
/// afresh every round and ends when a reload removes the receiver.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    let cfg = inner.config();
    for (name, receiver) in &cfg.notify {
        if alertmanager::settings(&receiver.kind).is_none() {
            continue;
        }
        if !crate::sync::lock(&inner.keepers, "keepers").insert(name.clone()) {
            continue; // already kept
        }
        let (inner, name, token) = (inner.clone(), name.clone(), inner.shutdown.clone());
        inner.clone().tracker.spawn(async move {
            let mut kept = Kept::default();
            loop {
                let settings = inner.config().notify.get(&name).and_then(|r| alertmanager::settings(&r.kind));
                let Some(settings) = settings else {
                    tracing::info!(receiver = %name, "receiver removed by a reload; its keeper stops");
                    crate::sync::lock(&inner.keepers, "keepers").remove(&name);
                    return;
                };
                round(&inner, &name, &settings, &mut kept).await;
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(settings.interval) => {}
                }
            }
        });
    }
}

/// What a keeper sent, kept in memory as well as in the store: a store that fails to save it
/// never makes the keeper forget an alert it must resolve later.
#[derive(Default)]
struct Kept {
    /// None until read from the store (a keeper that cannot read it does not push anything:
    /// assuming "nothing sent" would leave earlier alerts firing forever).
    sent: Option<BTreeMap<String, Sent>>,
    /// `sent` changed and is not stored yet.
    unsaved: bool,
}

async fn round(inner: &Arc<Inner>, name: &str, s: &Settings, kept: &mut Kept) {
    let cfg = inner.config();
    let Some(receiver) = cfg.notify.get(name) else { return };
    let Some(src) = inner.rt().sources.get(&s.source).cloned() else { return };
    let key = format!("alertmanager:{name}");
    if kept.sent.is_none() {
        let k = key.clone();
        match inner.blocking(move |i| Ok(i.store.state_get(&k)?)).await {
            Ok(blob) => {
                let parsed = blob.map(|v| serde_json::from_str(&v)).transpose().unwrap_or_else(|e| {
                    tracing::error!(receiver = name, error = %e, "stored alerts unreadable; starting from none");
                    None
                });
                kept.sent = Some(parsed.unwrap_or_default());
            }
            Err(e) => {
                tracing::warn!(receiver = name, error = %e, "cannot read the alerts sent; keeper waits for the store");
                return;
            }
        }
    }
    let prev = kept.sent.clone().unwrap_or_default();
    let want = desired(inner, &cfg, receiver, s);
    let (payload, next) = alertmanager::plan(&prev, &want, inner.clock.now(), s.interval, s.resolve_for);
    if !payload.is_empty() || next != prev {
        match alertmanager::post(&src, &payload).await {
            Ok(_) => {
                kept.sent = Some(next);
                kept.unsaved = true;
            }
            Err(e) => tracing::debug!(receiver = name, error = %e, "alert push failed; retrying next round"),
        }
    }
    if kept.unsaved {
        let json = serde_json::to_string(kept.sent.as_ref().unwrap_or(&BTreeMap::new())).unwrap_or_default();
        let batch = crate::store::Batch { state: vec![(key, json)], ..Default::default() };
        match inner.blocking(move |i| Ok(i.write(&batch)?)).await {
            Ok(()) => kept.unsaved = false,
            Err(e) => {
                tracing::error!(receiver = name, error = %e, "cannot store the alerts sent; kept in memory, retrying")
            }
        }
    }
}
