//! The recorder: probe results are stored in groups. Probe tasks queue their outcome and wait
//! for it to be stored; one recorder takes everything queued (up to [`GROUP`]), applies it to
//! the releases' working copies, writes it in **one** transaction, publishes the changed
//! releases and only then acknowledges. A result is therefore never visible, announced or
//! notified before it is stored, and under load one transaction carries many results (group
//! commit, as databases do it); when the load is light a group holds a single result and
//! nothing waits for a timer.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::Inner;
use super::settle::{self, Effects};
use crate::probe::{Evidence, Outcome};
use crate::release::ResultRecord;
use crate::store::Batch;

/// Results waiting to be stored before probe tasks wait to queue more (back-pressure).
pub(crate) const QUEUE: usize = 4096;
/// Most results in one transaction.
pub(crate) const GROUP: usize = 512;

/// One probe run on its way to the store.
pub(crate) struct Recorded {
    pub release: String,
    pub probe: String,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
    /// Told once the result is stored (or dropped: release gone, store failed).
    pub done: oneshot::Sender<()>,
}

impl Inner {
    /// Queue a probe result and wait until it is stored.
    pub(crate) async fn record(&self, release: &str, probe: &str, outcome: Outcome, at: DateTime<Utc>) {
        let (done, stored) = oneshot::channel();
        let r = Recorded { release: release.into(), probe: probe.into(), outcome, at, done };
        if self.recorder.send(r).await.is_ok() {
            let _ = stored.await;
        }
    }

    /// Apply a group of results and store them in one transaction. Returns how many were
    /// stored (results for releases gone or closed are dropped).
    pub(crate) fn record_group(&self, group: Vec<(String, String, Outcome, DateTime<Utc>)>) -> usize {
        let cfg = self.config();
        let now = self.clock.now();
        let mut work = self.work();
        let mut touched: BTreeMap<String, Effects> = BTreeMap::new();
        let mut stored = 0;
        for (id, probe, outcome, at) in group {
            let Some(rel) = work.get_mut(&id) else { continue };
            if !rel.release.state.is_active() {
                continue;
            }
            let evidence = Evidence {
                message: cfg.redactor.redact(&outcome.evidence.message),
                target: outcome.evidence.target.as_deref().map(|t| cfg.redactor.redact(t)),
                ..outcome.evidence
            };
            let r = ResultRecord { release_id: id.clone(), probe, at, status: outcome.status, evidence };
            let mut fx = Effects::default();
            settle::apply_result(&cfg, rel, r, &mut fx);
            settle::settle(&cfg, rel, now, &mut fx);
            self.route(&cfg, rel, now, &mut fx);
            touched.entry(id).or_default().absorb(fx);
            stored += 1;
        }
        if touched.is_empty() {
            return 0;
        }
        let wake = touched.values().any(|fx| !fx.outbox.is_empty());
        let mut batch = Batch::default();
        for (id, fx) in &mut touched {
            batch.extend(fx.take_batch(&work[id]));
        }
        if let Err(e) = self.write(&batch) {
            for id in touched.keys() {
                if let Some(rel) = work.get_mut(id) {
                    self.restore(rel);
                }
            }
            tracing::warn!(results = stored, error = %e, "results not recorded");
            return 0;
        }
        let mut closed = vec![];
        for (id, fx) in &touched {
            let rel = &work[id];
            self.publish(rel, fx.seen());
            if !rel.release.state.is_active() {
                closed.push(id.clone());
            }
        }
        drop(work);
        self.metrics.recorded(stored);
        if wake {
            self.outbox_wake.notify_one();
        }
        for id in closed {
            self.stop_release(&id);
        }
        for fx in touched.into_values() {
            self.emit(fx.events);
        }
        stored
    }
}

/// Start the recorder. It holds the engine weakly: when the engine is dropped the queue
/// closes and the recorder ends.
pub(crate) fn spawn(inner: &Arc<Inner>, mut queue: mpsc::Receiver<Recorded>) {
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        let mut buf = Vec::with_capacity(GROUP);
        while queue.recv_many(&mut buf, GROUP).await > 0 {
            let Some(inner) = weak.upgrade() else { return };
            let (rows, acks): (Vec<_>, Vec<_>) =
                buf.drain(..).map(|r| ((r.release, r.probe, r.outcome, r.at), r.done)).unzip();
            // SQLite writes block: keep them off the async workers (one blocking thread).
            let _ = tokio::task::spawn_blocking(move || inner.record_group(rows)).await;
            for a in acks {
                let _ = a.send(());
            }
        }
    });
}
