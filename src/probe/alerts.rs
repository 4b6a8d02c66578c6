//! `alerts` probe: no matching alert firing (since the deploy).
//!
//! Reads active alerts from an Alertmanager (`/api/v2/alerts`) or a Prometheus
//! (`/api/v1/alerts`) source, keeps those whose labels match every matcher and that started after
//! the deploy (`since: deploy`, the default) and passes when none is left. Silenced and inhibited
//! (Alertmanager) and pending (Prometheus) alerts are ignored unless asked for. A source that
//! cannot be read, answers non-JSON or a shape without the expected fields is `error`, never a
//! verdict. Fetching and parsing are separate from [`AlertsProbe::decide`], a pure function.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::matcher::{self, Matcher};
use super::source::SourceClient;
use super::{Dur, Evidence, Outcome, RunContext, Runtime};

/// Messages are cut to about this many characters.
const MAX_MESSAGE: usize = 300;

/// Which alerts count: those that started after the deploy, or any active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Since {
    #[default]
    Deploy,
    Any,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsProbe {
    /// An `alertmanager` or `prometheus` source.
    pub source: String,
    /// Label matchers in PromQL form: `service="api"`, `severity=~"page|critical"`, `env!="dev"`.
    #[serde(default)]
    pub matchers: Vec<String>,
    #[serde(default)]
    pub since: Since,
    /// Alertmanager: also count silenced alerts.
    #[serde(default)]
    pub include_silenced: bool,
    /// Alertmanager: also count inhibited alerts.
    #[serde(default)]
    pub include_inhibited: bool,
    /// Prometheus: also count pending (not yet firing) alerts.
    #[serde(default)]
    pub include_pending: bool,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// One active alert as read from either kind of source.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    pub labels: BTreeMap<String, String>,
    /// `startsAt` (Alertmanager) or `activeAt` (Prometheus).
    pub started_at: DateTime<Utc>,
    /// As the source says it: `active`, `suppressed`, `unprocessed`, `firing`, `pending`.
    pub state: String,
    pub silenced: bool,
    pub inhibited: bool,
}

impl ActiveAlert {
    /// The `alertname` label (empty when missing).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

impl AlertsProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }

    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let started = tokio::time::Instant::now();
        let mut outcome = match rt.source(&self.source) {
            Err(o) => o,
            Ok(src) => src.within(self.timeout(), self.run_on(src, ctx)).await,
        };
        outcome.evidence.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        super::http::redact_outcome(outcome, &rt.redactor)
    }

    async fn run_on(&self, src: &SourceClient, ctx: &RunContext) -> Outcome {
        let matchers = match matcher::parse_all(&self.matchers) {
            Ok(m) => m,
            Err(e) => return Outcome::error(Evidence { message: e, ..Default::default() }),
        };
        let ev = Evidence {
            target: Some(format!("{} {} alerts{{{}}}", src.kind, src.name, matcher::join(&matchers))),
            ..Default::default()
        };
        let alerts = match self.fetch(src).await {
            Ok(a) => a,
            Err(message) => return Outcome::error(Evidence { message, ..ev }),
        };
        self.decide(&matchers, &alerts, ctx.deployed, ctx.now(), ev)
    }

    /// Read and parse the source's active alerts.
    async fn fetch(&self, src: &SourceClient) -> Result<Vec<ActiveAlert>, String> {
        let shape = |e: String| format!("{} source '{}' answered an unexpected shape: {e}", src.kind, src.name);
        if src.kind == "alertmanager" {
            let path = format!(
                "/api/v2/alerts?active=true&silenced={}&inhibited={}&unprocessed=false",
                self.include_silenced, self.include_inhibited
            );
            parse_alertmanager(&src.get_json(&path).await?).map_err(shape)
        } else {
            parse_prometheus(&src.get_json("/api/v1/alerts").await?).map_err(shape)
        }
    }

    /// The verdict for `alerts` given the matchers, the deploy time and the probe's options.
    pub fn decide(
        &self,
        matchers: &[Matcher],
        alerts: &[ActiveAlert],
        deployed: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        mut ev: Evidence,
    ) -> Outcome {
        let cutoff = match self.since {
            Since::Deploy => deployed,
            Since::Any => None,
        };
        let matching: Vec<&ActiveAlert> = alerts.iter().filter(|a| matcher::all_match(matchers, &a.labels)).collect();
        let (counted, ignored): (Vec<&ActiveAlert>, Vec<&ActiveAlert>) =
            matching.into_iter().partition(|a| self.ignore_reason(a, cutoff).is_none());
        let when = match cutoff {
            Some(d) => format!("since deploy at {}", d.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None if self.since == Since::Deploy => "any time; not deployed yet".to_string(),
            None => "any time".to_string(),
        };
        let since_words = if cutoff.is_some() { " since deploy" } else { "" };
        ev.expected = Some(format!("no matching alert ({when})"));
        ev.observed = Some(format!("{} alerts", counted.len()));
        ev.alerts = counted.iter().map(|a| a.name().to_string()).collect();
        ev.details.insert("alerts".into(), Value::Array(counted.iter().map(|a| alert_json(a)).collect()));
        ev.details.insert("ignored".into(), json!(ignored.len()));
        if counted.is_empty() {
            let skipped = if ignored.is_empty() {
                String::new()
            } else {
                let mut why: Vec<&str> = ignored.iter().filter_map(|a| self.ignore_reason(a, cutoff)).collect();
                why.sort_by_key(|w| ["older", "silenced", "inhibited", "pending"].iter().position(|x| x == w));
                why.dedup();
                format!(" ({} {} ignored)", ignored.len(), or_list(&why))
            };
            ev.message = format!("no matching alert firing{since_words}{skipped}");
            return Outcome::pass(ev);
        }
        let n = counted.len();
        let head = format!("{n} {} firing{since_words}: ", if n == 1 { "alert" } else { "alerts" });
        let items: Vec<String> = counted.iter().map(|a| describe(a, now)).collect();
        ev.message = join_limited(&items, MAX_MESSAGE.saturating_sub(head.len()));
        ev.message.insert_str(0, &head);
        Outcome::fail(ev)
    }

    /// Why a matching alert does not count (`None`: it counts).
    fn ignore_reason(&self, a: &ActiveAlert, cutoff: Option<DateTime<Utc>>) -> Option<&'static str> {
        if !self.include_pending && a.state == "pending" {
            Some("pending")
        } else if !self.include_silenced && a.silenced {
            Some("silenced")
        } else if !self.include_inhibited && a.inhibited {
            Some("inhibited")
        } else if cutoff.is_some_and(|d| a.started_at < d) {
            Some("older")
        } else {
            None
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        matcher::parse_all(&self.matchers).map(|_| ())
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `{name, labels, started_at, state}` for the evidence details.
fn alert_json(a: &ActiveAlert) -> Value {
    json!({
        "name": a.name(),
        "labels": a.labels,
        "started_at": a.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "state": a.state,
    })
}

/// `HighErrorRate{service="api"} since 12:03:04Z` (the date too when not today).
fn describe(a: &ActiveAlert, now: DateTime<Utc>) -> String {
    let labels: Vec<String> =
        a.labels.iter().filter(|(k, _)| *k != "alertname").map(|(k, v)| format!("{k}={v:?}")).collect();
    let mut labels = labels.join(",");
    if labels.chars().count() > 100 {
        labels = labels.chars().take(99).collect::<String>() + "…";
    }
    let at = if a.started_at.date_naive() == now.date_naive() {
        a.started_at.format("%H:%M:%SZ").to_string()
    } else {
        a.started_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    };
    let state = match a.state.as_str() {
        "pending" => " (pending)",
        _ if a.silenced => " (silenced)",
        _ if a.inhibited => " (inhibited)",
        _ => "",
    };
    let name = if a.name().is_empty() { "(no alertname)" } else { a.name() };
    format!("{name}{{{labels}}} since {at}{state}")
}

/// Join `items` with `, ` until about `limit` characters, then `and N more`.
fn join_limited(items: &[String], limit: usize) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        if i > 0 && out.chars().count() + sep.len() + item.chars().count() > limit {
            return format!("{out} and {} more", items.len() - i);
        }
        out.push_str(sep);
        out.push_str(item);
    }
    out
}

