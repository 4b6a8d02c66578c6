//! The daemon: store + engine + API server, with graceful shutdown on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::engine::{Engine, EngineError};
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
    pub engine: Engine,
    pub addr: SocketAddr,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

/// Where the database lives for `config`.
pub fn db_path(config: &Config) -> PathBuf {
    config.storage.sqlite.clone().unwrap_or_else(|| PathBuf::from("data/shipwatch.db"))
}

impl Daemon {
    /// Open the store, recover state, start probing and serve the API. `listen` overrides
    /// `server.listen` (use `127.0.0.1:0` for a free port).
    pub async fn start(config: Arc<Config>, listen: Option<String>) -> Result<Daemon, DaemonError> {
        let store: Arc<dyn Store> = match &config.storage.postgres {
            Some(pg) => {
                let store = tokio::task::block_in_place(|| PgStore::open(&pg.url, pg.pool))?;
                tracing::info!(db = %store.url(), "store open (PostgreSQL)");
                Arc::new(store)
            }
            None => {
                let path = db_path(&config);
                let store = tokio::task::block_in_place(|| SqliteStore::open(&path))?;
                tracing::info!(db = %path.display(), "store open");
                Arc::new(store)
            }
        };
        let engine = tokio::task::block_in_place(|| Engine::start(config.clone(), store))?;
        // `server.listen` open to other hosts without a token is a config warning; an override
        // on the command line is checked here.
        if let Some(addr) = &listen {
            let server = crate::config::Server { listen: addr.clone(), ..config.server.clone() };
            if let Some(w) = server.unguarded_remote() {
                tracing::warn!("--listen: {w}");
            }
        }
        let addr = listen.unwrap_or_else(|| config.server.listen.clone());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| DaemonError::Listen { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| DaemonError::Listen { addr, source })?;
        engine.set_bound_addr(local);
        let stop = CancellationToken::new();
        let state = AppState {
            engine: engine.clone(),
            token: config.server.api_token.clone().filter(|t| !t.is_empty()),
            read_token: config.server.read_token.clone().filter(|t| !t.is_empty()),
            limits: api::Limits::from_config(&config.server),
            config_path: Some(config.file.clone()),
            pages: Default::default(),
        };
        let s = stop.clone();
        let server = tokio::spawn(api::serve(listener, state, async move { s.cancelled().await }));
        Ok(Daemon { engine, addr: local, stop, server })
    }

    /// Stop serving, stop probing, wait for in-flight work, leave everything stored.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Ok(Err(e)) = self.server.await {
            tracing::warn!(error = %e, "API server ended with an error");
        }
        self.engine.shutdown().await;
    }

    /// Run until SIGTERM or SIGINT, then stop gracefully. SIGHUP reloads the config.
    pub async fn run_until_signal(self) {
        let engine = self.engine.clone();
        let path = engine.config().file.clone();
        let reloads = tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading config");
                    let (e, p) = (engine.clone(), path.clone());
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
