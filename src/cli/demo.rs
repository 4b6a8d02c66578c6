//! `shipwatch demo`: a self-contained tour. Starts a sample service on loopback, the daemon
//! with `config/demo.yaml` (seconds-long windows), starts a release over the real API, breaks
//! the sample service's checkout for a few seconds to show a regression and its recovery, and
//! prints items ticking live until the verdict. With Prometheus and Alertmanager on PATH it
//! starts both (see `demo_stack`) and uses `config/demo-metrics.yaml`, which adds metric items,
//! and flips the sample service's `/admin` switch to make it 30% slower for a while: the p99
//! threshold does not notice, the `compare` probe (Mann-Whitney vs before the deploy) does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config;
use crate::daemon::Daemon;
use crate::event::EventKind;

const DEMO_YAML: &str = include_str!("../../config/demo.yaml");
const DEMO_METRICS_YAML: &str = include_str!("../../config/demo-metrics.yaml");
const CHECKLIST: &str = include_str!("../../config/release-checklist.md");
const VERSION: &str = "2.4.0";

/// Synthetic traffic counters of the sample service, exposed on `/metrics`.
#[derive(Default)]
struct Traffic {
    ok: AtomicU64,
    errors: AtomicU64,
    /// Total latency of every request so far, in microseconds.
    latency_us: AtomicU64,
    /// Set by `POST /admin?slow=true`: every request takes 30% longer.
    slow: AtomicBool,
}

/// One request's latency in microseconds: 30 ms (39 ms when slow) within ±10% (`x` is a
/// pseudo-random state, advanced here).
fn latency_us(slow: bool, x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    let jitter = 0.9 + 0.2 * ((*x >> 11) as f64 / (1u64 << 53) as f64);
    (30_000.0 * if slow { 1.3 } else { 1.0 } * jitter) as u64
}

fn exposition(t: &Traffic) -> String {
    let (ok, err) = (t.ok.load(Ordering::Relaxed), t.errors.load(Ordering::Relaxed));
    let n = ok + err;
    // Every request takes 27-43 ms: all land in the first bucket, slow or not.
    let mut s = String::from("# TYPE http_requests_total counter\n");
    s.push_str(&format!("http_requests_total{{code=\"200\"}} {ok}\nhttp_requests_total{{code=\"500\"}} {err}\n"));
    s.push_str("# TYPE http_request_duration_seconds histogram\n");
    for le in ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"] {
        s.push_str(&format!("http_request_duration_seconds_bucket{{le=\"{le}\"}} {n}\n"));
    }
    s.push_str(&format!(
        "http_request_duration_seconds_sum {}\nhttp_request_duration_seconds_count {n}\n",
        t.latency_us.load(Ordering::Relaxed) as f64 / 1e6
    ));
    s
}

