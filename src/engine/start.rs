//! Starting a release: the `POST /api/v1/releases` body, its validation, the answers to a
//! repeat (the open release of the same service, version and environment; the release an
//! `Idempotency-Key` already created) and the new release's first transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ops::{checked, initial_items, invalid};
use super::settle::Effects;
use super::{Engine, EngineError, Rel};
use crate::checklist::slug;
use crate::config::Window;
use crate::probe::Dur;
use crate::release::{Idempotency, Origin, ReleaseSpec};
use crate::transition;
use crate::validate;

/// Body of `POST /api/v1/releases`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    pub service: String,
    pub version: String,
    #[serde(default)]
    pub environment: Option<String>,
    /// RFC 3339; anything else is refused naming the format (see [`validate::time`]).
    #[serde(default, deserialize_with = "rfc3339")]
    pub deployed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub planned: bool,
    #[serde(default)]
    pub window: Option<WindowOverride>,
    /// Start a second release even when one of the same service, version and environment is
    /// still open (without it, a repeat answers with the open one: a retried CI job).
    #[serde(default)]
    pub new: bool,
    /// The commit deployed: 7-64 hex digits.
    #[serde(default)]
    pub commit: Option<String>,
    /// Free labels (`{"team": "payments"}`), shown on the page and copied into notifications.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Set by shipwatch, never by the body: who started it (a watch, a GitHub deployment).
    #[serde(skip)]
    pub origin: Option<Origin>,
    /// Set from the `Idempotency-Key` header, never by the body.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

/// `deployed_at` as RFC 3339 (or null), with a message that names the format.
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| validate::time(&s).map_err(serde::de::Error::custom)).transpose()
}

impl NewRelease {
    /// SHA-256 of the request's fields (not the key): a repeat with the key must match it.
    fn digest(&self, environment: &str) -> String {
        let w = self.window.as_ref();
        let canon = serde_json::json!([
            self.service,
            self.version,
            environment,
            self.deployed_at,
            self.planned,
            w.and_then(|w| w.min).map(|d| d.0.as_secs_f64()),
            w.and_then(|w| w.max).map(|d| d.0.as_secs_f64()),
            self.new,
            self.commit.as_deref().map(str::to_ascii_lowercase),
            self.labels,
        ]);
        hex::encode(Sha256::digest(canon.to_string().as_bytes()))
    }
}

/// A per-release window, overriding the config's: an object with `min` and/or `max` (a list
/// such as `[null, null]`, which serde would take field by field, is refused).
#[derive(Debug, Clone, Default)]
pub struct WindowOverride {
    pub min: Option<Dur>,
    pub max: Option<Dur>,
}

impl<'de> Deserialize<'de> for WindowOverride {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            min: Option<Dur>,
            max: Option<Dur>,
        }
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"an object like {"min": "1h", "max": "24h"}"#)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Fields, A::Error> {
                Fields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let f = d.deserialize_map(Object)?;
        Ok(WindowOverride { min: f.min, max: f.max })
    }
}

impl Engine {
    /// Start watching a new release.
    pub fn create_release(&self, req: NewRelease) -> Result<super::ReleaseView, EngineError> {
        Ok(self.start_release(req)?.0)
    }

    /// Start watching a release, or — unless `req.new` — answer with the open release of the
    /// same service, version and environment (`false`: nothing was created), so a retried CI
    /// job never starts a second watch of one deploy.
    pub fn start_release(&self, req: NewRelease) -> Result<(super::ReleaseView, bool), EngineError> {
        let inner = &self.0;
        // Release fields end up in probe URLs, commands, queries and ids: validated here.
        checked("service", validate::service(&req.service))?;
        checked("version", validate::version(&req.version))?;
        let environment = req.environment.clone().unwrap_or_else(|| "production".into());
        checked("environment", validate::environment(&environment))?;
        let commit = req.commit.as_deref().map(str::to_ascii_lowercase);
        if let Some(c) = &commit {
            checked("commit", validate::commit(c))?;
        }
        checked("labels", validate::labels(&req.labels))?;
        let idempotency = match &req.idempotency_key {
            Some(key) => {
                checked("Idempotency-Key", validate::idempotency_key(key))?;
                Some(Idempotency { key: key.clone(), digest: req.digest(&environment) })
            }
            None => None,
        };
        if req.planned && req.deployed_at.is_some() {
            return Err(invalid(
                "deployed_at",
                "a planned release has no deployed_at yet; deploy it with POST .../deploy",
            ));
        }
        let mut txn = inner.txn();
        let (cfg, now) = (txn.cfg.clone(), txn.now);
        if let Some(idem) = &idempotency {
            // The key names one request: its release answers any repeat, open or closed (while
            // it is kept in memory: open, or closed within `storage.keep_closed`).
            let seen = inner.state().values().find_map(|r| {
                let i = r.release.idempotency.as_ref().filter(|i| i.key == idem.key)?;
                Some((r.release.id.clone(), i.digest == idem.digest))
            });
            match seen {
                Some((id, true)) => {
                    drop(txn);
                    return Ok((self.release(&id)?, false));
                }
                Some((id, false)) => {
                    return Err(invalid(
                        "Idempotency-Key",
                        format!(
                            "was already used for another request (it created release '{id}'); \
                             send a new key for a different release"
                        ),
                    ));
                }
                None => {}
            }
        }
        if !req.new {
            // Under the writers' lock the snapshots are what is stored: no create can race this.
            let open = inner
                .state()
                .values()
                .find(|r| {
                    let r = &r.release;
                    r.state.is_active()
                        && r.service == req.service
                        && r.version == req.version
                        && r.environment == environment
                })
                .map(|r| r.release.id.clone());
            if let Some(id) = open {
                drop(txn);
                return Ok((self.release(&id)?, false));
            }
        }
        if let Some(d) = req.deployed_at
            && d > now + chrono::Duration::minutes(5)
        {
            return Err(invalid("deployed_at", "is in the future"));
        }
        let window = merge_window(cfg.window, req.window.as_ref())?;
        let base = format!("{}-{}", slug(&req.service), slug(&req.version));
        let mut id = base.clone();
        for n in 2.. {
            if !txn.has(&id)? {
                break;
            }
            id = format!("{base}-{n}");
        }
        let spec = ReleaseSpec {
            id: id.clone(),
            service: req.service,
            version: req.version,
            environment,
            deployed_at: req.deployed_at,
            window_min: window.min.0,
            window_max: window.max.0,
            commit,
            labels: req.labels,
            origin: req.origin,
            idempotency,
        };
        let (release, started) =
            transition::new_release(spec, req.planned, now).map_err(|e| EngineError::Conflict(e.to_string()))?;
        let items = initial_items(&cfg, &id, now);
        let mut fx = Effects { items: items.keys().cloned().collect(), ..Default::default() };
        let mut rel = Rel { items, release, last: BTreeMap::new() };
        fx.changed(&mut rel, started, None);
        txn.insert(rel, fx);
        txn.settle(&id, true)?;
        txn.restart(&id);
        txn.commit()?;
        Ok((self.release(&id)?, true))
    }
}

fn merge_window(base: Window, o: Option<&WindowOverride>) -> Result<Window, EngineError> {
    let mut w = base;
    if let Some(o) = o {
        if let Some(m) = o.min {
            w.min = m;
        }
        if let Some(m) = o.max {
            w.max = m;
        }
    }
    if w.max.0 < w.min.0 {
        return Err(invalid("window", "max is shorter than min"));
    }
    if w.max.0 < Duration::from_secs(1) {
        return Err(invalid("window.max", "must be at least 1s"));
    }
    Ok(w)
}
