//! `GET /`: the five-second view. Active releases red first (each red one names its red items
//! and why), then the recently closed releases with their verdict.

use maud::{Markup, html};

use super::layout::{self, badge, counts, is_red, item_state, release_badge, when, window};
use super::{Ctx, human};
use crate::engine::ReleaseView;
use crate::release::ItemState;

/// How many closed releases are listed.
const CLOSED_SHOWN: usize = 20;

/// The overview page. `detail(id)` gives a release with its items (for naming red items).
pub(super) fn page(ctx: &Ctx, releases: &[ReleaseView], detail: impl Fn(&str) -> Option<ReleaseView>) -> Markup {
    let mut active: Vec<&ReleaseView> = releases.iter().filter(|r| r.release.state.is_active()).collect();
    // Red first; otherwise newest first (the engine's order, kept by the stable sort).
    active.sort_by_key(|r| !is_red(r));
    let mut closed: Vec<&ReleaseView> = releases.iter().filter(|r| !r.release.state.is_active()).collect();
    closed.sort_by_key(|r| std::cmp::Reverse(r.release.closed_at.unwrap_or(r.release.created_at)));
    closed.truncate(CLOSED_SHOWN);
    let red = active.iter().filter(|r| is_red(r)).count();

    let body = html! {
        h1 { "Releases being watched" }
        @if active.is_empty() {
            p.summary.calm { "No release is being watched right now." }
        } @else if red > 0 {
            p.summary.alarm role="status" {
                span.icon aria-hidden="true" { "✗" } " "
                (red) " of " (active.len()) " watched release" (plural(active.len())) " need" (if red == 1 { "s" } else { "" })
                " attention"
            }
        } @else {
            p.summary.calm role="status" {
                span.icon aria-hidden="true" { "✓" } " "
                "Nothing red: " (active.len()) " release" (plural(active.len())) " watched, no failing or regressed items"
            }
        }
        @if !active.is_empty() {
            ul.cards {
                @for r in &active {
                    li { (card(ctx, r, &detail)) }
                }
            }
        } @else {
            p.hint { "Start a watch with " code { "shipwatch release start --service S --version V" } "." }
        }
        section aria-labelledby="closed" {
            h2 #closed { "Recently closed" }
            @if closed.is_empty() {
                p.hint { "No release has closed yet." }
            } @else {
                (closed_table(ctx, &closed))
            }
        }
    };
    layout::page("Releases", true, body)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One watched release.
fn card(ctx: &Ctx, r: &ReleaseView, detail: &impl Fn(&str) -> Option<ReleaseView>) -> Markup {
    let rel = &r.release;
    let href = format!("/releases/{}", rel.id);
    let red_items: Vec<_> = if is_red(r) {
        detail(&rel.id)
            .and_then(|d| d.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|i| matches!(i.state, ItemState::Failing | ItemState::Regressed))
            .collect()
    } else {
        Vec::new()
    };
    html! {
        article class={ "card " (layout::tone(r)) } aria-label=(format!("{} {}", rel.service, rel.version)) {
            div.card-head {
                h2 { a href=(href) { (ctx.s(&rel.service)) " " span.version { (ctx.s(&rel.version)) } } }
                span.env { (ctx.s(&rel.environment)) }
                (release_badge(r))
            }
            (window(r))
            (counts(&r.counts))
            @if !red_items.is_empty() {
                ul.red-items aria-label="Failing and regressed items" {
                    @for i in &red_items {
                        li {
                            (badge(item_state(i.state))) " "
                            a href=(format!("{href}#item-{}", i.id)) { (ctx.s(&i.text)) }
                            @if let Some(e) = &i.evidence {
                                span.why {
                                    " — "
                                    @if let Some(p) = &e.probe { b { (ctx.s(p)) } ": " }
                                    (ctx.s(&e.evidence.message))
                                }
                            }
                        }
                    }
                }
            }
            p.meta {
                @if let Some(d) = rel.deployed_at { "deployed " (when(ctx, d)) } @else { "created " (when(ctx, rel.created_at)) }
                " · " a href=(href) { "checklist and evidence →" }
            }
        }
    }
}

/// Closed releases with their verdict.
fn closed_table(ctx: &Ctx, closed: &[&ReleaseView]) -> Markup {
    html! {
        div.scroll {
            table.closed {
                thead {
                    tr {
                        th scope="col" { "Release" }
                        th scope="col" { "Verdict" }
                        th scope="col" { "Closed" }
                    }
                }
                tbody {
                    @for r in closed {
                        @let rel = &r.release;
                        tr {
                            th scope="row" {
                                a href=(format!("/releases/{}", rel.id)) { (ctx.s(&rel.service)) " " (ctx.s(&rel.version)) }
                                " " span.env { (ctx.s(&rel.environment)) }
                            }
                            td {
                                (badge(layout::release_state(rel.state)))
                                @if let Some(why) = &rel.reason { div.reason { (ctx.s(why)) } }
                            }
                            td {
                                @if let Some(c) = rel.closed_at { (when(ctx, c)) }
                                @if let Some(el) = r.window.elapsed_s { div.reason { "watched " (human(el)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
