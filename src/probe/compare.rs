//! `compare` probe: the release's current samples of a PromQL query against a baseline, judged
//! by a statistical test (`mann-whitney` over sampled values, `poisson` over event counts) or a
//! relative bound (`relative`). The baseline is the hour (or any duration) before the deploy,
//! the same time some `offset` ago, or another `query` now (canary vs stable). The current side
//! never reaches back before the deploy. Too few samples on a side is `error` with both counts
//! ("not enough data: 4 vs 60 samples"), never a pass; NaN/±Inf samples are no data; a source
//! that cannot be read is `error`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::percent::Percent;
use super::prometheus::QueryResult;
use super::source::SourceClient;
use super::{Dur, Evidence, Outcome, RunContext, Runtime, promql};
use crate::stats::Alternative;
use crate::stats::relative::Aggregate;

/// Which test judges the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    /// Mann-Whitney U over the sampled values (latencies, CPU, any gauge-like series).
    #[default]
    MannWhitney,
    /// Event counts over exposures (errors over requests), conditional binomial test.
    Poisson,
    /// An aggregate's relative change, bounded by `max_change` (no statistics).
    Relative,
}

impl Test {
    pub fn as_str(self) -> &'static str {
        match self {
            Test::MannWhitney => "mann-whitney",
            Test::Poisson => "poisson",
            Test::Relative => "relative",
        }
    }
}

/// Which way a regression goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Increase,
    Decrease,
    Either,
}

impl Direction {
    pub fn alternative(self) -> Alternative {
        match self {
            Direction::Increase => Alternative::Greater,
            Direction::Decrease => Alternative::Less,
            Direction::Either => Alternative::TwoSided,
        }
    }

    /// Whether a relative change `effect` of at least `min` goes the regression's way.
    pub fn beyond(self, effect: f64, min: f64) -> bool {
        match self {
            Direction::Increase => effect >= min,
            Direction::Decrease => -effect >= min,
            Direction::Either => effect.abs() >= min,
        }
    }
}

/// What the current samples are compared with: exactly one of the three.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompareBaseline {
    /// This long before the deploy, up to the deploy.
    #[serde(default)]
    pub before_deploy: Option<Dur>,
    /// The current range shifted back by this (`1w`: the same time last week).
    #[serde(default)]
    pub offset: Option<Dur>,
    /// Another query over the current range (canary vs stable).
    #[serde(default)]
    pub query: Option<String>,
    /// With `query` and `test: poisson`: the stable side's exposure (requests).
    #[serde(default)]
    pub total: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompareProbe {
    pub source: String,
    /// PromQL: the sampled value, or (poisson) the events over `[{{ window }}]`.
    pub query: String,
    /// Poisson: the exposure (requests) over `[{{ window }}]`.
    #[serde(default)]
    pub total: Option<String>,
    /// How far back the current side reaches (never before the deploy).
    pub current: Dur,
    pub baseline: CompareBaseline,
    #[serde(default)]
    pub test: Test,
    #[serde(default)]
    pub direction: Direction,
    /// Of the test (default 0.95): a regression needs p < 1 − confidence.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Smaller relative shifts are not regressions, however significant (default 5%).
    #[serde(default)]
    pub min_effect: Option<Percent>,
    /// Per side (samples, or requests for poisson); fewer is `error` (default 10).
    #[serde(default)]
    pub min_samples: Option<u64>,
    /// Range query resolution (default 15s); keep it ≥ the scrape interval.
    #[serde(default)]
    pub step: Option<Dur>,
    /// `relative`: the largest acceptable change of the aggregate (`+10%`).
    #[serde(default)]
    pub max_change: Option<Percent>,
    /// `relative`: mean, median (default) or p95.
    #[serde(default)]
    pub aggregate: Option<Aggregate>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// Points Prometheus returns per series at most.
const MAX_POINTS: f64 = 11_000.0;

/// Whether `text` uses `{{ window }}`.
fn uses_window(text: &str) -> bool {
    text.split("{{").skip(1).any(|rest| rest.split("}}").next().is_some_and(|v| v.trim() == "window"))
}

/// The time range of a side and, for counts, the PromQL range it is evaluated over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn secs(&self) -> u64 {
        (self.end - self.start).num_seconds().max(0) as u64
    }
}

