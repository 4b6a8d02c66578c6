//! A probe's numeric value over the watch as a small inline SVG chart: pure functions from
//! (samples, threshold, deploy time, time span) to markup. No JavaScript, no external assets
//! and no `style=` attributes: presentation attributes, with colours from the page's
//! stylesheet classes. It scales to the page width (`viewBox`, `width="100%"`) and carries a
//! one-sentence text alternative (`<title>`, `<desc>`, `aria-labelledby`).
//!
//! - Long series are downsampled server-side to at most [`MAX_POINTS`] points: the span is cut
//!   into buckets and each keeps its lowest and highest value (so spikes stay visible).
//! - `error` results (could not measure) are gaps: the line is split there, never drawn
//!   through or down to zero.
//! - `fail` results are shaded red and runs of `error` results amber, from the first such
//!   sample to the next one that is not.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::human;
use crate::probe::condition::Condition;

/// Most points drawn per chart.
pub const MAX_POINTS: usize = 240;

/// The drawing's size in user units (scaled to the page width by the browser).
pub const W: f64 = 480.0;
pub const H: f64 = 130.0;
/// Plot area inside the drawing: left margin for the y labels, bottom for the time labels.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

/// One probe result as the chart sees it: its time, its value (none: `error`, a gap) and
/// whether it failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
    pub failed: bool,
}

/// What the chart shows and against what.
pub struct Spec<'a> {
    /// A stable id for the SVG's title and description (unique on the page).
    pub id: &'a str,
    /// The value in words (`error ratio`, `latency (ms)`).
    pub what: &'a str,
    /// The condition the value must meet, drawn as a line at its number.
    pub threshold: Option<Condition>,
    pub deployed_at: Option<DateTime<Utc>>,
    /// The time axis: from (the deploy, or the first result) to (now, or the close).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only the latest results were read (older ones exist): said in the text alternative.
    pub partial: bool,
}

/// Downsample `samples` (oldest first) to at most [`MAX_POINTS`]: the span is cut into
/// `MAX_POINTS / 2` buckets by time; each keeps its lowest and highest value in time order,
/// and one gap where it had an `error` (before or after the values, wherever the first error
/// was). A bucket's failure is kept on the sample(s) it keeps. Short series are returned as
/// they are.
pub fn downsample(samples: &[Sample]) -> Vec<Sample> {
    if samples.len() <= MAX_POINTS {
        return samples.to_vec();
    }
    let buckets = MAX_POINTS / 2;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return vec![] };
    let span = (last.at - first.at).num_milliseconds().max(1) as f64;
    let bucket_of = |s: &Sample| {
        let f = (s.at - first.at).num_milliseconds() as f64 / span;
        ((f * buckets as f64) as usize).min(buckets - 1)
    };
    let mut out = Vec::with_capacity(MAX_POINTS + buckets);
    let mut i = 0;
    while i < samples.len() {
        let b = bucket_of(&samples[i]);
        let mut j = i;
        while j < samples.len() && bucket_of(&samples[j]) == b {
            j += 1;
        }
        let chunk = &samples[i..j];
        let failed = chunk.iter().any(|s| s.failed);
        let numeric = || chunk.iter().filter(|s| s.value.is_some());
        let lo = numeric().min_by(|a, b| a.value.partial_cmp(&b.value).unwrap_or(std::cmp::Ordering::Equal));
        let hi = numeric().max_by(|a, b| a.value.partial_cmp(&b.value).unwrap_or(std::cmp::Ordering::Equal));
        let mut kept: Vec<Sample> = match (lo, hi) {
            (Some(lo), Some(hi)) if lo.at == hi.at => vec![*lo],
            (Some(lo), Some(hi)) => {
                let (a, b) = if lo.at <= hi.at { (lo, hi) } else { (hi, lo) };
                vec![*a, *b]
            }
            _ => vec![],
        };
        for k in &mut kept {
            k.failed = failed;
        }
        if let Some(e) = chunk.iter().find(|s| s.value.is_none()) {
            let at = kept.iter().position(|k| k.at > e.at).unwrap_or(kept.len());
            kept.insert(at, Sample { failed, ..*e });
        }
        out.extend(kept);
        i = j;
    }
    out
}

