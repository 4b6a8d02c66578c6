//! `prometheus` probe: a PromQL query and a condition on its value, over all/any/none series,
//! optionally over a range (`for:`) and against the same query's value before the deploy
//! (`max_increase` / `max_delta`). An empty result follows `no_data`, and so does one with only
//! NaN/±Inf samples (a 0/0 ratio is no data, never a number to compare); a source that cannot
//! be reached or rejects the query is `error`, never `fail`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_http_query::response::Data;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::source::SourceClient;
use super::{Dur, Evidence, Outcome, RunContext, Runtime};

/// How many series must satisfy the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SeriesMode {
    #[default]
    All,
    Any,
    None,
}

/// What an empty result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NoData {
    #[default]
    Error,
    Pass,
    Fail,
    /// Keep the item pending (recorded as `error` with `details.no_data = "wait"`).
    Wait,
}

/// Where the baseline is evaluated: at the deploy (default) or a fixed time, minus `offset`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// `deploy` (default) or an RFC 3339 time.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub offset: Option<Dur>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromProbe {
    pub source: String,
    /// PromQL; may use `{{ release.* }}`, `{{ window.elapsed }}`, `{{ deployed_at }}`.
    pub query: String,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub series: SeriesMode,
    #[serde(default)]
    pub no_data: NoData,
    /// current ≤ max_increase × baseline.
    #[serde(default)]
    pub max_increase: Option<f64>,
    /// current ≤ baseline + max_delta.
    #[serde(default)]
    pub max_delta: Option<f64>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// The condition must hold over this range (range query), not one instant.
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Enough traffic for the result to mean something; below it the outcome is `error`.
    #[serde(default)]
    pub min_traffic: Option<MinTraffic>,
}

/// `min_traffic: { query, min }`: `query` (templated like the main one) is evaluated with the
/// main query; its value (summed over its series) below `min`, no data or only NaN/Inf makes
/// the outcome `error`, never `pass` or `fail`: an error ratio over three requests proves
/// nothing. `min: null` turns the check off (how the templates leave it off by default); a
/// missing `min` is an error.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MinTraffic {
    pub query: String,
    #[serde(deserialize_with = "required_or_null")]
    pub min: Option<f64>,
}

/// An `Option` field that must be written, though it may be `null`.
fn required_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)
}

/// When a query is evaluated: now (over `for:` when `range` and `for:` is set), or at one time.
#[derive(Debug, Clone, Copy)]
enum When {
    Now { range: bool },
    At(DateTime<Utc>),
}

/// One series: its labels and the values to judge (one for an instant query, many for `for:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub values: Vec<f64>,
}

impl Series {
    /// `{job="api",code="500"}`, the way PromQL prints a series; a series with no labels (a
    /// `sum(...)` or a scalar) is `(all series)`, not a bare `{}`.
    pub fn name(&self) -> String {
        if self.labels.is_empty() {
            return "(all series)".into();
        }
        let inner: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        format!("{{{}}}", inner.join(","))
    }
}

pub(super) fn series_of(data: Data) -> Vec<Series> {
    let labels =
        |m: &std::collections::HashMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match data {
        Data::Vector(v) => {
            v.iter().map(|s| Series { labels: labels(s.metric()), values: vec![s.sample().value()] }).collect()
        }
        Data::Matrix(m) => m
            .iter()
            .map(|s| Series { labels: labels(s.metric()), values: s.samples().iter().map(|x| x.value()).collect() })
            .collect(),
        Data::Scalar(s) => vec![Series { labels: BTreeMap::new(), values: vec![s.value()] }],
    }
}

/// Why a query could not be answered: `(source reachable?, reason)`.
pub(super) fn query_error(src: &SourceClient, e: prometheus_http_query::Error) -> (bool, String) {
    match e {
        prometheus_http_query::Error::Prometheus(p) => {
            (true, format!("Prometheus rejected the query ({:?}): {}", p.error_type(), p.message()))
        }
        prometheus_http_query::Error::Client(c) => match c.inner() {
            Some(r) if r.is_status() => (
                false,
                format!(
                    "prometheus source '{}' answered HTTP {}",
                    src.name,
                    r.status().map(|s| s.to_string()).unwrap_or_default()
                ),
            ),
            Some(r) if r.is_decode() => (
                false,
                format!(
                    "prometheus source '{}' answered something that is not a Prometheus API response: {c}",
                    src.name
                ),
            ),
            Some(r) => {
                (false, format!("prometheus source '{}' unreachable: {}", src.name, super::http::transport_reason(r)))
            }
            None => (false, format!("prometheus source '{}': {c}", src.name)),
        },
        other => (true, format!("prometheus source '{}': {other}", src.name)),
    }
}