/// Labels of an alert: an object of strings.
fn labels_of(v: &Value, i: usize) -> Result<BTreeMap<String, String>, String> {
    let obj = v.get("labels").and_then(Value::as_object).ok_or_else(|| format!("alert {i} has no labels object"))?;
    obj.iter()
        .map(|(k, v)| {
            let s = v.as_str().ok_or_else(|| format!("alert {i}: label {k} is not a string"))?;
            Ok((k.clone(), s.to_string()))
        })
        .collect()
}

fn time_of(v: &Value, field: &str, i: usize) -> Result<DateTime<Utc>, String> {
    let s = v.get(field).and_then(Value::as_str).ok_or_else(|| format!("alert {i} has no {field}"))?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("alert {i}: {field} {s:?} is not an RFC 3339 time ({e})"))
}

/// Parse Alertmanager's `GET /api/v2/alerts` answer (a JSON array of gettable alerts).
pub fn parse_alertmanager(v: &Value) -> Result<Vec<ActiveAlert>, String> {
    let list = v.as_array().ok_or("expected a JSON array of alerts")?;
    let non_empty =
        |status: &Value, key: &str| status.get(key).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let status = a.get("status").filter(|s| s.is_object()).ok_or_else(|| format!("alert {i} has no status"))?;
            let state = status
                .get("state")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("alert {i} has no status.state"))?
                .to_string();
            Ok(ActiveAlert {
                labels: labels_of(a, i)?,
                started_at: time_of(a, "startsAt", i)?,
                silenced: non_empty(status, "silencedBy"),
                inhibited: non_empty(status, "inhibitedBy"),
                state,
            })
        })
        .collect()
}

/// Parse Prometheus's `GET /api/v1/alerts` answer (`{status, data: {alerts: [...]}}`).
pub fn parse_prometheus(v: &Value) -> Result<Vec<ActiveAlert>, String> {
    let list = super::source::api_array(v, "/data/alerts")?;
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let state =
                a.get("state").and_then(Value::as_str).ok_or_else(|| format!("alert {i} has no state"))?.to_string();
            Ok(ActiveAlert {
                labels: labels_of(a, i)?,
                started_at: time_of(a, "activeAt", i)?,
                state,
                silenced: false,
                inhibited: false,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
pub(super) mod tests;
