//! Notifications: what shipwatch says, to whom, and how each receiver kind sends it.
//!
//! The engine turns events into [`Notification`]s, one per receiver, and writes them to the
//! durable outbox in the same transaction as the state change that caused them. The delivery
//! loop (`engine::deliver`) sends them with [`deliver`]; a notification leaves the outbox only
//! after a 2xx (or when [`skip`] says it no longer applies). Each receiver kind lives in its
//! own file.

pub mod alertmanager;
pub mod github;
pub mod slack;
pub mod webhook;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Notifier;
use crate::event::Event;
use crate::probe::Evidence;
use crate::probe::source::Sources;
use crate::redact::Redactor;
use crate::release::Release;

/// Version of the notification JSON schema (webhook bodies).
pub const SCHEMA_VERSION: u32 = 1;

/// The item an event is about, as receivers see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemInfo {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub section: Option<String>,
    /// The item's state after the event.
    pub state: String,
}

/// One notification for one receiver. Its `key` is the idempotency key: the same event to the
/// same receiver always carries the same key, so a receiver can drop a duplicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub version: u32,
    pub key: String,
    pub receiver: String,
    pub event: Event,
    pub release: Release,
    #[serde(default)]
    pub item: Option<ItemInfo>,
    #[serde(default)]
    pub evidence: Option<Evidence>,
    /// The release in the status API.
    pub link: String,
    /// The final report, on `release.verified` / `release.failed`.
    #[serde(default)]
    pub report: Option<serde_json::Value>,
}

/// A successful delivery: the receiver's status code and a short note.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub status: u16,
    pub detail: String,
}

/// Why a delivery failed: worth retrying (transport, 5xx, 429) or not (other 4xx, bad config).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Retry(String),
    #[error("{0}")]
    Permanent(String),
}

/// What senders need: an HTTP client, the source clients (Alertmanager), the redactor.
#[derive(Clone)]
pub struct Context {
    pub http: reqwest::Client,
    pub sources: Arc<Sources>,
    pub redactor: Redactor,
}

/// Send `n` through the receiver `kind`.
pub async fn deliver(kind: &Notifier, n: &Notification, cx: &Context) -> Result<Delivered, DeliveryError> {
    match kind {
        Notifier::Webhook { url, secret, headers } => webhook::send(url, secret.as_deref(), headers, n, cx).await,
        Notifier::Slack { url } => slack::send(url, n, cx).await,
        Notifier::Github { repo, token, api_url } => github::send(repo, token, api_url.as_deref(), n, cx).await,
        Notifier::Alertmanager { source, .. } => {
            let src = cx
                .sources
                .get(source)
                .ok_or_else(|| DeliveryError::Permanent(format!("alertmanager source '{source}' is not configured")))?;
            alertmanager::send(src, kind, n, cx).await
        }
    }
}

/// Why `n` should not be sent through `kind` at all, given the release's state now (`None`:
/// no longer in memory); the delivery loop then removes it as done, without sending. Only
/// receivers that show one current state (GitHub statuses) skip anything: there the last
/// write wins, so a notification a newer state has superseded must not be sent late.
pub fn skip(kind: &Notifier, n: &Notification, now: Option<crate::release::ReleaseState>) -> Option<String> {
    match kind {
        Notifier::Github { repo, .. } => github::skip(repo, n, now),
        Notifier::Webhook { .. } | Notifier::Slack { .. } | Notifier::Alertmanager { .. } => None,
    }
}

/// Classify an HTTP answer: 2xx delivered; 429 and 5xx retried; other codes permanent.
pub fn classify(status: reqwest::StatusCode, body: &str) -> Result<Delivered, DeliveryError> {
    let snippet: String = body.chars().take(200).collect();
    if status.is_success() {
        Ok(Delivered { status: status.as_u16(), detail: snippet })
    } else if status.as_u16() == 429 || status.is_server_error() {
        Err(DeliveryError::Retry(format!("HTTP {status}: {snippet}")))
    } else {
        Err(DeliveryError::Permanent(format!("HTTP {status}: {snippet}")))
    }
}
