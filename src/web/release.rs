//! `GET /releases/{id}`: one release. How to settle it when inconclusive, what needs attention
//! and what can't be seen first, then the team's checklist grouped by its own headings (levels
//! kept), each item with its state, coverage, evidence (the last good one marked old when the
//! item is unknown), a strip of recent results and a chart of its numeric value per probe, then
//! the items people ticked or waived. The release's timeline sits above the checklist.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::layout::{self, badge, counts, item_state, release_badge, when, window};
use super::{Ctx, human, metric, seen, timeline};
use crate::checklist::Checklist;
use crate::config::{Binding, Config, Mode, PassRule};
use crate::engine::{ItemView, ReleaseView};
use crate::probe::Status;
use crate::release::{HistoryRecord, ItemEvidence, ItemState, ReleaseState, ResultRecord};

/// Results shown per probe strip.
pub const STRIP: usize = 20;

/// Results read per probe for its chart (the newest; downsampled to `chart::MAX_POINTS`, 240).
pub const CHART_READ: usize = 2000;

/// The release page. `results(probe)` gives a probe's latest results (up to [`CHART_READ`]),
/// newest first: the strip shows the last [`STRIP`], the chart all.
pub(super) fn page(
    ctx: &Ctx,
    cfg: &Config,
    view: &ReleaseView,
    history: &[HistoryRecord],
    results: impl Fn(&str) -> Option<Vec<ResultRecord>>,
) -> Markup {
    let rel = &view.release;
    let items: Vec<&ItemView> = view.items.iter().flatten().collect();
    let by_id: BTreeMap<&str, &ItemView> = items.iter().map(|i| (i.id.as_str(), *i)).collect();
    let mut strips: BTreeMap<&str, Vec<ResultRecord>> = BTreeMap::new();
    for p in items.iter().flat_map(|i| i.probes.iter()) {
        strips.entry(p.as_str()).or_insert_with(|| {
            let mut r = results(p).unwrap_or_default();
            r.reverse(); // oldest first, newest at the right
            r
        });
    }
    let red: Vec<&ItemView> =
        items.iter().copied().filter(|i| matches!(i.state, ItemState::Failing | ItemState::Regressed)).collect();
    let unseen: Vec<&ItemView> = items.iter().copied().filter(|i| i.state == ItemState::Unknown).collect();
    let people: Vec<&ItemView> =
        items.iter().copied().filter(|i| i.by.is_some() || i.state == ItemState::Waived).collect();
    let open_manual = items.iter().filter(|i| i.state == ItemState::Manual).count();
    let removed: Vec<&ItemView> = items.iter().copied().filter(|i| cfg.checklist.get(&i.id).is_none()).collect();
    let chart = |item: &str, probe: &str| {
        let id: String =
            format!("{item}-{probe}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let results = strips.get(probe).map(Vec::as_slice).unwrap_or_default();
        metric::probe_chart(&id, cfg.probes.get(probe), rel, results, ctx.now())
    };
    let item = |i: &ItemView, anchor: bool| item(ctx, cfg.items.get(&i.id), i, &strips, &chart, anchor);

    let name = |id: &str| by_id.get(id).map(|i| i.text.clone());
    let mut events = timeline::events(history, &name);
    for e in &mut events {
        e.text = ctx.ev(&e.text);
    }
    let title = format!("{} {} · {}", ctx.s(&rel.service), ctx.s(&rel.version), ctx.s(&rel.environment));
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/" { "← All releases" } }
        div class={ "release-head " (layout::tone(view)) } {
            h1 { (ctx.s(&rel.service)) " " span.version { (ctx.s(&rel.version)) } }
            p.head-line { span.env { (ctx.s(&rel.environment)) } " " (release_badge(view)) }
            @if rel.state != ReleaseState::Inconclusive {
                @if let Some(why) = &rel.reason { p.reason { (ctx.ev(why)) } }
            }
            (window(view))
            (counts(&view.counts))
            p.meta {
                @if let Some(d) = rel.deployed_at { "deployed " (when(ctx, d)) } @else { "created " (when(ctx, rel.created_at)) }
                @if let Some(c) = rel.closed_at { " · closed " (when(ctx, c)) }
                @if rel.regressed { " · a regression extended the watch to the window max" }
                " · id " code { (ctx.s(&rel.id)) }
                @if let Some(c) = &rel.commit { " · commit " code title=(c) { (c.get(..12).unwrap_or(c)) } }
            }
            @if !rel.labels.is_empty() {
                ul.labels aria-label="Labels" {
                    @for (k, v) in &rel.labels { li { code { (ctx.s(k)) "=" (ctx.s(v)) } } }
                }
            }
            p.links {
                a href=(format!("/api/v1/releases/{}/checklist.md", rel.id)) { "checklist.md" } " · "
                a href=(format!("/api/v1/releases/{}/results", rel.id)) { "results (JSON)" } " · "
                a href=(format!("/api/v1/releases/{}", rel.id)) { "release (JSON)" }
            }
        }
        @if rel.state == ReleaseState::Inconclusive { (seen::settle(ctx, rel)) }
        @if !red.is_empty() {
            section.attention aria-labelledby="attention" {
                h2 #attention { span.icon aria-hidden="true" { "✗" } " Needs attention" }
                ul.items { @for i in &red { (item(i, false)) } }
            }
        }
        @if !unseen.is_empty() {
            section.unseen aria-labelledby="unseen" {
                h2 #unseen { span.icon aria-hidden="true" { "⚠" } " Can't be seen" }
                ul.items { @for i in &unseen { (item(i, false)) } }
            }
        }
        (timeline::timeline(rel, &events, ctx.now()))
        section.checklist aria-label="Checklist" {
            (checklist(&cfg.checklist, |id| by_id.get(id).map(|i| item(i, true))))
            @if !removed.is_empty() {
                h2 { "No longer in the checklist" }
                ul.items { @for i in &removed { (item(i, true)) } }
            }
        }
        section.people aria-labelledby="people" {
            h2 #people { "Ticked by people" }
            @if people.is_empty() {
                p.hint { "Nobody has ticked or waived an item of this release yet." }
            } @else {
                (people_table(ctx, &people))
            }
            p.hint {
                (open_manual) " manual item" (if open_manual == 1 { "" } else { "s" })
                " still open (marked ☐ in the checklist above); manual items never block the verdict. Tick one with "
                code { "shipwatch tick " (ctx.s(&rel.id)) " ITEM --by NAME --note TEXT" } "."
            }
        }
    };
    layout::page(&title, true, body)
}

