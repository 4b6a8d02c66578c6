//! Probe kinds and their outcomes.
//!
//! A probe is a configured check; running it yields an [`Outcome`]: `pass`, `fail` or `error`
//! (could not measure) with [`Evidence`]. Probes never touch the store or the engine state: the
//! engine runs them and records what they return. Each kind lives in its own file and is
//! registered in the closed, serde-tagged [`ProbeKind`] enum.

pub mod alert_rules;
pub mod alerts;
pub mod command;
pub mod compare;
pub mod condition;
pub mod http;
pub mod http_expect;
pub mod matcher;
pub mod nagios;
pub mod percent;
pub mod prometheus;
pub mod promql;
pub mod request_template;
pub mod slo;
pub mod source;
pub mod source_config;
pub mod transport;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::outcome::{Evidence, Outcome, Status};

/// Per-release values a probe may template into its target (`{{ release.version }}`,
/// `{{ window.elapsed }}`, `{{ deployed_at }}`), plus the times metric probes need.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunContext {
    pub release: ReleaseVars,
    pub window: WindowVars,
    /// Unix seconds of the deploy (for PromQL `@ {{ deployed_at }}`); empty before the deploy.
    pub deployed_at: String,
    /// The deploy time (baselines, `since: deploy`).
    #[serde(skip)]
    pub deployed: Option<chrono::DateTime<chrono::Utc>>,
    /// When this run started (evaluation time of metric queries).
    #[serde(skip)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// The `window` object seen by templates; durations in PromQL form (`3600s`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowVars {
    pub elapsed: String,
    pub min: String,
    pub max: String,
}

impl RunContext {
    /// Refresh the time-dependent fields for a run starting at `now`.
    pub fn at(&mut self, now: chrono::DateTime<chrono::Utc>) {
        self.now = Some(now);
        if let Some(d) = self.deployed {
            self.window.elapsed = format!("{}s", (now - d).num_seconds().max(1));
            self.deployed_at = d.timestamp().to_string();
        }
    }

    /// `now`, or the wall clock when the engine did not set it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now.unwrap_or_else(chrono::Utc::now)
    }
}

/// The `release` object seen by templates.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleaseVars {
    pub id: String,
    pub service: String,
    pub version: String,
    pub environment: String,
    pub deployed_at: String,
}

impl RunContext {
    /// Fill `{{ release.* }}` placeholders in `text`. Unknown variables are an error so a typo
    /// never silently probes the wrong URL.
    pub fn render(&self, text: &str) -> Result<String, String> {
        self.render_with(text, |value| Ok(value.to_string()))
    }

    /// Like [`RunContext::render`], but the text of every value a `{{ … }}` outputs passes
    /// through `emit`, which returns what to write in its place (the value escaped for where it
    /// lands, or a marker) or refuses it. Text the operator wrote in the template is kept as is.
    pub fn render_with(
        &self,
        text: &str,
        emit: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
    ) -> Result<String, String> {
        render_ctx(self, text, emit)
    }

    /// Like [`RunContext::render`], but `{{ window }}` is `range`, the PromQL range a metric probe
    /// is evaluating (e.g. `3600s`): the `slo` probe's burn windows, a `compare` probe's sides.
    pub fn render_range(&self, text: &str, range: &str) -> Result<String, String> {
        #[derive(Serialize)]
        struct WithRange<'a> {
            release: &'a ReleaseVars,
            deployed_at: &'a str,
            window: &'a str,
        }
        let ctx = WithRange { release: &self.release, deployed_at: &self.deployed_at, window: range };
        render_ctx(&ctx, text, |value| Ok(value.to_string()))
    }
}

/// Render `text` over the serialized `ctx` (strict: an unknown variable is an error), passing
/// every output value through `emit`.
fn render_ctx<C: Serialize>(
    ctx: &C,
    text: &str,
    emit: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
) -> Result<String, String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(text.to_string());
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_formatter(move |out, _state, value| {
        let text = if value.is_undefined() { String::new() } else { value.to_string() };
        let shown = emit(&text).map_err(|m| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, m))?;
        out.write_str(&shown).map_err(minijinja::Error::from)
    });
    env.render_str(text, minijinja::value::Serde(ctx)).map_err(|e| format!("template {text:?}: {e}"))
}

/// Names of the probe kinds, as written in YAML.
pub const KINDS: &[&str] = &["http", "command", "prometheus", "alerts", "rules", "compare", "slo"];

/// The closed set of probe kinds. The YAML key names the kind: `http: {...}`, `command: {...}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Http(http::HttpProbe),
    Command(command::CommandProbe),
    Prometheus(prometheus::PromProbe),
    Alerts(alerts::AlertsProbe),
    Rules(alert_rules::RulesProbe),
    Compare(compare::CompareProbe),
    Slo(slo::SloProbe),
}

