//! `kill -9` at random points, 20 times in a row, while results are recorded and notifications
//! are in flight (issue 6, "Faults").
//!
//! Two releases probe a flapping `/healthz` every 200 ms (`pass`/`fail: {consecutive: 2}`), so
//! their smoke item keeps regressing and recovering and each change queues a webhook
//! notification. The receiver answers after 0–40 ms, 500 for one request in ten (rows stay
//! pending across kills), and records every idempotency key it accepted. Each round: start the
//! daemon on the same SQLite file, check that what the previous daemon showed just before its
//! kill is intact — releases, history (a prefix of the new one), item states, outbox rows
//! (still queued, or accepted by the receiver), results — and that results keep growing; run
//! for a random 0.2–1.2 s, snapshot, SIGKILL. At the end the flapping stops and the outbox
//! drains: every state change in the history was delivered exactly under one key, and no key
//! was accepted more than twice (twice only when a kill fell between the receiver's 200 and the
//! outbox delete).

mod common;
#[path = "faults/servers.rs"]
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::servers::Flapper;
use common::*;
use serde_json::{Value, json};
use servers::Receiver;

const ROUNDS: usize = 20;
/// Six passes then six fails: with two releases sharing it, each sees runs of both.
const FLAP: [u16; 12] = [200, 200, 200, 200, 200, 200, 500, 500, 500, 500, 500, 500];

