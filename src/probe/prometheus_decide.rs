//! The prometheus probe's judgement of its query results: pure, every branch unit-tested in
//! `prometheus_tests.rs`.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{NoData, PromProbe, Series, SeriesMode};
use crate::probe::{Evidence, Outcome, Status};

pub type QueryResult = Result<Vec<Series>, (bool, String)>;

/// The baseline query's result and when it was evaluated.
pub type BaselineResult = Result<(DateTime<Utc>, Vec<Series>), (bool, String)>;

/// Judge the query results: `traffic` is the `min_traffic` query's result (`None` when it was
/// not asked). Pure: every branch is unit-tested.
pub fn decide(
    p: &PromProbe,
    current: QueryResult,
    baseline: Option<BaselineResult>,
    traffic: Option<QueryResult>,
    mut ev: Evidence,
) -> Outcome {
    let current = match current {
        Ok(c) => c,
        Err((_, why)) => {
            ev.message = why;
            return Outcome::error(ev);
        }
    };
    // Too little traffic proves nothing either way: `error` before any other judgement (an
    // empty or NaN result included, whatever `no_data` says).
    if let Some((_, min)) = p.traffic_check()
        && let Err(why) = enough_traffic(traffic, min, &mut ev)
    {
        ev.message = why;
        return Outcome::error(ev);
    }
    // NaN and ±Inf are not numbers to compare (a 0/0 error ratio when traffic stopped): such
    // samples are dropped, and a series left without a finite one is no data.
    let (current, nan_only) = finite(current);
    if nan_only > 0 {
        ev.details.insert("nan_series".into(), json!(nan_only));
    }
    if current.is_empty() {
        let (observed, what) = match nan_only {
            0 => ("no data", "the query returned no series".to_string()),
            n => ("NaN/Inf", format!("the query returned only NaN/Inf (0/0: no traffic?) for {n} series")),
        };
        ev.observed = Some(observed.into());
        ev.message = what;
        return match p.no_data {
            NoData::Error => {
                ev.message.push_str(" (no_data: error; set no_data: pass|fail|wait if that is expected)");
                Outcome::error(ev)
            }
            NoData::Pass => Outcome::pass(ev),
            NoData::Fail => Outcome::fail(ev),
            NoData::Wait => {
                ev.message = match nan_only {
                    0 => "no data yet; waiting (no_data: wait)".into(),
                    _ => format!("{}; waiting (no_data: wait)", ev.message),
                };
                ev.details.insert("no_data".into(), json!("wait"));
                Outcome::error(ev)
            }
        };
    }
    let base: Option<(DateTime<Utc>, Vec<Series>)> = match baseline {
        None => None,
        Some(Err((_, why))) => {
            ev.message = format!("cannot read the baseline: {why}");
            return Outcome::error(ev);
        }
        Some(Ok((t, b))) => match finite(b) {
            (b, nan) if b.is_empty() => {
                let what = if nan > 0 { "only NaN/Inf" } else { "nothing" };
                ev.message = format!(
                    "no baseline data: the query returned {what} at {} (before the deploy)",
                    t.format("%Y-%m-%d %H:%M:%S UTC")
                );
                return Outcome::error(ev);
            }
            (b, _) => Some((t, b)),
        },
    };
    let mut good = vec![];
    let mut bad = vec![];
    let mut values = vec![];
    for s in &current {
        let last = s.values.last().copied().unwrap_or(f64::NAN); // never NaN: `finite` kept ≥ 1
        values.push(format!("{}={}", s.name(), fmt(last)));
        let mut reasons = vec![];
        if let Some(c) = &p.condition
            && let Some(v) = s.values.iter().find(|v| !c.holds(**v))
        {
            reasons.push(format!("{} is {} (want {c})", s.name(), fmt(*v)));
        }
        if let Some((_, b)) = &base {
            let bv = b.iter().find(|x| x.labels == s.labels).or(if b.len() == 1 && current.len() == 1 {
                b.first()
            } else {
                None
            });
            let Some(bv) = bv.and_then(|x| x.values.last().copied()) else {
                ev.message = format!("no baseline value for series {}", s.name());
                return Outcome::error(ev);
            };
            ev.details.insert(format!("baseline {}", s.name()), json!(bv));
            // Each sample must stay within the baseline bound(s); with both max_increase and
            // max_delta set, either one suffices (a ratio for large values, an absolute slack
            // for values near zero, where any ratio of a zero baseline is zero).
            let within = |v: f64| {
                let by_ratio = p.max_increase.map(|r| v <= r * bv);
                let by_delta = p.max_delta.map(|d| v <= bv + d);
                match (by_ratio, by_delta) {
                    (Some(a), Some(b)) => a || b,
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => true,
                }
            };
            if let Some(v) = s.values.iter().find(|v| !within(**v)) {
                let mut bounds = vec![];
                if let Some(r) = p.max_increase {
                    bounds.push(format!("{r}× baseline {}", fmt(bv)));
                }
                if let Some(d) = p.max_delta {
                    bounds.push(format!("baseline {} + {d}", fmt(bv)));
                }
                reasons.push(format!("{} is {} > {}", s.name(), fmt(*v), bounds.join(" and ")));
            }
        }
        if reasons.is_empty() { good.push(s.name()) } else { bad.push(reasons.join("; ")) }
    }
    ev.observed = Some(short(&values.join(", "), 300));
    let status = match p.series {
        SeriesMode::All if bad.is_empty() => Status::Pass,
        SeriesMode::Any if !good.is_empty() => Status::Pass,
        SeriesMode::None if good.is_empty() => Status::Pass,
        _ => Status::Fail,
    };
    ev.message = match (status, p.series) {
        (Status::Pass, SeriesMode::None) => format!("no series satisfies the condition ({} series)", current.len()),
        (Status::Pass, _) => {
            format!("{} of {} series as expected: {}", good.len(), current.len(), short(&values.join(", "), 200))
        }
        (_, SeriesMode::None) => short(&format!("series satisfying the condition: {}", good.join(", ")), 300),
        (_, SeriesMode::Any) => short(&format!("no series as expected: {}", bad.join("; ")), 300),
        _ => short(&bad.join("; "), 300),
    };
    if nan_only > 0 {
        ev.message.push_str(&format!(" ({nan_only} more series only NaN/Inf: not judged)"));
    }
    Outcome { status, evidence: ev }
}

