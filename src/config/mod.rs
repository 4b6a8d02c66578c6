//! The YAML configuration: its typed shape and the loader that validates it.
//!
//! `load` reads the file, expands `${VAR}` from the environment, expands `use:` templates (built
//! in, or from `probes/` beside the config), resolves item references against the checklist and
//! reports *every* problem with `file:line:col`. Everything after loading works on the typed [`Config`].

mod ctx;
mod entries;
mod env;
pub mod error;
pub mod integrations;
pub mod lint;
mod load;
mod placeholder;
mod server;
pub mod template;
mod watch;
mod yaml_pos;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::checklist::Checklist;
use crate::event::EventKind;
use crate::probe::{Dur, ProbeKind};
use crate::redact::Redactor;
use crate::schedule::Schedule;

pub use error::{ConfigError, ConfigErrors};
pub use integrations::{GithubHook, Integrations};
pub use load::{Loaded, RESERVED_RECEIVER, load, load_str, load_with_env};
pub use placeholder::FILL_ME;
pub use server::Server;
pub use watch::{Watch, WatchWindow};

/// `sources:` entries are the probes' own types (a source client is built from one).
pub use crate::probe::source_config::{BasicAuth, Source, SourceEndpoint, Tls};

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub server: Server,
    pub storage: Storage,
    pub checklist_path: PathBuf,
    pub checklist: Arc<Checklist>,
    pub window: Window,
    /// `coverage:`: the global freshness and coverage settings (bindings may override them).
    pub coverage: Coverage,
    /// `metrics:`: what shipwatch's own `/metrics` keeps per probe.
    pub metrics: MetricsSettings,
    pub sources: BTreeMap<String, Source>,
    pub notify: BTreeMap<String, Receiver>,
    pub probes: BTreeMap<String, ProbeDef>,
    /// Bindings keyed by resolved item id.
    pub items: BTreeMap<String, Binding>,
    /// The optional automatic rollback hook.
    pub rollback: Option<Rollback>,
    /// `integrations:`: the GitHub webhook.
    pub integrations: Integrations,
    /// `watch:`: releases started when a Prometheus query shows a new version.
    pub watches: BTreeMap<String, Watch>,
    pub redactor: Redactor,
}

impl Config {
    /// Whether shipwatch (not a person) ticks item `id`: bound to probes or an event (in
    /// `gate` or `warn` mode: a `shadow` binding never changes its item), or the item of an
    /// enabled rollback hook.
    pub fn is_bound(&self, id: &str) -> bool {
        self.items.get(id).is_some_and(|b| b.mode != Mode::Shadow)
            || self.rollback.as_ref().is_some_and(|r| r.auto_rollback && r.item.as_deref() == Some(id))
    }

    /// The directory relative paths of this config resolve against.
    pub fn dir(&self) -> PathBuf {
        self.file.parent().map(std::path::Path::to_path_buf).unwrap_or_default()
    }

    /// Items bound to at least one probe (every mode).
    pub fn automated(&self) -> usize {
        self.items.values().filter(|b| !b.probes.is_empty()).count()
    }

    /// The bindings that move their items: every mode but `shadow`.
    pub fn acting(&self) -> impl Iterator<Item = (&String, &Binding)> {
        self.items.iter().filter(|(_, b)| b.mode != Mode::Shadow)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// SQLite file; relative paths are relative to the config file. Default:
    /// `./data/shipwatch.db` relative to the working directory.
    #[serde(default)]
    pub sqlite: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: replicas sharing one database (exactly one of the two).
    #[serde(default)]
    pub postgres: Option<Postgres>,
    #[serde(default = "default_retention")]
    pub retention: Dur,
    /// How long a closed release stays in memory (and on the status page's front page) after
    /// it closed; later it is read from the store when asked for. Default 1h.
    #[serde(default = "default_keep_closed")]
    pub keep_closed: Dur,
}

impl Default for Storage {
    fn default() -> Self {
        Storage { sqlite: None, postgres: None, retention: default_retention(), keep_closed: default_keep_closed() }
    }
}

/// `storage.postgres`: where the replicas' shared database is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// A `postgres://` URL or `key=value` connection string (`${DATABASE_URL}`; its password is
    /// a secret like every `${VAR}` value).
    pub url: String,
    /// Connections in the pool (default 8).
    #[serde(default = "default_pool")]
    pub pool: u32,
    /// The leadership lease (default 10s): a leader renews it every third; a follower takes
    /// it over once it has expired; a leader that cannot renew stops probing before that.
    #[serde(default = "default_lease")]
    pub lease: Dur,
}

fn default_lease() -> Dur {
    Dur(Duration::from_secs(10))
}

fn default_pool() -> u32 {
    8
}

fn default_keep_closed() -> Dur {
    Dur(Duration::from_secs(3600))
}

fn default_retention() -> Dur {
    Dur(Duration::from_secs(30 * 86400))
}

/// The watch after `deployed_at`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default = "default_min")]
    pub min: Dur,
    #[serde(default = "default_max")]
    pub max: Dur,
}

impl Default for Window {
    fn default() -> Self {
        Window { min: default_min(), max: default_max() }
    }
}

fn default_min() -> Dur {
    Dur(Duration::from_secs(24 * 3600))
}
fn default_max() -> Dur {
    Dur(Duration::from_secs(48 * 3600))
}

/// A named receiver: how it is reached and which events it gets by default (besides the items
/// that name it in their `notify:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub kind: Notifier,
    /// Events sent to this receiver for every release and item.
    pub events: Vec<EventKind>,
    /// Give up (dead-letter) on a notification this old (default 1h).
    pub max_age: Duration,
}

