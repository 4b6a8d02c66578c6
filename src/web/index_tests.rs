//! The overview: its summary line never says "Nothing red" while an item can't be seen, cards
//! name their red and unknown items with why, closed inconclusive releases say how to settle.

use super::fixtures::{self, counts, element, release, text, unknown_item};
use crate::engine::ReleaseView;
use crate::release::ReleaseState::{self, Deployed};

const SECRET: &str = "tok-3f9a-secret";

fn render(releases: &[ReleaseView], detail: impl Fn(&str) -> Option<ReleaseView>) -> String {
    let cfg = super::spark_tests::config();
    super::index_page(&fixtures::ctx(SECRET), &cfg, releases, detail, |_, _| None).into_string()
}

/// The summary line for: nothing active, all calm, one unknown, one red and one unknown, and
/// plural forms.
#[test]
fn the_summary_never_says_nothing_red_while_an_item_cannot_be_seen() {
    let calm = |id| release(id, Deployed, counts(3, 0, 0));
    let blind = |id, n| release(id, Deployed, counts(2, 0, n));
    let red = |id| release(id, Deployed, counts(1, 1, 0));
    let closed = |id, s| release(id, s, counts(0, 0, 2));
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<ReleaseView>, &str, &str)> = vec![
        ("nothing active", vec![closed("c", ReleaseState::Inconclusive)],
            "summary calm", "No release is being watched right now."),
        ("all calm", vec![calm("a"), calm("b")],
            "summary calm", "✓ Nothing red: 2 releases watched, no failing or regressed items"),
        ("one unknown", vec![calm("a"), blind("b", 1)],
            "summary unseen",
            "⚠ 1 release can't be seen: 1 item could not be measured · nothing failing or regressed in 2 watched releases"),
        ("plurals", vec![blind("a", 2), blind("b", 1), calm("c")],
            "summary unseen",
            "⚠ 2 releases can't be seen: 3 items could not be measured · nothing failing or regressed in 3 watched releases"),
        ("one red, one unknown", vec![red("a"), blind("b", 2)],
            "summary alarm",
            "✗ 1 of 2 watched releases needs attention · ⚠ 1 release can't be seen: 2 items could not be measured"),
        ("red only", vec![red("a"), calm("b")],
            "summary alarm", "✗ 1 of 2 watched releases needs attention"),
    ];
    for (name, releases, class, want) in cases {
        let html = render(&releases, |_| None);
        let line = element(&html, "p", class);
        assert_eq!(text(line), want, "{name}: {line}");
        if releases.iter().any(|r| r.release.state.is_active() && r.counts.unknown > 0) {
            assert!(!html.contains("Nothing red"), "{name}: says nothing red: {html}");
        }
    }
}

