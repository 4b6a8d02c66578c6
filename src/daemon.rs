//! The daemon: store + engine + API server, with graceful shutdown on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::engine::{Engine, EngineCell, EngineError};
use crate::store::{PgStore, SqliteStore, Store, StoreError};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot listen on {addr}: {source} (is another shipwatch running? set server.listen or --listen)")]
    Listen { addr: String, source: std::io::Error },
}

/// A running daemon.
pub struct Daemon {
    /// The engine in use (replicas swap it at takeover and step-down).
    pub engine: EngineCell,
    pub addr: SocketAddr,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// The lease loop of a replica on PostgreSQL.
    cluster: Option<JoinHandle<()>>,
}

/// Where the database lives for `config`.
pub fn db_path(config: &Config) -> PathBuf {
    config.storage.sqlite.clone().unwrap_or_else(|| PathBuf::from("data/shipwatch.db"))
}

/// This replica's name: `host-port-pid` (unique among replicas on one database).
fn replica_name(bound: SocketAddr) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let host = if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "shipwatch".into()
    };
    format!("{host}-{}-{}", bound.port(), std::process::id())
}

impl Daemon {
    /// Open the store, recover state, start probing and serve the API. `listen` overrides
    /// `server.listen` (use `127.0.0.1:0` for a free port). On PostgreSQL the replica starts as
    /// a follower and leads once it holds the lease (see [`crate::cluster`]).
    pub async fn start(config: Arc<Config>, listen: Option<String>) -> Result<Daemon, DaemonError> {
        // `server.listen` open to other hosts without a token is a config warning; an override
        // on the command line is checked here.
        if let Some(addr) = &listen {
            let server = crate::config::Server { listen: addr.clone(), ..config.server.clone() };
            if let Some(w) = server.unguarded_remote() {
                tracing::warn!("--listen: {w}");
            }
        }
        let pg = match &config.storage.postgres {
            Some(pg) => {
                let store = tokio::task::block_in_place(|| PgStore::open(&pg.url, pg.pool))?;
                tracing::info!(db = %store.url(), "store open (PostgreSQL)");
                Some(Arc::new(store))
            }
            None => None,
        };
        let sqlite = match pg {
            Some(_) => None,
            None => {
                let path = db_path(&config);
                let store = tokio::task::block_in_place(|| SqliteStore::open(&path))?;
                tracing::info!(db = %path.display(), "store open");
                Some(Arc::new(store) as Arc<dyn Store>)
            }
        };
        let addr = listen.unwrap_or_else(|| config.server.listen.clone());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| DaemonError::Listen { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| DaemonError::Listen { addr, source })?;
        let engine = match (&sqlite, &pg) {
            (Some(store), _) => tokio::task::block_in_place(|| Engine::start(config.clone(), store.clone()))?,
            (None, Some(store)) => {
                let s: Arc<dyn Store> = store.clone();
                tokio::task::block_in_place(|| Engine::follower(config.clone(), s))?
            }
            (None, None) => unreachable!("one store is open"),
        };
        engine.set_bound_addr(local);
        let cell = EngineCell::new(engine);
        let stop = CancellationToken::new();
        let cluster = pg.map(|store| {
            let pg = config.storage.postgres.as_ref().expect("postgres store");
            let url = config.server.external_url.clone().unwrap_or_else(|| format!("http://{local}"));
            let me = crate::cluster::Member { name: replica_name(local), url, lease: pg.lease.0 };
            tracing::info!(replica = %me.name, url = %me.url, "replica on PostgreSQL: following until it holds the lease");
            tokio::spawn(crate::cluster::run(store, cell.clone(), me, local, stop.clone()))
        });
        let state = AppState {
            engine: cell.clone(),
            token: config.server.api_token.clone().filter(|t| !t.is_empty()),
            read_token: config.server.read_token.clone().filter(|t| !t.is_empty()),
            limits: api::Limits::from_config(&config.server),
            config_path: Some(config.file.clone()),
            pages: Default::default(),
        };
        let s = stop.clone();
        let server = tokio::spawn(api::serve(listener, state, async move { s.cancelled().await }));
        Ok(Daemon { engine: cell, addr: local, stop, server, cluster })
    }

    /// Stop serving, stop probing, wait for in-flight work, leave everything stored; a leader
    /// replica gives its lease up.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Ok(Err(e)) = self.server.await {
            tracing::warn!(error = %e, "API server ended with an error");
        }
        self.engine.get().shutdown().await;
        if let Some(c) = self.cluster {
            let _ = c.await;
        }
    }

    /// Run until SIGTERM or SIGINT, then stop gracefully. SIGHUP reloads the config.
    pub async fn run_until_signal(self) {
        let cell = self.engine.clone();
        let path = cell.get().config().file.clone();
        let reloads = tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading config");
                    let (e, p) = (cell.get(), path.clone());
                    let _ = tokio::task::spawn_blocking(move || e.reload_from(&p)).await;
                }
            }
        });
        wait_for_signal().await;
        reloads.abort();
        tracing::info!("signal received; shutting down");
        self.stop().await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
