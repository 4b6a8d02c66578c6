//! Harness shared by the integration tests.
//!
//! - [`FakeTarget`]: an axum server on `127.0.0.1:0` (on its own thread and runtime) whose
//!   `/healthz` status/body and `/version` JSON a test flips at run time.
//! - [`Fixture`]: a temp dir holding a config (from `tests/fixtures/`, with `__PORT__` replaced
//!   by the fake target's port) and a copy of the real release checklist as `checklist.md`.
//! - [`Daemon`]: the real `shipwatch run` binary on a free port, with a reqwest client, JSON
//!   helpers, `kill()` (SIGKILL), `terminate()` (SIGTERM) and a Drop that kills it.
//! - [`wait_for`]: poll every 100 ms until a condition holds or a deadline passes.
//! - [`raw`]: raw HTTP/1.1 on a `TcpStream` (malformed, oversized, incomplete requests).

#![allow(dead_code)]

pub mod pg;
pub mod prom;
pub mod raw;
pub mod servers;
pub mod tools;
use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_shipwatch");
/// The team's real checklist (50 items).
pub const CHECKLIST: &str = include_str!("../../config/release-checklist.md");
/// The daemon fixture: `health` and `version` probes bound to two items, window 3s..6s.
pub const DAEMON_YAML: &str = include_str!("../fixtures/daemon.yaml");
/// Like [`DAEMON_YAML`] but with `api_token: ${TEST_TOKEN}` and a probe with the token in its URL.
pub const TOKEN_YAML: &str = include_str!("../fixtures/token.yaml");

/// Item ids of the real checklist used throughout.
pub const SMOKE: &str = "run-post-deploy-smoke-tests-on-production";
pub const VERSION: &str = "confirm-new-version-is-running-in-production";
pub const ROLLBACK_DOC: &str = "document-rollback-procedure-and-steps";

/// How long to wait for anything that should happen within a few probe intervals.
pub const SOON: Duration = Duration::from_secs(15);

/// What the fake target answers.
#[derive(Debug, Clone)]
struct Answers {
    health_status: u16,
    health_body: String,
    version: String,
    hits: u64,
}

/// A fake service for the probes to check.
pub struct FakeTarget {
    pub port: u16,
    answers: Arc<Mutex<Answers>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn healthz(State(a): State<Arc<Mutex<Answers>>>) -> (StatusCode, String) {
    a.lock().unwrap().hits += 1;
    let a = a.lock().unwrap().clone();
    (StatusCode::from_u16(a.health_status).unwrap(), a.health_body)
}

async fn version(State(a): State<Arc<Mutex<Answers>>>) -> axum::Json<Value> {
    let v = a.lock().unwrap().version.clone();
    axum::Json(json!({ "version": v, "commit": "abc123" }))
}

impl FakeTarget {
    /// Healthy (`200 ok`) and serving version `1.4.2`.
    pub fn start() -> Self {
        let answers = Arc::new(Mutex::new(Answers {
            health_status: 200,
            health_body: "ok".into(),
            version: "1.4.2".into(),
            hits: 0,
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake target");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app =
            Router::new().route("/healthz", get(healthz)).route("/version", get(version)).with_state(answers.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app).with_graceful_shutdown(async move { drop(rx.await) }).await;
            });
        });
        FakeTarget { port, answers, stop: Some(tx) }
    }

    /// What `/healthz` answers from now on.
    pub fn set_health(&self, status: u16, body: &str) {
        let mut a = self.answers.lock().unwrap();
        a.health_status = status;
        a.health_body = body.to_string();
    }

    /// How many `/healthz` requests it has answered.
    pub fn hits(&self) -> u64 {
        self.answers.lock().unwrap().hits
    }

    /// What `/version` reports from now on.
    pub fn set_version(&self, v: &str) {
        self.answers.lock().unwrap().version = v.to_string();
    }
}

