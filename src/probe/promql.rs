//! Range and instant PromQL queries for the `compare` and `slo` probes, through a source's
//! client: the answer as [`Series`], or `(source reachable?, reason)`; every call records
//! whether the source answered (outages are logged once). The caller bounds the whole run with
//! the probe's timeout ([`super::source::SourceClient::within`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::prometheus::{QueryResult, Series, query_error, series_of};
use super::source::SourceClient;

/// `q` evaluated every `step` from `start` to `end`.
pub async fn range(
    src: &SourceClient,
    q: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> QueryResult {
    let client = src.prometheus().map_err(|e| (true, e))?;
    let step = step.as_secs_f64();
    let res = client.query_range(q, unix(start), unix(end), step).get().await;
    answer(src, res)
}

/// `q` evaluated at `at`.
pub async fn instant(src: &SourceClient, q: &str, at: DateTime<Utc>) -> QueryResult {
    let client = src.prometheus().map_err(|e| (true, e))?;
    let res = client.query(q).at(unix(at)).get().await;
    answer(src, res)
}

fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A query's answer as series, telling the source whether it could be asked.
pub(super) fn answer(
    src: &SourceClient,
    res: Result<prometheus_http_query::response::PromqlResult, prometheus_http_query::Error>,
) -> QueryResult {
    match res {
        Ok(r) => {
            src.observe(true, "");
            Ok(series_of(r.into_inner().0))
        }
        Err(e) => {
            let (reachable, why) = query_error(src, e);
            src.observe(reachable, &why);
            Err((reachable, why))
        }
    }
}

/// A PromQL range of whole seconds (at least 1s): `3600s`.
pub fn promql_range(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// Keep only the finite samples of each series; returns the samples pooled over the series
/// and how many samples were dropped (NaN/±Inf are no data, never numbers to compare).
pub fn finite_pool(series: &[Series]) -> (Vec<f64>, usize) {
    let all = series.iter().flat_map(|s| s.values.iter().copied());
    let (kept, dropped): (Vec<f64>, Vec<f64>) = all.partition(|v| v.is_finite());
    (kept, dropped.len())
}

/// The sum over series of each one's last finite sample, or `None` when no series has one.
pub fn finite_sum(series: &[Series]) -> Option<f64> {
    let lasts: Vec<f64> =
        series.iter().filter_map(|s| s.values.iter().rev().find(|v| v.is_finite()).copied()).collect();
    (!lasts.is_empty()).then(|| lasts.iter().sum())
}
