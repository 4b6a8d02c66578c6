//! What the release page charts for a probe: the numeric value of each stored result and the
//! condition it must meet. A `prometheus` probe charts its query's value (the worst series
//! under its condition: the highest for `<`, the lowest for `>`) against its `condition`; an
//! `http` probe its latency against `max_latency`; any other probe its `observed` value when
//! that is a number, against its `expected` when that reads as a condition (`< 0.5`). A probe
//! with no numeric result gets no chart.

use chrono::{DateTime, Utc};
use maud::Markup;

use super::chart::{self, Sample, Spec};
use crate::config::ProbeDef;
use crate::outcome::Evidence;
use crate::probe::condition::{Condition, Op};
use crate::probe::{ProbeKind, Status};
use crate::release::{Release, ResultRecord};

/// How a probe's results become numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// The query's value (`observed`: `NUMBER` or `{labels}=NUMBER, …`).
    Query,
    /// `latency_ms`.
    Latency,
    /// `observed` when it is a number.
    Observed,
}

/// How `def`'s results are charted, and the line they must stay on the right side of.
pub fn measure(def: Option<&ProbeDef>) -> (Measure, &'static str, Option<Condition>) {
    match def.map(|d| &d.kind) {
        Some(ProbeKind::Prometheus(p)) => (Measure::Query, "value", p.condition),
        Some(ProbeKind::Http(h)) => (
            Measure::Latency,
            "latency (ms)",
            h.expect.max_latency.map(|d| Condition { op: Op::Le, value: d.0.as_secs_f64() * 1000.0 }),
        ),
        _ => (Measure::Observed, "observed value", None),
    }
}

/// The number a result's evidence carries under `m`; the worst series under `worst` (`<`,
/// `<=`: the highest; `>`, `>=`: the lowest; otherwise the first).
pub fn value(m: Measure, ev: &Evidence, worst: Option<Op>) -> Option<f64> {
    let v = match m {
        Measure::Latency => ev.latency_ms,
        Measure::Observed => ev.observed.as_deref().and_then(|o| o.trim().parse().ok()),
        Measure::Query => {
            let o = ev.observed.as_deref()?;
            let vals = series_values(o);
            match worst {
                Some(Op::Lt | Op::Le) => vals.into_iter().reduce(f64::max),
                Some(Op::Gt | Op::Ge) => vals.into_iter().reduce(f64::min),
                _ => vals.first().copied(),
            }
        }
    };
    v.filter(|v| v.is_finite())
}

/// The numbers of `observed` as the prometheus probe writes it: a bare number, or
/// `{labels}=NUMBER` joined by `, ` (a label value containing `, ` is skipped, not misread).
pub fn series_values(observed: &str) -> Vec<f64> {
    if let Ok(v) = observed.trim().parse::<f64>() {
        return vec![v];
    }
    observed
        .split(", ")
        .filter_map(|part| part.rsplit_once('=').and_then(|(_, v)| v.trim().trim_end_matches('…').parse().ok()))
        .collect()
}

/// `results` (any order) as chart samples under `def`'s measure: the value in words, the
/// condition it must meet, and one sample per result (`error` results and results without a
/// number have no value).
pub fn samples(def: Option<&ProbeDef>, results: &[ResultRecord]) -> (&'static str, Option<Condition>, Vec<Sample>) {
    let (m, what, mut threshold) = measure(def);
    if m == Measure::Observed {
        threshold = results.iter().rev().find_map(|r| r.evidence.expected.as_deref()?.parse().ok());
    }
    let op = threshold.map(|c: Condition| c.op);
    let samples = results
        .iter()
        .map(|r| Sample {
            at: r.at,
            value: if r.status == Status::Error { None } else { value(m, &r.evidence, op) },
            failed: r.status == Status::Fail,
        })
        .collect();
    (what, threshold, samples)
}

/// The chart of one probe's results (`results` oldest first, up to [`super::CHART_READ`]), or
/// none when no result has a number. `id` makes the chart's element ids unique on the page. The time axis runs from the deploy (or the first result) to now, or to the
/// close.
pub fn probe_chart(
    id: &str,
    def: Option<&ProbeDef>,
    rel: &Release,
    results: &[ResultRecord],
    now: DateTime<Utc>,
) -> Option<Markup> {
    let (what, threshold, samples) = samples(def, results);
    if samples.iter().all(|s| s.value.is_none()) {
        return None;
    }
    let first = samples.first().map(|s| s.at).unwrap_or(now);
    // With only the latest results read, the axis starts at the oldest one read.
    let partial = results.len() >= super::CHART_READ;
    let from = rel.deployed_at.filter(|_| !partial).map_or(first, |d| d.min(first));
    let to = rel.closed_at.unwrap_or(now).max(samples.last().map_or(now, |s| s.at)).max(from);
    let drawn = chart::downsample(&samples);
    let name = def.map_or("", |d| d.name.as_str());
    let what = format!("{name} {what}");
    let spec = Spec { id, what: &what, threshold, deployed_at: rel.deployed_at, from, to, partial };
    Some(chart::chart(&spec, &drawn, results.len()))
}