/// What was fetched for one side: sampled values, or (poisson) events and exposure.
#[derive(Debug, Clone)]
pub enum Side {
    Samples(QueryResult),
    Counts { events: QueryResult, total: QueryResult },
}

impl CompareProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }
    pub fn confidence(&self) -> f64 {
        self.confidence.unwrap_or(0.95)
    }
    pub fn min_effect(&self) -> f64 {
        self.min_effect.map(|p| p.0).unwrap_or(0.05)
    }
    pub fn min_samples(&self) -> u64 {
        self.min_samples.unwrap_or(10)
    }
    pub fn step(&self) -> Duration {
        self.step.map(|d| d.0).unwrap_or(Duration::from_secs(15))
    }

    /// The baseline in words, for evidence.
    pub fn baseline_words(&self) -> String {
        let h = |d: Dur| humantime::format_duration(d.0).to_string();
        match (&self.baseline.before_deploy, &self.baseline.offset, &self.baseline.query) {
            (Some(d), ..) => format!("the {} before the deploy", h(*d)),
            (_, Some(o), _) => format!("the same range {} earlier", h(*o)),
            _ => "the baseline query over the same range".into(),
        }
    }

    /// Current and baseline spans for a run at `now`. After the deploy the current side starts
    /// no earlier than one step after it (the sample at the deploy is the old version's, and
    /// belongs to a `before_deploy` baseline, which ends there); before the deploy (a planned
    /// release: canary vs stable in staging) it is simply the last `current`, and only
    /// `before_deploy` has nothing to compare with.
    pub fn spans(&self, deployed: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(Span, Span), String> {
        let chrono = |d: Dur| chrono::Duration::from_std(d.0).unwrap_or_default();
        let from = now - chrono(self.current);
        let step = chrono(Dur(self.step()));
        let start = deployed.map_or(from, |d| from.max(d + step).min(now));
        let current = Span { start, end: now };
        let baseline = match (&self.baseline.before_deploy, &self.baseline.offset) {
            (Some(d), _) => {
                let dep = deployed.ok_or("no baseline yet: the release is not deployed (baseline: before_deploy)")?;
                Span { start: dep - chrono(*d), end: dep }
            }
            (None, Some(o)) => Span { start: current.start - chrono(*o), end: current.end - chrono(*o) },
            _ => current,
        };
        Ok((current, baseline))
    }

    /// Fetch one side: the range query over `span` (samples), or both counts at its end over
    /// `[{{ window }}]` = the span's length.
    async fn fetch(&self, src: &SourceClient, ctx: &RunContext, q: &str, total: Option<&str>, span: Span) -> Side {
        let range = promql::promql_range(Duration::from_secs(span.secs()));
        let render = |t: &str| ctx.render_range(t, &range).map_err(|e| (true, e));
        match (self.test, total) {
            (Test::Poisson, Some(total)) => {
                let (events, total) = match (render(q), render(total)) {
                    (Ok(e), Ok(t)) => {
                        tokio::join!(promql::instant(src, &e, span.end), promql::instant(src, &t, span.end))
                    }
                    (Err(e), _) | (_, Err(e)) => (Err(e.clone()), Err(e)),
                };
                Side::Counts { events, total }
            }
            _ => Side::Samples(match ctx.render(q) {
                Ok(q) if span.secs() > 0 => promql::range(src, &q, span.start, span.end, self.step()).await,
                Ok(_) => Ok(vec![]),
                Err(e) => Err((true, e)),
            }),
        }
    }

    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let src = match rt.source(&self.source) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let outcome = src.within(self.timeout(), self.run_on(src, ctx, rt)).await;
        super::http::redact_outcome(outcome, &rt.redactor)
    }

    async fn run_on(&self, src: &SourceClient, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let started = tokio::time::Instant::now();
        let mut ev = Evidence { expected: Some(decide::expected(self)), ..Default::default() };
        ev.target = Some(rt.redactor.redact(&self.query));
        let (current, baseline) = match self.spans(ctx.deployed, ctx.now()) {
            Ok(s) => s,
            Err(e) => {
                ev.message = e.to_string();
                return Outcome::error(ev);
            }
        };
        // The query as sent for the current side, when it renders (else the fetch says why).
        let shown = match self.test {
            Test::Poisson => ctx.render_range(&self.query, &promql::promql_range(Duration::from_secs(current.secs()))),
            _ => ctx.render(&self.query),
        };
        if let Ok(q) = shown {
            ev.target = Some(rt.redactor.redact(&q));
        }
        let (bq, btotal) = match &self.baseline.query {
            Some(q) => (q.as_str(), self.baseline.total.as_deref()),
            None => (self.query.as_str(), self.total.as_deref()),
        };
        let (cur, base) = tokio::join!(
            self.fetch(src, ctx, &self.query, self.total.as_deref(), current),
            self.fetch(src, ctx, bq, btotal, baseline)
        );
        ev.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        decide::decide(self, (current, cur), (baseline, base), ev)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.query.trim().is_empty() {
            return Err("query is empty".into());
        }
        let b = &self.baseline;
        let kinds = [b.before_deploy.is_some(), b.offset.is_some(), b.query.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(
                "baseline needs exactly one of before_deploy: 1h, offset: 1w or query: '…' (canary vs stable)".into()
            );
        }
        let step = self.step();
        if step < Duration::from_secs(1) {
            return Err("step must be at least 1s".into());
        }
        if self.test != Test::Poisson && self.current.0 < step {
            return Err(format!("current ({}) must be at least one step ({})", fmt_d(self.current.0), fmt_d(step)));
        }
        for (what, d) in [("current", Some(self.current)), ("baseline.before_deploy", b.before_deploy)] {
            if let Some(d) = d
                && self.test != Test::Poisson
                && d.0.as_secs_f64() / step.as_secs_f64() > MAX_POINTS
            {
                return Err(format!(
                    "{what} ({}) is more than {MAX_POINTS} steps of {}; raise step",
                    fmt_d(d.0),
                    fmt_d(step)
                ));
            }
        }
        if self.min_samples() == 0 {
            return Err("min_samples must be at least 1".into());
        }
        let stats = matches!(self.test, Test::MannWhitney | Test::Poisson);
        if let Some(c) = self.confidence
            && !(c > 0.0 && c < 1.0)
        {
            return Err(format!("confidence must be between 0 and 1 (exclusive), like 0.95, not {c}"));
        }
        if self.min_effect.is_some_and(|m| m.0 < 0.0) {
            return Err("min_effect must be ≥ 0%".into());
        }
        if stats && (self.max_change.is_some() || self.aggregate.is_some()) {
            return Err(format!("max_change and aggregate belong to test: relative, not {}", self.test.as_str()));
        }
        match self.test {
            Test::Relative => {
                if self.confidence.is_some() || self.min_effect.is_some() {
                    return Err("test: relative has no statistics; bound the change with max_change: +10%".into());
                }
                let Some(m) = self.max_change else {
                    return Err("test: relative needs max_change, e.g. max_change: +10%".into());
                };
                if m.0 == 0.0 || (m.0 < 0.0 && self.direction != Direction::Decrease) {
                    return Err(format!(
                        "max_change {m}: write the largest acceptable change as +10% (or -10% with direction: decrease)"
                    ));
                }
            }
            Test::Poisson => {
                if self.total.is_none() {
                    return Err("test: poisson needs total: (the requests the events are out of)".into());
                }
                if b.query.is_some() != b.total.is_some() {
                    return Err("with test: poisson, baseline.query needs baseline.total (and only then)".into());
                }
                let queries = [Some(&self.query), self.total.as_ref(), b.query.as_ref(), b.total.as_ref()];
                if queries.into_iter().flatten().any(|q| !uses_window(q)) {
                    return Err("test: poisson counts over each side's range: write it as [{{ window }}], e.g. \
                         sum(increase(http_requests_total{code=~\"5..\"}[{{ window }}]))"
                        .into());
                }
            }
            Test::MannWhitney => {}
        }
        if self.test != Test::Poisson {
            if self.total.is_some() || b.total.is_some() {
                return Err("total belongs to test: poisson".into());
            }
            if uses_window(&self.query) || b.query.as_deref().is_some_and(uses_window) {
                return Err("{{ window }} is the counting range of test: poisson; sampled queries use a fixed \
                            range, e.g. rate(x[1m])"
                    .into());
            }
        }
        Ok(())
    }
}

fn fmt_d(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[path = "compare_decide.rs"]
pub mod decide;

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