/// The chart of `samples` (oldest first; already downsampled). `total` is how many results
/// they came from (said in the text alternative when more than drawn).
pub fn chart(spec: &Spec, samples: &[Sample], total: usize) -> Markup {
    let values: Vec<f64> = samples.iter().filter_map(|s| s.value).filter(|v| v.is_finite()).collect();
    let drawn = values.len();
    let errors = samples.iter().filter(|s| s.value.is_none()).count();
    let (lo, hi) = y_range(&values, spec.threshold.map(|c| c.value));
    let x = |t: DateTime<Utc>| x_of(spec.from, spec.to, t);
    let y = |v: f64| y_of(lo, hi, v);
    let segments = segments(samples);
    let fails = spans(samples, spec.to, |s| s.failed);
    let blind = spans(samples, spec.to, |s| s.value.is_none());
    let summary = summary(spec, &values, drawn, total, errors);
    let title_id = format!("chart-{}-t", spec.id);
    let desc_id = format!("chart-{}-d", spec.id);
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}")) width="100%"
                role="img" aria-labelledby=(format!("{title_id} {desc_id}"))
                data-points=(drawn) data-from=(spec.from.to_rfc3339()) data-to=(spec.to.to_rfc3339())
                data-lo=(lo) data-hi=(hi) {
                title id=(title_id) { (spec.what) }
                desc id=(desc_id) { (summary) }
                rect.plot x=(LEFT) y=(TOP) width=(W - LEFT - RIGHT) height=(H - TOP - BOTTOM) fill="none" stroke="currentColor" stroke-opacity="0.25" {}
                @for (a, b) in &fails {
                    rect.failspan x=(f2(x(*a))) y=(TOP) width=(f2((x(*b) - x(*a)).max(1.0))) height=(H - TOP - BOTTOM) fill="currentColor" fill-opacity="0.15" {}
                }
                @for (a, b) in &blind {
                    rect.gapspan x=(f2(x(*a))) y=(TOP) width=(f2((x(*b) - x(*a)).max(1.0))) height=(H - TOP - BOTTOM) fill="currentColor" fill-opacity="0.12" {}
                }
                @if let Some(c) = spec.threshold {
                    line.threshold x1=(LEFT) x2=(W - RIGHT) y1=(f2(y(c.value))) y2=(f2(y(c.value))) data-value=(c.value)
                        stroke="currentColor" stroke-width="1.5" stroke-dasharray="6 4" {}
                    text.threshold-label x=(W - RIGHT - 4.0) y=(f2(y(c.value) - 4.0)) text-anchor="end" font-size="11" fill="currentColor" { "want " (c.to_string()) }
                }
                @if let Some(d) = spec.deployed_at.filter(|d| *d >= spec.from && *d <= spec.to) {
                    line.deploy x1=(f2(x(d))) x2=(f2(x(d))) y1=(TOP) y2=(H - BOTTOM) data-at=(d.to_rfc3339())
                        stroke="currentColor" stroke-width="1.5" {}
                    text.deploy-label x=(f2(x(d) + 3.0)) y=(TOP + 11.0) font-size="11" fill="currentColor" { "deploy" }
                }
                @for seg in &segments {
                    @if seg.len() == 1 {
                        circle.dot cx=(f2(x(seg[0].0))) cy=(f2(y(seg[0].1))) r="2" fill="currentColor" {}
                    } @else {
                        polyline.line fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"
                            points=(seg.iter().map(|(t, v)| format!("{},{}", f2(x(*t)), f2(y(*v)))).collect::<Vec<_>>().join(" ")) {}
                    }
                }
                text.axis x=(LEFT - 4.0) y=(TOP + 9.0) text-anchor="end" font-size="11" fill="currentColor" { (num(hi)) }
                text.axis x=(LEFT - 4.0) y=(H - BOTTOM) text-anchor="end" font-size="11" fill="currentColor" { (num(lo)) }
                text.axis x=(LEFT) y=(H - 6.0) font-size="11" fill="currentColor" { (spec.from.format("%H:%M")) }
                text.axis x=(W - RIGHT) y=(H - 6.0) text-anchor="end" font-size="11" fill="currentColor" { (spec.to.format("%H:%M UTC")) }
            }
            figcaption { (summary) }
        }
    }
}

