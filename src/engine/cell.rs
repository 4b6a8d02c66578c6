//! The engine a surface should use now, and this replica's place in a cluster.
//!
//! With SQLite (one process) the cell holds one engine forever. With PostgreSQL replicas it
//! holds the leader's full engine while this replica leads and a follower's read-only engine
//! otherwise; `crate::cluster` swaps them at takeover and step-down. Surfaces take
//! [`EngineCell::get`] once per request.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Engine;

/// One replica as the cluster table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replica {
    pub name: String,
    /// Where its API listens (writes are forwarded there when it leads).
    pub url: String,
    pub leader: bool,
    /// Its last heartbeat.
    pub seen_at: DateTime<Utc>,
}

/// `GET /api/v1/cluster`: the replicas, which one leads, since when, at which epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterStatus {
    /// This replica.
    pub name: String,
    pub leader: Option<String>,
    pub leader_url: Option<String>,
    pub epoch: i64,
    pub since: Option<DateTime<Utc>>,
    /// Whether this replica leads.
    pub leading: bool,
    pub replicas: Vec<Replica>,
}

/// The current engine, and the cluster status when replicated.
#[derive(Clone)]
pub struct EngineCell {
    engine: Arc<RwLock<Engine>>,
    cluster: Arc<RwLock<Option<ClusterStatus>>>,
}

impl EngineCell {
    pub fn new(engine: Engine) -> Self {
        EngineCell { engine: Arc::new(RwLock::new(engine)), cluster: Arc::new(RwLock::new(None)) }
    }

    /// The engine to use for this request.
    pub fn get(&self) -> Engine {
        crate::sync::read(&self.engine, "engine cell").clone()
    }

    /// Put `engine` in place; returns the one it replaces.
    pub fn set(&self, engine: Engine) -> Engine {
        std::mem::replace(&mut *crate::sync::write(&self.engine, "engine cell"), engine)
    }

    /// The cluster status (None: a single process on SQLite).
    pub fn cluster(&self) -> Option<ClusterStatus> {
        crate::sync::read(&self.cluster, "cluster status").clone()
    }

    pub fn set_cluster(&self, status: ClusterStatus) {
        *crate::sync::write(&self.cluster, "cluster status") = Some(status);
    }

    /// Where writes go when this replica follows: the leader's URL (None: lead, or alone, or
    /// no leader right now).
    pub fn forward_to(&self) -> Option<Result<String, ()>> {
        let c = self.cluster()?;
        if c.leading {
            return None;
        }
        Some(c.leader_url.filter(|u| !u.is_empty()).ok_or(()))
    }
}
