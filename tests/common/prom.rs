//! Real Prometheus and Alertmanager for the metric-probe tests.
//!
//! - [`require_bins`]: are `prometheus` and `prometheus-alertmanager` installed? Missing binaries
//!   fail the test when `CI=true`, and skip it (with a note) otherwise.
//! - [`MetricsTarget`]: an axum `/metrics` endpoint whose request rates (200/500), latency
//!   histogram and `shipwatch_test_flag` gauge the test sets; a ticker advances the counters
//!   every 100 ms, so `rate()` is meaningful.
//! - [`Prometheus`]: the real server on a free port scraping the target every second, with
//!   [`RULES`] loaded and optionally sending to an [`Alertmanager`]; `stop()`/`restart()`.
//! - [`Alertmanager`]: the real server (null receiver, no clustering) with helpers to post
//!   alerts with chosen start times and to create silences.
//! - [`sw_fixture`], [`probe`], [`bind`]: a shipwatch config over those sources;
//!   [`wait_newest`], [`wait_state_in`], [`num`], [`nums_in`]: result helpers.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Daemon, Fixture, wait_for};

pub const PROMETHEUS: &str = "prometheus";
pub const ALERTMANAGER: &str = "prometheus-alertmanager";

/// Alerting rules every test Prometheus loads: one driven by the target's flag, one that never fires.
pub const RULES: &str = "groups:
  - name: shipwatch-test
    rules:
      - alert: ShipwatchTestFlag
        expr: shipwatch_test_flag > 0
        for: 0s
        labels: { severity: page, service: api }
        annotations: { summary: the test raised its flag }
      - alert: AlwaysOk
        expr: vector(0) > 1
        labels: { severity: ticket, service: api }
";

/// Whether both binaries are on `PATH`. Missing ones panic under `CI=true`, else print a note.
pub fn require_bins() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = [PROMETHEUS, ALERTMANAGER]
        .into_iter()
        .filter(|b| !std::env::split_paths(&path).any(|dir| dir.join(b).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{missing:?} not installed (apt-get install prometheus prometheus-alertmanager)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {msg}");
    eprintln!("note: skipping this test: {msg}");
    false
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().unwrap().port()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap()
}

/// Upper bounds of the latency histogram (plus `+Inf`).
const BUCKETS: [f64; 7] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// What the target reports; counters advance with the rates.
#[derive(Debug, Default)]
struct Traffic {
    ok_rate: f64,
    err_rate: f64,
    latency: f64,
    flag: f64,
    ok: f64,
    err: f64,
    buckets: [f64; 7],
    sum: f64,
    count: f64,
}

impl Traffic {
    fn advance(&mut self, secs: f64) {
        let (ok, err) = (self.ok_rate * secs, self.err_rate * secs);
        self.ok += ok;
        self.err += err;
        for (b, le) in self.buckets.iter_mut().zip(BUCKETS) {
            if self.latency <= le {
                *b += ok + err;
            }
        }
        self.sum += (ok + err) * self.latency;
        self.count += ok + err;
    }

    fn exposition(&self) -> String {
        let mut s = String::from("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n");
        s += &format!(
            "http_requests_total{{code=\"200\"}} {}\nhttp_requests_total{{code=\"500\"}} {}\n",
            self.ok, self.err
        );
        s += "# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n";
        for (b, le) in self.buckets.iter().zip(BUCKETS) {
            s += &format!("http_request_duration_seconds_bucket{{le=\"{le}\"}} {b}\n");
        }
        s += &format!("http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", self.count);
        s += &format!(
            "http_request_duration_seconds_sum {}\nhttp_request_duration_seconds_count {}\n",
            self.sum, self.count
        );
        s += &format!(
            "# HELP shipwatch_test_flag Drives ShipwatchTestFlag.\n# TYPE shipwatch_test_flag gauge\nshipwatch_test_flag {}\n",
            self.flag
        );
        s
    }
}

/// A service exposing metrics for Prometheus to scrape.
pub struct MetricsTarget {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    traffic: Arc<Mutex<Traffic>>,
    ticking: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn metrics(State(t): State<Arc<Mutex<Traffic>>>) -> ([(&'static str, &'static str); 1], String) {
    let body = t.lock().unwrap().exposition();
    ([("content-type", "text/plain; version=0.0.4")], body)
}

impl MetricsTarget {
    /// Serving `ok_per_s` 200s and `err_per_s` 500s a second at 20 ms latency, flag 0.
    pub fn start(ok_per_s: f64, err_per_s: f64) -> Self {
        let traffic = Arc::new(Mutex::new(Traffic {
            ok_rate: ok_per_s,
            err_rate: err_per_s,
            latency: 0.02,
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind metrics target");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().route("/metrics", get(metrics)).with_state(traffic.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app).with_graceful_shutdown(async move { drop(rx.await) }).await;
            });
        });
        let ticking = Arc::new(AtomicBool::new(true));
        let (t, on) = (traffic.clone(), ticking.clone());
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while on.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let now = Instant::now();
                t.lock().unwrap().advance((now - last).as_secs_f64());
                last = now;
            }
        });
        MetricsTarget { addr, traffic, ticking, stop: Some(tx) }
    }

    /// Requests per second answered 200 and 500 from now on.
    pub fn set_rates(&self, ok_per_s: f64, err_per_s: f64) {
        let mut t = self.traffic.lock().unwrap();
        (t.ok_rate, t.err_rate) = (ok_per_s, err_per_s);
    }

    /// Latency (seconds) of every request from now on.
    pub fn set_latency(&self, secs: f64) {
        self.traffic.lock().unwrap().latency = secs;
    }

    /// Value of the `shipwatch_test_flag` gauge (> 0 fires `ShipwatchTestFlag`).
    pub fn set_flag(&self, v: f64) {
        self.traffic.lock().unwrap().flag = v;
    }
}

