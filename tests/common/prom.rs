//! Real Prometheus and Alertmanager for the metric-probe tests: [`require_bins`] (skip, or fail
//! under `CI=true`, when they are not installed); [`MetricsTarget`], an axum `/metrics` whose
//! 200/500 request rates, latency histogram, `shipwatch_test_flag` gauge and `app_build_info`
//! versions the test sets (a ticker advances the counters every 100 ms, so `rate()` is
//! meaningful); [`Prometheus`] scraping it every second with [`RULES`] loaded,
//! `stop()`/`restart()`; [`Alertmanager`] with helpers to post alerts with chosen start times,
//! create silences, list alerts and count the pushes it received, `stop()`/`restart()`;
//! [`sw_fixture`], [`probe`], [`bind`] for a shipwatch config over them, and result helpers.
//!
//! Both servers listen on `127.0.0.1:0` and the harness reads the bound port from their log
//! (see [`Server`]); a restart binds the same port again.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
      - { alert: ShipwatchTestFlag, expr: shipwatch_test_flag > 0, for: 0s, labels: { severity: page, service: api } }
      - { alert: AlwaysOk, expr: vector(0) > 1, labels: { severity: ticket, service: api } }
";

/// Whether both binaries are on `PATH`. Missing ones panic under `CI=true`, else print a note.
pub fn require_bins() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = |b: &&str| std::env::split_paths(&path).any(|dir| dir.join(b).is_file());
    let missing: Vec<&str> = [PROMETHEUS, ALERTMANAGER].into_iter().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{missing:?} not installed (apt-get install prometheus prometheus-alertmanager)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {msg}");
    eprintln!("note: skipping this test: {msg}");
    false
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap()
}

/// Upper bounds of the latency histogram (plus `+Inf`).
const BUCKETS: [f64; 7] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// What the target reports; counters advance with the rates (index 0: code 200, 1: code 500).
#[derive(Debug, Default)]
struct Traffic {
    rates: [f64; 2],
    totals: [f64; 2],
    latency: f64,
    buckets: [f64; 7],
    sum: f64,
    count: f64,
    flag: f64,
    /// Versions reported by `app_build_info{version=...} 1` (none by default).
    builds: Vec<String>,
}

impl Traffic {
    fn advance(&mut self, secs: f64) {
        let n = (self.rates[0] + self.rates[1]) * secs;
        (0..2).for_each(|i| self.totals[i] += self.rates[i] * secs);
        let latency = self.latency;
        self.buckets.iter_mut().zip(BUCKETS).filter(|(_, le)| latency <= *le).for_each(|(b, _)| *b += n);
        self.sum += n * latency;
        self.count += n;
    }

    fn exposition(&self) -> String {
        let mut s = String::from("# TYPE http_requests_total counter\n");
        for (code, v) in ["200", "500"].iter().zip(self.totals) {
            s += &format!("http_requests_total{{code=\"{code}\"}} {v}\n");
        }
        s += "# TYPE http_request_duration_seconds histogram\n";
        for (le, v) in
            BUCKETS.iter().map(f64::to_string).chain(["+Inf".into()]).zip(self.buckets.iter().chain([&self.count]))
        {
            s += &format!("http_request_duration_seconds_bucket{{le=\"{le}\"}} {v}\n");
        }
        s += &format!(
            "http_request_duration_seconds_sum {}\nhttp_request_duration_seconds_count {}\n",
            self.sum, self.count
        );
        s += &format!("# TYPE shipwatch_test_flag gauge\nshipwatch_test_flag {}\n", self.flag);
        if !self.builds.is_empty() {
            s += "# TYPE app_build_info gauge\n";
        }
        self.builds.iter().fold(s, |s, v| s + &format!("app_build_info{{version=\"{v}\"}} 1\n"))
    }
}