impl ProbeKind {
    /// Short kind name for logs, metrics and the API.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Command(_) => "command",
            ProbeKind::Prometheus(_) => "prometheus",
            ProbeKind::Alerts(_) => "alerts",
            ProbeKind::Rules(_) => "rules",
            ProbeKind::Compare(_) => "compare",
            ProbeKind::Slo(_) => "slo",
        }
    }

    /// The timeout after which a run is abandoned and recorded as `error`.
    pub fn timeout(&self) -> Duration {
        match self {
            ProbeKind::Http(p) => p.timeout(),
            ProbeKind::Command(p) => p.timeout(),
            ProbeKind::Prometheus(p) => p.timeout(),
            ProbeKind::Alerts(p) => p.timeout(),
            ProbeKind::Rules(p) => p.timeout(),
            ProbeKind::Compare(p) => p.timeout(),
            ProbeKind::Slo(p) => p.timeout(),
        }
    }

    /// Run the probe once for one release.
    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        match self {
            ProbeKind::Http(p) => p.run(ctx, rt).await,
            ProbeKind::Command(p) => p.run_redacted(ctx, &rt.redactor).await,
            ProbeKind::Prometheus(p) => p.run(ctx, rt).await,
            ProbeKind::Alerts(p) => p.run(ctx, rt).await,
            ProbeKind::Rules(p) => p.run(ctx, rt).await,
            ProbeKind::Compare(p) => p.run(ctx, rt).await,
            ProbeKind::Slo(p) => p.run(ctx, rt).await,
        }
    }

    /// Check what can be checked without running (regexes compile, URL parses, ...).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ProbeKind::Http(p) => p.validate(),
            ProbeKind::Command(p) => p.validate(),
            ProbeKind::Prometheus(p) => p.validate(),
            ProbeKind::Alerts(p) => p.validate(),
            ProbeKind::Rules(p) => p.validate(),
            ProbeKind::Compare(p) => p.validate(),
            ProbeKind::Slo(p) => p.validate(),
        }
    }

    /// The named source this probe reads, if any, with the source kinds it accepts.
    pub fn source(&self) -> Option<(&str, &'static [&'static str])> {
        match self {
            ProbeKind::Prometheus(p) => Some((&p.source, &["prometheus"])),
            ProbeKind::Alerts(p) => Some((&p.source, &["alertmanager", "prometheus"])),
            ProbeKind::Rules(p) => Some((&p.source, &["prometheus"])),
            ProbeKind::Compare(p) => Some((&p.source, &["prometheus"])),
            ProbeKind::Slo(p) => Some((&p.source, &["prometheus"])),
            _ => None,
        }
    }
}

/// Shared, long-lived resources probes use (HTTP client, source clients, redactor).
#[derive(Clone)]
pub struct Runtime {
    pub http: reqwest::Client,
    pub redactor: crate::redact::Redactor,
    pub sources: std::sync::Arc<source::Sources>,
}

impl Runtime {
    pub fn new(redactor: crate::redact::Redactor) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("shipwatch/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            // Idle keep-alive connections kept per host: enough for steady schedules, and a burst
            // (every probe due at once after a restart) does not leave thousands behind.
            .pool_max_idle_per_host(64)
            .build()
            .expect("reqwest client with static settings");
        Runtime { http, redactor, sources: Default::default() }
    }

    /// With clients for the config's sources.
    pub fn with_sources(redactor: crate::redact::Redactor, sources: source::Sources) -> Self {
        Runtime { sources: std::sync::Arc::new(sources), ..Self::new(redactor) }
    }

    /// The source called `name`, or an `error` outcome saying it is not configured.
    #[allow(clippy::result_large_err)] // the Err is the probe's final answer, returned as is
    pub fn source(&self, name: &str) -> Result<&source::SourceClient, Outcome> {
        self.sources.get(name).map(|s| s.as_ref()).ok_or_else(|| {
            Outcome::error(Evidence { message: format!("source '{name}' is not configured"), ..Default::default() })
        })
    }
}

/// A duration that reads `30s`, `1m30s`, `500ms` (humantime) in YAML and JSON, at most [`Dur::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// The longest duration accepted: 100 years (humantime's `100y`). Windows, schedules and
    /// retention are added to wall-clock times, whose range ends in the year 262143; a longer
    /// duration once panicked the engine (`fuzz/regressions/api_body/`).
    pub const MAX: Duration = Duration::from_secs(3_155_760_000);
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration like 500ms, 30s, 5m or 24h")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dur, E> {
                match humantime::parse_duration(s.trim()) {
                    Ok(d) if d <= Dur::MAX => Ok(Dur(d)),
                    Ok(_) => Err(E::custom(format!("duration {s:?} is too long; the longest is 100y"))),
                    Err(e) => Err(E::custom(format!("invalid duration {s:?} ({e}); write e.g. 500ms, 30s, 5m, 24h"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Dur, E> {
                Err(E::custom(format!("duration {n} has no unit; write {n}s (or ms, m, h, d)")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(format!("duration {n} has no unit; write e.g. {}s", n.unsigned_abs())))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(format!("duration {n} has no unit; write e.g. {n}s or {}ms", (n * 1000.0).round())))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

#[cfg(test)]
mod dur_tests {
    use super::Dur;

    /// Found while fuzzing the API bodies (fuzz/regressions/api_body/, config/): a window of a
    /// million years made the daemon panic on `DateTime + TimeDelta` for every later list call.
    #[test]
    fn durations_longer_than_100_years_are_refused() {
        let parse = |s: &str| serde_json::from_value::<Dur>(serde_json::json!(s)).map(|d| d.0);
        assert_eq!(parse("100y").ok(), Some(Dur::MAX));
        assert_eq!(parse("36525d").ok(), Some(Dur::MAX));
        for long in ["101y", "1000000years", "9999999999999h", "36525d 1s"] {
            let err = parse(long).expect_err(long).to_string();
            assert!(err.contains("is too long; the longest is 100y"), "{long}: {err}");
        }
        let now = chrono::Utc::now();
        assert!(now.checked_add_signed(chrono::TimeDelta::from_std(Dur::MAX).unwrap()).is_some());
    }
}