/// The checklist in document order: every heading that has items under it (at any depth), at
/// its own level (`#` → `h2`, since the page title is the `h1`), followed by its direct items.
fn checklist(cl: &Checklist, item: impl Fn(&str) -> Option<Markup>) -> Markup {
    // Linear in sections + items: each section's direct items and whole extent are found by
    // binary search over the items (in line order), never by scanning every item per section.
    let lines: Vec<usize> = cl.sections.iter().map(|s| s.line).chain([usize::MAX]).collect();
    let ends = cl.section_ends();
    let direct = |from: usize, to: usize| -> Vec<Markup> {
        cl.items_between(from, to)
            .iter()
            .filter_map(|i| item(&i.id).map(|m| (i.depth, m)))
            .map(|(depth, m)| {
                if depth > 0 {
                    html! { div class={ "nested d" (depth.min(3)) } { (m) } }
                } else {
                    m
                }
            })
            .collect()
    };
    let head = direct(0, lines[0]);
    html! {
        @if !head.is_empty() { ul.items { @for m in head { (m) } } }
        @for (n, s) in cl.sections.iter().enumerate() {
            @if !cl.items_between(s.line, ends[n]).is_empty() {
                @let mine = direct(s.line, lines[n + 1]);
                (heading(s.level, &s.title))
                @if !mine.is_empty() { ul.items { @for m in mine { (m) } } }
            }
        }
    }
}

/// A checklist heading one level below the team's (the page's `h1` is the release).
fn heading(level: u8, text: &str) -> Markup {
    html! {
        @match level {
            0 | 1 => h2.sec { (text) },
            2 => h3.sec { (text) },
            3 => h4.sec { (text) },
            4 => h5.sec { (text) },
            _ => h6.sec { (text) },
        }
    }
}

