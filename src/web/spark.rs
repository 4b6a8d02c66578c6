//! The index page's sparkline per watched release: a tiny inline SVG (120×24 user units, no
//! axis labels, sized by the stylesheet's `spark` class) of its worst item's recent results.
//!
//! - The worst item: `failing`/`regressed` first, then `unknown`, then `pending`, then
//!   `complete`; among equals the first in checklist order. Items without probes are skipped.
//!   Its probe: the one whose latest result is worst (`fail`, then `error`), else its first.
//! - Numeric results (read as the release page's chart reads them, `metric::samples`) are a
//!   line, split at `error` results (gaps), with failed points marked; otherwise a strip of
//!   ticks whose height *and* colour say the status (pass short, error middle, fail full).
//! - At most [`SPARK_READ`] results (the newest) are drawn, oldest at the left.
//! - A text alternative (`aria-label` and `<title>`): "checkout 2.0: worst item 'smoke
//!   tests' failing; last 20 results: 17 pass, 3 fail".
//!
//! No `style=` attribute and no script: colours come from classes in `style.css`.

use maud::{Markup, html};

use super::chart::{self, num};
use super::layout::item_state;
use super::{Ctx, metric};
use crate::config::ProbeDef;
use crate::engine::ItemView;
use crate::probe::Status;
use crate::release::{ItemState, ResultRecord};

/// Results read (and drawn at most) per sparkline: the newest of one probe.
pub const SPARK_READ: usize = 60;

/// The drawing's size in user units.
const W: f64 = 120.0;
const H: f64 = 24.0;
/// Fewer results than this are drawn as ticks of this many slots, newest at the right edge.
const MIN_SLOTS: usize = 20;

/// How bad an item's state is for the sparkline (lower is worse); none: not followed.
fn rank(s: ItemState) -> Option<u8> {
    match s {
        ItemState::Failing | ItemState::Regressed => Some(0),
        ItemState::Unknown => Some(1),
        ItemState::Pending => Some(2),
        ItemState::Complete => Some(3),
        ItemState::Manual | ItemState::Waived => None,
    }
}

/// The item a release's sparkline follows (`items` in checklist order) and the probe drawn.
pub fn worst(items: &[ItemView]) -> Option<(&ItemView, &str)> {
    let item = items
        .iter()
        .filter(|i| !i.probes.is_empty())
        .filter_map(|i| rank(i.state).map(|r| (r, i)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, i)| i)?;
    let latest = |p: &str| item.last_results.iter().filter(|r| r.probe == p).max_by_key(|r| r.at).map(|r| r.status);
    let badness = |p: &str| match latest(p) {
        Some(Status::Fail) => 0,
        Some(Status::Error) => 1,
        _ => 2,
    };
    let probe = item.probes.iter().min_by_key(|p| badness(p))?;
    Some((item, probe.as_str()))
}

/// The sparkline of `item`'s `probe` for release `name` (`service version`). `results` newest
/// first (only the first [`SPARK_READ`] are used).
pub fn sparkline(ctx: &Ctx, name: &str, item: &ItemView, def: Option<&ProbeDef>, results: &[ResultRecord]) -> Markup {
    let mut recent: Vec<ResultRecord> = results.iter().take(SPARK_READ).cloned().collect();
    recent.reverse();
    let (what, _, samples) = metric::samples(def, &recent);
    let values: Vec<f64> = samples.iter().filter_map(|s| s.value).collect();
    let label = ctx.ev(&label(name, item, &recent, (!values.is_empty()).then_some((what, values.as_slice()))));
    let drawing = if values.is_empty() { ticks(&recent) } else { line(&samples) };
    html! {
        div.sparkline {
            @if recent.is_empty() {
                span.spark-none { (label) }
            } @else {
                svg.spark xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}"))
                    role="img" aria-label=(label)
                    data-kind=(if values.is_empty() { "statuses" } else { "values" }) data-results=(recent.len()) {
                    title { (label) }
                    (drawing)
                }
                span.spark-item { "worst: " (ctx.s(&item.text)) }
            }
        }
    }
}