/// A service exposing metrics for Prometheus to scrape.
pub struct MetricsTarget {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    traffic: Arc<Mutex<Traffic>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn metrics(State(t): State<Arc<Mutex<Traffic>>>) -> ([(&'static str, &'static str); 1], String) {
    let body = t.lock().unwrap().exposition();
    ([("content-type", "text/plain; version=0.0.4")], body)
}

impl MetricsTarget {
    /// Serving `ok_per_s` 200s and `err_per_s` 500s a second at 20 ms latency, flag 0. Its own
    /// thread and runtime serve `/metrics` and advance the counters every 100 ms.
    pub fn start(ok_per_s: f64, err_per_s: f64) -> Self {
        let traffic = Traffic { rates: [ok_per_s, err_per_s], latency: 0.02, ..Default::default() };
        let traffic = Arc::new(Mutex::new(traffic));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind metrics target");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().route("/metrics", get(metrics)).with_state(traffic.clone());
        let t = traffic.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let (mut tick, mut last) = (tokio::time::interval(Duration::from_millis(100)), Instant::now());
                    loop {
                        let now = tick.tick().await.into_std();
                        t.lock().unwrap().advance(now.saturating_duration_since(last).as_secs_f64());
                        last = now;
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app).with_graceful_shutdown(async move { drop(rx.await) }).await;
            });
        });
        MetricsTarget { addr, traffic, stop: Some(tx) }
    }

    /// Requests per second answered 200 and 500 from now on.
    pub fn set_rates(&self, ok_per_s: f64, err_per_s: f64) {
        self.traffic.lock().unwrap().rates = [ok_per_s, err_per_s];
    }

    /// Latency (seconds) of every request from now on.
    pub fn set_latency(&self, secs: f64) {
        self.traffic.lock().unwrap().latency = secs;
    }

    /// The versions the target reports as running, one `app_build_info{version="V"} 1` each.
    pub fn set_builds(&self, versions: &[&str]) {
        self.traffic.lock().unwrap().builds = versions.iter().map(|v| v.to_string()).collect();
    }

    /// Value of the `shipwatch_test_flag` gauge (> 0 fires `ShipwatchTestFlag`).
    pub fn set_flag(&self, v: f64) {
        self.traffic.lock().unwrap().flag = v;
    }
}