/// One item: state badge and text; for automated items the rule, evidence and result strips;
/// for items a person touched, who and the note. `anchor`: this is the item's place in the
/// checklist (it gets the `item-ID` id); otherwise it links there.
fn item(
    ctx: &Ctx,
    b: Option<&Binding>,
    i: &ItemView,
    strips: &BTreeMap<&str, Vec<ResultRecord>>,
    chart: &dyn Fn(&str, &str) -> Option<Markup>,
    anchor: bool,
) -> Markup {
    let (_, word, class) = item_state(i.state);
    let person = i.by.as_deref().filter(|b| *b != "shipwatch");
    // Shadow items stay manual, but their probes' results are shown.
    let detailed =
        i.automated || person.is_some() || i.evidence.is_some() || i.state != ItemState::Manual || !i.probes.is_empty();
    let unknown = i.state == ItemState::Unknown;
    html! {
        li class={ "item " (class) } id=[anchor.then(|| format!("item-{}", i.id))] data-state=(word) {
            div.item-head {
                (badge(item_state(i.state)))
                " " span.text { (ctx.s(&i.text)) }
                @if let Some(m) = seen::mode_mark(i.mode) { " " (m) }
                @if !anchor { " " a.jump href=(format!("#item-{}", i.id)) { "in the checklist ↓" } }
            }
            @if detailed {
                div.item-body {
                    p.meta {
                        (word) " since " (when(ctx, i.since))
                        @if let Some(p) = person { " · by " b { (ctx.s(p)) } }
                        @if let Some(n) = &i.note { @if !n.is_empty() { " · " q { (ctx.s(n)) } } }
                    }
                    @if unknown { p.unmeasured-line { (seen::unmeasured(ctx, i)) } }
                    @if let Some(b) = b { (rule(ctx, b)) }
                    @if let Some(c) = seen::coverage(i) { (c) }
                    @if let Some(e) = i.evidence.as_ref().filter(|e| e.probe.is_some() || person.is_none()) {
                        (evidence(ctx, e, unknown.then_some(i.fresh_at)))
                    }
                    @for p in &i.probes {
                        @let all = strips.get(p.as_str()).map(Vec::as_slice).unwrap_or_default();
                        (strip(ctx, p, &all[all.len().saturating_sub(STRIP)..]))
                        // Ids stay unique when the item is also shown above the checklist.
                        @if let Some(c) = chart(&format!("{}{}", if anchor { "" } else { "top-" }, i.id), p) { (c) }
                    }
                }
            }
        }
    }
}

/// The binding in words: probes, pass rule, fail rule, or the event an action waits for.
fn rule(ctx: &Ctx, b: &Binding) -> Markup {
    let pass = match b.pass {
        PassRule::Consecutive(1) => "ticks on a pass".to_string(),
        PassRule::Consecutive(n) => format!("ticks after {n} passes in a row"),
        PassRule::Sustained(d) => format!("ticks after passing for {} without a fail", human(d.as_secs_f64())),
        PassRule::Window => "ticks when the window closes without a fail".to_string(),
    };
    let fail = format!(
        "fails after {} fail{} in a row{}",
        b.fail.consecutive,
        if b.fail.consecutive == 1 { "" } else { "s" },
        if b.fail.abort { " (and fails the release)" } else { "" }
    );
    html! {
        @if !b.probes.is_empty() && b.mode == Mode::Shadow {
            p.rule {
                "probes " @for (n, p) in b.probes.iter().enumerate() { @if n > 0 { ", " } code { (ctx.s(p)) } }
                " · as a gate it " (pass) " and " (fail)
            }
        } @else if !b.probes.is_empty() {
            p.rule { "probes " @for (n, p) in b.probes.iter().enumerate() { @if n > 0 { ", " } code { (ctx.s(p)) } } " · " (pass) " · " (fail) }
        } @else if let Some(on) = b.on {
            p.rule { "action: ticks when " code { (on.as_str()) } " is delivered" }
        }
    }
}