/// Whether the `min_traffic` query's result reaches `min` (its finite values summed over the
/// series); records the value and the minimum in `details`.
fn enough_traffic(traffic: Option<QueryResult>, min: f64, ev: &mut Evidence) -> Result<(), String> {
    ev.details.insert("min_traffic".into(), json!(min));
    let series = match traffic {
        None => return Err("the traffic was not measured (min_traffic.query not run)".into()),
        Some(Err((_, why))) => return Err(format!("cannot read the traffic (min_traffic.query): {why}")),
        Some(Ok(s)) => s,
    };
    let (series, nan_only) = finite(series);
    if series.is_empty() {
        let what = if nan_only > 0 { "only NaN/Inf" } else { "no data" };
        return Err(format!("not enough traffic: the traffic query returned {what} (min {} req/s)", fmt(min)));
    }
    let value: f64 = series.iter().filter_map(|s| s.values.last()).sum();
    ev.details.insert("traffic".into(), json!(value));
    if value < min { Err(format!("not enough traffic: {} < {} req/s", fmt(value), fmt(min))) } else { Ok(()) }
}

/// Keep only the finite samples of each series and the series left with one; also returns how
/// many series had samples but none finite (NaN/±Inf only).
fn finite(series: Vec<Series>) -> (Vec<Series>, usize) {
    let mut nan_only = 0;
    let kept = series
        .into_iter()
        .filter_map(|mut s| {
            let had = !s.values.is_empty();
            s.values.retain(|v| v.is_finite());
            nan_only += usize::from(had && s.values.is_empty());
            (!s.values.is_empty()).then_some(s)
        })
        .collect();
    (kept, nan_only)
}

fn fmt(v: f64) -> String {
    if v.is_nan() { "NaN".into() } else { format!("{}", (v * 1e6).round() / 1e6) }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n).collect::<String>()) }
}