/// How a receiver is reached. One file per kind under `notify/`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Notifier {
    Alertmanager {
        source: String,
        /// `severity` label of the alerts (default `page`).
        #[serde(default)]
        severity: Option<String>,
        /// Re-send active alerts this often (default 1m); `endsAt` = now + 4 × interval.
        #[serde(default)]
        interval: Option<Dur>,
        /// Keep re-sending resolved alerts this long (default 5m).
        #[serde(default)]
        resolve_for: Option<Dur>,
    },
    Webhook {
        url: String,
        #[serde(default)]
        secret: Option<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    Slack {
        url: String,
    },
    /// Commit statuses (and deployment statuses for releases from a GitHub deployment).
    Github {
        /// `owner/name`.
        repo: String,
        /// A token that may write statuses (`${GITHUB_TOKEN}`).
        token: String,
        /// The REST API root (default `https://api.github.com`; GitHub Enterprise Server:
        /// `https://HOST/api/v3`).
        #[serde(default)]
        api_url: Option<String>,
    },
}

/// A configured probe: its kind and its schedule.
#[derive(Debug, Clone)]
pub struct ProbeDef {
    pub name: String,
    pub kind: ProbeKind,
    pub schedule: Schedule,
    pub initial_delay: Duration,
    /// Upper bound of the random offset added to the first run.
    pub jitter: Duration,
    pub description: Option<String>,
    /// The template it came from, if any.
    pub template: Option<String>,
    /// Ignored (check-config warns): items become `unknown` after `stale_after` instead.
    pub error_limit: Option<u32>,
}

/// When an item ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PassRule {
    /// N passes in a row of every bound probe.
    Consecutive(u32),
    /// Passing without a fail for this long.
    Sustained(#[serde(with = "humantime_serde_compat")] Duration),
    /// No fail across the whole window; ticks when the window closes.
    Window,
}

/// When an item fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRule {
    #[serde(default = "default_fail_consecutive")]
    pub consecutive: u32,
    /// Failing this item fails the whole release at once.
    #[serde(default)]
    pub abort: bool,
}

impl Default for FailRule {
    fn default() -> Self {
        FailRule { consecutive: default_fail_consecutive(), abort: false }
    }
}

fn default_fail_consecutive() -> u32 {
    3
}

/// Before or after the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Runs while the release is `planned` and after (pre-release checks).
    PreDeploy,
    /// Runs once the release is `deployed`.
    #[default]
    PostDeploy,
}

/// An item's probes and rules.
#[derive(Debug, Clone)]
pub struct Binding {
    pub item: String,
    pub probes: Vec<String>,
    pub pass: PassRule,
    pub fail: FailRule,
    pub notify: Vec<String>,
    pub on: Option<EventKind>,
    pub phase: Phase,
    /// What the item's evidence may do: gate the release, only warn, or nothing (shadow).
    pub mode: Mode,
    /// After this long without a measurement (every bound probe `error`), the item is
    /// `unknown`. Resolved at load: the binding's, else `coverage.stale_after`, else 3 × the
    /// longest interval of its probes, at least 1 minute.
    pub stale_after: Duration,
    /// The least share of the window the item must have been measured in for a `verified`
    /// verdict (binding's, else `coverage.min_coverage`, default 0.9).
    pub min_coverage: f64,
}

/// How much a binding's evidence counts (`mode:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The item changes state, notifies and decides the verdict.
    #[default]
    Gate,
    /// The item changes state and notifies, but never fails or blocks the release; the
    /// verdict lists it.
    Warn,
    /// Results are recorded and shown, marked shadow; the item stays a manual item and
    /// nothing is notified or counted (a dry run for a new probe or query).
    Shadow,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Gate => "gate",
            Mode::Warn => "warn",
            Mode::Shadow => "shadow",
        }
    }
}

/// `coverage:`: when an item counts as unmeasured, and how much of the window must be measured.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Global `stale_after` (default: per binding, 3 × its probes' interval, at least 1m).
    #[serde(default)]
    pub stale_after: Option<Dur>,
    /// Global `min_coverage`, a share between 0 and 1 (default 0.9).
    #[serde(default = "default_min_coverage")]
    pub min_coverage: f64,
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage { stale_after: None, min_coverage: default_min_coverage() }
    }
}

fn default_min_coverage() -> f64 {
    0.9
}

/// `metrics:`: the size of shipwatch's own `/metrics`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A 12-bucket run-duration histogram per probe (default); `false` keeps one
    /// `shipwatch_probe_run_seconds_total` counter per probe instead. Read at start.
    #[serde(default = "yes")]
    pub probe_histograms: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings { probe_histograms: true }
    }
}

fn yes() -> bool {
    true
}

/// The least default `stale_after` (an explicit one may be shorter, as tests need).
pub const MIN_DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

mod humantime_serde_compat {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

#[cfg(test)]
mod tests;

/// `rollback:`: a hook run on the first regression of a deployed release, only with
/// `auto_rollback: true`. Its outcome ticks the rollback item.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// Safety switch: without it the hook never runs.
    #[serde(default)]
    pub auto_rollback: bool,
    #[serde(default)]
    pub webhook: Option<RollbackWebhook>,
    #[serde(default)]
    pub command: Option<crate::probe::command::CommandProbe>,
    /// The item its outcome ticks (id or text; default "Execute documented rollback procedure").
    #[serde(default)]
    pub item: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RollbackWebhook {
    pub url: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}
