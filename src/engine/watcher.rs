//! Watch tasks: one per `watch:` entry, in the engine's task set (so only a leading engine runs
//! them: a follower's engine starts none, and a deposed leader's stop with its engine). Every
//! `every` a task asks its query (`crate::watch::poll`), feeds the versions to its
//! [`Detector`], and starts the release of each version that has settled — through
//! [`Engine::start_release`], so it is validated and idempotent — unless a release of that
//! service, environment and version already exists (open or closed, in memory or only in the
//! store). What it has seen is kept in the store's `state` table (`watch:NAME`), written when it
//! changes: a restart or a takeover resumes (a version waiting keeps its first-seen time; no new
//! baseline is taken) instead of re-observing.
//!
//! A task reads its entry afresh every round (a reload applies from the next poll) and ends when
//! a reload removes it; changing its service, environment, query or label forgets what it saw.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::start::WindowOverride;
use super::{Engine, EngineError, Inner, NewRelease};
use crate::config::Watch;
use crate::metrics::{PollResult, WatchMetrics};
use crate::release::Origin;
use crate::store::{Batch, ReleaseQuery};
use crate::watch::{Detector, Handled, Memory, Settled};

/// What a watch keeps in the store.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    /// [`Watch::identity`] when it was saved: another one means the memory is not this watch's.
    identity: Vec<String>,
    memory: Memory,
}

fn key(name: &str) -> String {
    format!("watch:{name}")
}

fn identity(w: &Watch) -> Vec<String> {
    w.identity().iter().map(|s| s.to_string()).collect()
}

/// Start a task for every watch of the config in force that has none (at start, and after a
/// reload that adds watches). Never on a follower.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    if inner.follower.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let cfg = inner.config();
    for name in cfg.watches.keys() {
        if !crate::sync::lock(&inner.watches, "watches").insert(name.clone()) {
            continue; // already running
        }
        let task = Task {
            metrics: inner.metrics.watch(name),
            inner: inner.clone(),
            name: name.clone(),
            detector: None,
            saved: None,
            last: Last::Ok,
        };
        inner.tracker.spawn(task.run());
    }
}

/// How the previous poll went (logs are written when it changes, not every poll).
#[derive(Debug, Clone, PartialEq)]
enum Last {
    Ok,
    Empty,
    Failed(String),
}

struct Task {
    inner: Arc<Inner>,
    name: String,
    metrics: WatchMetrics,
    /// The detector and the identity it was made for; `None` until read from the store.
    detector: Option<(Vec<String>, Detector)>,
    /// The memory the store holds (`None`: nothing stored yet, or unknown).
    saved: Option<Memory>,
    last: Last,
}

