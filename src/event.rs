//! Events the engine emits when a release or an item changes state.
//!
//! Notifiers (a later seam) and action items (`on: EVENT`) consume them; the engine is the only
//! producer.

use serde::{Deserialize, Serialize};

/// Kinds of events, with their wire names (`item.regressed`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "release.started")]
    ReleaseStarted,
    #[serde(rename = "release.deployed")]
    ReleaseDeployed,
    #[serde(rename = "item.completed")]
    ItemCompleted,
    #[serde(rename = "item.failing")]
    ItemFailing,
    #[serde(rename = "item.regressed")]
    ItemRegressed,
    #[serde(rename = "item.recovered")]
    ItemRecovered,
    /// A reload bound probes to a manual item (now pending) or unbound a pending one.
    #[serde(rename = "item.rebound")]
    ItemRebound,
    #[serde(rename = "release.verified")]
    ReleaseVerified,
    #[serde(rename = "release.failed")]
    ReleaseFailed,
    /// An item could not be measured for longer than its `stale_after` (accepts the old name
    /// `verifier.blind` in configs).
    #[serde(rename = "item.unknown", alias = "verifier.blind")]
    ItemUnknown,
    /// The window closed without evidence enough for a verdict: a person settles it.
    #[serde(rename = "release.inconclusive")]
    ReleaseInconclusive,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::ReleaseStarted,
        EventKind::ReleaseDeployed,
        EventKind::ItemCompleted,
        EventKind::ItemFailing,
        EventKind::ItemRegressed,
        EventKind::ItemRecovered,
        EventKind::ItemRebound,
        EventKind::ReleaseVerified,
        EventKind::ReleaseFailed,
        EventKind::ItemUnknown,
        EventKind::ReleaseInconclusive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ReleaseStarted => "release.started",
            EventKind::ReleaseDeployed => "release.deployed",
            EventKind::ItemCompleted => "item.completed",
            EventKind::ItemFailing => "item.failing",
            EventKind::ItemRegressed => "item.regressed",
            EventKind::ItemRecovered => "item.recovered",
            EventKind::ItemRebound => "item.rebound",
            EventKind::ReleaseVerified => "release.verified",
            EventKind::ReleaseFailed => "release.failed",
            EventKind::ItemUnknown => "item.unknown",
            EventKind::ReleaseInconclusive => "release.inconclusive",
        }
    }
}

/// One event: what happened, to which release and item, with the evidence behind it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub release: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub message: String,
    /// The evidence behind the change (probe result, tick, event delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::outcome::Evidence>,
}
