//! A release's timeline: the deploy, each state change of the release and its items, people's
//! ticks, waivers and verdicts, and delivered notifications that ticked action items, on one
//! time axis with the window's min and max marked. Drawn as an inline SVG axis (marks placed in
//! proportion to time, no JavaScript, no `style=` attributes) above an ordered list of the same
//! events in words, which is also the axis' text alternative.
//!
//! Item records made when the release (or a reload) created the item say nothing a person
//! needs and are left out; so are the oldest events past [`MAX_EVENTS`] (said in the list).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::human;
use crate::release::{HistoryRecord, ItemState, Release, ReleaseState, State};
use crate::transition::{Cause, Met};

/// Most events shown (the newest).
pub const MAX_EVENTS: usize = 100;

/// The list of events starts open when it is this short (folded otherwise).
pub const OPEN_UP_TO: usize = 12;

/// The drawing's size in user units.
pub const W: f64 = 480.0;
pub const H: f64 = 56.0;
const LEFT: f64 = 8.0;
const RIGHT: f64 = 8.0;
const AXIS_Y: f64 = 30.0;

/// One thing that happened, in words, with its tone (a stylesheet class: `ok`, `bad`,
/// `unknown`, `wait`, `waived`, `manual` for a person's act).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub tone: &'static str,
    pub text: String,
}

/// The events of `history` (oldest first) in words; `item_text(id)` names an item.
pub fn events(history: &[HistoryRecord], item_text: &dyn Fn(&str) -> Option<String>) -> Vec<Event> {
    let mut out = vec![];
    for h in history {
        let to = state_word(h.to);
        let from = h.from.map(state_word);
        let tone = tone(h.to);
        let text = match (&h.item_id, &h.cause) {
            (Some(_), Cause::Created | Cause::Rebind { .. }) => continue,
            (None, Cause::Created) => "release created".to_string(),
            (None, Cause::Started { planned: true }) => "release planned".to_string(),
            (None, Cause::Started { planned: false }) => "release started (deployed)".to_string(),
            (None, Cause::Deploy) => "deployed".to_string(),
            (None, Cause::Verdict { .. }) => format!("release {to}: {}", h.message),
            (None, Cause::Decided { by, note, .. }) => {
                format!("{by} gave the verdict {to}{}", note.as_deref().map(|n| format!(": {n}")).unwrap_or_default())
            }
            (None, _) => format!("release {}{to}: {}", from.map(|f| format!("{f} → ")).unwrap_or_default(), h.message),
            (Some(id), cause) => {
                let name = item_text(id).unwrap_or_else(|| id.clone());
                match cause {
                    Cause::Tick { by, note } => {
                        format!("{by} ticked “{name}”{}", note.as_deref().map(|n| format!(": {n}")).unwrap_or_default())
                    }
                    Cause::Waive { by, reason } => format!("{by} waived “{name}”: {reason}"),
                    Cause::Action { event, receiver } => format!(
                        "“{name}” {to}: {}{}",
                        event.as_str(),
                        receiver.as_deref().map(|r| format!(" notification delivered to {r}")).unwrap_or_default()
                    ),
                    Cause::Rule { met, probe } => format!(
                        "“{name}” {}{to} ({} by {})",
                        from.map(|f| format!("{f} → ")).unwrap_or_default(),
                        if *met == Met::Pass { "pass rule met" } else { "fail rule met" },
                        probe.as_deref().unwrap_or("time")
                    ),
                    _ => format!(
                        "“{name}” {}{to}{}",
                        from.map(|f| format!("{f} → ")).unwrap_or_default(),
                        if h.message.is_empty() { String::new() } else { format!(": {}", h.message) }
                    ),
                }
            }
        };
        let tone = if h.cause.person().is_some() { "manual" } else { tone };
        out.push(Event { at: h.at, tone, text });
    }
    out
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Item(i) => i.as_str(),
        State::Release(r) => r.as_str(),
    }
}

fn tone(s: State) -> &'static str {
    match s {
        State::Item(ItemState::Complete) | State::Release(ReleaseState::Verified) => "ok",
        State::Item(ItemState::Failing | ItemState::Regressed) | State::Release(ReleaseState::Failed) => "bad",
        State::Item(ItemState::Unknown) | State::Release(ReleaseState::Inconclusive) => "unknown",
        State::Item(ItemState::Waived) => "waived",
        _ => "wait",
    }
}

/// The time axis: from the release's creation (or its first event) to now, the close or the
/// window max, whichever is latest while watched (the close once closed).
pub fn span(rel: &Release, events: &[Event], now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = events.iter().map(|e| e.at).chain([rel.created_at]).min().unwrap_or(now);
    let last_event = events.iter().map(|e| e.at).max().unwrap_or(first);
    let end = match rel.closed_at {
        Some(c) => c,
        None => rel.at(rel.window_max).map_or(now, |m| m.max(now)),
    };
    (first, end.max(last_event).max(first))
}

