//! Replicas on PostgreSQL: one leader runs the watch, the others follow.
//!
//! Every replica runs [`run`]: every third of the lease it heartbeats and renews (leader) or
//! tries to take (follower) the lease in the database ([`lease`]). The leader's engine is the
//! full one (probes, recorder, timers, outbox delivery, Alertmanager keeper), its store fenced
//! at its epoch; a follower's engine only reads what the leader stored, refreshed every step
//! (so reads are at most a third of a lease behind), and its API forwards writes to the leader.
//!
//! - **Takeover:** on taking the lease, the replica fences its store at the new epoch, builds a
//!   leader engine (which recovers every open release from the database and resumes probes,
//!   re-sends and the outbox) and swaps it in for its follower engine.
//! - **Step-down:** a leader whose renewal did not succeed within the lease (minus a margin:
//!   lost connection, paused process, deposed) swaps a follower engine back in and shuts the
//!   old engine down: it stops probing before anyone else may take the lease, and any write
//!   it still attempts is refused by the epoch.

pub mod lease;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::engine::{ClusterStatus, Engine, EngineCell, EngineError};
use crate::store::{Fence, PgStore, Store};

/// This replica: its name (unique in the cluster) and the URL other replicas forward writes to.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub url: String,
    pub lease: Duration,
}

/// Where this replica stands.
enum Role {
    Follower,
    /// Leads at `epoch`; must step down at `deadline` unless a renewal succeeds first.
    Leader {
        epoch: i64,
        deadline: Instant,
    },
}

/// Run the lease loop until `stop`; the cell starts with a follower engine.
pub async fn run(
    store: Arc<PgStore>,
    cell: EngineCell,
    me: Member,
    bound: std::net::SocketAddr,
    stop: CancellationToken,
) {
    let tick = me.lease / 3;
    // A leader stops a fifth of the lease before it expires for the others.
    let margin = me.lease / 5;
    let lease_ms = me.lease.as_millis() as i64;
    let mut role = Role::Follower;
    loop {
        let epoch = match role {
            Role::Leader { epoch, .. } => Some(epoch),
            Role::Follower => None,
        };
        let started = Instant::now();
        let (s, m) = (store.clone(), me.clone());
        let step = tokio::time::timeout(
            tick,
            tokio::task::spawn_blocking(move || {
                let mut c = s.conn()?;
                let step = lease::step(&mut c, &m.name, &m.url, epoch, lease_ms)?;
                let (leader, replicas) = lease::read(&mut c, lease_ms * 3)?;
                Ok::<_, crate::store::StoreError>((step, leader, replicas))
            }),
        )
        .await;
        let step = match step {
            Ok(Ok(Ok(v))) => Some(v),
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, replica = %me.name, "lease step failed");
                None
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "lease step panicked");
                None
            }
            Err(_) => {
                tracing::warn!(replica = %me.name, "lease step timed out (database unreachable?)");
                None
            }
        };
        role = match (role, step.as_ref().map(|v| v.0)) {
            (Role::Leader { epoch, .. }, Some(lease::Step::Leading)) => {
                Role::Leader { epoch, deadline: started + me.lease - margin }
            }
            (Role::Leader { epoch, .. }, Some(lease::Step::Lost)) => {
                tracing::warn!(replica = %me.name, epoch, "deposed: another replica leads now");
                step_down(&cell).await;
                Role::Follower
            }
            (Role::Leader { epoch, deadline }, _) if Instant::now() >= deadline => {
                tracing::warn!(replica = %me.name, epoch, "could not renew the lease in time; stepping down");
                step_down(&cell).await;
                Role::Follower
            }
            (Role::Follower, Some(lease::Step::Acquired(epoch))) => {
                match take_over(&store, &cell, &me, epoch, bound).await {
                    Ok(()) => Role::Leader { epoch, deadline: started + me.lease - margin },
                    Err(e) => {
                        tracing::error!(error = %e, epoch, "takeover failed; following");
                        Role::Follower
                    }
                }
            }
            (Role::Follower, _) => {
                let engine = cell.get();
                if engine.is_follower()
                    && let Err(e) = tokio::task::spawn_blocking(move || engine.refresh())
                        .await
                        .unwrap_or_else(|e| Err(EngineError::Internal(e.to_string())))
                {
                    tracing::warn!(error = %e, "follower refresh failed");
                }
                Role::Follower
            }
            (leader, _) => leader,
        };
        if step.is_none()
            && let Some(mut c) = cell.cluster()
        {
            // Cut off from the database: say what this replica does now (it may have stepped down).
            c.leading = matches!(role, Role::Leader { .. });
            cell.set_cluster(c);
        }
        if let Some((_, leader, replicas)) = step {
            let (leading, epoch_now) = match role {
                Role::Leader { epoch, .. } => (true, epoch),
                Role::Follower => (false, leader.as_ref().map_or(0, |l| l.epoch)),
            };
            let alive = leader.as_ref().filter(|l| replicas.iter().any(|r| r.name == l.holder));
            cell.set_cluster(ClusterStatus {
                name: me.name.clone(),
                leader: alive.map(|l| l.holder.clone()),
                leader_url: alive.map(|l| l.url.clone()),
                epoch: epoch_now,
                since: leader.as_ref().map(|l| lease::time(l.since_ms)),
                leading,
                replicas,
            });
        }
        let next = started + tick;
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
    if let Role::Leader { epoch, .. } = role {
        let (s, name) = (store.clone(), me.name.clone());
        let _ = tokio::task::spawn_blocking(move || {
            let mut c = s.conn()?;
            lease::release(&mut c, &name, epoch)?;
            Ok::<_, crate::store::StoreError>(())
        })
        .await;
        tracing::info!(replica = %me.name, epoch, "gave up the lease");
    }
}

/// Fence the store at `epoch`, build the leader's engine (recovering every open release) and
/// swap it in.
async fn take_over(
    store: &Arc<PgStore>,
    cell: &EngineCell,
    me: &Member,
    epoch: i64,
    bound: std::net::SocketAddr,
) -> Result<(), EngineError> {
    store.fence(Some(Fence { holder: me.name.clone(), epoch }));
    let cfg: Arc<Config> = cell.get().config();
    let s: Arc<dyn Store> = store.clone();
    let leader = tokio::task::spawn_blocking(move || Engine::start(cfg, s))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
    leader.set_bound_addr(bound);
    let old = cell.set(leader);
    old.shutdown().await;
    tracing::info!(replica = %me.name, epoch, "took the lease: leading");
    Ok(())
}

/// Swap a follower engine in — seeded from the leader's last state, without asking the
/// database, which may be what failed — and stop the leader's engine at once: its probes and
/// timers end now, and whatever it still tries to write is refused by the fence.
async fn step_down(cell: &EngineCell) {
    let current = cell.get();
    let old = match current.follower_of() {
        Ok(f) => cell.set(f),
        // Same config as the leader's: cannot fail but for a bug. The old engine keeps serving
        // its last snapshots, stopped.
        Err(e) => {
            tracing::error!(error = %e, "cannot build a follower engine");
            current
        }
    };
    tokio::spawn(async move { old.shutdown().await });
}
