//! Probe tasks and timers. One task per (active release, probe) sleeps until its next run
//! (tokio time), runs the probe under a timeout and hands the outcome to the engine; one timer
//! per deployed release wakes at window min and max. Cancelling a release's token stops them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::config::{Phase, ProbeDef};
use crate::probe::{Evidence, Outcome, ReleaseVars, RunContext, WindowVars};
use crate::release::{Release, ReleaseState};
use crate::schedule::{Schedule, random_jitter};

impl Inner {
    /// Cancel the tasks of release `id`.
    pub(crate) fn stop_release(&self, id: &str) {
        if let Some(t) = crate::sync::lock(&self.tasks, "tasks").remove(id) {
            t.cancel();
        }
    }
}

/// Most probe runs in flight at once. Runs beyond it wait for a slot (their lag shows it);
/// this bounds memory and sockets when many probes are due together, as after a restart.
pub(crate) const IN_FLIGHT: usize = 1024;

/// (Re)start the probe tasks and window timer of release `id` for its current phase.
pub(crate) fn start_release(inner: &Arc<Inner>, id: &str) {
    inner.stop_release(id);
    let cfg = inner.config();
    let Some(rel) = inner.state().get(id).cloned() else { return };
    let release = rel.release.clone();
    if !release.state.is_active() {
        return;
    }
    let token = inner.shutdown.child_token();
    crate::sync::lock(&inner.tasks, "tasks").insert(id.to_string(), token.clone());
    let deployed = release.state == ReleaseState::Deployed;
    let probes: BTreeSet<&String> =
        cfg.items.values().filter(|b| deployed || b.phase == Phase::PreDeploy).flat_map(|b| b.probes.iter()).collect();
    let promql = |d: Duration| format!("{}s", d.as_secs().max(1));
    let ctx = RunContext {
        release: ReleaseVars {
            id: release.id.clone(),
            service: release.service.clone(),
            version: release.version.clone(),
            environment: release.environment.clone(),
            deployed_at: release.deployed_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
        },
        window: WindowVars { elapsed: String::new(), min: promql(release.window_min), max: promql(release.window_max) },
        deployed: release.deployed_at,
        ..Default::default()
    };
    let anchor = release.deployed_at.unwrap_or(release.created_at);
    for name in probes {
        let Some(def) = cfg.probes.get(name) else { continue };
        let task = ProbeTask {
            last: rel.last.get(name.as_str()).map(|r| r.at),
            inner: inner.clone(),
            rt: inner.rt(),
            release: id.to_string(),
            def: def.clone(),
            ctx: ctx.clone(),
            anchor,
        };
        inner.tracker.spawn(task.run(token.clone()));
    }
    if deployed {
        inner.tracker.spawn(window_timer(inner.clone(), release, token));
    }
    tracing::debug!(release = id, "probe tasks started");
}

struct ProbeTask {
    inner: Arc<Inner>,
    /// The runtime of the config the task was started with (a reload restarts tasks).
    rt: crate::probe::Runtime,
    release: String,
    def: ProbeDef,
    ctx: RunContext,
    anchor: DateTime<Utc>,
    /// When its last stored result was taken (a restart or takeover resumes from there).
    last: Option<DateTime<Utc>>,
}