/// The x of `t` on the axis.
pub fn x_of(from: DateTime<Utc>, to: DateTime<Utc>, t: DateTime<Utc>) -> f64 {
    let span = (to - from).num_milliseconds().max(1) as f64;
    LEFT + ((t - from).num_milliseconds() as f64 / span).clamp(0.0, 1.0) * (W - LEFT - RIGHT)
}

/// The timeline section: the axis (marks for each event, the deploy, the window's min and
/// max, now) and the events in words, newest last.
pub fn timeline(rel: &Release, all: &[Event], now: DateTime<Utc>) -> Markup {
    let skipped = all.len().saturating_sub(MAX_EVENTS);
    let events = &all[skipped..];
    let (from, to) = span(rel, events, now);
    let x = |t: DateTime<Utc>| format!("{:.2}", x_of(from, to, t));
    let marks: BTreeMap<&str, DateTime<Utc>> = [
        ("deploy", rel.deployed_at),
        ("window-min", rel.at(rel.window_min)),
        ("window-max", rel.at(rel.window_max)),
        ("now", rel.closed_at.is_none().then_some(now)),
    ]
    .into_iter()
    .filter_map(|(k, t)| Some((k, t.filter(|t| *t >= from && *t <= to)?)))
    .collect();
    let label = |k: &str| match k {
        "deploy" => "deploy",
        "window-min" => "min",
        "window-max" => "max",
        _ => "now",
    };
    let summary = format!(
        "Timeline over {}: {} event{}{}",
        human((to - from).num_milliseconds().max(0) as f64 / 1000.0),
        events.len(),
        if events.len() == 1 { "" } else { "s" },
        if marks.contains_key("window-min") { ", with the window's min and max marked" } else { "" }
    );
    html! {
        section.timeline aria-labelledby="timeline" {
            h2 #timeline { "Timeline" }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}")) width="100%" role="img"
                aria-labelledby="timeline-d" data-from=(from.to_rfc3339()) data-to=(to.to_rfc3339()) data-events=(events.len()) {
                desc #timeline-d { (summary) }
                line.track x1=(LEFT) x2=(W - RIGHT) y1=(AXIS_Y) y2=(AXIS_Y) stroke="currentColor" stroke-opacity="0.5" {}
                @for (k, t) in &marks {
                    line class={ "mark " (k) } x1=(x(*t)) x2=(x(*t)) y1="16" y2=(H - 14.0) data-at=(t.to_rfc3339())
                        stroke="currentColor" stroke-dasharray=(if *k == "deploy" { "none" } else { "3 3" }) {}
                    text class={ "mark-label " (k) } x=(x(*t)) y=(H - 3.0) text-anchor=(anchor(x_of(from, to, *t))) font-size="11" fill="currentColor" { (label(k)) }
                }
                @for e in events {
                    circle class={ "event " (e.tone) } cx=(x(e.at)) cy=(AXIS_Y) r="4" data-at=(e.at.to_rfc3339()) fill="currentColor" {
                        title { (e.at.format("%H:%M:%S UTC")) " " (e.text) }
                    }
                }
                text.axis x=(LEFT) y="12" font-size="11" fill="currentColor" { (from.format("%b %-d %H:%M")) }
                text.axis x=(W - RIGHT) y="12" text-anchor="end" font-size="11" fill="currentColor" { (to.format("%b %-d %H:%M UTC")) }
            }
            @if skipped > 0 { p.hint { (skipped) " older event" (if skipped == 1 { "" } else { "s" }) " not shown." } }
            @if events.is_empty() {
                p.hint { "Nothing has happened to this release yet." }
            } @else {
                details.events open[events.len() <= OPEN_UP_TO] {
                    summary { (events.len()) " event" (if events.len() == 1 { "" } else { "s" }) " in words" }
                    ol.events {
                        @for e in events {
                            li class={ "event " (e.tone) } data-at=(e.at.to_rfc3339()) {
                                time datetime=(e.at.to_rfc3339()) { (e.at.format("%H:%M:%S")) }
                                " " span.offset { (offset(rel, e.at)) }
                                " " (e.text)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A label near either end is anchored inside the drawing, never cut off.
fn anchor(x: f64) -> &'static str {
    if x < LEFT + 30.0 {
        "start"
    } else if x > W - RIGHT - 30.0 {
        "end"
    } else {
        "middle"
    }
}

/// The time since the deploy (`+12m`, `-3m` before it), or empty when not deployed.
fn offset(rel: &Release, t: DateTime<Utc>) -> String {
    let Some(d) = rel.deployed_at else { return String::new() };
    let s = (t - d).num_milliseconds() as f64 / 1000.0;
    if s.abs() < 0.5 {
        return "(deploy)".into();
    }
    format!("({}{})", if s < 0.0 { "−" } else { "+" }, human(s.abs()))
}