fn fixture(target: &Flapper, hook: &Receiver) -> Fixture {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         window: {{ min: 60s, max: 120s }}\nnotify:\n  hook: {{ webhook: {{ url: \"{}\", secret: kill-loop-secret }}, \
         events: [release.deployed] }}\nprobes:\n  health:\n    http: {{ url: \"http://127.0.0.1:{}/healthz\", \
         expect: {{ status: [200] }} }}\n    every: 200ms\n    jitter: 0s\nitems:\n  {SMOKE}: {{ probes: [health], \
         pass: {{ consecutive: 2 }}, fail: {{ consecutive: 2 }}, notify: [hook] }}\n",
        hook.url(),
        target.port
    );
    Fixture::new(&yaml, 0)
}

/// What the API showed for one release.
#[derive(Debug, Clone)]
struct RelSnap {
    release: Value,
    history: Vec<Value>,
    results: Vec<Value>,
}

/// Everything the API showed just before a kill.
#[derive(Debug, Clone)]
struct Snap {
    releases: BTreeMap<String, RelSnap>,
    outbox: Vec<Value>,
}

/// The fields of a release that never change while it is watched.
fn facts(rel: &Value) -> Value {
    json!([
        rel["id"],
        rel["service"],
        rel["version"],
        rel["environment"],
        rel["state"],
        rel["created_at"],
        rel["deployed_at"],
        rel["window"]["min_s"],
        rel["window"]["max_s"]
    ])
}

/// `item id → state` of a detailed release.
fn states(rel: &Value) -> BTreeMap<String, Value> {
    let items = rel["items"].as_array().expect("items");
    items.iter().map(|i| (i["id"].as_str().unwrap().to_string(), i["state"].clone())).collect()
}

/// A consistent read of release `id`: its view, history and results, retried until the item
/// states did not change while the history was read.
async fn read_release(d: &Daemon, id: &str) -> RelSnap {
    for _ in 0..20 {
        let before = d.release(id).await;
        let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
        let after = d.release(id).await;
        if states(&before) == states(&after) {
            let results = d.results(id, None).await;
            return RelSnap { release: after, history: history.as_array().unwrap().clone(), results };
        }
    }
    panic!("release {id} never held still for a read");
}

async fn snapshot(d: &Daemon) -> Snap {
    let list = d.get_json("/api/v1/releases").await;
    let mut releases = BTreeMap::new();
    for r in list["releases"].as_array().expect("release list") {
        let id = r["id"].as_str().unwrap().to_string();
        releases.insert(id.clone(), read_release(d, &id).await);
    }
    let outbox = d.get_json("/api/v1/outbox").await.as_array().unwrap().clone();
    Snap { releases, outbox }
}

/// The history rows about `item`.
fn rows_of<'a>(history: &'a [Value], item_id: &str) -> Vec<&'a Value> {
    history.iter().filter(|h| h["item_id"] == item_id).collect()
}

/// After a restart: everything `prev` showed is still there (or moved on consistently).
fn check_intact(round: usize, prev: &Snap, now: &Snap, accepted: &BTreeSet<String>) {
    let ids: Vec<&String> = now.releases.keys().collect();
    assert_eq!(ids, prev.releases.keys().collect::<Vec<_>>(), "round {round}: releases after the restart");
    for (id, p) in &prev.releases {
        let n = &now.releases[id];
        assert_eq!(facts(&n.release), facts(&p.release), "round {round}: release {id}");
        assert!(
            n.history.len() >= p.history.len() && n.history[..p.history.len()] == p.history[..],
            "round {round}: {id}: the stored history must extend the one shown before the kill\n\
             before: {:#?}\nafter: {:#?}",
            p.history,
            n.history
        );
        let (ps, ns) = (states(&p.release), states(&n.release));
        for (item_id, state) in &ns {
            let rows = rows_of(&n.history, item_id);
            let moved = rows.len() > rows_of(&p.history, item_id).len();
            if !moved {
                assert_eq!(Some(state), ps.get(item_id), "round {round}: {id}/{item_id}: state shown before the kill");
            }
            if let Some(last) = rows.last() {
                assert_eq!(&last["to"], state, "round {round}: {id}/{item_id}: state agrees with its history");
            }
        }
        for r in &p.results {
            assert!(n.results.contains(r), "round {round}: {id}: result lost in the kill: {r}");
        }
    }
    let queued: BTreeSet<&str> = now.outbox.iter().filter_map(|o| o["key"].as_str()).collect();
    for o in &prev.outbox {
        let key = o["key"].as_str().unwrap();
        assert!(
            queued.contains(key) || accepted.contains(key),
            "round {round}: outbox row neither queued nor delivered after the kill: {o}"
        );
    }
}

/// Total stored results across releases.
fn total_results(s: &Snap) -> usize {
    s.releases.values().map(|r| r.results.len()).sum()
}

/// `(release, event kind, item, at)` of every notification the history implies.
fn expected_notifications(snap: &Snap) -> BTreeSet<(String, String, String, DateTime<Utc>)> {
    let mut out = BTreeSet::new();
    for (id, r) in &snap.releases {
        out.insert((id.clone(), "release.deployed".into(), String::new(), ts(&r.release["deployed_at"])));
        for h in rows_of(&r.history, SMOKE) {
            let kind = match (h["from"].as_str(), h["to"].as_str()) {
                (Some("regressed"), Some("complete")) => "item.recovered",
                (_, Some("regressed")) => "item.regressed",
                (_, Some("failing")) => "item.failing",
                _ => continue,
            };
            out.insert((id.clone(), kind.into(), SMOKE.into(), ts(&h["at"])));
        }
    }
    out
}

#[tokio::test]
async fn kill_9_in_a_loop_loses_nothing_and_duplicates_nothing() {
    let t_start = Instant::now();
    let target = Flapper::start(&FLAP);
    let hook = Receiver::start(40, 0.1);
    let fx = fixture(&target, &hook);
    let mut d = Daemon::start(&fx);
    for (service, version) in [("api", "1.0.0"), ("web", "2.0.0")] {
        d.create(json!({"service": service, "version": version})).await;
    }
    let mut prev: Option<Snap> = None;
    let mut seen_keys: BTreeSet<String> = BTreeSet::new();
    for round in 1..=ROUNDS {
        if let Some(p) = &prev {
            let now = snapshot(&d).await;
            let accepted: BTreeSet<String> = hook.accepted().into_iter().map(|g| g.key).collect();
            check_intact(round, p, &now, &accepted);
            let before = total_results(p);
            wait_for(&format!("round {round}: results to grow past {before}"), SOON, || async {
                let n = total_results(&snapshot(&d).await);
                if n > before { Ok(()) } else { Err(n.to_string()) }
            })
            .await;
        }
        tokio::time::sleep(Duration::from_millis(rand::random_range(200..1200))).await;
        let snap = snapshot(&d).await;
        d.kill();
        seen_keys.extend(snap.outbox.iter().filter_map(|o| o["key"].as_str().map(str::to_string)));
        prev = Some(snap);
        d = Daemon::start(&fx);
    }
    let p = prev.expect("snapshots");
    let now = snapshot(&d).await;
    check_intact(ROUNDS + 1, &p, &now, &hook.accepted().into_iter().map(|g| g.key).collect());
    eprintln!(
        "{ROUNDS} kills in {:?}; {} results stored; {} outbox rows were queued at some kill",
        t_start.elapsed(),
        total_results(&now),
        seen_keys.len()
    );

    // Calm down: the target stays healthy, the receiver accepts everything; the outbox drains.
    target.set(&[200]);
    hook.always_accept();
    wait_for("the smoke items to settle complete", SOON, || async {
        let s = snapshot(&d).await;
        let st: Vec<Value> = s.releases.values().map(|r| item(&r.release, SMOKE)["state"].clone()).collect();
        if st.iter().all(|s| s == "complete") { Ok(()) } else { Err(format!("{st:?}")) }
    })
    .await;
    let last = wait_for("the outbox to drain", Duration::from_secs(20), || async {
        let s = snapshot(&d).await;
        if s.outbox.is_empty() { Ok(s) } else { Err(Value::Array(s.outbox.clone()).to_string()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let accepted = hook.accepted();
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    accepted.iter().for_each(|g| *per_key.entry(g.key.as_str()).or_default() += 1);
    let twice: Vec<(&&str, &usize)> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{} deliveries accepted, {} keys, {} accepted twice (kill between 200 and delete): {twice:?}",
        accepted.len(),
        per_key.len(),
        twice.len()
    );
    assert!(per_key.values().all(|n| *n <= 2), "no key accepted more than twice: {twice:?}");
    for k in &seen_keys {
        assert!(per_key.contains_key(k.as_str()), "queued before a kill, never delivered: {k}");
    }
    let mut delivered: BTreeMap<&str, (String, String, String, DateTime<Utc>)> = BTreeMap::new();
    for g in &accepted {
        let what = (g.release.clone(), g.kind.clone(), g.item.clone().unwrap_or_default(), ts(&json!(g.at)));
        let prior = delivered.insert(g.key.as_str(), what.clone());
        assert!(prior.is_none_or(|p| p == what), "key {} carried two different notifications", g.key);
    }
    let distinct: BTreeSet<_> = delivered.values().cloned().collect();
    assert_eq!(distinct.len(), delivered.len(), "one key per notification: {delivered:#?}");
    let expected = expected_notifications(&last);
    let missing: Vec<_> = expected.difference(&distinct).collect();
    let extra: Vec<_> = distinct.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "history vs deliveries: missing {missing:#?}, extra {extra:#?}");
    let flips = expected.iter().filter(|e| e.1 != "release.deployed").count();
    assert!(flips >= 10, "the flapping produced notifications ({flips})");
    assert!(t_start.elapsed() < Duration::from_secs(60), "took {:?}", t_start.elapsed());
}