/// The sample service: healthy, reports VERSION, a checkout that breaks on demand, and
/// `/metrics` fed by synthetic traffic (20 requests/s; all 5xx while broken).
async fn sample_service(broken: Arc<AtomicBool>) -> std::io::Result<String> {
    let traffic = Arc::new(Traffic::default());
    let (t, b) = (traffic.clone(), broken.clone());
    tokio::spawn(async move {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let slow = t.slow.load(Ordering::Relaxed);
            let spent = latency_us(slow, &mut x) + latency_us(slow, &mut x);
            t.latency_us.fetch_add(spent, Ordering::Relaxed);
            if b.load(Ordering::Relaxed) { &t.errors } else { &t.ok }.fetch_add(2, Ordering::Relaxed);
        }
    });
    let admin = traffic.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/admin",
            post(move |q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let slow = q.get("slow").map(String::as_str) == Some("true");
                admin.slow.store(slow, Ordering::Relaxed);
                async move { axum::Json(json!({ "slow": slow })) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let t = traffic.clone();
                async move { exposition(&t) }
            }),
        )
        .route("/version", get(|| async { axum::Json(json!({ "version": VERSION })) }))
        .route(
            "/checkout",
            post(move || {
                let broken = broken.clone();
                async move {
                    if broken.load(Ordering::Relaxed) {
                        (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({ "ok": false, "error": "db timeout" })),
                        )
                    } else {
                        (axum::http::StatusCode::OK, axum::Json(json!({ "ok": true })))
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Wait (30 s at most) until Prometheus has scraped the sample service for 10 s: the `compare`
/// probe's baseline is the time before the deploy (Prometheus applies new targets after ~5 s).
async fn baseline_scraped(http: &reqwest::Client, prometheus: &str) {
    let url = format!("{prometheus}/api/v1/query?query=count_over_time(up%7Bjob%3D%22demo%22%7D%5B10s%5D)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let v: Option<Value> = match http.get(&url).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        let n = v.as_ref().and_then(|v| v["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok());
        if n.is_some_and(|n| n >= 10.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The demo config from the working directory when present (so it can be edited), else the
/// copy built into the binary, written with its checklist to `dir` (its templates are built in).
fn demo_config(dir: &Path, metrics: bool) -> std::io::Result<PathBuf> {
    let (name, text) = if metrics { ("demo-metrics.yaml", DEMO_METRICS_YAML) } else { ("demo.yaml", DEMO_YAML) };
    let local = Path::new("config").join(name);
    if local.is_file() && Path::new("config/release-checklist.md").is_file() {
        return Ok(local);
    }
    std::fs::write(dir.join(name), text)?;
    std::fs::write(dir.join("release-checklist.md"), CHECKLIST)?;
    Ok(dir.join(name))
}

pub async fn run(keep: bool) -> anyhow::Result<ExitCode> {
    super::init_tracing("warn");
    let data = std::env::temp_dir().join(format!("shipwatch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let broken = Arc::new(AtomicBool::new(false));
    let target = sample_service(broken.clone()).await?;
    let stack = match super::demo_stack::binaries() {
        Some(_) => {
            match super::demo_stack::Stack::start(&data.join("stack"), target.trim_start_matches("http://")).await {
                Ok(s) => Some(s),
                Err(e) => {
                    println!("note: could not start Prometheus/Alertmanager ({e}); running the HTTP-only demo");
                    None
                }
            }
        }
        None => {
            println!(
                "note: metric items (error rates, latency, alerts, alerting rules) need Prometheus and Alertmanager:"
            );
            println!("      apt-get install prometheus prometheus-alertmanager   (then run the demo again)");
            None
        }
    };
    let path = demo_config(&data, stack.is_some())?;
    let data_s = data.display().to_string();
    let (prom, am) = stack.as_ref().map(|s| (s.prometheus.clone(), s.alertmanager.clone())).unwrap_or_default();
    let env = |k: &str| match k {
        "SHIPWATCH_DEMO_TARGET" => Some(target.clone()),
        "SHIPWATCH_DEMO_DATA" => Some(data_s.clone()),
        "SHIPWATCH_DEMO_PROMETHEUS" => Some(prom.clone()),
        "SHIPWATCH_DEMO_ALERTMANAGER" => Some(am.clone()),
        _ => std::env::var(k).ok(),
    };
    let cfg = match config::load_with_env(&path, &env) {
        Ok(l) => Arc::new(l.config),
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let plan = super::demo_plan::plan(&cfg, &file);
    let daemon = Daemon::start(cfg.clone(), None).await?;
    let api = format!("http://{}", daemon.addr);
    println!("shipwatch demo");
    println!("  sample service : {target}  (healthz, version {VERSION}, checkout, metrics)");
    if let Some(s) = &stack {
        println!("  prometheus     : {}  (scrapes the sample service every 1s)", s.prometheus);
        println!("  alertmanager   : {}", s.alertmanager);
    }
    println!("  shipwatch API  : {api}/api/v1/releases   (try it in another terminal while this runs)");
    println!("  config         : {}  (window min 20s, max 40s)", path.display());
    println!("  items          : {}", plan.header());
    println!();
    let mut events = daemon.engine.get().subscribe();
    let http = reqwest::Client::new();
    if let Some(s) = &stack {
        println!("collecting 10 s of latency before the deploy: the compare probe's baseline ...");
        baseline_scraped(&http, &s.prometheus).await;
    }
    let created: Value = http
        .post(format!("{api}/api/v1/releases"))
        .json(&json!({ "service": "checkout-api", "version": VERSION, "environment": "demo" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let start = Instant::now();
    let admin = |slow: bool| http.post(format!("{target}/admin?slow={slow}")).send();
    println!("[  0.0s] release {id} started over the API; watching...");
    let deadline = start + Duration::from_secs(70);
    let (mut broke, mut fixed) = (false, false);
    // With metrics: 30% slower from 16 s to 24 s (the compare probe's baseline is before the deploy).
    let (mut slowed, mut sped) = (stack.is_none(), stack.is_none());
    let mut progress = super::progress::Progress::new(std::io::stderr().is_terminal());
    let mut polled: Option<Instant> = None;
    let verdict = loop {
        if polled.is_none_or(|p| p.elapsed() >= Duration::from_secs(1)) {
            polled = Some(Instant::now());
            // The line is a nicety: a failed read skips it (the events and the status still show).
            let rel = match http.get(format!("{api}/api/v1/releases/{id}")).send().await {
                Ok(r) => r.json::<Value>().await.ok(),
                Err(_) => None,
            };
            if let Some(rel) = rel {
                let (key, line) = super::demo_plan::progress(&rel, &plan.gate);
                progress.show(&key, &format!("[{:5.1}s] {line}", start.elapsed().as_secs_f64()));
            }
        }
        let t = start.elapsed().as_secs_f64();
        if !broke && t >= 8.0 {
            broke = true;
            broken.store(true, Ordering::Relaxed);
            progress.clear();
            println!("[{t:5.1}s] demo: breaking the sample service's /checkout (HTTP 500) for 4 s");
        }
        if broke && !fixed && t >= 12.0 {
            fixed = true;
            broken.store(false, Ordering::Relaxed);
            progress.clear();
            println!("[{t:5.1}s] demo: /checkout fixed");
        }
        if !slowed && t >= 16.0 {
            slowed = true;
            admin(true).await?.error_for_status()?;
            progress.clear();
            println!("[{t:5.1}s] demo: POST /admin?slow=true: every request 30% slower (30 → 39 ms) for 8 s;");
            println!("         the p99 threshold (< 300 ms) cannot see it, the compare probe can");
        }
        if slowed && !sped && t >= 24.0 {
            sped = true;
            admin(false).await?.error_for_status()?;
            progress.clear();
            println!("[{t:5.1}s] demo: POST /admin?slow=false: latency back to 30 ms");
        }
        let ev = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep(Duration::from_millis(250)) => continue,
            _ = tokio::time::sleep_until(deadline) => break None,
        };
        let Ok(ev) = ev else { continue };
        if ev.release != id {
            continue;
        }
        let t = start.elapsed().as_secs_f64();
        let mark = match ev.kind {
            EventKind::ItemCompleted | EventKind::ItemRecovered | EventKind::ReleaseVerified => "✓",
            EventKind::ItemFailing | EventKind::ItemRegressed | EventKind::ReleaseFailed => "✗",
            EventKind::ItemUnknown | EventKind::ReleaseInconclusive => "?",
            _ => "·",
        };
        progress.clear();
        println!("[{t:5.1}s] {mark} {:<16} {}", ev.kind.as_str(), ev.message);
        if matches!(ev.kind, EventKind::ReleaseVerified | EventKind::ReleaseFailed | EventKind::ReleaseInconclusive) {
            break Some(ev.kind);
        }
    };
    progress.clear();
    println!();
    let status: Value = http.get(format!("{api}/api/v1/releases/{id}")).send().await?.json().await?;
    print!("{}", super::status::render_release(&status, false, false));
    println!();
    print!("{}", plan.manual_list(&id, &api));
    println!();
    println!("ticked checklist: {api}/api/v1/releases/{id}/checklist.md");
    let code = match verdict {
        Some(EventKind::ReleaseVerified) => {
            println!("verdict: VERIFIED");
            ExitCode::SUCCESS
        }
        Some(EventKind::ReleaseInconclusive) => {
            println!("verdict: INCONCLUSIVE (settle it: shipwatch verdict {id} --verified|--failed --by NAME)");
            ExitCode::from(3)
        }
        Some(_) => {
            println!("verdict: FAILED");
            ExitCode::from(1)
        }
        None => {
            println!("verdict: none within 70 s (unexpected; see the status above)");
            ExitCode::from(1)
        }
    };
    if keep {
        println!("daemon keeps running at {api}; Ctrl-C to stop");
        daemon.run_until_signal().await;
    } else {
        daemon.stop().await;
    }
    drop(stack);
    let _ = std::fs::remove_dir_all(&data);
    Ok(code)
}
