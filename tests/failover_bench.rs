//! The failover figures of issue 12 (not a test: `#[ignore]`d, run by `bench/failover.sh`).
//!
//! Three replicas on one PostgreSQL (lease `LEASE_S`, default 2 s), a fake target, and a webhook
//! receiver counting deliveries by idempotency key. Twenty times, at a random moment: a release
//! is created and ticked *through a follower*, then the leader is killed with SIGKILL; the time
//! until the survivors agree on a new leader is measured, and the killed replica restarted.
//! At the end: every acknowledged create and tick is in the database (ticks lost), every
//! `release.started` notification was delivered once (lost / delivered twice).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use common::pg::Pg;
use common::*;
use serde_json::{Value, json};

const NOTIFY: &str = "notify-customer-support-lead-that-release-is-complete";

/// Deliveries by idempotency key.
type Seen = Arc<Mutex<HashMap<String, u32>>>;

fn receiver() -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |h: HeaderMap| {
                    let s = s.clone();
                    async move {
                        let key = h.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                        *s.lock().unwrap().entry(key).or_default() += 1;
                        "ok"
                    }
                }),
            );
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (port, seen)
}

async fn cluster_of(ds: &[Option<Daemon>]) -> Option<(usize, i64)> {
    let mut seen = vec![];
    for (i, d) in ds.iter().enumerate() {
        if let Some(d) = d {
            seen.push((i, d.get_json("/api/v1/cluster").await["cluster"].clone()));
        }
    }
    let leader = seen.first()?.1["leader"].as_str()?.to_string();
    if !seen.iter().all(|(_, c)| c["leader"] == leader.as_str()) {
        return None;
    }
    let (i, c) = seen.iter().find(|(_, c)| c["leading"] == true && c["name"] == leader.as_str())?;
    Some((*i, c["epoch"].as_i64()?))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: bench/failover.sh"]
async fn failover_figures() {
    let lease: u64 = std::env::var("LEASE_S").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let url = tokio::task::spawn_blocking(|| Pg::shared().map(|p| p.database())).await.unwrap().expect("PostgreSQL");
    let target = FakeTarget::start();
    let (hook, seen) = receiver();
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ postgres: {{ url: \"{url}\", pool: 4, lease: {lease}s }} }}\n\
         checklist: checklist.md\nwindow: {{ min: 1h, max: 2h }}\n\
         notify:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{hook}/hook\" }}, events: [release.started] }}\n\
         probes:\n  smoke: {{ http: {{ url: \"http://127.0.0.1:{}/healthz\" }}, every: 500ms, jitter: 0s }}\n\
         items:\n  run-post-deploy-smoke-tests-on-production: {{ probes: [smoke] }}\n",
        target.port
    );
    let fx = Fixture::new(&yaml, 0);
    let mut ds: Vec<Option<Daemon>> = (0..3).map(|_| Some(Daemon::start(&fx))).collect();
    let mut takeovers = vec![];
    let mut acked: Vec<String> = vec![];
    for round in 0..rounds {
        let (lead, epoch) = wait_for("a leader", Duration::from_secs(60), || async {
            cluster_of(&ds).await.ok_or_else(|| "no agreed leader".to_string())
        })
        .await;
        let follower = ds[(lead + 1) % 3].as_ref().unwrap();
        let (code, rel) =
            follower.post("/api/v1/releases", &json!({"service": "api", "version": format!("1.{round}")})).await;
        if code == 201 {
            let id = rel["id"].as_str().unwrap().to_string();
            let (code, _) =
                follower.post(&format!("/api/v1/releases/{id}/items/{NOTIFY}/tick"), &json!({"by": "ana"})).await;
            if code == 200 {
                acked.push(id);
            }
        }
        tokio::time::sleep(Duration::from_millis(200 + rand_ms(1500))).await;
        ds[lead].as_mut().unwrap().kill();
        ds[lead] = None;
        let killed = Instant::now();
        wait_for("a new leader", Duration::from_secs(60), || async {
            match cluster_of(&ds).await {
                Some((_, e)) if e > epoch => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        takeovers.push(killed.elapsed().as_secs_f64());
        ds[lead] = Some(Daemon::start(&fx));
    }
    let (lead, _) = wait_for("a leader", Duration::from_secs(60), || async {
        cluster_of(&ds).await.ok_or_else(|| "no agreed leader".to_string())
    })
    .await;
    let leader = ds[lead].as_ref().unwrap();
    let mut lost_ticks = 0;
    for id in &acked {
        let rel = leader.release(id).await;
        if item(&rel, NOTIFY)["by"] != "ana" {
            lost_ticks += 1;
        }
    }
    wait_for("the outbox to empty", Duration::from_secs(60), || async {
        let rows: Value = leader.get_json("/api/v1/outbox").await;
        if rows.as_array().is_some_and(|a| a.is_empty()) { Ok(()) } else { Err(rows.to_string()) }
    })
    .await;
    let list = leader.get_json("/api/v1/releases?limit=1000").await;
    let releases = list["releases"].as_array().unwrap().len();
    let seen = seen.lock().unwrap().clone();
    let twice = seen.values().filter(|n| **n > 1).count();
    let lost = releases.saturating_sub(seen.len());
    let (p50, max) = (pct(&mut takeovers.clone(), 0.5), pct(&mut takeovers, 1.0));
    println!("FAILOVER lease={lease}s rounds={rounds}");
    println!("FAILOVER takeover_p50_s={p50:.2} takeover_max_s={max:.2} max_over_lease={:.2}", max / lease as f64);
    println!(
        "FAILOVER acked_ticks={} ticks_lost={lost_ticks} releases={releases} notifications_received={} delivered_twice={twice} lost={lost}",
        acked.len(),
        seen.len()
    );
}

fn rand_ms(max: u64) -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    t % max
}
