//! Read-only views of releases and items for the API, the CLI and the checklist rendering.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Engine, EngineError, Rel};
use crate::checklist::Mark;
use crate::config::{Config, Mode, PassRule};
use crate::release::{HistoryRecord, ItemEvidence, ItemState, Release, ReleaseState, ResultRecord};
use crate::transition::Cause;

/// Item counts by state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub complete: usize,
    pub pending: usize,
    pub failing: usize,
    pub regressed: usize,
    pub manual: usize,
    pub waived: usize,
    /// Could not be measured for longer than `stale_after` (amber: nobody can tell).
    pub unknown: usize,
}

/// Window progress, in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub min_s: f64,
    pub max_s: f64,
    pub elapsed_s: Option<f64>,
    /// Seconds until the watch ends at the latest (max), or none when closed / not deployed.
    pub remaining_s: Option<f64>,
}

/// One item as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub id: String,
    pub text: String,
    pub section: Option<String>,
    pub state: ItemState,
    pub since: DateTime<Utc>,
    pub automated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassRule>,
    /// What put the item in its state (a rule, a person, an action...).
    pub cause: Cause,
    /// The person who ticked or waived it, if a person did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Their note or waiver reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<ItemEvidence>,
    /// Latest result of each bound probe.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_results: Vec<ResultRecord>,
    /// How its binding counts: `gate`, `warn` or `shadow` (absent when nothing is bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// When a bound probe last measured (a result that was not `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_at: Option<DateTime<Utc>>,
    /// Share of the elapsed window in which the item was measured (0–1), as of its release's
    /// last change; absent before the deploy or for items without probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// The least coverage a `verified` verdict needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_coverage: Option<f64>,
    /// Seconds without a measurement after which the item is `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_after_s: Option<f64>,
}

/// The coverage of one item of a deployed release (for `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemCoverage {
    pub release: String,
    pub item: String,
    pub ratio: f64,
}

/// A release with its window and, in the detailed view, its items.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseView {
    #[serde(flatten)]
    pub release: Release,
    pub window: WindowView,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
}

impl Counts {
    /// Count `n` more items in `state`.
    pub(crate) fn add(&mut self, state: ItemState, n: usize) {
        *match state {
            ItemState::Complete => &mut self.complete,
            ItemState::Pending => &mut self.pending,
            ItemState::Failing => &mut self.failing,
            ItemState::Regressed => &mut self.regressed,
            ItemState::Manual => &mut self.manual,
            ItemState::Waived => &mut self.waived,
            ItemState::Unknown => &mut self.unknown,
        } += n;
    }
}

pub(crate) fn counts(rel: &Rel) -> Counts {
    let mut c = Counts::default();
    for i in rel.items.values() {
        c.add(i.state, 1);
    }
    c
}

pub(super) fn window(rel: &Release, now: DateTime<Utc>) -> WindowView {
    let elapsed = rel.deployed_at.map(|d| (rel.closed_at.unwrap_or(now) - d).num_milliseconds() as f64 / 1000.0);
    let remaining = match (rel.state, rel.at(rel.window_max)) {
        (ReleaseState::Deployed, Some(max)) => Some(((max - now).num_milliseconds() as f64 / 1000.0).max(0.0)),
        _ => None,
    };
    WindowView {
        min_s: rel.window_min.as_secs_f64(),
        max_s: rel.window_max.as_secs_f64(),
        elapsed_s: elapsed,
        remaining_s: remaining,
    }
}

/// When a release's coverage is read "as of" in its views: its close, else its latest result
/// (deterministic per snapshot, so the cached items JSON stays right).
fn coverage_as_of(rel: &Rel) -> DateTime<Utc> {
    rel.release.closed_at.or(rel.last.values().map(|r| r.at).max()).unwrap_or(rel.release.created_at)
}

fn item_view(cfg: &Config, rel: &Rel, id: &str, as_of: DateTime<Utc>) -> Option<ItemView> {
    let rec = rel.items.get(id)?;
    let b = cfg.items.get(id);
    let it = cfg.checklist.get(id);
    let probes = b.map(|b| b.probes.clone()).unwrap_or_default();
    // Coverage is for items whose probes move them (not shadow ones, not action items).
    let measured = b.filter(|b| !b.probes.is_empty() && b.mode != Mode::Shadow);
    Some(ItemView {
        id: id.to_string(),
        text: it.map(|i| i.text.clone()).unwrap_or_else(|| format!("{id} (no longer in the checklist)")),
        section: it.and_then(|i| i.section.clone()),
        state: rec.state,
        since: rec.since,
        automated: cfg.is_bound(id),
        pass: b.filter(|b| !b.probes.is_empty()).map(|b| b.pass),
        last_results: probes.iter().filter_map(|p| rel.last.get(p).map(|r| (**r).clone())).collect(),
        probes,
        by: rec.cause.person().map(String::from),
        note: rec.cause.note().map(String::from),
        cause: rec.cause.clone(),
        evidence: rec.evidence.clone(),
        mode: b.map(|b| b.mode),
        fresh_at: rec.fresh_at,
        coverage: measured.and_then(|b| crate::rules::coverage(rec, &rel.release, as_of.max(rec.since), b.stale_after)),
        min_coverage: measured.map(|b| b.min_coverage),
        stale_after_s: measured.map(|b| b.stale_after.as_secs_f64()),
    })
}

