//! Slack payload tests (table-driven summaries, escaping) and delivery against a local receiver.

use super::*;
use crate::notify::webhook::tests::{cx, receiver, sample};

#[test]
fn summary_by_event_kind() {
    let r = "checkout-api 2.4.0 (production)";
    let item = "Validate critical functionality is working";
    for (kind, want) in [
        (
            EventKind::ItemRegressed,
            format!(":red_circle: *Regression* — {r}: {item} — checkout failed 3 times in a row"),
        ),
        (EventKind::ItemFailing, format!(":warning: *Failing* — {r}: {item} — checkout failed 3 times in a row")),
        (
            EventKind::ItemRecovered,
            format!(":large_green_circle: *Recovered* — {r}: {item} — checkout passed 3 times in a row"),
        ),
        (
            EventKind::ItemCompleted,
            format!(":heavy_check_mark: *Completed* — {r}: {item} — checkout passed 1 time in a row"),
        ),
        (EventKind::ReleaseVerified, format!(":white_check_mark: *Verified* — {r} — all 6 automated items complete")),
        (
            EventKind::ItemUnknown,
            format!(":see_no_evil: *Unknown* — {r}: {item} — could not measure since 12:00:00 UTC: prom unreachable"),
        ),
        (
            EventKind::ReleaseInconclusive,
            format!(":grey_question: *Inconclusive* — {r} — release.inconclusive happened"),
        ),
        (EventKind::ReleaseDeployed, format!(":rocket: *Deployed* — {r} — release.deployed happened")),
        (EventKind::ReleaseFailed, format!(":x: *Release failed* — {r} — release.failed happened")),
    ] {
        let p = payload(&sample(kind));
        assert_eq!(p["text"], want, "{kind:?}");
        assert!(!p["text"].as_str().unwrap().contains('\n'), "one line");
        let section = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(section.starts_with(&want), "{section}");
        assert_eq!(p["blocks"][0]["type"], "section");
        assert_eq!(p["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(p["blocks"][1]["type"], "context");
        let ctx = p["blocks"][1]["elements"][0]["text"].as_str().unwrap();
        assert!(ctx.starts_with("<http://127.0.0.1:9797/api/v1/releases/r-42|status>"), "{ctx}");
        assert!(ctx.contains("2025-03-04 12:00:00 UTC"), "{ctx}");
    }
}

#[test]
fn commit_and_labels_are_in_the_context_line_escaped() {
    let mut n = sample(EventKind::ReleaseFailed);
    n.release.commit = Some("4f2a9c1e0b7d4c2a9f11".into());
    n.release.labels = [("team", "<!channel> & co")].map(|(k, v)| (k.into(), v.into())).into();
    let ctx = payload(&n)["blocks"][1]["elements"][0]["text"].as_str().unwrap().to_string();
    assert!(ctx.ends_with(" · commit 4f2a9c1e0b7d · team=&lt;!channel&gt; &amp; co"), "{ctx}");
}

#[test]
fn evidence_message_is_quoted_in_the_section() {
    let p = payload(&sample(EventKind::ItemRegressed));
    let section = p["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(section.ends_with("\n>HTTP 500, expected status in [200]"), "{section}");
    // Release events carry no evidence: the section is the summary alone.
    let p = payload(&sample(EventKind::ReleaseVerified));
    assert_eq!(p["blocks"][0]["text"]["text"], p["text"]);
}

#[test]
fn user_text_is_escaped() {
    assert_eq!(escape("a & b <!channel> > c"), "a &amp; b &lt;!channel&gt; &gt; c");
    let mut n = sample(EventKind::ItemRegressed);
    n.release.service = "R&D <api>".into();
    n.item.as_mut().unwrap().text = "Check <https://evil|click> & more".into();
    n.event.message = format!("{}: complete → regressed (latency > 300ms <!here>)", n.event.item.as_ref().unwrap());
    n.evidence.as_mut().unwrap().message = "p99 > 0.3 & rising".into();
    n.link = "http://x/api?a=1&b=<2>|3".into();
    let p = payload(&n);
    assert_eq!(
        p["text"],
        ":red_circle: *Regression* — R&amp;D &lt;api&gt; 2.4.0 (production): \
         Check &lt;https://evil|click&gt; &amp; more — latency &gt; 300ms &lt;!here&gt;"
    );
    let section = p["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(section.ends_with("\n>p99 &gt; 0.3 &amp; rising"), "{section}");
    let ctx = p["blocks"][1]["elements"][0]["text"].as_str().unwrap();
    assert!(ctx.starts_with("<http://x/api?a=1&amp;b=&lt;2&gt;%7C3|status>"), "{ctx}");
}

#[test]
fn message_without_the_item_prefix_is_used_whole() {
    let mut n = sample(EventKind::ItemFailing);
    n.event.message = "checkout: something odd".into();
    assert!(summary(&n).ends_with(" — checkout: something odd"), "{}", summary(&n));
}

#[tokio::test]
async fn sends_payload_and_classifies() {
    let (url, seen) = receiver(200, "ok").await;
    let n = sample(EventKind::ItemRegressed);
    assert_eq!(send(&url, &n, &cx()).await.unwrap(), Delivered { status: 200, detail: "ok".into() });
    let body: Value = serde_json::from_slice(&seen.lock().unwrap()[0].1).unwrap();
    assert_eq!(body, payload(&n));

    let (url, _) = receiver(500, "rollup_error").await;
    assert!(matches!(send(&url, &n, &cx()).await, Err(DeliveryError::Retry(_))));
    let (url, _) = receiver(404, "no_team").await;
    let err = send(&url, &n, &cx()).await.unwrap_err();
    assert!(matches!(&err, DeliveryError::Permanent(m) if m.contains("no_team") && !m.contains(&url)), "{err:?}");
}