impl Task {
    async fn run(mut self) {
        let token = self.inner.shutdown.clone();
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            let Some(w) = self.inner.config().watches.get(&self.name).cloned() else {
                tracing::info!(watch = %self.name, "watch removed by a reload; its task stops");
                crate::sync::lock(&self.inner.watches, "watches").remove(&self.name);
                return;
            };
            if !self.round(&w, &token).await {
                return;
            }
            next = (next + w.every).max(tokio::time::Instant::now());
        }
    }

    /// One poll and what follows from it; false when shutting down.
    async fn round(&mut self, w: &Watch, token: &tokio_util::sync::CancellationToken) -> bool {
        if !self.ready(w).await {
            return true;
        }
        let Some(src) = self.inner.rt().sources.get(&w.source).cloned() else {
            self.failed(w, format!("source '{}' is not configured", w.source));
            return true;
        };
        let now = self.inner.clock.now();
        let polled = tokio::select! {
            _ = token.cancelled() => return false,
            p = crate::watch::poll(&src, &w.query, &w.version_label, now) => p,
        };
        let seen = match polled {
            Err(e) => {
                self.failed(w, e.to_string());
                return true;
            }
            Ok(v) if v.versions.is_empty() => {
                self.metrics.polled(PollResult::Empty);
                if self.last != Last::Empty {
                    tracing::info!(watch = %w.name, source = %w.source, "watch query returned no series; nothing observed until it does");
                }
                self.last = Last::Empty;
                return true;
            }
            Ok(v) => v,
        };
        self.metrics.polled(PollResult::Ok);
        if self.last != Last::Ok {
            tracing::info!(watch = %w.name, source = %w.source, "watch query answers again");
            self.last = Last::Ok;
        }
        if seen.unlabeled > 0 {
            tracing::debug!(watch = %w.name, series = seen.unlabeled, label = %w.version_label, "series without the version label ignored");
        }
        let Some((_, d)) = self.detector.as_mut() else { return true };
        let first = !d.memory().observed;
        let due = d.observe(now, &seen.versions);
        if first {
            // Label values are data from outside: listed escaped (Debug).
            let (versions, existing) = (&seen.versions, w.start_existing);
            if existing {
                tracing::info!(watch = %w.name, ?versions, "watch's first poll: the versions running now get a release once settled (start_existing)");
            } else {
                tracing::info!(watch = %w.name, ?versions, "watch's first poll: the versions running now are the baseline (no release)");
            }
        }
        for s in due {
            if let Some(why) = self.settled(w, &s).await
                && let Some((_, d)) = self.detector.as_mut()
            {
                d.handle(&s.version, why);
            }
        }
        if let Some((_, d)) = &self.detector {
            self.metrics.set_waiting(d.waiting());
        }
        self.save(w).await;
        true
    }

    /// A poll that saw nothing: logged when the reason changes, counted every time.
    fn failed(&mut self, w: &Watch, why: String) {
        self.metrics.polled(PollResult::Error);
        let why = self.inner.rt().redactor.redact(&why);
        if self.last != Last::Failed(why.clone()) {
            tracing::warn!(watch = %w.name, source = %w.source, error = %why, "watch poll failed; nothing is observed or started until it works");
        }
        self.last = Last::Failed(why);
    }

    /// The detector for `w`'s identity, resumed from the store when it holds this watch's
    /// memory; false while the store cannot be read (no poll then: a fresh baseline would
    /// hide the versions waiting).
    async fn ready(&mut self, w: &Watch) -> bool {
        let id = identity(w);
        if let Some((have, d)) = self.detector.as_mut()
            && *have == id
        {
            d.settle = w.settle;
            d.start_existing = w.start_existing;
            return true;
        }
        let k = key(&w.name);
        let stored = match self.inner.blocking(move |i| Ok(i.store.state_get(&k)?)).await {
            Ok(s) => s,
            Err(e) => {
                self.failed(w, format!("cannot read what the watch saw from the store: {e}"));
                return false;
            }
        };
        let stored: Option<Stored> = stored.and_then(|s| {
            serde_json::from_str(&s)
                .map_err(
                    |e| tracing::error!(watch = %w.name, error = %e, "stored watch memory unreadable; starting afresh"),
                )
                .ok()
        });
        let detector = match stored {
            Some(s) if s.identity == id => {
                tracing::info!(watch = %w.name, waiting = s.memory.seen.len(), "watch resumes what it saw before");
                self.saved = Some(s.memory.clone());
                Detector::resume(w.settle, w.start_existing, s.memory)
            }
            other => {
                if other.is_some() {
                    tracing::info!(watch = %w.name, "watch query, label, service or environment changed; the next poll is a new baseline");
                }
                self.saved = None;
                Detector::new(w.settle, w.start_existing)
            }
        };
        self.detector = Some((id, detector));
        true
    }

    /// Write the detector's memory when it changed; a failure is retried after the next poll.
    async fn save(&mut self, w: &Watch) {
        let Some((id, d)) = &self.detector else { return };
        if self.saved.as_ref() == Some(d.memory()) {
            return;
        }
        let memory = d.memory().clone();
        let json = serde_json::to_string(&Stored { identity: id.clone(), memory: memory.clone() }).unwrap_or_default();
        let batch = Batch { state: vec![(key(&w.name), json)], ..Default::default() };
        match self.inner.blocking(move |i| Ok(i.write(&batch)?)).await {
            Ok(()) => self.saved = Some(memory),
            Err(e) => {
                tracing::warn!(watch = %w.name, error = %e, "cannot store what the watch saw; kept in memory, retrying")
            }
        }
    }

    /// Start the release of a settled version, or find it started already. `None`: try again
    /// after the next poll (the store failed).
    async fn settled(&self, w: &Watch, s: &Settled) -> Option<Handled> {
        let version = s.version.clone();
        if let Err(e) = crate::validate::version(&version) {
            // The label is data from outside: shown escaped (Debug), once while it is present.
            tracing::warn!(watch = %w.name, version = ?version, error = %e, "watch skips a label that is not a valid version");
            return Some(Handled::Invalid);
        }
        let (service, environment) = (w.service.clone(), w.environment.clone());
        let q = (service.clone(), environment.clone(), version.clone());
        match self.inner.blocking(move |i| i.release_of(&q.0, &q.1, &q.2)).await {
            Ok(Some(id)) => {
                tracing::info!(watch = %w.name, %version, release = %id, "version settled; it already has a release");
                return Some(Handled::Existing);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(watch = %w.name, %version, error = %e, "cannot look for an existing release; retrying after the next poll");
                return None;
            }
        }
        let req = NewRelease {
            service,
            version: version.clone(),
            environment: Some(environment),
            deployed_at: Some(s.first_seen),
            window: Some(WindowOverride { min: w.window.min, max: w.window.max }),
            origin: Some(Origin::Watch { watch: w.name.clone() }),
            ..Default::default()
        };
        let engine = Engine(self.inner.clone());
        let started = tokio::task::spawn_blocking(move || engine.start_release(req))
            .await
            .unwrap_or_else(|e| Err(EngineError::Internal(e.to_string())));
        match started {
            Ok((view, created)) => {
                let id = &view.release.id;
                if created {
                    self.metrics.started();
                    tracing::info!(watch = %w.name, %version, release = %id, deployed_at = %s.first_seen.to_rfc3339(), "watch started a release");
                    Some(Handled::Started)
                } else {
                    tracing::info!(watch = %w.name, %version, release = %id, "version settled; its release was already open");
                    Some(Handled::Existing)
                }
            }
            Err(e @ (EngineError::Invalid { .. } | EngineError::Conflict(_))) => {
                tracing::warn!(watch = %w.name, %version, error = %e, "watch cannot start this release; skipped while the version stays");
                Some(Handled::Invalid)
            }
            Err(e) => {
                tracing::warn!(watch = %w.name, %version, error = %e, "watch could not start the release; retrying after the next poll");
                None
            }
        }
    }
}

