//! The delivery loop: sends due outbox notifications, removes them only after a 2xx (ticking
//! action items in the same transaction), retries failures with exponential backoff and
//! jitter, and dead-letters what is too old or rejected for good. A notification its receiver
//! kind says no longer applies (`notify::skip`: a GitHub status a newer state superseded) is
//! removed without sending.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::Inner;
use super::settle::Step;
use crate::notify::{self, DeliveryError};
use crate::store::{Batch, OutboxRecord, Target};
use crate::transition::Cause;

/// Backoff before attempt `attempts + 1`: 1 s, 2 s, 4 s ... capped at 5 min, ±20% jitter.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let base =
        Duration::from_secs(1).saturating_mul(1u32 << attempts.saturating_sub(1).min(20)).min(Duration::from_secs(300));
    let jitter = rand::random_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// Run the delivery loop until shutdown.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    let inner = inner.clone();
    let token = inner.shutdown.clone();
    inner.clone().tracker.spawn(async move {
        loop {
            // Only a writer may deliver: a deposed leader (its writes fenced) sends nothing more.
            let due = {
                let i = inner.clone();
                tokio::task::spawn_blocking(move || {
                    i.store.check_writable()?;
                    i.store.outbox_due(i.clock.now(), 32)
                })
                .await
            };
            match due {
                Ok(Ok(rows)) if !rows.is_empty() => {
                    let mut set = JoinSet::new();
                    for rec in rows {
                        set.spawn(deliver_one(inner.clone(), rec));
                    }
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = async { while set.join_next().await.is_some() {} } => {}
                    }
                    continue;
                }
                Ok(Err(e @ crate::store::StoreError::Fenced { .. })) => {
                    tracing::warn!(error = %e, "not delivering: deposed");
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the outbox"),
                _ => {}
            }

            // Sleep until the earliest retry is due (or new notifications wake us), at most
            // five minutes, so idle daemons (and paused-time tests) do not spin; a store that
            // cannot be read is asked again in five seconds.
            let stats = {
                let i = inner.clone();
                tokio::task::spawn_blocking(move || i.store.outbox_stats()).await
            };
            let wait = match stats {
                Ok(Ok((pending, next))) => {
                    inner.metrics.set_outbox_depth(pending as i64);
                    let now = inner.clock.now();
                    next.map(|n| (n - now).to_std().unwrap_or(Duration::ZERO).max(Duration::from_millis(50)))
                        .unwrap_or(Duration::from_secs(300))
                        .min(Duration::from_secs(300))
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot read the outbox");
                    Duration::from_secs(5)
                }
                Err(_) => Duration::from_secs(5),
            };
            tokio::select! {
                _ = token.cancelled() => return,
                _ = inner.outbox_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    });
}

async fn deliver_one(inner: Arc<Inner>, mut rec: OutboxRecord) {
    let cfg = inner.config();
    let now = inner.clock.now();
    let cx = notify::Context { http: inner.rt().http, sources: inner.rt().sources, redactor: cfg.redactor.clone() };
    let (result, max_age) = if rec.target == Target::RollbackHook {
        (rollback(&inner, &cfg, &rec, &cx).await, Duration::ZERO)
    } else {
        let Some(receiver) = cfg.notify.get(&rec.receiver).cloned() else {
            rec.dead = true;
            rec.last_error = Some(format!("receiver '{}' is no longer configured", rec.receiver));
            finish_failed(&inner, rec).await;
            return;
        };
        // A receiver showing one current state (GitHub statuses) must not get a superseded
        // state late; an action item is never ticked without a delivery.
        let now_state = inner.state().get(&rec.release_id()).map(|r| r.release.state);
        if rec.action_item.is_none()
            && let Some(why) = notify::skip(&receiver.kind, &rec.notification, now_state)
        {
            tracing::info!(receiver = %rec.receiver, key = %rec.key, reason = %why, "notification not sent");
            let d = notify::Delivered { status: 0, detail: format!("not sent: {why}") };
            let i = inner.clone();
            if !matches!(tokio::task::spawn_blocking(move || i.delivered(&rec, &d)).await, Ok(Ok(()))) {
                tracing::error!("a skipped notification could not be removed from the outbox; it is tried again");
            }
            return;
        }
        let r = match tokio::time::timeout(
            Duration::from_secs(20),
            notify::deliver(&receiver.kind, &rec.notification, &cx),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Retry("no answer within 20s".into())),
        };
        (r, receiver.max_age)
    };
    inner.metrics.delivery(&rec.receiver, result.is_ok());
    match result {
        Ok(d) => {
            tracing::info!(receiver = %rec.receiver, key = %rec.key, status = d.status, event = rec.notification.event.kind.as_str(), "notification delivered");
            let i = inner.clone();
            let stored = tokio::task::spawn_blocking(move || i.delivered(&rec, &d)).await;
            if !matches!(stored, Ok(Ok(()))) {
                // Sent but not recorded: the row stays and will be sent again (at least once,
                // with the same idempotency key); the store failure turned /-/ready to 503.
                let why = match stored {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(())) => String::new(),
                };
                tracing::error!(error = %why, "a delivered notification could not be recorded; it will be sent again");
            }
        }
        Err(e) => {
            rec.attempts += 1;
            rec.last_error = Some(cfg.redactor.redact(&e.to_string()));
            let age = (now - rec.created_at).to_std().unwrap_or_default();
            rec.dead = matches!(e, DeliveryError::Permanent(_)) || age >= max_age;
            rec.next_at = now + chrono::Duration::from_std(backoff(rec.attempts)).unwrap_or_default();
            if rec.dead {
                tracing::error!(receiver = %rec.receiver, key = %rec.key, attempts = rec.attempts, error = %e, "notification dead-lettered");
            } else {
                tracing::warn!(receiver = %rec.receiver, key = %rec.key, attempts = rec.attempts, error = %e, "delivery failed; will retry");
            }
            finish_failed(&inner, rec).await;
        }
    }
}

