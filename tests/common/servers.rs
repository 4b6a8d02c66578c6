//! Small HTTP servers the integration tests share: [`serve`] runs an axum app on its own
//! thread and runtime, [`Reserved`] holds a port nothing listens on (connecting is refused)
//! until [`serve_reserved`] serves on it, [`Flapper`] is a `/healthz` answering a status
//! pattern.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::oneshot;

/// Serve `app` on `127.0.0.1:port` (0: any) on its own thread and runtime until the returned
/// sender fires or is dropped; join the thread handle after stopping to be sure the port is free.
pub fn serve(app: Router, port: u16) -> (u16, oneshot::Sender<()>, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind test server");
    listener.set_nonblocking(true).unwrap();
    spawn(app, listener)
}

fn spawn(app: Router, listener: std::net::TcpListener) -> (u16, oneshot::Sender<()>, std::thread::JoinHandle<()>) {
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).with_graceful_shutdown(async move { drop(rx.await) }).await;
        });
    });
    (port, tx, thread)
}

/// A TCP port on 127.0.0.1 that this test owns but does not listen on yet: the socket is bound
/// (without `SO_REUSEADDR`, so nothing else can bind the port) but not listening, so
/// connecting to it is refused. [`serve_reserved`] later listens on the very same socket —
/// unlike picking a "free" port, closing it and binding it again, nothing can take the port
/// in between.
pub struct Reserved(tokio::net::TcpSocket);

impl Reserved {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0");
        Reserved(socket)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
}

/// Like [`serve`], listening on the reserved socket (listening as soon as this returns).
pub fn serve_reserved(app: Router, reserved: Reserved) -> (u16, oneshot::Sender<()>, std::thread::JoinHandle<()>) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = reserved.0.into_raw_fd();
    // SAFETY: `fd` is the bound TCP socket just released by `into_raw_fd`, owned by nothing
    // else; listen(2) on it, then the std listener takes ownership (and closes it on drop).
    let listener = unsafe {
        assert_eq!(libc::listen(fd, 128), 0, "listen: {}", std::io::Error::last_os_error());
        std::net::TcpListener::from_raw_fd(fd)
    };
    listener.set_nonblocking(true).unwrap();
    spawn(app, listener)
}

/// A status pattern and the index of the next answer.
type Pattern = Arc<Mutex<(Vec<u16>, usize)>>;

/// `/healthz` answering the statuses of a pattern, one per request, cycling (so "alternating
/// every probe run" is exact rather than timer-dependent).
pub struct Flapper {
    pub port: u16,
    state: Pattern,
    _stop: oneshot::Sender<()>,
}

impl Flapper {
    pub fn start(pattern: &[u16]) -> Self {
        let state: Pattern = Arc::new(Mutex::new((pattern.to_vec(), 0)));
        let app = Router::new()
            .route(
                "/healthz",
                get(|State(s): State<Pattern>| async move {
                    let mut s = s.lock().unwrap();
                    let code = s.0[s.1 % s.0.len()];
                    s.1 += 1;
                    (StatusCode::from_u16(code).unwrap(), "ok")
                }),
            )
            .with_state(state.clone());
        let (port, stop, _) = serve(app, 0);
        Flapper { port, state, _stop: stop }
    }

    /// Answer this pattern from the next request on.
    pub fn set(&self, pattern: &[u16]) {
        *self.state.lock().unwrap() = (pattern.to_vec(), 0);
    }
}
