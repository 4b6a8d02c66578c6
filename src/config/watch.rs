//! `watch:`: releases detected from Prometheus. Each entry names a `prometheus` source and an
//! instant query whose series carry the running version in a label (`count by (version)
//! (app_build_info{job="checkout"})`), the service and environment the releases are for, how
//! often to ask (`every`) and how long a new version must be seen before it counts as deployed
//! (`settle`). The engine runs one task per entry (`engine/watcher.rs`); this file only reads and
//! checks the section.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ctx::{Ctx, obj_entries, p};
use super::error::did_you_mean;
use super::{Source, Window};
use crate::probe::Dur;

/// How often a watch asks by default.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(30);
/// How long a new version must be seen by default before its release starts.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(120);
/// The shortest `every:` (a watch is one small query; faster buys nothing).
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// One `watch:` entry, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub name: String,
    /// A `prometheus` source.
    pub source: String,
    /// Instant query; each series is one running version.
    pub query: String,
    /// The label that carries the version (default `version`).
    pub version_label: String,
    pub service: String,
    /// Default `production`.
    pub environment: String,
    pub every: Duration,
    /// A version must be present on every poll for this long before its release starts.
    pub settle: Duration,
    /// Per-watch window override of the releases it starts (the config's `window:` otherwise).
    pub window: WatchWindow,
    /// Versions already running at the first poll get a release too (default: they are the
    /// baseline and get none).
    pub start_existing: bool,
}

impl Watch {
    /// What identifies the versions a watch has seen: a change of any of these makes the
    /// versions it remembers meaningless (they are forgotten and the next poll is a baseline).
    pub fn identity(&self) -> [&str; 4] {
        [&self.service, &self.environment, &self.query, &self.version_label]
    }
}

/// `window: { min, max }` of a watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchWindow {
    #[serde(default)]
    pub min: Option<Dur>,
    #[serde(default)]
    pub max: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    prometheus: RawQuery,
    service: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    every: Option<Dur>,
    #[serde(default)]
    settle: Option<Dur>,
    #[serde(default)]
    version_label: Option<String>,
    #[serde(default)]
    window: Option<WatchWindow>,
    #[serde(default)]
    start_existing: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    source: String,
    query: String,
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Read and check every `watch:` entry; problems are reported at `watch.NAME.KEY`.
pub(super) fn watches(
    cx: &mut Ctx,
    root: &Map<String, Value>,
    sources: &BTreeMap<String, Source>,
    window: &Window,
) -> BTreeMap<String, Watch> {
    let mut out = BTreeMap::new();
    for (name, v) in obj_entries(cx, root, "watch") {
        let path = p(&["watch", &name]);
        let at = |k: &[&str]| [path.clone(), p(k)].concat();
        let Some(raw) = cx.de::<Raw>(&v, &path) else { continue };
        let mut ok = true;
        let mut bad = |cx: &mut Ctx, key: &[&str], message: String, hint: Option<String>| {
            cx.at_value(&at(key), format!("watch.{name}.{}: {message}", key.join(".")), hint);
            ok = false;
        };
        let src = &raw.prometheus.source;
        if !matches!(sources.get(src), Some(Source::Prometheus(_))) {
            let fitting = sources.iter().filter(|(_, s)| matches!(s, Source::Prometheus(_))).map(|(k, _)| k.as_str());
            let why = match sources.get(src) {
                Some(s) => format!("'{src}' is an {} source; a watch needs a prometheus source", s.kind()),
                None => format!("'{src}' is not defined under sources:"),
            };
            let hint = did_you_mean(src, fitting)
                .or_else(|| Some("add e.g. sources: { prom: { prometheus: { url: http://127.0.0.1:9090 } } }".into()));
            bad(cx, &["prometheus", "source"], why, hint);
        }
        if raw.prometheus.query.trim().is_empty() {
            let hint = Some(r#"write e.g. query: 'count by (version) (app_build_info{job="checkout"})'"#.into());
            bad(cx, &["prometheus", "query"], "is empty".into(), hint);
        }
        let version_label = raw.version_label.unwrap_or_else(|| "version".into());
        if !label_name(&version_label) {
            let hint = Some("a Prometheus label name: letters, digits and '_', not starting with a digit".into());
            bad(cx, &["version_label"], format!("{version_label:?} is not a label name"), hint);
        }
        if let Err(e) = crate::validate::service(&raw.service) {
            bad(cx, &["service"], e, None);
        }
        let environment = raw.environment.unwrap_or_else(|| "production".into());
        if let Err(e) = crate::validate::environment(&environment) {
            bad(cx, &["environment"], e, None);
        }
        let every = raw.every.map_or(DEFAULT_EVERY, |d| d.0);
        let settle = raw.settle.map_or(DEFAULT_SETTLE, |d| d.0);
        let human = |d: Duration| humantime::format_duration(d).to_string();
        if every < MIN_EVERY {
            bad(cx, &["every"], format!("must be at least {}", human(MIN_EVERY)), Some("write e.g. every: 30s".into()));
        } else if settle < every {
            let message = format!(
                "{} is shorter than every ({}): a version would count after one poll",
                human(settle),
                human(every)
            );
            let hint = Some(format!("make settle at least {} (e.g. settle: 2m)", human(every)));
            bad(cx, &["settle"], message, hint);
        }
        let w = raw.window.unwrap_or_default();
        let (min, max) = (w.min.unwrap_or(window.min).0, w.max.unwrap_or(window.max).0);
        if min > max {
            let message = format!("min ({}) is longer than max ({})", human(min), human(max));
            bad(cx, &["window"], message, Some("make max ≥ min (the config's window: fills a missing one)".into()));
        } else if max < Duration::from_secs(1) {
            bad(cx, &["window", "max"], "must be at least 1s".into(), None);
        }
        if ok {
            let (source, query) = (raw.prometheus.source, raw.prometheus.query);
            let (service, start_existing) = (raw.service, raw.start_existing);
            let watch = Watch {
                name: name.clone(),
                source,
                query,
                version_label,
                service,
                environment,
                every,
                settle,
                window: w,
                start_existing,
            };
            out.insert(name, watch);
        }
    }
    out
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