/// Run the rollback hook once. A failed rollback is never retried automatically: it is
/// dead-lettered (visible in the API and logs) for a person to act on.
async fn rollback(
    inner: &Inner,
    cfg: &crate::config::Config,
    rec: &OutboxRecord,
    cx: &notify::Context,
) -> Result<notify::Delivered, DeliveryError> {
    let Some(rb) = cfg.rollback.as_ref().filter(|r| r.auto_rollback) else {
        return Err(DeliveryError::Permanent("rollback is no longer enabled (auto_rollback: true)".into()));
    };
    tracing::warn!(release = %rec.release_id(), "running the rollback hook");
    if let Some(w) = &rb.webhook {
        return match notify::webhook::send(&w.url, w.secret.as_deref(), &w.headers, &rec.notification, cx).await {
            Err(DeliveryError::Retry(e)) => Err(DeliveryError::Permanent(e)),
            other => other,
        };
    }
    let Some(cmd) = &rb.command else { return Err(DeliveryError::Permanent("rollback has no hook".into())) };
    let r = &rec.notification.release;
    let mut ctx = crate::probe::RunContext {
        release: crate::probe::ReleaseVars {
            id: r.id.clone(),
            service: r.service.clone(),
            version: r.version.clone(),
            environment: r.environment.clone(),
            deployed_at: r.deployed_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
        },
        deployed: r.deployed_at,
        ..Default::default()
    };
    ctx.at(inner.clock.now());
    let out = cmd.run_redacted(&ctx, &cfg.redactor).await;
    match out.status {
        crate::probe::Status::Pass => {
            Ok(notify::Delivered { status: 0, detail: format!("rollback command succeeded: {}", out.evidence.message) })
        }
        _ => Err(DeliveryError::Permanent(format!("rollback command failed: {}", out.evidence.message))),
    }
}

/// Record a failed attempt (off the async workers). If even that cannot be stored, the row
/// keeps its previous schedule and is tried again: say so loudly.
async fn finish_failed(inner: &Arc<Inner>, rec: OutboxRecord) {
    let i = inner.clone();
    let key = rec.key.clone();
    let r = tokio::task::spawn_blocking(move || i.write_outbox_update(&rec)).await;
    if !matches!(r, Ok(Ok(()))) {
        tracing::error!(key = %key, "cannot record a failed delivery attempt; it will be retried as if it had not happened");
    }
}

impl Inner {
    /// A notification was delivered: remove its row and, for an action item, tick it — one
    /// change through the commit path. A row whose release is gone is still removed.
    fn delivered(self: &Arc<Self>, rec: &OutboxRecord, d: &notify::Delivered) -> Result<(), super::EngineError> {
        let release = rec.release_id();
        let mut txn = self.txn();
        if !txn.has(&release)? {
            txn.extra().delivered.push(rec.id);
            return txn.commit();
        }
        let (cfg, now) = (txn.cfg.clone(), txn.now);
        let (rel, fx) = txn.rel(&release)?;
        fx.delivered.push(rec.id);
        if let Some(item) = rec.action_item.as_deref() {
            let how = if d.status == 0 { d.detail.clone() } else { format!("HTTP {}", d.status) };
            let message = format!("delivered to {} ({how}) at {}", rec.receiver, now.format("%Y-%m-%d %H:%M:%S UTC"));
            let cause = Cause::Action { event: rec.notification.event.kind, receiver: Some(rec.receiver.clone()) };
            let step = Step::action(cause, message, Some(d.status));
            let _ = super::settle::move_item(&cfg, rel, item, step, now, fx);
        }
        txn.settle(&release, true)?;
        txn.commit()
    }

    /// Store a failed attempt's bookkeeping (attempts, next try, dead) through the writer.
    fn write_outbox_update(&self, rec: &OutboxRecord) -> Result<(), crate::store::StoreError> {
        self.write(&Batch { outbox_updates: vec![rec.clone()], ..Default::default() })
    }
}

impl OutboxRecord {
    /// The release the notification is about.
    pub fn release_id(&self) -> String {
        self.notification.release.id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        for (attempts, lo, hi) in [(1, 0.8, 1.2), (2, 1.6, 2.4), (4, 6.4, 9.6), (20, 240.0, 360.0)] {
            let b = backoff(attempts).as_secs_f64();
            assert!((lo..=hi).contains(&b), "attempt {attempts}: {b}");
        }
    }
}
