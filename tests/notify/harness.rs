//! Test doubles for `tests/notify.rs`: [`Target`] (a `/healthz` answering a status pattern,
//! one status per request), [`Hook`] (a webhook receiver answering scripted statuses and
//! checking each request's signature) and [`Am`] (a real Alertmanager that can be stopped and
//! started again on the same port).

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use shipwatch::notify::webhook;

use crate::common::wait_for;

/// The webhook secret (`HOOK_SECRET` in the daemon's environment).
pub const SECRET: &str = "whsec-test-0123456789";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub use crate::common::servers::{Flapper as Target, serve};

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub key: String,
    pub delivery: String,
    pub event: String,
    pub signature_ok: bool,
    pub answered: u16,
    pub body: Value,
}

#[derive(Default)]
struct HookState {
    script: VecDeque<u16>,
    default: u16,
    got: Vec<Got>,
}

/// A webhook receiver: answers the scripted statuses first, then `default` (200).
pub struct Hook {
    pub port: u16,
    state: Arc<Mutex<HookState>>,
    stop: Option<(tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

async fn hook(State(st): State<Arc<Mutex<HookState>>>, h: HeaderMap, body: Bytes) -> StatusCode {
    let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut st = st.lock().unwrap();
    let answered = st.script.pop_front().unwrap_or(st.default);
    st.got.push(Got {
        key: hv("idempotency-key"),
        delivery: hv("x-shipwatch-delivery"),
        event: hv("x-shipwatch-event"),
        signature_ok: webhook::verify(SECRET, &body, &hv("x-shipwatch-signature")),
        answered,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    StatusCode::from_u16(answered).unwrap()
}

impl Hook {
    pub fn start(port: u16, script: &[u16]) -> Self {
        let state =
            Arc::new(Mutex::new(HookState { script: script.iter().copied().collect(), default: 200, got: vec![] }));
        let app = Router::new().route("/hook", post(hook)).with_state(state.clone());
        let (port, tx, thread) = serve(app, port);
        Hook { port, state, stop: Some((tx, thread)) }
    }

    pub fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/hook")
    }

    pub fn set_default(&self, status: u16) {
        self.state.lock().unwrap().default = status;
    }

    pub fn got(&self) -> Vec<Got> {
        self.state.lock().unwrap().got.clone()
    }

    pub fn accepted(&self) -> Vec<Got> {
        self.got().into_iter().filter(|g| (200..300).contains(&g.answered)).collect()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Some((tx, thread)) = self.stop.take() {
            let _ = tx.send(());
            let _ = thread.join();
        }
    }
}

/// A client for the test's own servers (no proxy, short timeout).
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap()
}

/// A real Alertmanager on a fixed port that can be stopped and started again on that port.
pub struct Am {
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Am {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = "route: { receiver: 'null', group_wait: 0s, group_interval: 1s, repeat_interval: 1h }\n\
                   receivers: [{ name: 'null' }]\n";
        std::fs::write(dir.path().join("alertmanager.yml"), cfg).unwrap();
        let port = free_port();
        let mut am = Am { url: format!("http://127.0.0.1:{port}"), port, dir, child: None };
        am.run().await;
        am
    }

    pub async fn run(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("am.log")).unwrap();
        let child = Command::new(crate::common::prom::ALERTMANAGER)
            .arg(format!("--config.file={}", d.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", d.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn alertmanager");
        self.child = Some(child);
        let http = client();
        let url = format!("{}/-/ready", self.url);
        wait_for("alertmanager ready", Duration::from_secs(30), || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Active alerts named `name`.
    pub async fn alerts(&self, name: &str) -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v2/alerts", self.url),
            &[
                ("active", "true"),
                ("silenced", "false"),
                ("inhibited", "false"),
                ("filter", &format!("alertname=\"{name}\"")),
            ],
        )
        .unwrap();
        let v: Value = match client().get(url).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        v.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Am {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("am.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "--- alertmanager log (last 20 lines) ---\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
    }
}
