//! The page shell and the small building blocks both pages share: state badges (icon + word,
//! never colour alone), the window progress bar, item counts and timestamps.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Ctx, human};
use crate::engine::{Counts, ReleaseView};
use crate::release::{ItemState, ReleaseState};

/// The embedded stylesheet.
const CSS: &str = include_str!("style.css");

/// Seconds between automatic reloads of a page.
pub(super) const REFRESH_S: u32 = 15;

/// A whole HTML document around `body`; `refresh` makes it reload itself.
pub(super) fn page(title: &str, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh {
                    meta http-equiv="refresh" content=(REFRESH_S);
                }
                meta name="color-scheme" content="light dark";
                title { (title) " · shipwatch" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.site {
                    a.brand href="/" { "shipwatch" }
                    span.tagline { "release watch" }
                }
                main { (body) }
                footer.site {
                    "shipwatch " (env!("CARGO_PKG_VERSION"))
                    @if refresh { " · this page refreshes every " (REFRESH_S) " s" }
                    " · " a href="/metrics" { "metrics" }
                    " · " a href="/api/v1/releases" { "API" }
                }
            }
        }
    }
}

/// Icon, word and colour class of an item state.
pub(super) fn item_state(s: ItemState) -> (&'static str, &'static str, &'static str) {
    match s {
        ItemState::Complete => ("✓", "complete", "ok"),
        ItemState::Failing => ("✗", "failing", "bad"),
        ItemState::Regressed => ("✗", "regressed", "bad"),
        ItemState::Pending => ("…", "pending", "wait"),
        ItemState::Manual => ("☐", "manual", "manual"),
        ItemState::Waived => ("⊘", "waived", "waived"),
        ItemState::Unknown => ("?", "unknown", "unknown"),
    }
}

/// Icon, word and colour class of a release state.
pub(super) fn release_state(s: ReleaseState) -> (&'static str, &'static str, &'static str) {
    match s {
        ReleaseState::Planned => ("◷", "planned", "wait"),
        ReleaseState::Deployed => ("◉", "deployed", "wait"),
        ReleaseState::Verified => ("✓", "verified", "ok"),
        ReleaseState::Failed => ("✗", "failed", "bad"),
        ReleaseState::Inconclusive => ("?", "inconclusive", "unknown"),
    }
}

/// A badge: icon (hidden from screen readers) and word.
pub(super) fn badge((icon, word, class): (&str, &str, &str)) -> Markup {
    html! {
        span class={ "badge " (class) } { span.icon aria-hidden="true" { (icon) } " " (word) }
    }
}

/// The release needs a human: failing or regressed items, or a failed verdict.
pub(super) fn is_red(r: &ReleaseView) -> bool {
    r.counts.failing + r.counts.regressed > 0 || r.release.state == ReleaseState::Failed
}

/// A watched release with items nobody can currently see (`unknown`: could not be measured).
pub(super) fn is_unseen(r: &ReleaseView) -> bool {
    r.release.state.is_active() && r.counts.unknown > 0
}

/// The accent of a release's card: `red` (needs a human), `unknown` (amber: can't be seen, or
/// closed inconclusive), `done` (verified), `calm` (watching).
pub(super) fn tone(r: &ReleaseView) -> &'static str {
    if is_red(r) {
        "red"
    } else if is_unseen(r) || r.release.state == ReleaseState::Inconclusive {
        "unknown"
    } else if r.release.state == ReleaseState::Verified {
        "done"
    } else {
        "calm"
    }
}

/// The release's state badge, saying "needs attention" when a watched release has red items
/// and "can't be seen" when it has `unknown` ones.
pub(super) fn release_badge(r: &ReleaseView) -> Markup {
    let active = r.release.state.is_active();
    html! {
        (badge(release_state(r.release.state)))
        @if active && is_red(r) { " " (badge(("!", "needs attention", "bad"))) }
        @if is_unseen(r) { " " (badge(("⚠", "can't be seen", "unknown"))) }
    }
}

/// The watch window: a progress bar with a mark at `min`, and the time left in words.
pub(super) fn window(r: &ReleaseView) -> Markup {
    let w = &r.window;
    let max = w.max_s.max(0.001);
    let elapsed = w.elapsed_s.unwrap_or(0.0).clamp(0.0, max);
    let min_pct = (w.min_s / max * 100.0).clamp(0.0, 100.0);
    let text = match (r.release.state, w.remaining_s, w.elapsed_s) {
        (ReleaseState::Planned, _, _) => {
            format!("not deployed yet · window {}–{}", human(w.min_s), human(w.max_s))
        }
        (ReleaseState::Deployed, Some(left), Some(el)) => {
            let min = if el >= w.min_s { "min reached".to_string() } else { format!("min in {}", human(w.min_s - el)) };
            format!("{} left · {} · window {}–{}", human(left), min, human(w.min_s), human(w.max_s))
        }
        (_, _, Some(el)) => format!("closed after {} · window {}–{}", human(el), human(w.min_s), human(w.max_s)),
        _ => format!("window {}–{}", human(w.min_s), human(w.max_s)),
    };
    let label = format!("Watch window of {} {}", r.release.service, r.release.version);
    html! {
        div.window {
            div.bar {
                progress value=(format!("{elapsed:.0}")) max=(format!("{max:.0}")) aria-label=(label) {
                    (format!("{:.0}%", elapsed / max * 100.0))
                }
                span.minmark style=(format!("left: {min_pct:.1}%")) title="window min" {}
            }
            p.window-text { (text) }
        }
    }
}

/// Item counts by state, each with its icon and word; zeros are dimmed, red ones stand out,
/// unknown ones (amber) and waived ones are shown only when there are some.
pub(super) fn counts(c: &Counts) -> Markup {
    let rows = [
        (ItemState::Failing, c.failing),
        (ItemState::Regressed, c.regressed),
        (ItemState::Unknown, c.unknown),
        (ItemState::Complete, c.complete),
        (ItemState::Pending, c.pending),
        (ItemState::Manual, c.manual),
        (ItemState::Waived, c.waived),
    ];
    html! {
        ul.counts aria-label="Items by state" {
            @for (state, n) in rows {
                @let (icon, word, class) = item_state(state);
                @if n > 0 || !matches!(state, ItemState::Waived | ItemState::Unknown) {
                    li class={ "count " (class) @if n == 0 { " zero" } } {
                        span.icon aria-hidden="true" { (icon) } " " b { (n) } " " (word)
                    }
                }
            }
        }
    }
}

/// A `<time>` with a UTC timestamp and how long ago it was.
pub(super) fn when(ctx: &Ctx, t: DateTime<Utc>) -> Markup {
    let ago = (ctx.now - t).num_milliseconds() as f64 / 1000.0;
    let rel = if ago >= 0.0 { format!("{} ago", human(ago)) } else { format!("in {}", human(-ago)) };
    html! {
        time datetime=(t.to_rfc3339()) title=(t.format("%Y-%m-%d %H:%M:%S UTC")) {
            (t.format("%b %-d %H:%M UTC")) " (" (rel) ")"
        }
    }
}