#[test]
fn cards_name_unknown_items_with_since_and_the_last_error_in_amber() {
    let mut blind = release("b", Deployed, counts(1, 0, 1));
    let err = format!("connection refused <b>x</b> key={SECRET}");
    blind.items = Some(vec![unknown_item("smoke", "Run <smoke> tests", &err)]);
    let calm = release("a", Deployed, counts(3, 0, 0));
    let detail = blind.clone();
    let html = render(&[calm, blind.clone()], |id| (id == "b").then(|| detail.clone()));

    // Amber card, listed before the calm one, with the unknown count and badge.
    let card = element(&html, "article", "card unknown");
    assert!(html.find("card unknown").unwrap() < html.find("card calm").unwrap(), "can't-be-seen first: {html}");
    assert!(card.contains(r#"class="count unknown""#), "{card}");
    assert!(text(card).contains("? 1 unknown"), "{card}");
    assert!(text(card).contains("⚠ can't be seen"), "{card}");
    let listed = text(element(card, "ul", "red-items"));
    let want = "? unknown Run <smoke> tests — could not measure since Dec 3 13:50 UTC (10m ago): \
        connection refused <b>x</b> key=<redacted>";
    assert_eq!(listed, want, "{card}");
    assert!(card.contains("Run &lt;smoke&gt; tests") && !card.contains("<b>x</b>"), "escaped: {card}");
    assert!(!html.contains(SECRET), "secret leaked: {html}");
    // A calm card has no unknown count (shown only when there are some).
    let calm = element(&html, "article", "card calm");
    assert!(!calm.contains("unknown"), "{calm}");

    // With no result since the last measurement, the card says so rather than an old error.
    let mut quiet = unknown_item("smoke", "Run smoke tests", "x");
    quiet.last_results.iter_mut().for_each(|r| r.at = fixtures::ago(30));
    blind.items = Some(vec![quiet]);
    let html = render(std::slice::from_ref(&blind), |_| Some(blind.clone()));
    assert!(
        text(&html)
            .contains("could not measure since Dec 3 13:50 UTC (10m ago): no result since (was shipwatch down?)")
    );
}

#[test]
fn closed_inconclusive_releases_show_their_reason_and_how_to_settle() {
    let mut r = release("api-7", ReleaseState::Inconclusive, counts(1, 0, 1));
    r.release.reason = Some("window closed at max, but 1 of 1 automated items were not measured enough".into());
    let html = render(&[r], |_| None);
    let row = text(element(&html, "table", "closed"));
    assert!(row.contains("? inconclusive"), "{row}");
    assert!(row.contains("window closed at max, but 1 of 1 automated items were not measured enough"), "{row}");
    assert!(row.contains("settle it: shipwatch verdict api-7 --verified|--failed --by NAME --note WHY"), "{row}");
    assert!(html.contains(r#"class="badge unknown""#), "amber verdict badge: {html}");
}

/// Two watched releases and a closed one: each watched card has a sparkline of its worst
/// item's probe (a metric probe's values, an http probe's statuses), one probe's results read
/// per watched release and none for the closed one.
#[test]
fn each_watched_release_has_a_sparkline_of_its_worst_item() {
    use super::fixtures::item;
    use super::spark_tests::{config, results};
    use crate::config::Mode;
    use crate::release::ItemState;
    use std::cell::RefCell;

    let mut red = release("r", Deployed, counts(1, 1, 0));
    let mut errors = item("check-error-ratio", "Check error ratio", ItemState::Failing, Mode::Gate);
    errors.probes = vec!["errors".into()];
    let smoke = item("run-smoke-tests", "Run smoke tests", ItemState::Complete, Mode::Gate);
    red.items = Some(vec![smoke.clone(), errors]);
    let mut calm = release("c", Deployed, counts(1, 0, 0));
    calm.items = Some(vec![smoke]);
    let mut done = release("d", ReleaseState::Verified, counts(2, 0, 0));
    done.items = calm.items.clone();
    let all = [red.clone(), calm.clone(), done.clone()];
    let detail = |id: &str| all.iter().find(|r| r.release.id == id).cloned();
    let asked = RefCell::new(vec![]);
    let read = |id: &str, probe: &str| {
        asked.borrow_mut().push(format!("{id}/{probe}"));
        Some(match probe {
            "errors" => results("errors", "FFPPPP", true),
            _ => results("health", &"P".repeat(30), false),
        })
    };
    let html = super::index_page(&fixtures::ctx(SECRET), &config(), &all, detail, read).into_string();
    assert_eq!(asked.into_inner(), vec!["r/errors", "c/health"], "one probe per watched release");

    let red_card = element(&html, "article", "card red");
    let doc = roxmltree::Document::parse(element(red_card, "svg", "spark")).unwrap();
    let svg = doc.root_element();
    assert_eq!(svg.attribute("data-kind"), Some("values"));
    assert_eq!(
        svg.attribute("aria-label"),
        Some("svc-r 1.0.0: worst item 'Check error ratio' failing; last 6 results: 4 pass, 2 fail; value 0–5")
    );
    let points: usize = svg
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| n.attribute("points").unwrap().split(' ').count())
        .sum();
    assert_eq!(points, 6);
    assert!(text(red_card).contains("worst: Check error ratio"), "{red_card}");

    let calm_card = element(&html, "article", "card calm");
    let doc = roxmltree::Document::parse(element(calm_card, "svg", "spark")).unwrap();
    let svg = doc.root_element();
    assert_eq!(svg.attribute("data-kind"), Some("statuses"));
    assert_eq!(svg.descendants().filter(|n| n.attribute("class") == Some("tick pass")).count(), 30);
    assert_eq!(
        svg.attribute("aria-label"),
        Some("svc-c 1.0.0: worst item 'Run smoke tests' complete; last 30 results: 30 pass, 0 fail")
    );
    // The closed release is a table row, without a sparkline.
    assert_eq!(html.matches("<svg").count(), 2, "{html}");
}
