//! The accept loop (instead of `axum::serve`): HTTP/1.1 connections served by hyper with a
//! header-read timeout, a cap on open connections, and a file-descriptor budget that keeps a
//! reserve for the probes, the store and the notifiers.
//!
//! - A connection that has not sent a complete request head within `server.header_read_timeout`
//!   of connecting, or of its previous answer when kept alive, is closed (by hyper).
//! - `max_connections` is lowered at start if the file-descriptor limit would not leave a reserve
//!   for the probes, the store and the notifiers (`fds.rs`).
//! - At the cap, a new connection is admitted by closing the connection idle the longest (idle:
//!   no request in progress, from its request head until its answer's body is handed to the
//!   socket). A request in progress is never cut off to admit another; when every connection
//!   is busy the loop stops accepting until one ends, and new connections wait in the backlog.
//! - On shutdown idle connections (a request head only partly sent included) close at once, and
//!   busy ones get [`DRAIN`] to finish their request.
//!
//! HTTP/1.1 only: the CLI, browsers and Prometheus all speak it over plain HTTP.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::fds::connection_cap;
use super::guard::{Limits, MAX_HEAD, MAX_HEADERS};
use super::wire::Wire;

/// How long busy connections may take to finish after shutdown begins.
pub const DRAIN: Duration = Duration::from_secs(5);

/// `state` of a slot whose connection is being closed to make room.
const EVICTED: usize = usize::MAX;

/// One open connection: requests in progress (or [`EVICTED`]) and since when it is idle.
struct Slot {
    id: u64,
    state: AtomicUsize,
    idle_since_ms: AtomicU64,
    epoch: Instant,
    evict: CancellationToken,
}

/// Held while a request is in progress on a connection.
struct Busy(Arc<Slot>);

impl Slot {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Start a request; `None` once the connection is being closed (the request never starts).
    fn enter(self: &Arc<Self>) -> Option<Busy> {
        let more = |s: usize| (s != EVICTED).then(|| s + 1);
        self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, more).ok().map(|_| Busy(self.clone()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.state.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections.
struct Registry {
    epoch: Instant,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Registry {
    fn new() -> Self {
        Registry { epoch: Instant::now(), next: AtomicU64::new(0), slots: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        crate::sync::lock(&self.slots, "connection slots")
    }

    fn add(&self) -> Arc<Slot> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch;
        let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let slot = Arc::new(Slot {
            id,
            state: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(now),
            epoch,
            evict: CancellationToken::new(),
        });
        self.lock().insert(id, slot.clone());
        slot
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Close every idle connection (at shutdown); busy ones finish their request first.
    fn close_idle(&self) {
        self.lock().retain(|_, s| {
            let idle = s.state.compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire).is_ok();
            if idle {
                s.evict.cancel();
            }
            !idle
        });
    }

    /// Close the connection idle the longest; false when every connection is busy.
    fn evict_idlest(&self) -> bool {
        let mut slots = self.lock();
        loop {
            let idlest = slots
                .values()
                .filter(|s| s.state.load(Ordering::Acquire) == 0)
                .min_by_key(|s| s.idle_since_ms.load(Ordering::Acquire))
                .cloned();
            let Some(slot) = idlest else { return false };
            // A request may have started since the scan: then look again.
            if slot.state.compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                slot.evict.cancel();
                slots.remove(&slot.id);
                return true;
            }
        }
    }
}

/// hyper's HTTP/1 settings for `limits`.
fn http(limits: &Limits) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .max_buf_size(64 * 1024)
        .writev(false)
        .keep_alive(true);
    b
}

/// Take a connection slot for a new connection, closing the idlest connection at the cap;
/// `None` on shutdown.
async fn admit(
    permits: &Arc<Semaphore>,
    registry: &Registry,
    stop: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(p) = permits.clone().try_acquire_owned() {
        return Some(p);
    }
    // Its permit comes back as soon as its task sees the eviction; otherwise wait for any.
    registry.evict_idlest();
    tokio::select! {
        p = permits.clone().acquire_owned() => p.ok(),
        () = stop.cancelled() => None,
    }
}

/// Serve `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = connection_cap(limits.max_connections);
    let http = http(&limits);
    let registry = Arc::new(Registry::new());
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
    let tracker = TaskTracker::new();
    tracing::info!(
        addr = %listener.local_addr().map_or_else(|e| format!("unknown ({e})"), |a| a.to_string()),
        max_connections = cap,
        header_read_timeout = %humantime::format_duration(limits.header_read_timeout),
        request_timeout = %humantime::format_duration(limits.request_timeout),
        "API listening"
    );
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.cancel();
        });
    }
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let Some(permit) = admit(&permits, &registry, &stop).await else { break };
        let _ = stream.set_nodelay(true);
        let slot = registry.add();
        let conn = Conn { http: http.clone(), router: router.clone(), slot, stop: stop.clone(), abort: abort.clone() };
        let registry = registry.clone();
        tracker.spawn(async move {
            let id = conn.slot.id;
            conn.run(stream).await;
            registry.remove(id);
            drop(permit);
        });
    }
    drop(listener);
    registry.close_idle();
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        tracing::warn!(open = tracker.len(), "connections still busy {DRAIN:?} after shutdown began; closing them");
        abort.cancel();
        tracker.wait().await;
    }
    Ok(())
}

