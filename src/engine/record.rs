//! The recorder: probe results are stored in groups. Probe tasks queue their outcome (waiting
//! only while the queue is full) and go on; one recorder takes everything queued (up to
//! [`GROUP`]), applies it in order to the releases' working copies, writes it in **one**
//! transaction and only then publishes the changed releases. A result is therefore never
//! visible, announced or notified before it is stored; shutdown flushes the queue. A group gathers for [`LINGER`] after its first result (or
//! until [`GROUP`] results), so at 500 results/s a transaction carries about 25 of them; a
//! group that is already full when the recorder gets to it is written at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::Inner;
use super::settle;
use crate::probe::{Evidence, Outcome};
use crate::release::ResultRecord;

/// Results waiting to be stored before probe tasks wait to queue more (back-pressure).
pub(crate) const QUEUE: usize = 4096;
/// Most results in one transaction.
pub(crate) const GROUP: usize = 512;
/// How long the recorder lets a group gather after its first result: results arriving within
/// it share one transaction. Bounds how late a result becomes visible; the schedule does not
/// drift (next runs are planned from the schedule, not from when a result was stored).
pub(crate) const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// What the recorder's queue carries.
#[allow(clippy::large_enum_variant)] // nearly every message is a result: boxing would allocate per run
pub(crate) enum Recorded {
    /// One probe run on its way to the store.
    Result { release: String, probe: String, outcome: Outcome, at: DateTime<Utc> },
    /// Told once everything queued before it is stored (shutdown).
    Flush(oneshot::Sender<()>),
}

impl Inner {
    /// Queue a probe result (waits only while the queue is full).
    pub(crate) async fn record(&self, release: &str, probe: &str, outcome: Outcome, at: DateTime<Utc>) {
        let r = Recorded::Result { release: release.into(), probe: probe.into(), outcome, at };
        let _ = self.recorder.send(r).await;
    }

    /// Wait until every result queued so far is stored (or dropped).
    pub(crate) async fn flush_results(&self) {
        let (done, flushed) = oneshot::channel();
        if self.recorder.send(Recorded::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// Apply a group of results and store them in one transaction. Returns how many were
    /// stored (results for releases gone or closed are dropped).
    pub(crate) fn record_group(self: &Arc<Self>, group: Vec<(String, String, Outcome, DateTime<Utc>)>) -> usize {
        let mut txn = self.txn();
        let cfg = txn.cfg.clone();
        let mut stored = 0;
        for (id, probe, outcome, at) in group {
            if !txn.is_active(&id) {
                continue;
            }
            let evidence = Evidence {
                message: cfg.redactor.redact(&outcome.evidence.message),
                target: outcome.evidence.target.as_deref().map(|t| cfg.redactor.redact(t)),
                ..outcome.evidence
            };
            let r = ResultRecord { release_id: id.clone(), probe, at, status: outcome.status, evidence };
            let settled = txn.rel(&id).map(|(rel, fx)| settle::apply_result(&cfg, rel, r, fx));
            if let Err(e) = settled.and_then(|()| txn.settle(&id, false)) {
                tracing::warn!(release = %id, error = %e, "results not recorded");
                return 0;
            }
            stored += 1;
        }
        if stored == 0 {
            return 0;
        }
        if let Err(e) = txn.commit() {
            tracing::warn!(results = stored, error = %e, "results not recorded");
            return 0;
        }
        self.metrics.recorded(stored);
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
            let flushing = |b: &[Recorded]| b.iter().any(|r| matches!(r, Recorded::Flush(_)));
            if buf.len() < GROUP && !flushing(&buf) {
                tokio::time::sleep(LINGER).await;
                while buf.len() < GROUP {
                    match queue.try_recv() {
                        Ok(r) => buf.push(r),
                        Err(_) => break,
                    }
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            let mut rows = Vec::with_capacity(buf.len());
            let mut flushes = vec![];
            for r in buf.drain(..) {
                match r {
                    Recorded::Result { release, probe, outcome, at } => rows.push((release, probe, outcome, at)),
                    Recorded::Flush(done) => flushes.push(done),
                }
            }
            // SQLite writes block: keep them off the async workers (one blocking thread).
            if !rows.is_empty() {
                let _ = tokio::task::spawn_blocking(move || inner.record_group(rows)).await;
            }
            for f in flushes {
                let _ = f.send(());
            }
        }
    });
}
