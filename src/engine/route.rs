//! Routing: which receivers hear about an event. An item's `notify:` gets its
//! `item.failing` / `item.regressed` / `item.recovered` / `item.unknown`; a receiver's `events:` subscribes it to
//! those events for every release; an `on: EVENT` item with `notify:` is an action whose
//! notification ticks it once delivered. Each notification carries an idempotency key derived
//! from the event, so replaying the same event never queues it twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Rel;
use crate::config::Config;
use crate::event::{Event, EventKind};
use crate::notify::{ItemInfo, Notification, SCHEMA_VERSION};
use crate::release::ItemState;
use crate::store::{OutboxRecord, Target};

/// The base URL for links: `server.external_url`, else the address the API is bound to
/// (`bound`), else the configured listen address.
pub(crate) fn base_url(cfg: &Config, bound: Option<&str>) -> String {
    let url = match (&cfg.server.external_url, bound) {
        (Some(u), _) => u.clone(),
        (None, Some(b)) => format!("http://{}", b.replace("0.0.0.0", "localhost")),
        (None, None) => format!("http://{}", cfg.server.listen),
    };
    url.trim_end_matches('/').to_string()
}

/// The name the rollback hook shows under (reserved: no notifier may take it).
pub(crate) const ROLLBACK: &str = crate::config::RESERVED_RECEIVER;

/// Outbox records for `events` of release `rel`. `report` goes with verdict events.
pub(crate) fn route(
    cfg: &Config,
    base: &str,
    rel: &Rel,
    events: &[Event],
    now: DateTime<Utc>,
    report: Option<&serde_json::Value>,
) -> Vec<OutboxRecord> {
    let mut out = vec![];
    for ev in events {
        // The rollback hook: once per release (its key has no event time), guarded by
        // `auto_rollback: true`, on the first regression of a deployed release.
        if ev.kind == EventKind::ItemRegressed
            && let Some(rb) = cfg.rollback.as_ref().filter(|r| r.auto_rollback)
            && let Some(item) = rb.item.as_deref()
            && rel.release.state == crate::release::ReleaseState::Deployed
            && rel.items.get(item).is_some_and(|i| i.state == ItemState::Pending)
        {
            let key = format!("{}/rollback/{item}", rel.release.id);
            let notification = Notification {
                version: SCHEMA_VERSION,
                key: key.clone(),
                receiver: ROLLBACK.into(),
                event: ev.clone(),
                release: rel.release.clone(),
                item: None,
                evidence: ev.evidence.clone(),
                link: format!("{}/api/v1/releases/{}", base, rel.release.id),
                report: None,
            };
            out.push(OutboxRecord {
                id: 0,
                key,
                receiver: ROLLBACK.into(),
                target: Target::RollbackHook,
                notification,
                action_item: Some(item.to_string()),
                attempts: 0,
                created_at: now,
                next_at: now,
                last_error: None,
                dead: false,
            });
        }
        // receiver → action items to tick on delivery
        let mut to: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        if let Some(item) = ev.item.as_deref()
            && matches!(
                ev.kind,
                EventKind::ItemFailing | EventKind::ItemRegressed | EventKind::ItemRecovered | EventKind::ItemUnknown
            )
            && let Some(b) = cfg.items.get(item)
        {
            for r in &b.notify {
                to.entry(r.as_str()).or_default();
            }
        }
        for (name, r) in &cfg.notify {
            if r.events.contains(&ev.kind) {
                to.entry(name.as_str()).or_default();
            }
        }
        for (id, b) in &cfg.items {
            if b.on == Some(ev.kind) && rel.items.get(id).is_some_and(|i| i.state == ItemState::Pending) {
                for r in &b.notify {
                    to.entry(r.as_str()).or_default().push(id.as_str());
                }
            }
        }
        let item = ev.item.as_deref().and_then(|id| {
            let it = cfg.checklist.get(id)?;
            Some(ItemInfo {
                id: id.to_string(),
                text: it.text.clone(),
                section: it.section.clone(),
                state: rel.items.get(id).map(|r| r.state.as_str().to_string()).unwrap_or_default(),
            })
        });
        let verdict =
            matches!(ev.kind, EventKind::ReleaseVerified | EventKind::ReleaseFailed | EventKind::ReleaseInconclusive);
        for (receiver, actions) in to {
            let key_base = format!(
                "{}/{}/{}/{}/{receiver}",
                rel.release.id,
                ev.kind.as_str(),
                ev.item.as_deref().unwrap_or("-"),
                ev.at.timestamp_millis()
            );
            let keys: Vec<(String, Option<&str>)> = if actions.is_empty() {
                vec![(key_base, None)]
            } else {
                actions.iter().map(|a| (format!("{key_base}/{a}"), Some(*a))).collect()
            };
            for (key, action) in keys {
                let notification = Notification {
                    version: SCHEMA_VERSION,
                    key: key.clone(),
                    receiver: receiver.to_string(),
                    event: ev.clone(),
                    release: rel.release.clone(),
                    item: item.clone(),
                    evidence: ev.evidence.clone(),
                    link: format!("{}/api/v1/releases/{}", base, rel.release.id),
                    report: if verdict { report.cloned() } else { None },
                };
                out.push(OutboxRecord {
                    id: 0,
                    key,
                    receiver: receiver.to_string(),
                    target: Target::Receiver,
                    notification,
                    action_item: action.map(String::from),
                    attempts: 0,
                    created_at: now,
                    next_at: now,
                    last_error: None,
                    dead: false,
                });
            }
        }
    }
    out
}