/// The one-sentence text alternative: `error ratio 0.002–0.004 over 3h, threshold < 0.01,
/// 120 points (downsampled from 2400 results), 3 errors (gaps)`.
pub fn summary(spec: &Spec, values: &[f64], drawn: usize, total: usize, errors: usize) -> String {
    let range = match (values.iter().copied().reduce(f64::min), values.iter().copied().reduce(f64::max)) {
        (Some(a), Some(b)) if a == b => format!(" {}", num(a)),
        (Some(a), Some(b)) => format!(" {}–{}", num(a), num(b)),
        _ => " no values".to_string(),
    };
    let over = human((spec.to - spec.from).num_milliseconds().max(0) as f64 / 1000.0);
    let mut s = format!("{}{range} over {over}", spec.what);
    if let Some(c) = spec.threshold {
        s.push_str(&format!(", threshold {c}"));
    }
    s.push_str(&format!(", {drawn} point{}", if drawn == 1 { "" } else { "s" }));
    if spec.partial {
        s.push_str(&format!(" (from the latest {total} results only)"));
    } else if total > drawn + errors {
        s.push_str(&format!(" (downsampled from {total} results)"));
    }
    if errors > 0 {
        s.push_str(&format!(", {errors} error{} (gaps)", if errors == 1 { "" } else { "s" }));
    }
    s
}

/// The y range: the values and the threshold, padded by 10%; a flat line gets ±1 (or ±10%).
pub fn y_range(values: &[f64], threshold: Option<f64>) -> (f64, f64) {
    let all = values.iter().copied().chain(threshold).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.1;
    // Non-negative data (ratios, latencies) keeps a floor at zero.
    (if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad }, hi + pad)
}

/// The x of time `t` in the drawing.
pub fn x_of(from: DateTime<Utc>, to: DateTime<Utc>, t: DateTime<Utc>) -> f64 {
    let span = (to - from).num_milliseconds().max(1) as f64;
    let f = ((t - from).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
    LEFT + f * (W - LEFT - RIGHT)
}

/// The y of value `v` in the drawing (higher values up).
pub fn y_of(lo: f64, hi: f64, v: f64) -> f64 {
    let f = ((v - lo) / (hi - lo).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
    H - BOTTOM - f * (H - TOP - BOTTOM)
}

/// Runs of values between errors (each a polyline, or a dot when alone).
fn segments(samples: &[Sample]) -> Vec<Vec<(DateTime<Utc>, f64)>> {
    let mut out: Vec<Vec<(DateTime<Utc>, f64)>> = vec![vec![]];
    for s in samples {
        match s.value.filter(|v| v.is_finite()) {
            Some(v) => out.last_mut().into_iter().for_each(|seg| seg.push((s.at, v))),
            None if out.last().is_some_and(|seg| !seg.is_empty()) => out.push(vec![]),
            None => {}
        }
    }
    out.retain(|seg| !seg.is_empty());
    out
}

/// Time spans of samples that are `what` (failed, or could not measure): from each run of them
/// to the next sample that is not (or `end`).
fn spans(
    samples: &[Sample],
    end: DateTime<Utc>,
    what: impl Fn(&Sample) -> bool,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = vec![];
    let mut start = None;
    for s in samples {
        match (what(s), start) {
            (true, None) => start = Some(s.at),
            (false, Some(a)) => {
                out.push((a, s.at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.push((a, end.max(a)));
    }
    out
}

/// A value for people: up to 4 significant digits, no trailing zeros.
pub fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A coordinate with two decimals.
fn f2(v: f64) -> String {
    format!("{v:.2}")
}
