//! Test doubles for `tests/notify.rs`: [`Target`] (a `/healthz` answering a status pattern,
//! one status per request), [`Hook`] (a webhook receiver answering scripted statuses and
//! checking each request's signature) and [`Am`] (a real Alertmanager that can be stopped and
//! started again on the same port: `common::prom::Alertmanager`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use shipwatch::notify::webhook;

/// The webhook secret (`HOOK_SECRET` in the daemon's environment).
pub const SECRET: &str = "whsec-test-0123456789";

pub use crate::common::prom::Alertmanager as Am;
pub use crate::common::servers::{Flapper as Target, Reserved, serve, serve_reserved};

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
    /// On a port of its own.
    pub fn start(script: &[u16]) -> Self {
        Self::start_on(None, script)
    }

    /// On `reserved` if given (a port the daemon was configured with earlier), else its own.
    pub fn start_on(reserved: Option<Reserved>, script: &[u16]) -> Self {
        let state =
            Arc::new(Mutex::new(HookState { script: script.iter().copied().collect(), default: 200, got: vec![] }));
        let app = Router::new().route("/hook", post(hook)).with_state(state.clone());
        let (port, tx, thread) = match reserved {
            Some(r) => serve_reserved(app, r),
            None => serve(app, 0),
        };
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