/// The text alternative: `checkout 2.0: worst item 'smoke tests' failing; last 20 results: 17
/// pass, 3 fail` (errors when there are some, the value range when numeric).
pub fn label(name: &str, item: &ItemView, recent: &[ResultRecord], values: Option<(&str, &[f64])>) -> String {
    let (_, state, _) = item_state(item.state);
    let mut s = format!("{name}: worst item '{}' {state}", item.text);
    if recent.is_empty() {
        s.push_str("; no results yet");
        return s;
    }
    let n = |st: Status| recent.iter().filter(|r| r.status == st).count();
    let plural = if recent.len() == 1 { "" } else { "s" };
    s.push_str(&format!("; last {} result{plural}: {} pass, {} fail", recent.len(), n(Status::Pass), n(Status::Fail)));
    if n(Status::Error) > 0 {
        s.push_str(&format!(", {} error", n(Status::Error)));
    }
    if let Some((what, v)) = values {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let range = if lo == hi { num(lo) } else { format!("{}–{}", num(lo), num(hi)) };
        s.push_str(&format!("; {what} {range}"));
    }
    s
}

/// The x of the `i`th of `n` results: evenly spaced across the width.
fn x(i: usize, n: usize) -> f64 {
    if n <= 1 { W / 2.0 } else { 1.0 + i as f64 * (W - 2.0) / (n - 1) as f64 }
}

/// A line of the values (split at gaps), failed points marked with a dot.
fn line(samples: &[chart::Sample]) -> Markup {
    let values: Vec<f64> = samples.iter().filter_map(|s| s.value).collect();
    let (lo, hi) = chart::y_range(&values, None);
    let y = |v: f64| H - 2.0 - ((v - lo) / (hi - lo).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0) * (H - 4.0);
    let n = samples.len();
    let mut runs: Vec<Vec<(f64, f64)>> = vec![vec![]];
    for (i, s) in samples.iter().enumerate() {
        match s.value {
            Some(v) => runs.last_mut().into_iter().for_each(|r| r.push((x(i, n), y(v)))),
            None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(vec![]),
            None => {}
        }
    }
    runs.retain(|r| !r.is_empty());
    let pts = |r: &[(f64, f64)]| r.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
    html! {
        @for r in &runs {
            @if r.len() == 1 {
                circle.spark-dot cx=(format!("{:.1}", r[0].0)) cy=(format!("{:.1}", r[0].1)) r="1.5" {}
            } @else {
                polyline.spark-line points=(pts(r)) fill="none" stroke="currentColor" stroke-width="1.5"
                    stroke-linejoin="round" {}
            }
        }
        @for (i, s) in samples.iter().enumerate() {
            @if let (true, Some(v)) = (s.failed, s.value) {
                circle.spark-fail cx=(format!("{:.1}", x(i, n))) cy=(format!("{:.1}", y(v))) r="2" {}
            }
            @if s.value.is_none() {
                rect.spark-gap x=(format!("{:.1}", x(i, n) - 1.0)) y=(H - 3.0) width="2" height="3" {}
            }
        }
    }
}

/// One tick per result, newest at the right: pass short, error middle, fail full height.
fn ticks(recent: &[ResultRecord]) -> Markup {
    let slots = recent.len().max(MIN_SLOTS);
    let slot = W / slots as f64;
    let first = slots - recent.len();
    html! {
        @for (i, r) in recent.iter().enumerate() {
            @let (top, class) = match r.status {
                Status::Pass => (H * 0.6, "tick pass"),
                Status::Error => (H * 0.3, "tick error"),
                Status::Fail => (0.0, "tick fail"),
            };
            rect class=(class) x=(format!("{:.2}", (first + i) as f64 * slot + slot * 0.15)) y=(format!("{top:.1}"))
                width=(format!("{:.2}", slot * 0.7)) height=(format!("{:.1}", H - top)) {}
        }
    }
}
