//! The pure state machine of one watch: which versions are present, since when, and which have
//! been dealt with. [`Detector::observe`] takes one successful poll (the time and the versions
//! seen) and returns the versions that have now been present on every poll for `settle`; the
//! caller starts (or finds) their releases and marks them [`Detector::handle`]d. No I/O, no
//! clock: the caller passes `now`.
//!
//! - The **first** observation is the baseline: versions already running are marked handled
//!   (no release) unless `start_existing`, in which case they start waiting like new ones.
//! - A version that is **absent** from a poll is forgotten, whatever its state: one that had
//!   not settled yet was a rollout rolled back (no release); one that had been handled gets a
//!   fresh look if it ever comes back (a rollback to it is a deploy).
//! - An **empty** answer (no version at all) is not an observation: nothing is forgotten and
//!   the baseline is not taken, as for a failed poll (a scrape gap must not make every running
//!   version look new the moment it comes back).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a watch knows about one version that is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Seen {
    /// Present on every poll since `since`; its release starts once `settle` has passed.
    Waiting { since: DateTime<Utc> },
    /// Nothing more to do while it stays present.
    Handled { why: Handled, since: DateTime<Utc> },
}

/// Why a present version needs nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handled {
    /// Running when the watch first looked (no `start_existing`).
    Baseline,
    /// Its release was started by this watch.
    Started,
    /// A release of this service, environment and version already existed.
    Existing,
    /// The label is not a valid version; it is skipped (logged once).
    Invalid,
}

impl Handled {
    pub fn as_str(self) -> &'static str {
        match self {
            Handled::Baseline => "baseline",
            Handled::Started => "started",
            Handled::Existing => "existing",
            Handled::Invalid => "invalid",
        }
    }
}

/// A version whose release is due: present on every poll since `first_seen`, for `settle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub version: String,
    pub first_seen: DateTime<Utc>,
}

/// What one watch remembers: serializable, so it survives a restart or a takeover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// A first observation was made (the baseline is taken).
    pub observed: bool,
    pub seen: BTreeMap<String, Seen>,
}

/// One watch's detector.
#[derive(Debug, Clone)]
pub struct Detector {
    pub settle: Duration,
    /// Versions present at the first observation wait like new ones (not a baseline).
    pub start_existing: bool,
    memory: Memory,
}

impl Detector {
    pub fn new(settle: Duration, start_existing: bool) -> Self {
        Detector { settle, start_existing, memory: Memory::default() }
    }

    /// A detector that resumes from `memory` (read back after a restart).
    pub fn resume(settle: Duration, start_existing: bool, memory: Memory) -> Self {
        Detector { settle, start_existing, memory }
    }

    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Versions seen and waiting to settle.
    pub fn waiting(&self) -> usize {
        self.memory.seen.values().filter(|s| matches!(s, Seen::Waiting { .. })).count()
    }

    /// One successful poll at `now` that saw `versions`; returns the versions due for a release
    /// (oldest first), which stay waiting until [`Detector::handle`] is called for them.
    pub fn observe(&mut self, now: DateTime<Utc>, versions: &BTreeSet<String>) -> Vec<Settled> {
        if versions.is_empty() {
            return vec![];
        }
        let first = !self.memory.observed;
        self.memory.observed = true;
        let seen = &mut self.memory.seen;
        seen.retain(|v, _| versions.contains(v));
        for v in versions {
            seen.entry(v.clone()).or_insert_with(|| {
                if first && !self.start_existing {
                    Seen::Handled { why: Handled::Baseline, since: now }
                } else {
                    Seen::Waiting { since: now }
                }
            });
        }
        let settle = chrono::Duration::from_std(self.settle).unwrap_or(chrono::Duration::MAX);
        let mut due: Vec<Settled> = seen
            .iter()
            .filter_map(|(v, s)| match s {
                Seen::Waiting { since } if now - *since >= settle => {
                    Some(Settled { version: v.clone(), first_seen: *since })
                }
                _ => None,
            })
            .collect();
        due.sort_by(|a, b| (a.first_seen, &a.version).cmp(&(b.first_seen, &b.version)));
        due
    }

    /// `version` needs nothing more while it stays present (its release was started or found,
    /// or it is not a valid version). A version that is not present is ignored.
    pub fn handle(&mut self, version: &str, why: Handled) {
        if let Some(s) = self.memory.seen.get_mut(version) {
            let since = match s {
                Seen::Waiting { since } | Seen::Handled { since, .. } => *since,
            };
            *s = Seen::Handled { why, since };
        }
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
