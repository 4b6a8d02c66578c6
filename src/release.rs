//! The release model shared by the engine, the store and the API: releases, item records,
//! probe results and history entries. Plain data, no behaviour beyond small helpers.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::outcome::{Evidence, Status};
use crate::transition::Cause;

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// Not deployed yet: pre-deploy items run.
    Planned,
    /// Deployed: the window runs.
    Deployed,
    /// Window ≥ min, every automated item complete, none failing.
    Verified,
    /// At window max with items not complete, or an aborting item failed.
    Failed,
    /// Closed, neither verified nor failed: every gate item complete, but one could not be
    /// measured at the close (`unknown`) or was measured for too little of the window
    /// (coverage below `min_coverage`). A person settles it with a verdict.
    Inconclusive,
}

impl ReleaseState {
    /// Still watched (probes run).
    pub fn is_active(self) -> bool {
        matches!(self, ReleaseState::Planned | ReleaseState::Deployed)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Planned => "planned",
            ReleaseState::Deployed => "deployed",
            ReleaseState::Verified => "verified",
            ReleaseState::Failed => "failed",
            ReleaseState::Inconclusive => "inconclusive",
        }
    }
}

/// One deploy of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub service: String,
    pub version: String,
    pub environment: String,
    pub state: ReleaseState,
    pub created_at: DateTime<Utc>,
    pub deployed_at: Option<DateTime<Utc>>,
    #[serde(with = "secs")]
    pub window_min: Duration,
    #[serde(with = "secs")]
    pub window_max: Duration,
    /// A regression happened inside the window: the watch runs to `max`.
    #[serde(default)]
    pub regressed: bool,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Why the verdict is what it is.
    #[serde(default)]
    pub reason: Option<String>,
    /// The commit deployed (lowercase hex), when CI or GitHub said.
    #[serde(default)]
    pub commit: Option<String>,
    /// Free labels from whoever started it (`team=payments`), shown on the page and copied
    /// into notifications.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Who started it, when not a plain API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The `Idempotency-Key` it was created with, and a digest of that request: a repeat with
    /// the key answers with this release; the same key with another request is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,
}

/// Where a release came from, when not the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Detected by a `watch:` query seeing a new version.
    Watch { watch: String },
    /// A GitHub `deployment_status` event.
    GithubDeployment { repository: String, deployment_id: u64 },
}

/// The request a release was created by, for `Idempotency-Key` repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    pub key: String,
    /// SHA-256 (hex) of the request's fields.
    pub digest: String,
}

impl Release {
    /// `deployed_at + d`, if deployed and representable (None past chrono's range, never a panic).
    pub fn at(&self, d: Duration) -> Option<DateTime<Utc>> {
        self.deployed_at?.checked_add_signed(chrono::Duration::from_std(d).ok()?)
    }
}

/// What a new release is made from; [`crate::transition::new_release`] gives it its state.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub id: String,
    pub service: String,
    pub version: String,
    pub environment: String,
    /// When it was deployed, if not now (ignored for a planned release).
    pub deployed_at: Option<DateTime<Utc>>,
    pub window_min: Duration,
    pub window_max: Duration,
    pub commit: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub origin: Option<Origin>,
    pub idempotency: Option<Idempotency>,
}

/// Durations stored as fractional seconds.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// An item's state within one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Manual,
    Pending,
    Complete,
    Failing,
    Regressed,
    Waived,
    /// Could not be measured for longer than its `stale_after`: every bound probe answered
    /// `error` (or nothing) since its last measurement. Never done.
    Unknown,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Manual => "manual",
            ItemState::Pending => "pending",
            ItemState::Complete => "complete",
            ItemState::Failing => "failing",
            ItemState::Regressed => "regressed",
            ItemState::Waived => "waived",
            ItemState::Unknown => "unknown",
        }
    }
    /// Counts as done for the verdict.
    pub fn is_done(self) -> bool {
        matches!(self, ItemState::Complete | ItemState::Waived)
    }
}

/// Rule counters of one probe for one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeTrack {
    pub consecutive_pass: u32,
    pub consecutive_fail: u32,
    pub consecutive_error: u32,
    /// Start of the current pass streak (no fail since).
    pub pass_since: Option<DateTime<Utc>>,
    pub passes: u64,
    pub fails: u64,
    pub errors: u64,
    pub last: Option<Status>,
}

/// One item's state in one release, with what put it there.
///
/// `state`, `since` and `cause` change only through [`crate::transition`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub release_id: String,
    pub item_id: String,
    pub state: ItemState,
    pub since: DateTime<Utc>,
    /// What put the item in its state: a rule, a person (who, with their note), an action...
    pub cause: Cause,
    /// Evidence that last changed the state (probe name → evidence).
    #[serde(default)]
    pub evidence: Option<ItemEvidence>,
    #[serde(default)]
    pub tracks: BTreeMap<String, ProbeTrack>,
    /// The item has been complete at least once in this release.
    #[serde(default)]
    pub ever_complete: bool,
    /// Freshness: when a bound probe last measured (a result that was not `error`). Stored
    /// with the item, so the time shipwatch was down counts as unmeasured after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_at: Option<DateTime<Utc>>,
    /// Seconds of the window (since the deploy) in which the item was stale, counted up to
    /// `fresh_at` (see [`crate::rules::coverage`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stale_secs: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The evidence behind an item's state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemEvidence {
    #[serde(default)]
    pub probe: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    pub evidence: Evidence,
}

/// One probe run for one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub release_id: String,
    pub probe: String,
    pub at: DateTime<Utc>,
    pub status: Status,
    pub evidence: Evidence,
}

/// An item's or a release's state, as history records it (the names never overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum State {
    Item(ItemState),
    Release(ReleaseState),
}

/// A state change with its typed cause, kept in the release's history (regressions included)
/// until the release passes `storage.retention`. Made only by [`crate::transition`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub release_id: String,
    /// The item that changed; none for a change of the release itself.
    #[serde(default)]
    pub item_id: Option<String>,
    pub at: DateTime<Utc>,
    /// None when the item or release was created.
    pub from: Option<State>,
    pub to: State,
    pub cause: Cause,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A release stored before durations were capped (fuzz/regressions/api_body/) may carry a
    /// window past chrono's range: its end is None, not a panic.
    #[test]
    fn window_end_past_chrono_range_is_none() {
        let now = Utc::now();
        let mut r = Release {
            id: "a-1".into(),
            service: "a".into(),
            version: "1".into(),
            environment: "production".into(),
            state: ReleaseState::Deployed,
            created_at: now,
            deployed_at: Some(now),
            window_min: Duration::from_secs(1),
            window_max: Duration::from_secs(1_000_000 * 31_557_600),
            regressed: false,
            closed_at: None,
            reason: None,
            commit: None,
            labels: Default::default(),
            origin: None,
            idempotency: None,
        };
        assert!(r.at(r.window_min).is_some());
        assert_eq!(r.at(r.window_max), None);
        assert_eq!(r.at(Duration::MAX), None);
        r.deployed_at = None;
        assert_eq!(r.at(r.window_min), None);
    }
}