impl Drop for MetricsTarget {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A server binary run from a temp dir, its output appended to `<dir>/<bin>.log`.
struct Server {
    bin: &'static str,
    args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    url: String,
}

impl Server {
    fn spawn(&mut self) {
        let log = self.log_path();
        let out = OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = Command::new(self.bin)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.bin))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Poll `/-/ready` until 200; panics with the log if the process exits or 30 s pass.
    async fn wait_ready(&mut self) {
        let (http, deadline) = (client(), Instant::now() + Duration::from_secs(30));
        loop {
            if let Ok(r) = http.get(format!("{}/-/ready", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                panic!("{} not ready at {} (exit: {exited:?})\n--- log ---\n{}", self.bin, self.url, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- {} log ({}), last 30 lines ---\n{}", self.bin, self.url, self.log_tail());
        }
    }
}

/// A real Prometheus scraping one [`MetricsTarget`] as job `api` every second.
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    server: Server,
}

impl Prometheus {
    /// Start with `rules` loaded, no Alertmanager; returns once the target is up.
    pub async fn start(target: &MetricsTarget, rules: &str) -> Self {
        Self::start_with(target, rules, None).await
    }

    /// Start with `rules` loaded, sending alerts to `am` if given; returns once the target is up.
    pub async fn start_with(target: &MetricsTarget, rules: &str, am: Option<&Alertmanager>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let alerting = am
            .map(|a| format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", a.addr))
            .unwrap_or_default();
        let cfg = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yml]\n{alerting}\
             scrape_configs:\n  - job_name: api\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        );
        std::fs::write(dir.path().join("prometheus.yml"), cfg).unwrap();
        std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        let args = vec![
            format!("--config.file={}", p("prometheus.yml")),
            format!("--storage.tsdb.path={}", p("data")),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-lifecycle".to_string(),
        ];
        let url = format!("http://127.0.0.1:{port}");
        let mut prom = Prometheus { url: url.clone(), server: Server { bin: PROMETHEUS, args, dir, child: None, url } };
        prom.restart().await;
        prom
    }

    /// SIGTERM the server (the data dir stays).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Start again on the same port and data dir; returns once the target is up.
    pub async fn restart(&mut self) {
        self.server.spawn();
        self.server.wait_ready().await;
        self.wait_value(r#"up{job="api"}"#, |v| v == 1.0).await;
    }

    /// The first sample of an instant query now, if any.
    pub async fn query(&self, q: &str) -> Option<f64> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.url), &[("query", q)]).unwrap();
        let v: Value = client().get(url).send().await.ok()?.json().await.ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Wait (20 s at most) until `q` has a first sample satisfying `ok`; returns it.
    pub async fn wait_value(&self, q: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let what = format!("Prometheus {} to answer {q} with a matching value", self.url);
        let ok = &ok;
        wait_for(&what, Duration::from_secs(20), || async move {
            match self.query(q).await {
                Some(v) if ok(v) => Ok(v),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }
}

/// A real Alertmanager with one null receiver and clustering off.
pub struct Alertmanager {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    server: Server,
}

impl Alertmanager {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let cfg = "route: { receiver: 'null', group_wait: 0s, group_interval: 1s, repeat_interval: 1h }\n\
                   receivers: [{ name: 'null' }]\n";
        std::fs::write(dir.path().join("alertmanager.yml"), cfg).unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        let args = vec![
            format!("--config.file={}", p("alertmanager.yml")),
            format!("--storage.path={}", p("data")),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_string(),
        ];
        let (addr, url) = (format!("127.0.0.1:{port}"), format!("http://127.0.0.1:{port}"));
        let mut server = Server { bin: ALERTMANAGER, args, dir, child: None, url: url.clone() };
        server.spawn();
        server.wait_ready().await;
        Alertmanager { url, addr, server }
    }

    /// POST one alert with `labels`, firing since `starts_at` until an hour from now.
    pub async fn post_alert(&self, labels: &[(&str, &str)], starts_at: DateTime<Utc>) {
        let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let body = json!([{
            "labels": labels,
            "annotations": { "summary": "posted by a shipwatch test" },
            "startsAt": starts_at.to_rfc3339(),
            "endsAt": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "generatorURL": "http://shipwatch-test/alert",
        }]);
        let resp = client().post(format!("{}/api/v2/alerts", self.url)).json(&body).send().await.unwrap();
        let status = resp.status();
        assert!(status.is_success(), "POST alert {body}: {status} {}", resp.text().await.unwrap_or_default());
    }

    /// Silence alerts matching every `name=value` for an hour; returns the silence id.
    pub async fn silence(&self, matchers: &[(&str, &str)]) -> String {
        let matchers: Vec<Value> =
            matchers.iter().map(|(n, v)| json!({"name": n, "value": v, "isRegex": false, "isEqual": true})).collect();
        let now = Utc::now();
        let body = json!({
            "matchers": matchers,
            "startsAt": now.to_rfc3339(),
            "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "createdBy": "shipwatch-test",
            "comment": "known issue",
        });
        let resp = client().post(format!("{}/api/v2/silences", self.url)).json(&body).send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or_default();
        assert!(status.is_success(), "POST silence {body}: {status} {v}");
        v["silenceID"].as_str().unwrap_or_default().to_string()
    }

    /// Names of the active, unsilenced alerts Alertmanager holds (for diagnostics and waits).
    pub async fn active_names(&self) -> Vec<String> {
        let url = format!("{}/api/v2/alerts?active=true&silenced=false&inhibited=false", self.url);
        let v: Value = match client().get(url).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => return vec![],
        };
        let alerts = v.as_array().cloned().unwrap_or_default();
        alerts.iter().filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string)).collect()
    }
}

