//! Reloading the config and checklist while releases are watched: the new config replaces the
//! old only when it is valid; running releases keep their state (items removed from the
//! checklist stay in their history, new items start pending or manual) and their probe tasks
//! restart with the new probes.

use std::sync::Arc;

use super::{Engine, EngineError, runner};
use crate::config::Config;
use crate::probe::Runtime;
use crate::release::ItemState;

impl Engine {
    /// Swap in `config` (already validated by `config::load`).
    pub fn reload(&self, config: Config) -> Result<(), EngineError> {
        let inner = &self.0;
        let sources = crate::probe::source::build_all(&config.sources, &config.dir())
            .map_err(|errs| EngineError::Invalid { field: "sources".into(), message: errs.join("; ") })?;
        let config = Arc::new(config);
        let now = inner.clock.now();
        // New checklist items get records in every active release, written before the swap.
        let mut added = vec![];
        {
            let mut work = inner.work();
            for rel in work.values_mut().filter(|r| r.release.state.is_active()) {
                for (k, v) in super::ops::initial_items(&config, &rel.release.id, now) {
                    if let std::collections::btree_map::Entry::Vacant(slot) = rel.items.entry(k) {
                        added.push(v.clone());
                        slot.insert(Arc::new(v));
                    }
                }
                // Items bound or unbound by the new config move between manual and pending;
                // complete, failing, regressed and waived items keep their state.
                for (k, rec) in rel.items.iter_mut() {
                    let bound = config.is_bound(k);
                    let to = match (rec.state, bound) {
                        (ItemState::Manual, true) => ItemState::Pending,
                        (ItemState::Pending, false) => ItemState::Manual,
                        _ => continue,
                    };
                    let rec = Arc::make_mut(rec);
                    rec.state = to;
                    rec.since = now;
                    added.push(rec.clone());
                }
            }
            let stored = inner.write(&crate::store::Batch { items: added.clone(), ..Default::default() });
            for rel in work.values_mut().filter(|r| r.release.state.is_active()) {
                match stored {
                    Ok(()) => inner.publish(rel, true),
                    Err(_) => inner.restore(rel),
                }
            }
            stored?;
        }
        *inner.rt.write().unwrap_or_else(|e| e.into_inner()) = Runtime::with_sources(config.redactor.clone(), sources);
        *inner.config.write().unwrap_or_else(|e| e.into_inner()) = config;
        let active: Vec<String> =
            inner.state().values().filter(|r| r.release.state.is_active()).map(|r| r.release.id.clone()).collect();
        for id in &active {
            runner::start_release(inner, id);
        }
        super::keeper::spawn(inner);
        tracing::info!(releases = active.len(), new_items = added.len(), "config reloaded");
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