impl Drop for FakeTarget {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A temp dir with `shipwatch.yaml` and `checklist.md`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Fixture {
    /// Write `yaml` with `__PORT__` replaced by `port`, next to a copy of the real checklist.
    pub fn new(yaml: &str, port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("shipwatch.yaml");
        std::fs::write(&config, yaml.replace("__PORT__", &port.to_string())).unwrap();
        std::fs::write(dir.path().join("checklist.md"), CHECKLIST).unwrap();
        Fixture { dir, config }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A running `shipwatch run`.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`, from the daemon's one stdout line.
    pub url: String,
    pub client: reqwest::Client,
    /// Bearer token sent by [`Daemon::post`].
    pub token: Option<String>,
    stderr: PathBuf,
    extra_stdout: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn start(fx: &Fixture) -> Self {
        Self::start_with_env(fx, &[])
    }

    /// Spawn the binary on `fx`'s config with extra environment; wait (15 s at most) for its
    /// `listening on http://...` line. Panics with the daemon's stderr if it never comes.
    pub fn start_with_env(fx: &Fixture, env: &[(&str, &str)]) -> Self {
        Self::start_with(fx, env, None)
    }

    /// Like [`Daemon::start`], with the daemon's `RLIMIT_NOFILE` set to `(soft, hard)` before it
    /// runs (as a service manager would).
    pub fn start_with_nofile(fx: &Fixture, soft: u64, hard: u64) -> Self {
        Self::start_with(fx, &[], Some((soft, hard)))
    }

    fn start_with(fx: &Fixture, env: &[(&str, &str)], nofile: Option<(u64, u64)>) -> Self {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let stderr = fx.path().join(format!("daemon-{n}.stderr"));
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg("--config")
            .arg(&fx.config)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(fx.path())
            .env_remove("SHIPWATCH_API_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some((soft, hard)) = nofile {
            use std::os::unix::process::CommandExt;
            let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
            // SAFETY: between fork and exec the closure only calls setrlimit(2), which is
            // async-signal-safe, on a struct it owns.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn shipwatch");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let extra_stdout = Arc::new(Mutex::new(Vec::new()));
        let extra = extra_stdout.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for line in lines.map_while(Result::ok) {
                extra.lock().unwrap().push(line);
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(15));
        let url = match first {
            Ok(Some(line)) if line.starts_with("listening on http://127.0.0.1:") => {
                line.trim_start_matches("listening on ").trim().to_string()
            }
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                panic!(
                    "shipwatch run did not print `listening on http://127.0.0.1:PORT` within 15s \
                     (first stdout line: {other:?}, exit: {status:?})\n--- stderr ---\n{log}"
                );
            }
        };
        let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        assert_ne!(port, 0, "daemon reported a bad address: {url}");
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
        Daemon { child, url, client, token: None, stderr, extra_stdout }
    }

    /// Lines printed on stdout after the `listening on` line (there should be none).
    pub fn extra_stdout(&self) -> Vec<String> {
        self.extra_stdout.lock().unwrap().clone()
    }

    /// The daemon's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).unwrap()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `timeout` for the exit; panics if it does not exit in time.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain kill(2) on our own child's pid, which we have not reaped yet.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("shipwatch did not exit within {timeout:?} of SIGTERM\n--- stderr ---\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path`: status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp =
            self.client.get(format!("{}{path}", self.url)).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// GET `path`, asserting 200 and a JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, text) = self.get(path).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// POST a raw body with an optional bearer token: status and body (JSON, or the text as a
    /// JSON string when it is not JSON).
    pub async fn post_raw(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// POST JSON with [`Daemon::token`] if set.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string(), self.token.as_deref()).await
    }

    /// Create a release, asserting 201; returns the release JSON.
    pub async fn create(&self, body: Value) -> Value {
        let (status, rel) = self.post("/api/v1/releases", &body).await;
        assert_eq!(status, 201, "create release {body}: {rel}");
        rel
    }

    pub async fn release(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/releases/{id}")).await
    }

    /// Newest-first results of release `id` (up to 1000).
    pub async fn results(&self, id: &str, probe: Option<&str>) -> Vec<Value> {
        let q = probe.map(|p| format!("&probe={p}")).unwrap_or_default();
        let v = self.get_json(&format!("/api/v1/releases/{id}/results?limit=1000{q}")).await;
        v.as_array().unwrap_or_else(|| panic!("results are not an array: {v}")).clone()
    }

    /// Wait until item `item` of release `id` is in `state`; returns the item.
    pub async fn wait_item(&self, id: &str, item_id: &str, state: &str, timeout: Duration) -> Value {
        let what = format!("item {item_id} of {id} to be {state}");
        wait_for(&what, timeout, || async move {
            let rel = self.release(id).await;
            let it = item(&rel, item_id).clone();
            if it["state"] == state { Ok(it) } else { Err(it.to_string()) }
        })
        .await
    }

    /// Wait until release `id` is in `state`; returns the release.
    pub async fn wait_release(&self, id: &str, state: &str, timeout: Duration) -> Value {
        let what = format!("release {id} to be {state}");
        wait_for(&what, timeout, || async move {
            let rel = self.release(id).await;
            if rel["state"] == state {
                Ok(rel)
            } else {
                Err(format!("state {} window {}", rel["state"], rel["window"]))
            }
        })
        .await
    }
}

impl Daemon {
    /// Poll release `id` until it leaves `deployed` (or `timeout`); returns the largest
    /// `window.elapsed_s` seen while it was still `deployed`, and the final release.
    pub async fn watch_verdict(&self, id: &str, timeout: Duration) -> (f64, Value) {
        let deadline = Instant::now() + timeout;
        let mut last_deployed = 0.0f64;
        loop {
            let rel = self.release(id).await;
            if rel["state"] != "deployed" {
                return (last_deployed, rel);
            }
            last_deployed = last_deployed.max(rel["window"]["elapsed_s"].as_f64().unwrap_or(0.0));
            assert!(Instant::now() < deadline, "release {id} still deployed after {timeout:?}: {}", rel["window"]);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.stderr();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- shipwatch stderr (last 40 lines) ---");
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// Poll `check` every 100 ms until it returns `Ok`, or panic after `timeout` with the last
/// `Err` (what was seen instead).
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(t) => return t,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The item `id` of a detailed release view.
pub fn item<'a>(release: &'a Value, id: &str) -> &'a Value {
    let items = release["items"].as_array().unwrap_or_else(|| panic!("release has no items: {release}"));
    items.iter().find(|i| i["id"] == id).unwrap_or_else(|| {
        let ids: Vec<&Value> = items.iter().map(|i| &i["id"]).collect();
        panic!("no item {id} in release; items: {ids:?}")
    })
}

/// Parse an RFC 3339 timestamp field.
pub fn ts(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad timestamp {s}: {e}")).with_timezone(&Utc)
}

/// Assert an API error: the status and a JSON `{"error": "..."}` containing `needle`.
pub fn assert_error(got: &(u16, Value), status: u16, needle: &str, what: &str) {
    assert_eq!(got.0, status, "{what}: expected {status}, got {} {}", got.0, got.1);
    let msg =
        got.1["error"].as_str().unwrap_or_else(|| panic!("{what}: error body is not {{\"error\": ...}}: {}", got.1));
    assert!(msg.contains(needle), "{what}: error {msg:?} should mention {needle:?}");
}

/// The line of `md` for the checklist item whose text is `text`.
pub fn md_line<'a>(md: &'a str, text: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with("- [") && l.get(6..).is_some_and(|rest| rest.starts_with(text)))
        .unwrap_or_else(|| panic!("checklist.md has no line for {text:?}:\n{md}"))
}