/// Releases are read from the store this many at a time when looking for one.
const PAGE: usize = 500;

impl Inner {
    /// The id of a release of `service` in `environment` at `version`, in any state: in memory,
    /// or in the store (closed releases leave memory). Runs on the blocking pool.
    pub(crate) fn release_of(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> Result<Option<String>, EngineError> {
        self.find_release(service, environment, version, PAGE)
    }

    /// [`Inner::release_of`], reading `page` releases at a time from the store.
    fn find_release(
        &self,
        service: &str,
        environment: &str,
        version: &str,
        page: usize,
    ) -> Result<Option<String>, EngineError> {
        let is =
            |r: &crate::release::Release| r.service == service && r.environment == environment && r.version == version;
        if let Some(r) = self.state().values().find(|r| is(&r.release)) {
            return Ok(Some(r.release.id.clone()));
        }
        let mut q = ReleaseQuery { service: Some(service.to_string()), limit: page, ..Default::default() };
        loop {
            let rows = self.store.release_page(&q)?;
            if let Some((_, r)) = rows.iter().find(|(_, r)| is(r)) {
                return Ok(Some(r.id.clone()));
            }
            match rows.last() {
                Some((seq, _)) if rows.len() == page => q.before = Some(*seq),
                _ => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
#[path = "watcher_tests.rs"]
mod tests;
