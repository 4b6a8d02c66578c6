//! The release timeline: events in words from history records, and the axis parsed as XML with
//! each mark where its time puts it (deploy, window min/max, each event).

use chrono::{DateTime, Duration};

use super::fixtures::{ago, release};
use super::timeline::{self, Event, MAX_EVENTS, x_of};
use crate::event::EventKind;
use crate::release::{HistoryRecord, ItemState, ReleaseState, State};
use crate::transition::{Cause, Met};

fn rec(mins_ago: i64, item: Option<&str>, from: Option<State>, to: State, cause: Cause, msg: &str) -> HistoryRecord {
    HistoryRecord {
        release_id: "api-7".into(),
        item_id: item.map(String::from),
        at: ago(mins_ago),
        from,
        to,
        cause,
        message: msg.into(),
    }
}

fn item(s: ItemState) -> State {
    State::Item(s)
}

fn history() -> Vec<HistoryRecord> {
    let (dep, pending, failing) =
        (State::Release(ReleaseState::Deployed), item(ItemState::Pending), item(ItemState::Failing));
    vec![
        rec(20, None, None, dep, Cause::Started { planned: false }, "started"),
        rec(20, Some("smoke"), None, pending, Cause::Created, "created"),
        rec(
            15,
            Some("smoke"),
            Some(pending),
            failing,
            Cause::Rule { met: Met::Fail, probe: Some("health".into()) },
            "",
        ),
        rec(
            12,
            Some("docs"),
            Some(item(ItemState::Manual)),
            item(ItemState::Complete),
            Cause::Tick { by: "<b>alice</b>".into(), note: Some("PR #812".into()) },
            "",
        ),
        rec(
            11,
            Some("dash"),
            Some(item(ItemState::Manual)),
            item(ItemState::Waived),
            Cause::Waive { by: "bob".into(), reason: "moved".into() },
            "",
        ),
        rec(
            10,
            Some("page"),
            Some(item(ItemState::Pending)),
            item(ItemState::Complete),
            Cause::Action { event: EventKind::ReleaseFailed, receiver: Some("oncall".into()) },
            "",
        ),
        rec(
            5,
            None,
            Some(dep),
            State::Release(ReleaseState::Failed),
            Cause::Decided { to: ReleaseState::Failed, by: "carol".into(), note: None },
            "",
        ),
    ]
}

fn named(id: &str) -> Option<String> {
    (id == "smoke").then(|| "Run smoke tests".to_string())
}

#[test]
fn history_reads_as_events_in_words() {
    let ev = timeline::events(&history(), &named);
    let got: Vec<(&str, &str)> = ev.iter().map(|e| (e.tone, e.text.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("wait", "release started (deployed)"),
            ("bad", "“Run smoke tests” pending → failing (fail rule met by health)"),
            ("manual", "<b>alice</b> ticked “docs”: PR #812"),
            ("manual", "bob waived “dash”: moved"),
            ("ok", "“page” complete: release.failed notification delivered to oncall"),
            ("manual", "carol gave the verdict failed"),
        ],
        "item creation is left out"
    );
}

fn parse(html: &str) -> (String, roxmltree::Document<'_>) {
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    (svg.to_string(), roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}")))
}

fn at(n: &roxmltree::Node) -> DateTime<chrono::Utc> {
    n.attribute("data-at").unwrap().parse().unwrap()
}

#[test]
fn marks_sit_where_their_times_put_them() {
    let v = release("api-7", ReleaseState::Deployed, Default::default());
    let rel = &v.release;
    let ev = timeline::events(&history(), &named);
    let html = timeline::timeline(rel, &ev, ago(0)).into_string();
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    let root = doc.root_element();
    let (from, to): (DateTime<chrono::Utc>, DateTime<chrono::Utc>) =
        (root.attribute("data-from").unwrap().parse().unwrap(), root.attribute("data-to").unwrap().parse().unwrap());
    // Deployed 20 min ago with a 1 h max: the axis runs from the deploy to the window max.
    assert_eq!((from, to), (ago(20), ago(20) + Duration::hours(1)));
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class").is_some_and(|k| k.split(' ').any(|k| k == c)))
            .collect::<Vec<_>>()
    };
    let x = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    for (mark, want) in [
        ("deploy", ago(20)),
        ("window-min", ago(20) + Duration::minutes(10)),
        ("window-max", ago(20) + Duration::hours(1)),
        ("now", ago(0)),
    ] {
        let m = class(mark).into_iter().find(|n| n.has_tag_name("line")).unwrap_or_else(|| panic!("no {mark}: {svg}"));
        assert_eq!(at(&m), want, "{mark}");
        assert!((x(&m, "x1") - x_of(from, to, want)).abs() < 0.01, "{mark} at its time");
    }
    let dots: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("circle")).collect();
    assert_eq!(dots.len(), ev.len(), "a mark per event");
    for (d, e) in dots.iter().zip(&ev) {
        assert_eq!(at(d), e.at);
        assert!((x(d, "cx") - x_of(from, to, e.at)).abs() < 0.01);
    }
    assert!(dots.windows(2).all(|w| x(&w[0], "cx") <= x(&w[1], "cx")), "in time order");
    // The list says the same in words, escaped, with the time since the deploy.
    assert_eq!(html.matches("<li class=\"event ").count(), ev.len());
    assert!(html.contains("&lt;b&gt;alice&lt;/b&gt; ticked") && !html.contains("<b>alice"), "escaped");
    assert!(html.contains("(+5m)") && html.contains("(deploy)"), "offsets from the deploy: {html}");
    assert!(html.contains("<details class=\"events\" open"), "a short list starts open");
    assert!(svg.contains("with the window's min and max marked"));
}

#[test]
fn long_histories_keep_the_newest_and_say_so() {
    let v = release("api-7", ReleaseState::Verified, Default::default());
    let ev: Vec<Event> = (0..MAX_EVENTS + 7)
        .map(|i| Event { at: ago(19) + Duration::seconds(i as i64), tone: "wait", text: format!("e{i}") })
        .collect();
    let html = timeline::timeline(&v.release, &ev, ago(0)).into_string();
    let (_, doc) = parse(&html);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("circle")).count(), MAX_EVENTS);
    assert!(html.contains("7 older events not shown."), "{html}");
    assert!(!html.contains(">e6<") && !html.contains(" e6<") && html.contains(" e7<"), "the newest kept");
    assert!(!html.contains("details class=\"events\" open"), "a long list starts folded");
    // Closed: the axis ends at the close, and there is no `now` mark.
    assert_eq!(doc.root_element().attribute("data-to"), Some(ago(1).to_rfc3339().as_str()));
    assert!(!html.contains("mark now"));
}

#[test]
fn nothing_yet_says_so() {
    let v = release("api-7", ReleaseState::Planned, Default::default());
    let rel = crate::release::Release { deployed_at: None, ..v.release };
    let html = timeline::timeline(&rel, &[], ago(0)).into_string();
    assert!(html.contains("Nothing has happened to this release yet."));
    let (_, doc) = parse(&html);
    assert!(!doc.descendants().any(|n| n.attribute("class") == Some("mark deploy")), "not deployed: no deploy mark");
}
