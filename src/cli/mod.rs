//! Command-line interface (clap). `run` and `check-config` work on a config file; the other
//! commands are clients of a running daemon's API.

mod client;
mod demo;
mod demo_stack;
mod gate;
mod junit;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config;
use crate::daemon::Daemon;

#[derive(Parser, Debug)]
#[command(name = "shipwatch", version, about = "Verifies production releases from your Markdown checklist")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where a client command finds the daemon.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Base URL of the shipwatch daemon.
    #[arg(long, env = "SHIPWATCH_SERVER", default_value = "http://127.0.0.1:9797", global = true)]
    pub server: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, short, default_value = "config/shipwatch.yaml")]
        config: PathBuf,
        /// Override server.listen (e.g. 127.0.0.1:0 for a free port).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Validate a config (and its checklist and templates); exit 1 on any error.
    CheckConfig {
        #[arg(long, short, default_value = "config/shipwatch.yaml")]
        config: PathBuf,
    },
    /// Run a self-contained demo: a sample service, the daemon, a release ticking live.
    Demo {
        /// Keep the daemon running after the verdict (Ctrl-C to stop).
        #[arg(long)]
        keep: bool,
    },
    /// Start or deploy releases.
    #[command(subcommand)]
    Release(ReleaseCmd),
    /// Show releases, or one release's items.
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Tick a manual item.
    Tick {
        id: String,
        item: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Waive an item, with a reason.
    Waive {
        id: String,
        item: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Wait for a release's items (CI gate): exit 0 complete, 1 failed, 2 timed out.
    Gate(gate::GateArgs),
    /// Show a release's state changes: who ticked or waived what, and what the probes changed.
    History {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReleaseCmd {
    /// Start watching a release.
    Start {
        #[arg(long)]
        service: String,
        #[arg(long)]
        version: String,
        #[arg(long = "env")]
        environment: Option<String>,
        /// Not deployed yet: only pre-deploy items run until `release deploy`.
        #[arg(long)]
        planned: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Mark a planned release deployed now.
    Deploy {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Set up logging on stderr (`RUST_LOG` overrides the level).
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}

/// Run the parsed command; the returned code is the process exit code.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, listen } => {
            init_tracing("info");
            let loaded = match config::load(&config) {
                Ok(l) => l,
                Err(errs) => {
                    eprintln!("{errs}");
                    eprintln!("shipwatch: {} error(s) in {}; not starting", errs.0.len(), config.display());
                    return Ok(ExitCode::from(1));
                }
            };
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            for w in live_warnings(&loaded.config).await {
                tracing::warn!("{w}");
            }
            let cfg = Arc::new(loaded.config);
            let daemon = Daemon::start(cfg, listen).await?;
            println!("listening on http://{}", daemon.addr);
            daemon.run_until_signal().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => Ok(check_config(&config).await),
        Command::Demo { keep } => demo::run(keep).await,
        Command::Release(ReleaseCmd::Start { service, version, environment, planned, server }) => {
            client::release_start(&server.server, &service, &version, environment, planned).await
        }
        Command::Release(ReleaseCmd::Deploy { id, server }) => client::deploy(&server.server, &id).await,
        Command::Status { id, json, server } => client::status(&server.server, id.as_deref(), json).await,
        Command::Tick { id, item, by, note, server } => client::tick(&server.server, &id, &item, &by, note).await,
        Command::Waive { id, item, by, reason, server } => {
            client::waive(&server.server, &id, &item, &by, &reason).await
        }
        Command::Gate(args) => gate::run(args).await,
        Command::History { id, json, server } => client::history(&server.server, &id, json).await,
    }
}

/// Warnings that need the sources (rate() windows vs scrape interval); empty when none.
async fn live_warnings(cfg: &config::Config) -> Vec<String> {
    match crate::probe::source::build_all(&cfg.sources, &cfg.dir()) {
        Ok(sources) => {
            let rt = crate::probe::Runtime::with_sources(cfg.redactor.clone(), sources);
            crate::probe::lint::scrape_warnings(cfg, &rt).await
        }
        Err(_) => vec![],
    }
}

/// `check-config`: print every error, or the coverage line.
pub async fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            for w in live_warnings(&loaded.config).await {
                eprintln!("{w}");
            }
            let c = &loaded.config;
            let total = c.checklist.items.len();
            let probes = c.items.values().filter(|b| !b.probes.is_empty()).count();
            let actions = c.items.values().filter(|b| b.on.is_some()).count();
            println!("{}: OK", path.display());
            println!(
                "{} of {total} checklist items automated ({probes} by probes, {actions} by events); {} probes; {} stay manual",
                probes + actions,
                c.probes.len(),
                total - probes - actions
            );
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in &errs.0 {
                eprintln!("{e}");
            }
            eprintln!("{}: {} error(s)", path.display(), errs.0.len());
            ExitCode::from(1)
        }
    }
}
