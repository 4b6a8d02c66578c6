//! Reloading the config and checklist while releases are watched: the new config replaces the
//! old only when it is valid; running releases keep their state (items removed from the
//! checklist stay in their history, new items start pending or manual) and their probe tasks
//! restart with the new probes.

use std::sync::Arc;

use super::{Engine, EngineError};
use crate::config::Config;
use crate::probe::Runtime;

impl Engine {
    /// Swap in `config` (already validated by `config::load`): one change that rebinds every
    /// active release and swaps the config at its commit, under the writers' lock, so no tick
    /// or result is applied with the new config and the old bindings (or the reverse).
    pub fn reload(&self, config: Config) -> Result<(), EngineError> {
        let inner = &self.0;
        let sources = crate::probe::source::build_all(&config.sources, &config.dir())
            .map_err(|errs| EngineError::Invalid { field: "sources".into(), message: errs.join("; ") })?;
        let before = inner.config().metrics;
        if before != config.metrics {
            tracing::warn!(
                probe_histograms = config.metrics.probe_histograms,
                "metrics.probe_histograms changed: it takes effect at the next start (the metric families are fixed while running)"
            );
        }
        let config = Arc::new(config);
        let rt = Runtime::with_sources(config.redactor.clone(), sources);
        if self.is_follower() {
            // A follower writes nothing: it takes the config for when it leads, and shows the
            // leader's state (rebound items appear once the leader reloads too).
            inner.swap_config(config, rt);
            tracing::info!("config reloaded (follower: used from the next takeover)");
            return Ok(());
        }
        let mut txn = inner.txn();
        txn.reload(config.clone(), rt);
        let now = txn.now;
        let mut active = 0;
        for id in txn.ids() {
            if !txn.is_active(&id) {
                continue;
            }
            let (rel, fx) = txn.rel(&id)?;
            super::ops::reconcile(&config, rel, now, fx, "a reload");
            txn.settle(&id, true)?;
            txn.restart(&id);
            active += 1;
        }
        txn.commit()?;
        super::keeper::spawn(inner);
        super::watcher::spawn(inner);
        tracing::info!(releases = active, "config reloaded");
        Ok(())
    }

    /// Re-read `path` and swap it in; on any error the old config keeps running. Records the
    /// outcome in `/metrics`.
    pub fn reload_from(&self, path: &std::path::Path) -> Result<(), String> {
        let now = self.0.clock.now().timestamp() as f64;
        let result = match crate::config::load(path) {
            Ok(loaded) => self.reload(loaded.config).map_err(|e| e.to_string()),
            Err(errs) => Err(errs.to_string()),
        };
        self.0.metrics.reloaded(result.is_ok(), now);
        if let Err(e) = &result {
            tracing::error!(config = %path.display(), error = %e, "reload rejected; the previous config keeps running");
        }
        result
    }
}
