//! Slack receiver: an incoming-webhook payload with a readable one-line summary.
//!
//! ```json
//! { "text": ":red_circle: *Regression* — checkout-api 2.4.0 (production): Validate … — checkout failed 3 times in a row",
//!   "blocks": [
//!     { "type": "section", "text": { "type": "mrkdwn", "text": "<summary>\n>HTTP 500, expected 200" } },
//!     { "type": "context", "elements": [ { "type": "mrkdwn", "text": "<http://…/api/v1/releases/…|status> · release … · 2025-01-01 12:00:00 UTC" } ] }
//!   ] }
//! ```
//! `text` is the summary (what notifications and old clients show); the section repeats it with
//! the evidence message quoted below when there is one; the context links to the release in the
//! status API. User text (service, version, item text, messages) is escaped per Slack's rules
//! (`&`, `<`, `>`), so it can neither break the markup nor ping `<!channel>`.
//!
//! Delivery follows [`super::classify`]: 2xx delivered, 429/5xx and transport errors retried,
//! other 4xx (e.g. `404 no_team`, `410 channel_is_archived`) permanent. The webhook URL is a
//! secret and is never put into error messages.

use serde_json::{Value, json};

use super::webhook::{AGENT, TIMEOUT, parse_url, post_classified};
use super::{Context, Delivered, DeliveryError, Notification};
use crate::event::EventKind;

/// Escape `&`, `<` and `>` as Slack requires for text that is not markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Emoji and title of an event kind.
fn title(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::ReleaseStarted => (":hourglass_flowing_sand:", "Started"),
        EventKind::ReleaseDeployed => (":rocket:", "Deployed"),
        EventKind::ItemCompleted => (":heavy_check_mark:", "Completed"),
        EventKind::ItemFailing => (":warning:", "Failing"),
        EventKind::ItemRegressed => (":red_circle:", "Regression"),
        EventKind::ItemRecovered => (":large_green_circle:", "Recovered"),
        EventKind::ItemRebound => (":link:", "Rebound"),
        EventKind::ReleaseVerified => (":white_check_mark:", "Verified"),
        EventKind::ReleaseFailed => (":x:", "Release failed"),
        EventKind::ItemUnknown => (":see_no_evil:", "Unknown"),
        EventKind::ReleaseInconclusive => (":grey_question:", "Inconclusive"),
    }
}

/// The reason part of an item event message (`item: from → to (reason)` → `reason`); other
/// messages are used whole.
pub(super) fn reason(n: &Notification) -> String {
    let msg = n.event.message.trim();
    if let Some(item) = &n.event.item
        && let Some(rest) = msg.strip_prefix(&format!("{item}: "))
        && let Some(open) = rest.find(" (")
        && rest.ends_with(')')
    {
        return rest[open + 2..rest.len() - 1].to_string();
    }
    msg.to_string()
}

/// `service version (environment): item text` (or the probe, for blind events without an item).
pub(super) fn subject(n: &Notification) -> String {
    let r = &n.release;
    let mut s = format!("{} {} ({})", r.service, r.version, r.environment);
    if let Some(item) = &n.item {
        s.push_str(&format!(": {}", item.text));
    } else if let Some(p) = &n.event.probe {
        s.push_str(&format!(": probe {p}"));
    }
    s
}

/// The evidence message, if any and not already the reason.
fn evidence_message(n: &Notification, reason: &str) -> Option<String> {
    let ev = n.evidence.as_ref().or(n.event.evidence.as_ref())?;
    let m = ev.message.trim();
    (!m.is_empty() && m != reason && !reason.contains(m)).then(|| m.to_string())
}

/// A link target safe inside `<…|…>`.
fn link_target(url: &str) -> String {
    escape(url).replace('|', "%7C")
}

/// The one-line summary (mrkdwn, escaped).
pub fn summary(n: &Notification) -> String {
    let (emoji, title) = title(n.event.kind);
    let reason = reason(n);
    let mut s = format!("{emoji} *{title}* — {}", escape(&subject(n)));
    if !reason.is_empty() {
        s.push_str(" — ");
        s.push_str(&escape(&reason));
    }
    s
}

/// The incoming-webhook payload for `n`.
pub fn payload(n: &Notification) -> Value {
    let summary = summary(n);
    let mut section = summary.clone();
    if let Some(ev) = evidence_message(n, &reason(n)) {
        section.push_str("\n>");
        section.push_str(&escape(&ev));
    }
    let mut context = format!(
        "<{}|status> · release {} · {}",
        link_target(&n.link),
        escape(&n.release.id),
        n.event.at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(c) = &n.release.commit {
        context.push_str(&format!(" · commit {}", escape(c.get(..12).unwrap_or(c))));
    }
    for (k, v) in &n.release.labels {
        context.push_str(&format!(" · {}={}", escape(k), escape(v)));
    }
    json!({
        "text": summary,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": section } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context } ] },
        ],
    })
}

/// POST the payload to the incoming-webhook `url`.
pub async fn send(url: &str, n: &Notification, cx: &Context) -> Result<Delivered, DeliveryError> {
    let url = parse_url(url, "slack", cx)?;
    let req = cx.http.post(url).timeout(TIMEOUT).header(reqwest::header::USER_AGENT, AGENT).json(&payload(n));
    post_classified(req, "slack", cx).await
}

#[cfg(test)]
#[path = "slack_tests.rs"]
mod tests;