/// A shipwatch config (window 60s..120s so releases stay watched for the whole test) with
/// sources `prom` and/or `am`, the given `probes:` and `items:` entries, and the real checklist.
pub fn sw_fixture(prom: Option<&str>, am: Option<&str>, probes: &[String], items: &[String]) -> Fixture {
    let mut yaml = String::from(
        "server: { listen: 127.0.0.1:0 }\nstorage: { sqlite: ./shipwatch.db }\nchecklist: checklist.md\n\
         window: { min: 60s, max: 120s }\nsources:\n",
    );
    if let Some(u) = prom {
        yaml += &format!("  prom: {{ prometheus: {{ url: \"{u}\" }} }}\n");
    }
    if let Some(u) = am {
        yaml += &format!("  am: {{ alertmanager: {{ url: \"{u}\" }} }}\n");
    }
    yaml += &format!("probes:\n{}items:\n{}", probes.concat(), items.concat());
    let fx = Fixture::new(&yaml, 0);
    std::fs::write(fx.path().join("config-as-written.yaml"), &yaml).unwrap();
    fx
}

/// A `probes:` entry: `kind` is one YAML flow mapping line such as `rules: { source: prom }`;
/// runs every 500 ms without jitter.
pub fn probe(name: &str, kind: &str) -> String {
    format!("  {name}:\n    {kind}\n    every: 500ms\n    jitter: 0s\n")
}

/// An `items:` entry binding `item` to `probes` with `pass: {consecutive: pass}` and
/// `fail: {consecutive: fail}`.
pub fn bind(item: &str, probes: &[&str], pass: u32, fail: u32) -> String {
    format!(
        "  {item}: {{ probes: [{}], pass: {{ consecutive: {pass} }}, fail: {{ consecutive: {fail} }} }}\n",
        probes.join(", ")
    )
}

/// Wait until the newest result of `probe` for release `id` has `status`; returns that result.
pub async fn wait_newest(d: &Daemon, id: &str, probe: &str, status: &str, timeout: Duration) -> Value {
    let what = format!("newest {probe} result of {id} to be {status}");
    wait_for(&what, timeout, || async move {
        let results = d.results(id, Some(probe)).await;
        match results.first() {
            Some(r) if r["status"] == status => Ok(r.clone()),
            Some(r) => Err(r.to_string()),
            None => Err("no results yet".into()),
        }
    })
    .await
}

/// Wait until item `item_id` of `id` is in one of `states`; returns the item.
pub async fn wait_state_in(d: &Daemon, id: &str, item_id: &str, states: &[&str], timeout: Duration) -> Value {
    let what = format!("item {item_id} of {id} to be one of {states:?}");
    wait_for(&what, timeout, || async move {
        let rel = d.release(id).await;
        let it = super::item(&rel, item_id).clone();
        if states.iter().any(|s| it["state"] == *s) { Ok(it) } else { Err(it.to_string()) }
    })
    .await
}

/// A JSON number, or the first number inside a string (`"0.34"`, `"0.34 > 0.05"`).
pub fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| nums_in(s).first().copied()))
}

/// Every number written in `text` (`0.02`, `1.5e-3`), in order.
pub fn nums_in(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || ".eE+-".contains(c)))
        .filter_map(|t| {
            t.trim_start_matches(|c: char| !c.is_ascii_digit() && c != '.')
                .trim_end_matches(['.', 'e', 'E', '+', '-'])
                .parse()
                .ok()
        })
        .collect()
}

/// Result timestamp.
pub fn at(r: &Value) -> DateTime<Utc> {
    super::ts(&r["at"])
}
