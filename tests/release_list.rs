//! The release list is paginated and filtered over the store, and closed releases that left
//! memory (`storage.keep_closed`) are still listed and readable (issue 10, defect 14).

mod common;

use common::*;
use serde_json::{Value, json};

const YAML: &str = r#"
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./shipwatch.db, keep_closed: 1s }
checklist: checklist.md
window: { min: 1h, max: 2h }
"#;

fn ids(page: &Value) -> Vec<String> {
    page["releases"].as_array().expect("a page").iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_pages_filters_and_still_shows_closed_releases_that_left_memory() {
    let target = FakeTarget::start();
    let fx = Fixture::new(YAML, target.port);
    let d = Daemon::start(&fx);
    // Two closed at once (deployed before their 2 h window began), three active, across two services.
    let past = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    let mut created = vec![];
    for (service, version, closed) in
        [("api", "1", true), ("web", "1", false), ("api", "2", false), ("web", "2", true), ("api", "3", false)]
    {
        let mut body = json!({"service": service, "version": version});
        if closed {
            body["deployed_at"] = past.clone().into();
        }
        let r = d.create(body).await;
        assert_eq!(r["closed_at"].is_null(), !closed, "{}", r["state"]);
        created.push(r["id"].as_str().unwrap().to_string());
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    // Closed releases leave the status page's front once keep_closed (1 s) has passed...
    let front = wait_for("closed releases to leave memory", SOON, || async {
        let html = d.get("/").await.1;
        if html.contains(&created[0]) { Err("still on the front page".to_string()) } else { Ok(html) }
    })
    .await;
    assert!(front.contains(&created[4]), "active releases stay");

    // ...but the list still has every release, newest first, a page at a time.
    let (mut seen, mut cursor) = (vec![], None::<String>);
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/releases?limit=2&cursor={c}"),
            None => "/api/v1/releases?limit=2".into(),
        };
        let page = d.get_json(&path).await;
        seen.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, newest_first, "pages visit every release once");
    let closed = d.get_json("/api/v1/releases?state=closed").await;
    assert_eq!(ids(&closed), vec![created[3].clone(), created[0].clone()]);
    let counts = &closed["releases"][0]["counts"];
    assert!(counts["manual"].as_u64().unwrap() > 0, "counts of a release read from the store: {counts}");
    assert_eq!(
        ids(&d.get_json("/api/v1/releases?service=api&state=active").await),
        vec![created[4].clone(), created[2].clone()]
    );

    // A closed release out of memory answers every read, and takes a tick.
    let old = &created[0];
    assert!(d.release(old).await["closed_at"].is_string());
    for path in ["checklist.md", "history", "results", "report"] {
        let (code, body) = d.get(&format!("/api/v1/releases/{old}/{path}")).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
    assert_eq!(d.get(&format!("/releases/{old}")).await.0, 200, "its page");
    let (code, ticked) =
        d.post(&format!("/api/v1/releases/{old}/items/{ROLLBACK_DOC}/tick"), &json!({"by": "erin"})).await;
    assert_eq!((code, &ticked["state"]), (200, &json!("complete")), "{ticked}");
    assert_eq!(item(&d.release(old).await, ROLLBACK_DOC)["by"], "erin");
    // Its id is still taken.
    let again = d.create(json!({"service": "api", "version": "1"})).await;
    assert_eq!(again["id"], format!("{old}-2"));

    // Bad parameters are refused with a message naming them.
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("state=done", "not a release state"),
        ("cursor=abc", "cursor"),
        ("cursor=-1", "cursor"),
        ("service=API", "service"),
        ("sort=id", "unknown field"),
    ] {
        let (code, body) = d.get(&format!("/api/v1/releases?{query}")).await;
        assert_eq!(code, 422, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
}
