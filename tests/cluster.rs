//! shipwatch on PostgreSQL (issue 12): the real daemon with `storage.postgres` on a real
//! server (`common::pg`), state surviving a `kill -9` and a restart, and what a second replica
//! on the same database does.

mod common;

use std::time::Duration;

use common::pg::Pg;
use common::*;
use serde_json::{Value, json};

const SMOKE: &str = "run-post-deploy-smoke-tests-on-production";
const NOTIFY: &str = "notify-customer-support-lead-that-release-is-complete";

/// A fresh database on the shared test server (None when PostgreSQL is not installed).
async fn database() -> Option<String> {
    tokio::task::spawn_blocking(|| Some(Pg::shared()?.database())).await.unwrap()
}

fn fixture(url: &str, target: u16) -> Fixture {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ postgres: {{ url: \"{url}\", pool: 4, lease: 2s }} }}\n\
         checklist: checklist.md\nwindow: {{ min: 1h, max: 2h }}\n\
         probes:\n  smoke: {{ http: {{ url: \"http://127.0.0.1:{target}/healthz\" }}, every: 300ms, jitter: 0s }}\n\
         items:\n  {SMOKE}: {{ probes: [smoke] }}\n"
    );
    Fixture::new(&yaml, 0)
}

#[tokio::test]
async fn a_daemon_on_postgres_keeps_its_state_across_kill_9() {
    let Some(url) = database().await else { return };
    let target = FakeTarget::start();
    let fx = fixture(&url, target.port);
    let mut d = Daemon::start(&fx);
    leader_of(&[&d]).await;
    let rel = d.create(json!({"service": "api", "version": "1.0"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", Duration::from_secs(20)).await;
    let (code, body) = d.post(&format!("/api/v1/releases/{id}/items/{NOTIFY}/tick"), &json!({"by": "ana"})).await;
    assert_eq!(code, 200, "{body}");
    let ready = d.get("/-/ready").await;
    assert_eq!(ready.0, 200, "{ready:?}");
    d.kill();

    let d = Daemon::start(&fx);
    // The lease of the killed process expires first (2 s): then this one leads.
    leader_of(&[&d]).await;
    let rel = d.release(&id).await;
    assert_eq!(item(&rel, SMOKE)["state"], "complete", "{rel}");
    assert_eq!(item(&rel, NOTIFY)["by"], "ana", "{rel}");
    let results = d.results(&id, Some("smoke")).await;
    assert!(!results.is_empty());
    let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    assert!(history.as_array().unwrap().iter().any(|h| h["to"] == "complete"), "{history}");
    let list = d.get_json("/api/v1/releases?state=active").await;
    assert_eq!(list["releases"][0]["id"], id.as_str(), "{list}");
}

/// Wait until every daemon of `ds` names the same leader (one of them); its index and epoch.
async fn leader_of(ds: &[&Daemon]) -> (usize, i64) {
    wait_for("one leader that every replica names", Duration::from_secs(30), || async {
        let mut seen = vec![];
        for d in ds {
            seen.push(d.get_json("/api/v1/cluster").await["cluster"].clone());
        }
        let leader = seen[0]["leader"].as_str().unwrap_or_default().to_string();
        let leading: Vec<usize> = (0..seen.len()).filter(|i| seen[*i]["leading"] == true).collect();
        let agree = !leader.is_empty() && seen.iter().all(|c| c["leader"] == leader.as_str());
        match (agree, leading.as_slice()) {
            (true, [i]) if seen[*i]["name"] == leader.as_str() => Ok((*i, seen[*i]["epoch"].as_i64().unwrap())),
            _ => Err(format!("{seen:?}")),
        }
    })
    .await
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|v| v.trim().parse().ok())
}

/// Three replicas on one database: one leads, the others follow and forward writes; a
/// `kill -9` of the leader hands the watch to another within two leases, with nothing lost.
#[tokio::test]
async fn three_replicas_fail_over_without_losing_a_tick() {
    let Some(url) = database().await else { return };
    let target = FakeTarget::start();
    let fx = fixture(&url, target.port);
    let mut ds: Vec<Daemon> = (0..3).map(|_| Daemon::start(&fx)).collect();
    let (lead, epoch) = leader_of(&ds.iter().collect::<Vec<_>>()).await;
    for (i, d) in ds.iter().enumerate() {
        let text = d.get("/metrics").await.1;
        assert_eq!(metric(&text, "shipwatch_leader"), Some(if i == lead { 1.0 } else { 0.0 }), "replica {i}");
        assert_eq!(metric(&text, "shipwatch_leader_epoch"), Some(epoch as f64), "replica {i}");
        assert_eq!(d.get("/-/ready").await.0, 200, "followers are ready too");
    }
    let follower = (lead + 1) % 3;
    // A write through a follower reaches the leader.
    let (code, rel) = ds[follower].post("/api/v1/releases", &json!({"service": "api", "version": "2.0"})).await;
    assert_eq!(code, 201, "{rel}");
    let id = rel["id"].as_str().unwrap().to_string();
    for d in &ds {
        d.wait_item(&id, SMOKE, "complete", Duration::from_secs(20)).await;
    }
    let (code, ticked) =
        ds[follower].post(&format!("/api/v1/releases/{id}/items/{NOTIFY}/tick"), &json!({"by": "ana"})).await;
    assert_eq!(code, 200, "{ticked}");

    ds[lead].kill();
    let survivors: Vec<&Daemon> = ds.iter().enumerate().filter(|(i, _)| *i != lead).map(|(_, d)| d).collect();
    let killed_at = std::time::Instant::now();
    let (new_lead, new_epoch) = leader_of(&survivors).await;
    assert!(new_epoch > epoch, "a takeover bumps the epoch: {epoch} → {new_epoch}");
    eprintln!("takeover after {:?}", killed_at.elapsed());
    let leader = survivors[new_lead];
    let before = leader.results(&id, Some("smoke")).await.len();
    wait_for("probes resumed by the new leader", Duration::from_secs(20), || async {
        let n = leader.results(&id, Some("smoke")).await.len();
        if n > before + 2 { Ok(()) } else { Err(format!("{n} results")) }
    })
    .await;
    for d in &survivors {
        let rel = d.release(&id).await;
        assert_eq!(item(&rel, NOTIFY)["by"], "ana", "the tick made through a follower survived: {rel}");
    }
    // A write through the other survivor still works after the takeover.
    let other = survivors[1 - new_lead];
    let (code, body) = other.post(&format!("/api/v1/releases/{id}/items/{NOTIFY}/tick"), &json!({"by": "bob"})).await;
    assert_eq!(code, 200, "{body}");
    let history: Value = leader.get_json(&format!("/api/v1/releases/{id}/history")).await;
    let ticks = history.as_array().unwrap().iter().filter(|h| h["cause"]["kind"] == "tick").count();
    assert_eq!(ticks, 1, "ticking a complete item again changes nothing: {history}");
}

/// A deposed leader that still thinks it leads cannot write: its store is fenced at its epoch.
#[tokio::test]
async fn a_deposed_leaders_write_is_refused_by_the_epoch() {
    let Some(url) = database().await else { return };
    tokio::task::spawn_blocking(move || {
        use shipwatch::cluster::lease::{self, Step};
        use shipwatch::store::{Batch, Fence, PgStore, Store, StoreError};
        let old = PgStore::open(&url, 2).unwrap();
        let new = PgStore::open(&url, 2).unwrap();
        let mut c = Pg::client(&url);
        let Step::Acquired(e1) = lease::step(&mut c, "old", "http://old", None, 300).unwrap() else { panic!() };
        old.fence(Some(Fence { holder: "old".into(), epoch: e1 }));
        old.apply(&Batch { state: vec![("k".into(), "old".into())], ..Default::default() }).expect("the leader writes");
        assert_eq!(lease::step(&mut c, "new", "http://new", None, 300).unwrap(), Step::Follow, "not expired yet");
        std::thread::sleep(Duration::from_millis(400));
        let Step::Acquired(e2) = lease::step(&mut c, "new", "http://new", None, 300).unwrap() else { panic!() };
        assert_eq!(e2, e1 + 1);
        new.fence(Some(Fence { holder: "new".into(), epoch: e2 }));
        let err = old.apply(&Batch { state: vec![("k".into(), "stale".into())], ..Default::default() }).unwrap_err();
        assert!(matches!(err, StoreError::Fenced { epoch, current, .. } if epoch == e1 && current == e2), "{err}");
        assert!(matches!(old.check_writable(), Err(StoreError::Fenced { .. })), "nor deliver anything");
        new.check_writable().unwrap();
        assert_eq!(lease::step(&mut c, "old", "http://old", Some(e1), 300).unwrap(), Step::Lost);
        new.apply(&Batch { state: vec![("k".into(), "new".into())], ..Default::default() }).unwrap();
        assert_eq!(new.state_get("k").unwrap().as_deref(), Some("new"), "the stale write never landed");
    })
    .await
    .unwrap();
}

/// Partition: the leader's database role is disabled and its connections killed
/// (`pg_terminate_backend`). It cannot renew, so it steps down — and stops probing — within the
/// lease; the other replica takes over at a higher epoch and probes in its place. Each replica
/// probes its own target here, so the targets' hit counters tell who probes.
#[tokio::test]
async fn a_leader_cut_off_from_the_database_stops_probing_within_the_lease() {
    let Some(url) = database().await else { return };
    let admin = url.clone();
    tokio::task::spawn_blocking(move || {
        Pg::client(&admin).batch_execute("CREATE ROLE r1 LOGIN SUPERUSER; CREATE ROLE r2 LOGIN SUPERUSER;").unwrap()
    })
    .await
    .unwrap();
    let as_role = |r: &str| url.replace("user=postgres", &format!("user={r}"));
    let (a, b) = (FakeTarget::start(), FakeTarget::start());
    let (fa, fb) = (fixture(&as_role("r1"), a.port), fixture(&as_role("r2"), b.port));
    let r1 = Daemon::start(&fa);
    let (_, epoch) = leader_of(&[&r1]).await;
    let r2 = Daemon::start(&fb);
    leader_of(&[&r1, &r2]).await;
    let (code, rel) = r2.post("/api/v1/releases", &json!({"service": "api", "version": "3.0"})).await;
    assert_eq!(code, 201, "{rel}");
    let id = rel["id"].as_str().unwrap().to_string();
    r2.wait_item(&id, SMOKE, "complete", Duration::from_secs(20)).await;
    assert!(a.hits() > 0 && b.hits() == 0, "only the leader probes: {} vs {}", a.hits(), b.hits());

    let admin = url.clone();
    tokio::task::spawn_blocking(move || {
        Pg::client(&admin)
            .batch_execute(
                "ALTER ROLE r1 NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'r1';",
            )
            .unwrap()
    })
    .await
    .unwrap();
    let cut = std::time::Instant::now();
    wait_for("the cut-off leader to step down", Duration::from_secs(20), || async {
        let c = r1.get_json("/api/v1/cluster").await;
        if c["cluster"]["leading"] == false { Ok(()) } else { Err(c.to_string()) }
    })
    .await;
    let stepped_down = cut.elapsed();
    eprintln!("PARTITION stepped down {stepped_down:?} after the cut");
    assert!(stepped_down < Duration::from_secs(10), "steps down within the lease (2 s) plus polling: {stepped_down:?}");
    assert_eq!(metric(&r1.get("/metrics").await.1, "shipwatch_leader"), Some(0.0));
    let hits = a.hits();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(a.hits(), hits, "the cut-off replica probes no more");
    let (lead, new_epoch) = leader_of(&[&r2]).await;
    assert_eq!(lead, 0);
    assert!(new_epoch > epoch, "{epoch} → {new_epoch}");
    wait_for("the new leader probing", Duration::from_secs(20), || async {
        if b.hits() > 2 { Ok(()) } else { Err(format!("{} hits", b.hits())) }
    })
    .await;
}
