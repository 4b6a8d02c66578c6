//! Views to render in the page tests: releases and items as the engine would show them, at a
//! fixed `NOW`, and the visible text of a piece of HTML.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::Mode;
use crate::engine::{Counts, ItemView, ReleaseView, WindowView};
use crate::outcome::{Evidence, Status};
use crate::redact::Redactor;
use crate::release::{ItemEvidence, ItemState, Release, ReleaseState, ResultRecord};
use crate::transition::{Cause, Met};

/// A config with one prometheus probe (`errors`, `< 0.01`) and one http probe (`health`), each
/// bound to an item: the chart and sparkline tests load it beside a checklist.
pub(super) const METRIC_YAML: &str = "checklist: checklist.md
sources:
  prom: { prometheus: { url: \"http://127.0.0.1:9\" } }
probes:
  errors: { prometheus: { source: prom, query: 'sum(rate(e[5m]))', condition: \"< 0.01\" }, every: 30s }
  health: { http: { url: \"http://127.0.0.1:9/healthz\" }, every: 10s }
items:
  check-error-ratio: { probes: [errors] }
  run-smoke-tests: { probes: [health] }
";

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 14, 0, 0).unwrap()
}

/// `NOW - mins`.
pub(super) fn ago(mins: i64) -> DateTime<Utc> {
    now() - chrono::Duration::minutes(mins)
}

/// A rendering context at `NOW` whose redactor masks `secret`.
pub(super) fn ctx(secret: &str) -> super::Ctx {
    let r = Redactor::default();
    r.add(secret);
    super::Ctx::new(r, now())
}

/// Release `id` (service `svc`) in `state`, deployed 20 minutes ago, with `counts`.
pub(super) fn release(id: &str, state: ReleaseState, counts: Counts) -> ReleaseView {
    let closed = !state.is_active();
    ReleaseView {
        release: Release {
            id: id.into(),
            service: format!("svc-{id}"),
            version: "1.0.0".into(),
            environment: "production".into(),
            state,
            created_at: ago(20),
            deployed_at: Some(ago(20)),
            window_min: Duration::from_secs(600),
            window_max: Duration::from_secs(3600),
            regressed: false,
            closed_at: closed.then(|| ago(1)),
            reason: None,
            commit: None,
            labels: Default::default(),
            origin: None,
            idempotency: None,
        },
        window: WindowView { min_s: 600.0, max_s: 3600.0, elapsed_s: Some(1200.0), remaining_s: Some(2400.0) },
        counts,
        items: None,
    }
}

/// Counts with `complete` complete, `failing` failing and `unknown` unknown items.
pub(super) fn counts(complete: usize, failing: usize, unknown: usize) -> Counts {
    Counts { complete, failing, unknown, ..Counts::default() }
}

/// A result of `probe` at `at`.
pub(super) fn result(probe: &str, at: DateTime<Utc>, status: Status, message: &str) -> ResultRecord {
    ResultRecord {
        release_id: "r".into(),
        probe: probe.into(),
        at,
        status,
        evidence: Evidence { message: message.into(), ..Evidence::default() },
    }
}

/// Item `id` in `state`, bound to probe `health` in `mode`, with the item's plain evidence.
pub(super) fn item(id: &str, text: &str, state: ItemState, mode: Mode) -> ItemView {
    let shadow = mode == Mode::Shadow;
    ItemView {
        id: id.into(),
        text: text.into(),
        section: None,
        state,
        since: ago(15),
        automated: !shadow,
        probes: vec!["health".into()],
        pass: None,
        cause: Cause::Rule { met: Met::Pass, probe: Some("health".into()) },
        by: None,
        note: None,
        evidence: (!shadow).then(|| ItemEvidence {
            probe: Some("health".into()),
            status: Some(Status::Pass),
            evidence: Evidence { message: "HTTP 200 in 12 ms".into(), ..Evidence::default() },
        }),
        last_results: vec![result("health", ago(1), Status::Pass, "HTTP 200 in 12 ms")],
        mode: Some(mode),
        fresh_at: Some(ago(1)),
        coverage: (!shadow).then_some(1.0),
        min_coverage: (!shadow).then_some(0.9),
        stale_after_s: (!shadow).then_some(60.0),
    }
}

/// An `unknown` gate item: measured last 10 minutes ago, its probe erroring since with
/// `error`, measured for 62.5% of the window.
pub(super) fn unknown_item(id: &str, text: &str, error: &str) -> ItemView {
    ItemView {
        cause: Cause::Unmeasured { since: ago(10) },
        since: ago(8),
        fresh_at: Some(ago(10)),
        coverage: Some(0.625),
        last_results: vec![
            result("health", ago(2), Status::Error, "old error"),
            result("health", ago(1), Status::Error, error),
        ],
        ..item(id, text, ItemState::Unknown, Mode::Gate)
    }
}

/// The visible text of `html`: tags dropped (block elements end a word), the entities maud
/// writes decoded, spaces collapsed.
pub(super) fn text(html: &str) -> String {
    const BLOCKS: &[&str] = &["p", "div", "li", "ul", "ol", "section", "h1", "h2", "h3", "td", "th", "tr", "dt", "dd"];
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        let name: String =
            rest[open + 1..close].trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
        if BLOCKS.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    let out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'");
    out.replace("&amp;", "&").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The element of `html` that starts at the first `<tag class="class` and ends at its `</tag>`
/// (elements of the same tag must not nest inside it).
pub(super) fn element<'a>(html: &'a str, tag: &str, class: &str) -> &'a str {
    let open = format!("<{tag} class=\"{class}");
    let start = html.find(&open).unwrap_or_else(|| panic!("no {open} in {html}"));
    let close = format!("</{tag}>");
    let end = html[start..].find(&close).unwrap_or_else(|| panic!("{open} not closed")) + close.len();
    &html[start..start + end]
}