impl Drop for MetricsTarget {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A server binary (Prometheus or Alertmanager, both log `msg="Listening on" address=HOST:PORT`
/// once bound), run from a temp dir holding its config files; its output is appended to
/// `<dir>/<bin>.log` and shown when a test panics.
///
/// The first start listens on `127.0.0.1:0` and reads the port the kernel gave it back from
/// that log line, so no port is picked first and bound later (a race with anything else on
/// the machine). A restart must come back on the same port (the shipwatch config under test
/// names it): it binds that port again, retrying for a while if the port is still taken.
struct Server {
    bin: &'static str,
    args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// 0 until the first start has bound one.
    port: u16,
    url: String,
}

/// How long a restart keeps retrying a port that is still (or again) in use.
const REBIND_FOR: Duration = Duration::from_secs(10);

impl Server {
    /// Write `files` and prepare the space-separated `flags` (`{dir}` and `{listen}` filled in
    /// at each start).
    fn new(bin: &'static str, files: &[(&str, &str)], flags: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        files.iter().for_each(|(name, text)| std::fs::write(dir.path().join(name), text).unwrap());
        let d = dir.path().display().to_string();
        let args = flags.split(' ').map(|f| f.replace("{dir}", &d)).collect();
        Server { bin, args, dir, child: None, port: 0, url: String::new() }
    }

    /// Spawn (on port 0 the first time, on the same port after that), then poll `/-/ready`
    /// until 200; panics with the log if it exits or 30 s pass.
    async fn start(&mut self) {
        let rebind_until = Instant::now() + REBIND_FOR;
        loop {
            match self.spawn_and_bind().await {
                Ok(port) => {
                    self.port = port;
                    self.url = format!("http://127.0.0.1:{port}");
                    break;
                }
                Err(log)
                    if self.port != 0 && log.contains("address already in use") && Instant::now() < rebind_until =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(log) => panic!("{} did not start listening (port {}):\n--- log ---\n{log}", self.bin, self.port),
            }
        }
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

    /// Spawn the server on `127.0.0.1:{self.port}` and wait (30 s at most) for its
    /// `Listening on` log line: the bound port, or the log of this start if it exited first.
    async fn spawn_and_bind(&mut self) -> Result<u16, String> {
        let offset = std::fs::metadata(self.log()).map(|m| m.len()).unwrap_or(0);
        let out = OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let listen = format!("127.0.0.1:{}", self.port);
        let mut cmd = Command::new(self.bin);
        cmd.args(self.args.iter().map(|a| a.replace("{listen}", &listen)));
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        let child = cmd.stdout(out.try_clone().unwrap()).stderr(out).spawn();
        let mut child = child.unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read(self.log()).unwrap_or_default();
            let log = String::from_utf8_lossy(log.get(offset as usize..).unwrap_or_default()).into_owned();
            if let Some(port) = listening_port(&log) {
                self.child = Some(child);
                return Ok(port);
            }
            if child.try_wait().ok().flatten().is_some() {
                return Err(log);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{log}\n(no `Listening on` line within 30 s)"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.bin))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe { libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The port of the first `msg="Listening on" address=127.0.0.1:PORT` line of a Prometheus or
/// Alertmanager log (exporter-toolkit logs it once the socket is bound; the earlier
/// `msg="Start listening for connections" address=127.0.0.1:0` line is not it).
fn listening_port(log: &str) -> Option<u16> {
    log.lines()
        .filter(|l| l.contains("msg=\"Listening on\""))
        .find_map(|l| l.split_once(" address=")?.1.split_whitespace().next()?.rsplit_once(':')?.1.parse().ok())
        .filter(|p| *p != 0)
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
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
        let alerting = am
            .map(|a| {
                format!("alerting: {{ alertmanagers: [{{ static_configs: [{{ targets: ['{}'] }}] }}] }}\n", a.addr)
            })
            .unwrap_or_default();
        let cfg = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yml]\n{alerting}\
             scrape_configs: [{{ job_name: api, static_configs: [{{ targets: ['{}'] }}] }}]\n",
            target.addr
        );
        let flags = "--config.file={dir}/prometheus.yml --storage.tsdb.path={dir}/data \
                     --web.listen-address={listen} --web.enable-lifecycle";
        let mut server = Server::new(PROMETHEUS, &[("prometheus.yml", &cfg), ("rules.yml", rules)], flags);
        server.start().await;
        let prom = Prometheus { url: server.url.clone(), server };
        prom.wait_value(r#"up{job="api"}"#, |v| v == 1.0).await;
        prom
    }

    /// SIGTERM the server (the data dir stays).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Start again on the same port and data dir; returns once the target is up.
    pub async fn restart(&mut self) {
        self.server.start().await;
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
        let cfg = "route: { receiver: 'null', group_wait: 0s, group_interval: 1s, repeat_interval: 1h }\n\
                   receivers: [{ name: 'null' }]\n";
        let flags = "--config.file={dir}/alertmanager.yml --storage.path={dir}/data \
                     --web.listen-address={listen} --cluster.listen-address=";
        let mut server = Server::new(ALERTMANAGER, &[("alertmanager.yml", cfg)], flags);
        server.start().await;
        Alertmanager { url: server.url.clone(), addr: format!("127.0.0.1:{}", server.port), server }
    }

    /// SIGTERM the server (the data dir stays): connecting is refused until [`Self::restart`].
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Start again on the same port and data dir; returns once it is ready.
    pub async fn restart(&mut self) {
        self.server.start().await;
    }

    /// The active, unsilenced, uninhibited alerts named `name` (none when it cannot be asked).
    pub async fn alerts(&self, name: &str) -> Vec<Value> {
        let filter = format!("alertname=\"{name}\"");
        let params = [("active", "true"), ("silenced", "false"), ("inhibited", "false"), ("filter", filter.as_str())];
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v2/alerts", self.url), &params).unwrap();
        let v: Value = match client().get(url).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        v.as_array().cloned().unwrap_or_default()
    }

    /// How many alerts with `status` (`firing` or `resolved`) Alertmanager has received over its
    /// API since it started (`alertmanager_alerts_received_total`): every push counts, also one
    /// that changes nothing it lists, so a test can see that pushes keep arriving.
    pub async fn received(&self, status: &str) -> u64 {
        let text = client().get(format!("{}/metrics", self.url)).send().await.unwrap().text().await.unwrap();
        let series = format!("alertmanager_alerts_received_total{{status=\"{status}\",version=\"v2\"}} ");
        let line = text.lines().find_map(|l| l.strip_prefix(&series));
        line.and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or_else(|| panic!("no {series} in:\n{text}")) as u64
    }

    /// POST `body` to `path`, asserting success; returns the JSON answer (null if none).
    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = client().post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        let (status, text) = (resp.status(), resp.text().await.unwrap_or_default());
        assert!(status.is_success(), "POST {path} {body}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// Post one alert with `labels`, firing since `starts_at` until an hour from now.
    pub async fn post_alert(&self, labels: &[(&str, &str)], starts_at: DateTime<Utc>) {
        let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let ends_at = Utc::now() + chrono::Duration::hours(1);
        let alert = json!({"labels": labels, "annotations": {"summary": "posted by a shipwatch test"},
            "startsAt": starts_at.to_rfc3339(), "endsAt": ends_at.to_rfc3339(), "generatorURL": "http://shipwatch-test/"});
        self.post("/api/v2/alerts", json!([alert])).await;
    }

    /// Silence alerts matching every `name=value` for an hour; returns the silence id.
    pub async fn silence(&self, matchers: &[(&str, &str)]) -> String {
        let matchers: Vec<Value> =
            matchers.iter().map(|(n, v)| json!({"name": n, "value": v, "isRegex": false, "isEqual": true})).collect();
        let (now, end) = (Utc::now(), Utc::now() + chrono::Duration::hours(1));
        let body = json!({"matchers": matchers, "startsAt": now.to_rfc3339(), "endsAt": end.to_rfc3339(),
            "createdBy": "shipwatch-test", "comment": "known issue"});
        self.post("/api/v2/silences", body).await["silenceID"].as_str().unwrap_or_default().to_string()
    }

    /// Names of the active, unsilenced alerts Alertmanager holds.
    pub async fn active_names(&self) -> Vec<String> {
        let url = format!("{}/api/v2/alerts?active=true&silenced=false&inhibited=false", self.url);
        let v: Value = client().get(url).send().await.unwrap().json().await.unwrap_or_default();
        let alerts = v.as_array().cloned().unwrap_or_default();
        alerts.iter().filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string)).collect()
    }
}

/// A shipwatch config (window 60s..120s so releases stay watched for the whole test) with
/// sources `prom` and/or `am`, the given `probes:` and `items:` entries, and the real checklist.
pub fn sw_fixture(prom: Option<&str>, am: Option<&str>, probes: &[String], items: &[String]) -> Fixture {
    let prom = prom.map(|u| format!("  prom: {{ prometheus: {{ url: \"{u}\" }} }}\n")).unwrap_or_default();
    let am = am.map(|u| format!("  am: {{ alertmanager: {{ url: \"{u}\" }} }}\n")).unwrap_or_default();
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0 }}\nstorage: {{ sqlite: ./shipwatch.db }}\nchecklist: checklist.md\n\
         window: {{ min: 60s, max: 120s }}\nsources:\n{prom}{am}probes:\n{}items:\n{}",
        probes.concat(),
        items.concat()
    );
    Fixture::new(&yaml, 0)
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
        let newest = d.results(id, Some(probe)).await.first().cloned().unwrap_or_default();
        if newest["status"] == status { Ok(newest) } else { Err(newest.to_string()) }
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

/// Result timestamp.
pub fn at(r: &Value) -> DateTime<Utc> {
    super::ts(&r["at"])
}