impl PromProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }

    /// The expectation in words, for evidence.
    fn expected(&self) -> String {
        let mut parts = vec![];
        if let Some(c) = &self.condition {
            let scope = match self.series {
                SeriesMode::All => "every series",
                SeriesMode::Any => "some series",
                SeriesMode::None => "no series",
            };
            parts.push(format!("{scope} {c}"));
        }
        match (self.max_increase, self.max_delta) {
            (Some(r), Some(d)) => parts.push(format!("≤ {r}× baseline or ≤ baseline + {d}")),
            (Some(r), None) => parts.push(format!("≤ {r}× baseline")),
            (None, Some(d)) => parts.push(format!("≤ baseline + {d}")),
            (None, None) => {}
        }
        let mut s = parts.join(" and ");
        if let Some(f) = self.for_ {
            s.push_str(&format!(" for {}", humantime::format_duration(f.0)));
        }
        if let Some((_, min)) = self.traffic_check() {
            s.push_str(&format!(", with traffic ≥ {min} req/s"));
        }
        s
    }

    /// The `min_traffic` check when it is on: its query and minimum.
    fn traffic_check(&self) -> Option<(&str, f64)> {
        self.min_traffic.as_ref().and_then(|t| t.min.map(|m| (t.query.as_str(), m)))
    }

    /// When the baseline is evaluated.
    fn baseline_time(&self, ctx: &RunContext) -> Result<DateTime<Utc>, String> {
        let b = self.baseline.clone().unwrap_or_default();
        let at = match b.at.as_deref() {
            None | Some("deploy") => ctx.deployed.ok_or("no baseline yet: the release is not deployed")?,
            Some(t) => {
                DateTime::parse_from_rfc3339(t).map_err(|e| format!("baseline.at {t:?}: {e}"))?.with_timezone(&Utc)
            }
        };
        Ok(at - chrono::Duration::from_std(b.offset.map(|d| d.0).unwrap_or_default()).unwrap_or_default())
    }

    async fn query(
        &self,
        src: &SourceClient,
        q: &str,
        when: When,
        now: DateTime<Utc>,
    ) -> Result<Vec<Series>, (bool, String)> {
        let client = src.prometheus().map_err(|e| (true, e))?;
        let fut = async {
            match (when, self.for_) {
                (When::Now { range: true }, Some(f)) => {
                    let start = now - chrono::Duration::from_std(f.0).unwrap_or_default();
                    let step = (f.0.as_secs_f64() / 30.0).max(1.0);
                    client.query_range(q, start.timestamp(), now.timestamp(), step).get().await
                }
                (When::At(t), _) => client.query(q).at(t.timestamp()).get().await,
                (When::Now { .. }, _) => client.query(q).get().await,
            }
        };
        let Ok(res) = tokio::time::timeout(self.timeout(), fut).await else {
            let why = format!(
                "prometheus source '{}' did not answer within {} (timed out)",
                src.name,
                humantime::format_duration(self.timeout())
            );
            src.observe(false, &why);
            return Err((false, why));
        };
        super::promql::answer(src, res)
    }

    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let started = tokio::time::Instant::now();
        let src = match rt.source(&self.source) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let mut ev = Evidence { expected: Some(self.expected()), ..Default::default() };
        let query = match ctx.render(&self.query) {
            Ok(q) => q,
            Err(e) => {
                ev.message = e;
                return Outcome::error(ev);
            }
        };
        ev.target = Some(rt.redactor.redact(&query));
        let traffic_query = match self.traffic_check().map(|(q, _)| ctx.render(q)).transpose() {
            Ok(q) => q,
            Err(e) => {
                ev.message = format!("min_traffic.query: {e}");
                return Outcome::error(ev);
            }
        };
        let now = ctx.now();
        // The traffic is read at the same time as the main query (an instant even with `for:`).
        let (current, traffic) = tokio::join!(self.query(src, &query, When::Now { range: true }, now), async {
            match &traffic_query {
                Some(q) => Some(self.query(src, q, When::Now { range: false }, now).await),
                None => None,
            }
        });
        if let Some(q) = traffic_query {
            ev.details.insert("traffic_query".into(), serde_json::json!(rt.redactor.redact(&q)));
        }
        let baseline: Option<BaselineResult> = match (self.max_increase.is_some() || self.max_delta.is_some(), &current)
        {
            (true, Ok(c)) if c.iter().any(|s| s.values.iter().any(|v| v.is_finite())) => {
                Some(match self.baseline_time(ctx) {
                    Ok(t) => self.query(src, &query, When::At(t), now).await.map(|b| (t, b)),
                    Err(e) => Err((true, e)),
                })
            }
            _ => None,
        };
        ev.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        let outcome = decide(self, current, baseline, traffic, ev);
        super::http::redact_outcome(outcome, &rt.redactor)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.condition.is_none() && self.max_increase.is_none() && self.max_delta.is_none() {
            return Err("give a condition (e.g. condition: \"< 0.01\"), max_increase or max_delta".into());
        }
        if self.query.trim().is_empty() {
            return Err("query is empty".into());
        }
        if let Some(r) = self.max_increase
            && !(r.is_finite() && r > 0.0)
        {
            return Err(format!("max_increase must be a positive ratio like 1.5, not {r}"));
        }
        if let Some(b) = &self.baseline
            && let Some(at) = b.at.as_deref()
            && at != "deploy"
            && DateTime::parse_from_rfc3339(at).is_err()
        {
            return Err(format!("baseline.at {at:?} must be `deploy` or an RFC 3339 time like 2026-01-02T15:04:05Z"));
        }
        if self.for_.is_some_and(|f| f.0 < Duration::from_secs(1)) {
            return Err("for: must be at least 1s".into());
        }
        if let Some(t) = &self.min_traffic {
            if t.query.trim().is_empty() {
                let e = r#"sum(rate(http_requests_total{job="api"}[5m]))"#;
                return Err(format!("min_traffic.query is empty; give the request rate, e.g. {e}"));
            }
            if let Some(m) = t.min
                && !(m.is_finite() && m >= 0.0)
            {
                return Err(format!("min_traffic.min must be a number of requests per second ≥ 0, like 1, not {m}"));
            }
        }
        Ok(())
    }
}

#[path = "prometheus_decide.rs"]
mod decide;
pub use decide::{BaselineResult, QueryResult, decide};

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
