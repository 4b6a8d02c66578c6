//! Misbehaving servers for the fault tests, written on raw TCP so every byte (or the lack of
//! one) is under the test's control:
//!
//! - [`Fake`]: answers every request the way its current [`Answer`] says — JSON, a status, a
//!   slow answer, garbage, a hang, a reset, a 100 MB body — and can go [`Fake::down`]
//!   (connection refused) and come back [`Fake::up`] on the same port. Every answer carries
//!   `connection: close`, so no pooled connection outlives a mode switch.
//! - [`Receiver`]: a webhook receiver that answers after a random delay (sometimes 500) and
//!   records the idempotency key, event kind and time of every request and its answer.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How a [`Fake`] answers a request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `200` with this body as `application/json`.
    Json(String),
    /// This status with a `text/plain` body.
    Status(u16, String),
    /// `200`, `application/json`, with a body that is not JSON (cut off mid-document).
    Garbage,
    /// Like `Json`, but only after this delay.
    Slow(Duration, String),
    /// Read the request, then never answer (the connection stays open).
    Hang,
    /// Read the request, then reset the connection (`SO_LINGER 0`: an RST, no answer).
    Reset,
    /// Accept and close at once (a FIN before any request is read).
    Close,
    /// `200` with a body of this many bytes of `a`, streamed.
    Big(u64),
}

/// A raw-TCP server answering per its current [`Answer`].
pub struct Fake {
    pub port: u16,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    run: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Fake {
    pub fn start(answer: Answer) -> Self {
        let mut f = Fake { port: 0, answer: Arc::new(Mutex::new(answer)), hits: Default::default(), run: None };
        f.up();
        f
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answer this way from the next request on.
    pub fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stop listening (and drop every open connection): connecting is refused until [`Fake::up`].
    pub fn down(&mut self) {
        if let Some((tx, thread)) = self.run.take() {
            let _ = tx.send(());
            let _ = thread.join();
        }
    }

    /// Listen again on the same port.
    pub fn up(&mut self) {
        if self.run.is_some() {
            return;
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).expect("bind fake server");
        listener.set_nonblocking(true).unwrap();
        self.port = listener.local_addr().unwrap().port();
        let (tx, mut rx) = oneshot::channel::<()>();
        let (answer, hits) = (self.answer.clone(), self.hits.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => return,
                        acc = listener.accept() => if let Ok((s, _)) = acc {
                            hits.fetch_add(1, Ordering::Relaxed);
                            let a = answer.lock().unwrap().clone();
                            tokio::spawn(serve_one(s, a));
                        }
                    }
                }
            });
        });
        self.run = Some((tx, thread));
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.down();
    }
}

/// Read up to the end of the request head (bodies are not expected).
async fn read_head(s: &mut TcpStream) {
    let (mut buf, mut head) = ([0u8; 4096], Vec::new());
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

async fn respond(s: &mut TcpStream, status: u16, ctype: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        StatusCode::from_u16(status).ok().and_then(|c| c.canonical_reason()).unwrap_or("Whatever"),
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    let _ = s.shutdown().await;
}

async fn serve_one(mut s: TcpStream, answer: Answer) {
    if let Answer::Close = answer {
        return; // dropped: FIN
    }
    read_head(&mut s).await;
    match answer {
        Answer::Json(body) => respond(&mut s, 200, "application/json", body.as_bytes()).await,
        Answer::Status(code, body) => respond(&mut s, code, "text/plain", body.as_bytes()).await,
        Answer::Garbage => {
            let body = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"#;
            respond(&mut s, 200, "application/json", body).await
        }
        Answer::Slow(delay, body) => {
            tokio::time::sleep(delay).await;
            respond(&mut s, 200, "application/json", body.as_bytes()).await
        }
        Answer::Hang => {
            // Keep the connection open, reading (and discarding) until the client gives up.
            let mut buf = [0u8; 1024];
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        Answer::Reset => {
            let _ = s.set_zero_linger();
        }
        Answer::Close => {}
        Answer::Big(n) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                if s.write_all(&chunk[..k]).await.is_err() {
                    return; // the client stopped reading: that is the point
                }
                left -= k as u64;
            }
        }
    }
}

use crate::common::servers::serve;

/// One request the [`Receiver`] answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub key: String,
    /// The notification's `release.id`, `event.kind`, `event.item` and `event.at`.
    pub release: String,
    pub kind: String,
    pub item: Option<String>,
    pub at: String,
    pub answered: u16,
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Delivery>,
    /// Share of requests answered 500 (0.0..1.0).
    fail_share: f64,
}

/// A webhook receiver: answers after 0–`max_delay_ms` ms, 500 for a share of requests, else 200.
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<ReceiverState>>,
    _stop: oneshot::Sender<()>,
}

impl Receiver {
    pub fn start(max_delay_ms: u64, fail_share: f64) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState { got: vec![], fail_share }));
        let st = state.clone();
        let hook = move |h: HeaderMap, body: Bytes| {
            let st = st.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(rand::random_range(0..=max_delay_ms))).await;
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut st = st.lock().unwrap();
                let answered = if rand::random_range(0.0..1.0) < st.fail_share { 500 } else { 200 };
                let key = h.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let ev = &v["event"];
                st.got.push(Delivery {
                    key,
                    release: v["release"]["id"].as_str().unwrap_or_default().to_string(),
                    kind: ev["kind"].as_str().unwrap_or_default().to_string(),
                    item: ev["item"].as_str().map(str::to_string),
                    at: ev["at"].as_str().unwrap_or_default().to_string(),
                    answered,
                });
                StatusCode::from_u16(answered).unwrap()
            }
        };
        let app = Router::new().route("/hook", post(hook));
        let (port, stop, _) = serve(app, 0);
        Receiver { port, state, _stop: stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// From now on answer 200 to everything.
    pub fn always_accept(&self) {
        self.state.lock().unwrap().fail_share = 0.0;
    }

    pub fn got(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().got.clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.got().into_iter().filter(|d| (200..300).contains(&d.answered)).collect()
    }
}