fn item_views(cfg: &Config, rel: &Rel) -> Vec<ItemView> {
    // Checklist order first, then records of items since removed from the checklist.
    let mut ids: Vec<&str> =
        cfg.checklist.items.iter().map(|i| i.id.as_str()).filter(|i| rel.items.contains_key(*i)).collect();
    ids.extend(rel.items.keys().map(String::as_str).filter(|k| cfg.checklist.get(k).is_none()));
    let as_of = coverage_as_of(rel);
    ids.into_iter().filter_map(|id| item_view(cfg, rel, id, as_of)).collect()
}

pub(super) fn view(cfg: &Config, rel: &Rel, now: DateTime<Utc>, detailed: bool) -> ReleaseView {
    let items = detailed.then(|| item_views(cfg, rel));
    ReleaseView { release: rel.release.clone(), window: window(&rel.release, now), counts: counts(rel), items }
}

/// The JSON of a snapshot's items, kept while the snapshot and the config are current. The
/// `Arc`s are held (not only compared) so a pointer is never reused while cached.
pub(crate) struct ItemsJson {
    rel: Arc<Rel>,
    cfg: Arc<Config>,
    json: Arc<[u8]>,
}

impl Engine {
    /// `f` on release `id` as last stored. Reads the store when the release has left memory:
    /// call it from a blocking thread, or through [`Engine::read`].
    fn with<T>(&self, id: &str, f: impl FnOnce(&Config, &Rel, DateTime<Utc>) -> Option<T>) -> Result<T, EngineError> {
        let cfg = self.0.config();
        let now = self.0.clock.now();
        let rel = self.0.snapshot(id)?;
        f(&cfg, &rel, now).ok_or_else(|| EngineError::NotFound(format!("not found in release '{id}'")))
    }

