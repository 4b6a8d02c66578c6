//! The on-call status page: server-rendered HTML (maud templates, one embedded stylesheet, no
//! JavaScript) that refreshes itself every 15 seconds. Pure rendering from the engine's views;
//! the HTTP side (routes, the page cache, gzip, error status codes) is `api/pages.rs`.
//!
//! - [`index_page`] (`GET /`): every active release, red first, then those with items that
//!   can't be seen (`unknown`, amber), with its window progress and item counts (and the red and
//!   unknown items named) and a sparkline of its worst item's recent results (`spark`), then
//!   the recently closed releases with their verdict.
//! - [`release_page`] (`GET /releases/{id}`): the team's checklist grouped by its own headings,
//!   each item's state (icon *and* word), its evidence (marked old when the item is unknown),
//!   its coverage and mode, a strip of recent results per probe and a chart of each probe's
//!   numeric value (`chart`, `metric`), the release's timeline (`timeline`), and the items
//!   people ticked or waived; an inconclusive release says how a person settles it.
//!
//! Every displayed string from evidence or config passes through the config's redactor (on top
//! of the engine's own redaction), and maud escapes all of it. Charts and the timeline are
//! inline SVG with presentation attributes and stylesheet classes: no script, no external
//! asset, nothing the page's Content-Security-Policy refuses.

mod chart;
#[cfg(test)]
mod chart_tests;
#[cfg(test)]
mod fixtures;
mod index;
#[cfg(test)]
mod index_tests;
mod layout;
mod metric;
#[cfg(test)]
mod metric_tests;
mod release;
#[cfg(test)]
mod release_tests;
mod seen;
mod spark;
#[cfg(test)]
mod spark_tests;
mod timeline;
#[cfg(test)]
mod timeline_tests;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::config::Config;
use crate::engine::ReleaseView;
use crate::redact::Redactor;
use crate::release::{HistoryRecord, ResultRecord};

pub use release::{CHART_READ, STRIP};
pub use spark::SPARK_READ;

/// What every template needs: the redactor and the time the page is rendered at.
pub struct Ctx {
    redactor: Redactor,
    now: DateTime<Utc>,
}

impl Ctx {
    pub fn new(redactor: Redactor, now: DateTime<Utc>) -> Self {
        Ctx { redactor, now }
    }

    /// The time the page is rendered at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A string safe to show: secrets masked (maud escapes HTML).
    fn s(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// Evidence text safe to show, with an empty Prometheus label set written "(all series)"
    /// (stored evidence from before the probe wrote it so reads `{}=0.5` or `{} is 2`).
    fn ev(&self, text: &str) -> String {
        all_series(&self.s(text))
    }
}

/// `text` with each bare `{}` label set (followed by `=`, ` is ` or ` was `) written
/// "(all series)"; other braces are left alone.
pub(crate) fn all_series(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("{}") {
        let after = &rest[at + 2..];
        out.push_str(&rest[..at]);
        let label_set = after.starts_with('=') || after.starts_with(" is ") || after.starts_with(" was ");
        out.push_str(if label_set { "(all series)" } else { "{}" });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The overview: every release, red first, each watched one with a sparkline of its worst
/// item's recent results. `detail(id)` gives a release with its items (for naming red items
/// and finding the worst); `results(id, probe)` a probe's newest results, newest first (up to
/// [`SPARK_READ`]; asked for one probe of each active release only).
pub fn index_page(
    ctx: &Ctx,
    cfg: &Config,
    releases: &[ReleaseView],
    detail: impl Fn(&str) -> Option<ReleaseView>,
    results: impl Fn(&str, &str) -> Option<Vec<ResultRecord>>,
) -> Markup {
    index::page(ctx, cfg, releases, detail, results)
}

/// One release's checklist with evidence. `results(probe)` gives a probe's latest results
/// (up to [`CHART_READ`]: the last [`STRIP`] are shown as cells, all in the probe's chart),
/// newest first. `history` (oldest first) draws the release's timeline.
pub fn release_page(
    ctx: &Ctx,
    cfg: &Config,
    view: &ReleaseView,
    history: &[HistoryRecord],
    results: impl Fn(&str) -> Option<Vec<ResultRecord>>,
) -> Markup {
    release::page(ctx, cfg, view, history, results)
}

/// A small HTML error page with a way back.
pub fn error_page(title: &str, detail: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        p.notice { (detail) }
        p { a href="/" { "← All releases" } }
    };
    layout::page(title, false, body)
}

/// `12h 3m`, `3m 20s`, `2d 4h`, `42s`: the two largest units.
pub(crate) fn human(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::{all_series, human};

    #[test]
    fn an_empty_label_set_reads_all_series() {
        for (text, want) in [
            ("{}=0.5", "(all series)=0.5"),
            ("{}=0.5, {job=\"api\"}=2", "(all series)=0.5, {job=\"api\"}=2"),
            ("{} is 2 (want < 1)", "(all series) is 2 (want < 1)"),
            ("{} was 3", "(all series) was 3"),
            ("body was {}", "body was {}"),
            ("json {} ok", "json {} ok"),
            ("(all series)=1", "(all series)=1"),
            ("", ""),
        ] {
            assert_eq!(all_series(text), want, "{text}");
        }
    }

    #[test]
    fn human_durations_show_two_units() {
        for (secs, want) in [
            (0.0, "0s"),
            (42.4, "42s"),
            (60.0, "1m"),
            (200.0, "3m 20s"),
            (3600.0, "1h"),
            (43_380.0, "12h 3m"),
            (86_400.0, "1d"),
            (187_200.0, "2d 4h"),
            (-5.0, "0s"),
        ] {
            assert_eq!(human(secs), want, "{secs}");
        }
    }
}
