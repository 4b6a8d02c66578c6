//! `GET /`: the five-second view. Active releases red first, then those that can't be seen
//! (each names its red and unknown items and why), then the recently closed releases with their
//! verdict (an inconclusive one with how to settle it).

use maud::{Markup, html};

use super::layout::{self, badge, counts, is_red, is_unseen, item_state, release_badge, when, window};
use super::{Ctx, human, seen, spark};
use crate::config::Config;
use crate::engine::ReleaseView;
use crate::release::{ItemState, ReleaseState, ResultRecord};

/// How many closed releases are listed.
const CLOSED_SHOWN: usize = 20;

/// The overview page. `detail(id)` gives a release with its items (for naming red items and
/// finding the worst one); `results(id, probe)` a probe's newest results (newest first, up to
/// [`spark::SPARK_READ`]), asked for one probe per active release only.
pub(super) fn page(
    ctx: &Ctx,
    cfg: &Config,
    releases: &[ReleaseView],
    detail: impl Fn(&str) -> Option<ReleaseView>,
    results: impl Fn(&str, &str) -> Option<Vec<ResultRecord>>,
) -> Markup {
    let mut active: Vec<&ReleaseView> = releases.iter().filter(|r| r.release.state.is_active()).collect();
    // Red first, then those that can't be seen; otherwise newest first (the engine's order,
    // kept by the stable sort).
    active.sort_by_key(|r| (!is_red(r), !is_unseen(r)));
    let mut closed: Vec<&ReleaseView> = releases.iter().filter(|r| !r.release.state.is_active()).collect();
    closed.sort_by_key(|r| std::cmp::Reverse(r.release.closed_at.unwrap_or(r.release.created_at)));
    closed.truncate(CLOSED_SHOWN);
    let body = html! {
        h1 { "Releases being watched" }
        (summary(&active))
        @if !active.is_empty() {
            ul.cards {
                @for r in &active {
                    li { (card(ctx, cfg, r, &detail, &results)) }
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

/// The one line on top: red releases (alarm), else releases that can't be seen (amber), else
/// calm. It never says "Nothing red" while a watched release has an `unknown` item.
fn summary(active: &[&ReleaseView]) -> Markup {
    let red = active.iter().filter(|r| is_red(r)).count();
    let unseen = active.iter().filter(|r| is_unseen(r)).count();
    let unknown: usize = active.iter().filter(|r| is_unseen(r)).map(|r| r.counts.unknown).sum();
    // "1 release can't be seen: 2 items could not be measured"
    let blind = format!(
        "{unseen} release{} can't be seen: {unknown} item{} could not be measured",
        plural(unseen),
        plural(unknown)
    );
    html! {
        @if active.is_empty() {
            p.summary.calm { "No release is being watched right now." }
        } @else if red > 0 {
            p.summary.alarm role="status" {
                span.icon aria-hidden="true" { "✗" } " "
                (red) " of " (active.len()) " watched release" (plural(active.len())) " need" (if red == 1 { "s" } else { "" })
                " attention"
                @if unseen > 0 { span.also { " · " span.icon aria-hidden="true" { "⚠" } " " (blind) } }
            }
        } @else if unseen > 0 {
            p.summary.unseen role="status" {
                span.icon aria-hidden="true" { "⚠" } " " (blind)
                " · nothing failing or regressed in " (active.len()) " watched release" (plural(active.len()))
            }
        } @else {
            p.summary.calm role="status" {
                span.icon aria-hidden="true" { "✓" } " "
                "Nothing red: " (active.len()) " release" (plural(active.len())) " watched, no failing or regressed items"
            }
        }
    }
}

/// One watched release.
fn card(
    ctx: &Ctx,
    cfg: &Config,
    r: &ReleaseView,
    detail: &impl Fn(&str) -> Option<ReleaseView>,
    results: &impl Fn(&str, &str) -> Option<Vec<ResultRecord>>,
) -> Markup {
    let rel = &r.release;
    let href = format!("/releases/{}", rel.id);
    let items = detail(&rel.id).and_then(|d| d.items).unwrap_or_default();
    // The worst item's recent results: one probe's newest results read per release.
    let spark = spark::worst(&items).map(|(item, probe)| {
        let name = format!("{} {}", rel.service, rel.version);
        let recent = results(&rel.id, probe).unwrap_or_default();
        spark::sparkline(ctx, &name, item, cfg.probes.get(probe), &recent)
    });
    // Red and unknown items, named with why.
    let red_items: Vec<_> = items
        .iter()
        .filter(|i| matches!(i.state, ItemState::Failing | ItemState::Regressed | ItemState::Unknown))
        .collect();
    html! {
        article class={ "card " (layout::tone(r)) } aria-label=(format!("{} {}", rel.service, rel.version)) {
            div.card-head {
                h2 { a href=(href) { (ctx.s(&rel.service)) " " span.version { (ctx.s(&rel.version)) } } }
                span.env { (ctx.s(&rel.environment)) }
                (release_badge(r))
            }
            (window(r))
            (counts(&r.counts))
            @if let Some(s) = spark { (s) }
            @if !red_items.is_empty() {
                ul.red-items aria-label="Failing, regressed and unknown items" {
                    @for i in &red_items {
                        li {
                            (badge(item_state(i.state))) " "
                            a href=(format!("{href}#item-{}", i.id)) { (ctx.s(&i.text)) }
                            @if i.state == ItemState::Unknown {
                                span.why { " — " (seen::unmeasured(ctx, i)) }
                            } @else if let Some(e) = &i.evidence {
                                span.why {
                                    " — "
                                    @if let Some(p) = &e.probe { b { (ctx.s(p)) } ": " }
                                    (ctx.ev(&e.evidence.message))
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
                                @if let Some(why) = &rel.reason { div.reason { (ctx.ev(why)) } }
                                @if rel.state == ReleaseState::Inconclusive {
                                    div.reason { "settle it: " code { (seen::settle_command(ctx, &rel.id)) } }
                                }
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