    /// Run `f`, a view of release `id`, where it may read the store: right here when the release
    /// is in memory, else on the blocking pool (a closed release that has left memory).
    pub async fn read<T: Send + 'static>(
        &self,
        id: &str,
        f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        if self.0.state().contains_key(id) {
            return f(self);
        }
        let engine = self.clone();
        tokio::task::spawn_blocking(move || f(&engine)).await.map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Releases in memory (every active one, and closed ones within `storage.keep_closed`),
    /// newest first, without items: the status page and `/metrics`. The API's list is
    /// [`Engine::list`], paginated over the store.
    pub fn releases(&self) -> Vec<ReleaseView> {
        let cfg = self.0.config();
        let now = self.0.clock.now();
        let state = self.0.state();
        let mut v: Vec<ReleaseView> = state.values().map(|r| view(&cfg, r, now, false)).collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.release.created_at));
        v
    }

    /// The coverage of every automated item (gate and warn) of every deployed release, now.
    pub fn coverage(&self) -> Vec<ItemCoverage> {
        let cfg = self.0.config();
        let now = self.0.clock.now();
        let mut out = vec![];
        for rel in self.0.state().values().filter(|r| r.release.state == ReleaseState::Deployed) {
            for (id, b) in cfg.acting().filter(|(_, b)| !b.probes.is_empty()) {
                let Some(item) = rel.items.get(id) else { continue };
                if let Some(ratio) = crate::rules::coverage(item, &rel.release, now, b.stale_after) {
                    out.push(ItemCoverage { release: rel.release.id.clone(), item: id.clone(), ratio });
                }
            }
        }
        out
    }

    /// One release with its items.
    pub fn release(&self, id: &str) -> Result<ReleaseView, EngineError> {
        self.with(id, |cfg, rel, now| Some(view(cfg, rel, now, true)))
    }

    /// [`Engine::release`] as JSON, the body of `GET /api/v1/releases/{id}`. The items (the
    /// bulk) are serialized once per stored change and reused until the next; the window is
    /// computed for every call.
    pub fn release_json(&self, id: &str) -> Result<Vec<u8>, EngineError> {
        let cfg = self.0.config();
        let now = self.0.clock.now();
        let rel = self.0.snapshot(id)?;
        let cached = {
            let cache = crate::sync::lock(&self.0.items_json, "items_json");
            cache.get(id).filter(|c| Arc::ptr_eq(&c.rel, &rel) && Arc::ptr_eq(&c.cfg, &cfg)).map(|c| c.json.clone())
        };
        let items = match cached {
            Some(j) => j,
            None => {
                let json: Arc<[u8]> = serde_json::to_vec(&item_views(&cfg, &rel)).unwrap_or_default().into();
                // Cached for releases in memory only: one read from the store is not kept.
                if self.0.state().get(id).is_some_and(|p| Arc::ptr_eq(p, &rel)) {
                    let entry = ItemsJson { rel: rel.clone(), cfg: cfg.clone(), json: json.clone() };
                    crate::sync::lock(&self.0.items_json, "items_json").insert(id.to_string(), entry);
                }
                json
            }
        };
        let head = ReleaseView { items: None, ..view(&cfg, &rel, now, false) };
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        out.reserve(items.len() + 12);
        out.pop(); // the closing brace
        out.extend_from_slice(b",\"items\":");
        out.extend_from_slice(&items);
        out.push(b'}');
        Ok(out)
    }

    /// One item of one release.
    pub fn item(&self, id: &str, item: &str) -> Result<ItemView, EngineError> {
        self.with(id, |cfg, rel, _| item_view(cfg, rel, item, coverage_as_of(rel)))
            .map_err(|_| EngineError::NotFound(format!("no item '{item}' in release '{id}'")))
    }

    /// [`Engine::results`] for code already on a blocking thread.
    pub fn results_blocking(
        &self,
        id: &str,
        probe: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ResultRecord>, EngineError> {
        self.with(id, |_, _, _| Some(()))?;
        Ok(self.0.store.results(id, probe, limit)?)
    }

    /// Probe results, newest first (read on the blocking pool).
    pub async fn results(&self, id: &str, probe: Option<&str>, limit: usize) -> Result<Vec<ResultRecord>, EngineError> {
        let (id, probe) = (id.to_string(), probe.map(String::from));
        self.0
            .blocking(move |i| {
                i.snapshot(&id)?;
                Ok(i.store.results(&id, probe.as_deref(), limit)?)
            })
            .await
    }

    /// [`Engine::history`] for code already on a blocking thread.
    pub fn history_blocking(&self, id: &str) -> Result<Vec<HistoryRecord>, EngineError> {
        self.with(id, |_, _, _| Some(()))?;
        Ok(self.0.store.history(id)?)
    }

    /// State changes of a release, oldest first (read on the blocking pool).
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryRecord>, EngineError> {
        let id = id.to_string();
        self.0
            .blocking(move |i| {
                i.snapshot(&id)?;
                Ok(i.store.history(&id)?)
            })
            .await
    }

    /// The release report (JSON): final once the release is closed (read on the blocking pool).
    pub async fn report(&self, id: &str) -> Result<super::report::Report, EngineError> {
        let id = id.to_string();
        self.0
            .blocking(move |i| {
                let rel = i.snapshot(&id)?;
                let history = i.store.history(&id)?;
                Ok(super::report::build(&i.config(), &rel, &history, i.clock.now()))
            })
            .await
    }

    /// Outbox rows (pending and dead-lettered), as the API shows them.
    pub async fn outbox(&self) -> Result<Vec<serde_json::Value>, EngineError> {
        let rows = self.0.blocking(|i| Ok(i.store.outbox()?)).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "key": r.key, "receiver": r.receiver, "event": r.notification.event.kind,
                    "release": r.notification.release.id, "item": r.notification.event.item,
                    "action_item": r.action_item, "attempts": r.attempts, "created_at": r.created_at,
                    "next_at": r.next_at, "last_error": r.last_error, "dead": r.dead,
                })
            })
            .collect())
    }

    /// The team's checklist with `[x]` on complete items and a short note.
    pub fn checklist_md(&self, id: &str) -> Result<String, EngineError> {
        self.with(id, |cfg, rel, _| {
            let mut marks = BTreeMap::new();
            for it in &cfg.checklist.items {
                let Some(rec) = rel.items.get(&it.id) else { continue };
                let when = rec.since.format("%Y-%m-%d %H:%M UTC");
                let note = match (rec.state, &rec.cause) {
                    (ItemState::Complete, Cause::Checklist) => None,
                    (ItemState::Complete, Cause::Tick { by, note }) => Some(format!(
                        "✓ {when} by {by}{}",
                        note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
                    )),
                    (ItemState::Complete, _) => {
                        let why = rec.evidence.as_ref().map(|e| {
                            let p = e.probe.as_deref().map(|p| format!("{p}: ")).unwrap_or_default();
                            format!(" ({p}{})", e.evidence.message)
                        });
                        Some(format!("✓ {when} by shipwatch{}", why.unwrap_or_default()))
                    }
                    (ItemState::Waived, Cause::Waive { by, reason }) => {
                        Some(format!("waived {when} by {by}: {reason}"))
                    }
                    (ItemState::Waived, _) => Some(format!("waived {when}")),
                    (ItemState::Failing | ItemState::Regressed, _) => {
                        Some(format!("✗ {} since {when}", rec.state.as_str()))
                    }
                    _ => None,
                };
                // Redacted before rendering: `render` escapes the note, after which a secret
                // would no longer match.
                let note = note.map(|n| cfg.redactor.redact(&n));
                let checked = rec.state.is_done();
                if checked != it.checked || note.is_some() {
                    marks.insert(it.id.clone(), Mark { checked, note });
                }
            }
            Some(cfg.checklist.render(&marks))
        })
    }
}