/// The evidence that put the item in its state. `old`: the item is `unknown` now, so this is
/// its last good evidence (with when a probe last measured, if ever).
fn evidence(ctx: &Ctx, e: &ItemEvidence, old: Option<Option<DateTime<Utc>>>) -> Markup {
    let ev = &e.evidence;
    html! {
        div class={ "evidence" @if old.is_some() { " old" } } {
            @if let Some(last) = old {
                p.old {
                    "Last good evidence" @if let Some(t) = last { ", from " (when(ctx, t)) }
                    " — old: nothing could be measured since"
                }
            }
            p.msg {
                b { "Evidence" }
                @if let Some(p) = &e.probe { " from " code { (ctx.s(p)) } }
                @if let Some(s) = e.status { " (" (s.as_str()) ")" }
                ": " (ctx.ev(&ev.message))
            }
            dl.facts {
                @if let Some(t) = &ev.target { dt { "Target" } dd { code { (ctx.s(t)) } } }
                @if let Some(o) = &ev.observed { dt { "Observed" } dd { code { (ctx.ev(o)) } } }
                @if let Some(x) = &ev.expected { dt { "Expected" } dd { code { (ctx.s(x)) } } }
                @if ev.status_code.is_some() || ev.latency_ms.is_some() {
                    dt { "Response" }
                    dd {
                        @if let Some(c) = ev.status_code { "HTTP " (c) }
                        @if let Some(ms) = ev.latency_ms { @if ev.status_code.is_some() { " in " } (format!("{ms:.0} ms")) }
                    }
                }
                @if let Some(c) = ev.exit_code { dt { "Exit code" } dd { (c) } }
                @if !ev.perfdata.is_empty() {
                    dt { "Performance data" }
                    dd { @for (n, d) in ev.perfdata.iter().enumerate() { @if n > 0 { ", " } code { (ctx.s(&perf(d))) } } }
                }
                @if !ev.alerts.is_empty() {
                    dt { "Alerts" }
                    dd { @for (n, a) in ev.alerts.iter().enumerate() { @if n > 0 { ", " } code { (ctx.s(a)) } } }
                }
            }
        }
    }
}

/// One performance datum as `label=value unit` (`U` when the plugin could not determine it).
fn perf(d: &crate::outcome::PerfDatum) -> String {
    let value = d.value.map_or_else(|| "U".to_string(), |v| v.to_string());
    format!("{}={value}{}", d.label, d.uom.as_deref().unwrap_or(""))
}

/// Recent results of one probe as small cells (P/F/E, oldest first) and the latest message.
fn strip(ctx: &Ctx, probe: &str, results: &[ResultRecord]) -> Markup {
    let letter = |s: Status| match s {
        Status::Pass => "P",
        Status::Fail => "F",
        Status::Error => "E",
    };
    let n = |s: Status| results.iter().filter(|r| r.status == s).count();
    let summary = format!(
        "{}: last {} results, oldest first: {} pass, {} fail, {} error",
        probe,
        results.len(),
        n(Status::Pass),
        n(Status::Fail),
        n(Status::Error)
    );
    html! {
        div.probe {
            span.pname { code { (ctx.s(probe)) } }
            @if results.is_empty() {
                span.latest { "no results yet" }
            } @else {
                ol.strip aria-label=(ctx.s(&summary)) title=(ctx.s(&summary)) {
                    @for r in results {
                        li class={ "cell " (r.status.as_str()) }
                            title=(ctx.ev(&format!("{} · {} · {}", r.status.as_str(), r.at.format("%H:%M:%S UTC"), r.evidence.message))) {
                            (letter(r.status))
                        }
                    }
                }
                @if let Some(last) = results.last() {
                    span.latest {
                        "latest " b { (last.status.as_str()) } ": " (ctx.ev(&last.evidence.message))
                    }
                }
            }
        }
    }
}

/// Items a person ticked or waived: who, when and the note.
fn people_table(ctx: &Ctx, people: &[&ItemView]) -> Markup {
    html! {
        div.scroll {
            table.people-table {
                thead { tr { th scope="col" { "Item" } th scope="col" { "By" } th scope="col" { "Note" } th scope="col" { "When" } } }
                tbody {
                    @for i in people {
                        tr {
                            th scope="row" {
                                (badge(item_state(i.state))) " "
                                a href=(format!("#item-{}", i.id)) { (ctx.s(&i.text)) }
                            }
                            td { (ctx.s(i.by.as_deref().unwrap_or("?"))) }
                            td { (ctx.s(i.note.as_deref().unwrap_or(""))) }
                            td { (when(ctx, i.since)) }
                        }
                    }
                }
            }
        }
    }
}