/// Accept errors are about one connection, or about descriptors running out: then pause.
async fn accept_failed(e: std::io::Error) {
    let out_of_fds = matches!(e.raw_os_error(), Some(code) if code == libc::EMFILE || code == libc::ENFILE);
    if out_of_fds {
        tracing::warn!(error = %e, "cannot accept a connection: out of file descriptors");
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        tracing::debug!(error = %e, "accept failed");
    }
}

/// One accepted connection.
struct Conn {
    http: http1::Builder,
    router: Router,
    slot: Arc<Slot>,
    stop: CancellationToken,
    abort: CancellationToken,
}

impl Conn {
    async fn run(self, stream: TcpStream) {
        let Conn { http, router, slot, stop, abort } = self;
        let inner = TowerToHyperService::new(router);
        let tracked = slot.clone();
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = tracked.enter();
            let answer = busy.is_some().then(|| hyper::service::Service::call(&inner, req));
            async move {
                let (Some(busy), Some(answer)) = (busy, answer) else {
                    // Being closed to make room: this request never started.
                    return Ok::<_, Infallible>(closing());
                };
                let resp = answer.await?;
                // Busy until hyper has taken the last byte of the body.
                Ok(resp.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _ = &busy;
                        f
                    }))
                }))
            }
        });
        let conn = http.serve_connection(TokioIo::new(Wire::new(stream)), svc);
        tokio::pin!(conn);
        tokio::select! {
            biased;
            r = conn.as_mut() => log_end(r),
            () = slot.evict.cancelled() => tracing::debug!("closed the connection idle the longest to admit a new one"),
            () = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                tokio::select! {
                    r = conn.as_mut() => log_end(r),
                    () = abort.cancelled() => {}
                }
            }
        }
    }
}

fn log_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The answer to a request that arrives on a connection being closed to make room.
fn closing() -> Response<Body> {
    let mut r = axum::response::IntoResponse::into_response(super::ApiError(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "this connection was closed to admit another; retry".into(),
    ));
    r.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_takes_the_idlest_idle_connection_and_never_a_busy_one() {
        let reg = Registry::new();
        let (a, b, c) = (reg.add(), reg.add(), reg.add());
        a.idle_since_ms.store(5, Ordering::Release);
        b.idle_since_ms.store(1, Ordering::Release);
        c.idle_since_ms.store(9, Ordering::Release);
        let busy_b = b.enter().expect("b takes a request");
        assert!(reg.evict_idlest());
        assert!(a.evict.is_cancelled() && !b.evict.is_cancelled() && !c.evict.is_cancelled());
        assert!(a.enter().is_none(), "an evicted connection starts no request");
        assert!(reg.evict_idlest());
        assert!(c.evict.is_cancelled());
        assert!(!reg.evict_idlest(), "only the busy one is left");
        drop(busy_b);
        assert!(reg.evict_idlest());
        assert!(b.evict.is_cancelled());
    }
}