impl ProbeTask {
    async fn run(mut self, token: CancellationToken) {
        let clock = self.inner.clock;
        let delay = chrono::Duration::from_std(self.def.initial_delay).unwrap_or_default();
        let jitter = chrono::Duration::from_std(random_jitter(self.def.jitter)).unwrap_or_default();
        let mut next = match &self.def.schedule {
            Schedule::Every(every) => {
                let spread = random_jitter((*every).min(crate::schedule::RESUME_SPREAD));
                crate::schedule::resume_at(*every, self.anchor + delay, self.last, clock.now(), spread) + jitter
            }
            s @ Schedule::Cron { .. } => {
                let at = (self.anchor + delay).max(clock.now()) + jitter;
                s.next_after(at).unwrap_or(at)
            }
        };
        let metrics = self.inner.metrics.probe(&self.def.name, self.def.kind.name());
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep_until(clock.instant_at(next)) => {}
            }
            // At most IN_FLIGHT probes run at once (a restart makes every probe due together).
            let Ok(slot) = self.inner.probe_slots.acquire().await else { return };
            let started = clock.now();
            self.ctx.at(started);
            let limit = self.def.kind.timeout() + Duration::from_secs(1);
            let t0 = tokio::time::Instant::now();
            let outcome = tokio::select! {
                _ = token.cancelled() => return,
                o = tokio::time::timeout(limit, self.def.kind.run(&self.ctx, &self.rt)) => o.unwrap_or_else(|_| {
                    Outcome::error(Evidence { message: format!("probe did not finish within {}", humantime::format_duration(limit)), ..Default::default() })
                }),
            };
            drop(slot);
            tracing::debug!(release = %self.release, probe = %self.def.name, status = outcome.status.as_str(), "probe ran");
            metrics.ran(outcome.status, t0.elapsed());
            // Stored by the recorder, grouped with other results.
            self.inner.record(&self.release, &self.def.name, outcome, started).await;
            let now = clock.now();
            next = match &self.def.schedule {
                Schedule::Every(d) => {
                    let n = next + chrono::Duration::from_std(*d).unwrap_or_default();
                    if n < now { now } else { n }
                }
                s @ Schedule::Cron { .. } => match s.next_after(now) {
                    Some(n) => n,
                    None => return,
                },
            };
        }
    }
}

/// Wake at window min and max so verdicts do not wait for the next probe result.
async fn window_timer(inner: Arc<Inner>, release: Release, token: CancellationToken) {
    let clock = inner.clock;
    for d in [release.window_min, release.window_max] {
        let Some(at) = release.at(d) else { return };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep_until(clock.instant_at(at)) => {}
        }
        let (inner2, id) = (inner.clone(), release.id.clone());
        let _ = tokio::task::spawn_blocking(move || inner2.evaluate(&id)).await;
    }
}

/// Housekeeping: closed releases leave memory once `storage.keep_closed` has passed since they
/// closed (checked as often as that, at most every hour); hourly, the store deletes what is
/// older than `storage.retention` (results, closed releases with their items and history,
/// delivered keys, dead letters). Runs on the blocking pool.
pub(crate) fn spawn_housekeeping(inner: &Arc<Inner>) {
    let inner = inner.clone();
    let token = inner.shutdown.clone();
    inner.clone().tracker.spawn(async move {
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let prune = tokio::time::Instant::now() >= next_prune;
            if prune {
                next_prune += PRUNE_EVERY;
            }
            match inner.blocking(move |i| i.housekeeping(prune)).await {
                Ok(h) => {
                    let p = &h.pruned;
                    if p.total() > 0 {
                        tracing::info!(
                            results = p.results,
                            releases = p.releases,
                            history = p.history,
                            delivered = p.delivered,
                            dead_letters = p.dead_letters,
                            "pruned rows past retention"
                        );
                    }
                    if h.evicted > 0 {
                        tracing::debug!(releases = h.evicted, "closed releases left memory (still in the store)");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
            let every = inner.config().storage.keep_closed.0.clamp(Duration::from_secs(1), PRUNE_EVERY);
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// How often the store is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What one housekeeping pass did.
#[derive(Debug, Default)]
pub(crate) struct Housekept {
    pub pruned: crate::store::Pruned,
    /// Closed releases dropped from memory.
    pub evicted: usize,
}

impl Inner {
    /// One housekeeping pass (see [`spawn_housekeeping`]); `prune`: also apply retention.
    pub(crate) fn housekeeping(&self, prune: bool) -> Result<Housekept, super::EngineError> {
        let cfg = self.config();
        let now = self.clock.now();
        let before = now - super::ops::chrono_of(cfg.storage.retention.0);
        let evict_before = now - super::ops::chrono_of(cfg.storage.keep_closed.0);
        let mut work = self.work();
        let pruned = if prune { self.store.prune(before)? } else { Default::default() };
        let gone = |r: &Release| r.closed_at.is_some_and(|c| c < before || c < evict_before);
        let n = work.len();
        work.retain(|_, r| !gone(&r.release));
        let evicted = n - work.len();
        crate::sync::write(&self.published, "published").retain(|_, r| !gone(&r.release));
        let kept = self.state();
        crate::sync::lock(&self.items_json, "items_json").retain(|id, _| kept.contains_key(id));
        Ok(Housekept { pruned, evicted })
    }
}
