//! What the page says about whether an item could be seen: an `unknown` item's "could not
//! measure since T: LAST ERROR", the coverage of the window, the `warn`/`shadow` markers and
//! how a person settles an `inconclusive` release. Shared by the overview and the release page.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::Ctx;
use super::layout::when;
use crate::config::Mode;
use crate::engine::ItemView;
use crate::release::Release;
use crate::rules::pct;
use crate::transition::Cause;

/// What the page says when no result came since the last measurement (the engine's words).
pub(super) const NO_RESULT: &str = "no result since (was shipwatch down?)";

/// Since when an `unknown` item could not be measured: its cause's `since` (the last
/// measurement, or when the first was due), else its last measurement, else when it changed.
pub(super) fn unmeasured_since(i: &ItemView) -> DateTime<Utc> {
    match &i.cause {
        Cause::Unmeasured { since } => *since,
        _ => i.fresh_at.unwrap_or(i.since),
    }
}

/// The last error of an `unknown` item: the message of the latest result of its probes, if
/// one came after `since` (none: nothing answered at all).
pub(super) fn last_error(i: &ItemView) -> Option<&str> {
    let since = unmeasured_since(i);
    i.last_results.iter().filter(|r| r.at > since).max_by_key(|r| r.at).map(|r| r.evidence.message.as_str())
}

/// "could not measure since T (ago): LAST ERROR", in amber.
pub(super) fn unmeasured(ctx: &Ctx, i: &ItemView) -> Markup {
    html! {
        span.unmeasured {
            "could not measure since " (when(ctx, unmeasured_since(i))) ": "
            (ctx.ev(last_error(i).unwrap_or(NO_RESULT)))
        }
    }
}

/// "measured 93% of the window", amber with what it needs when below its `min_coverage`.
/// Nothing for items without a coverage (shadow, action or manual items; before the deploy).
pub(super) fn coverage(i: &ItemView) -> Option<Markup> {
    let c = i.coverage?;
    let min = i.min_coverage.filter(|m| c < *m);
    Some(html! {
        p class={ "coverage" @if min.is_some() { " low" } } {
            "measured " (pct(c)) " of the window"
            @if let Some(m) = min { " (below its min_coverage " (pct(m)) ")" }
        }
    })
}

/// The marker of a binding that does not gate the release.
pub(super) fn mode_mark(mode: Option<Mode>) -> Option<Markup> {
    let mode = mode?;
    let text = match mode {
        Mode::Gate => return None,
        Mode::Warn => "warn: does not block the release",
        Mode::Shadow => "shadow: shown only, changes nothing",
    };
    Some(html! { span class={ "mode-mark " (mode.as_str()) } { (text) } })
}

/// The command that settles release `id`, as the page shows it.
pub(super) fn settle_command(ctx: &Ctx, id: &str) -> String {
    format!("shipwatch verdict {} --verified|--failed --by NAME --note WHY", ctx.s(id))
}

/// An inconclusive release: why, and how a person settles it.
pub(super) fn settle(ctx: &Ctx, rel: &Release) -> Markup {
    html! {
        section.settle aria-labelledby="settle" {
            h2 #settle { span.icon aria-hidden="true" { "?" } " Inconclusive: nobody could tell" }
            @if let Some(why) = &rel.reason { p.settle-reason { (ctx.ev(why)) } }
            p {
                "The evidence was not enough for a verdict. A person settles it (recorded with who and why): "
                code { (settle_command(ctx, &rel.id)) }
            }
        }
    }
}
