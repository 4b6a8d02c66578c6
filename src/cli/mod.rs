//! Command-line interface (clap). `run` and `check-config` work on a config file, `init` writes
//! a starter one and `templates` lists the probe templates; the other commands are clients of
//! a running daemon's API.

mod client;
mod demo;
mod demo_plan;
mod demo_stack;
mod gate;
mod init;
mod junit;
mod progress;
mod release;
mod status;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config;
use crate::daemon::Daemon;
pub use release::ReleaseCmd;

#[derive(Parser, Debug)]
#[command(name = "shipwatch", version, about = "Verifies production releases from your Markdown checklist")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where a client command finds the daemon.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Base URL of the shipwatch daemon. The API token, when the daemon needs one, is read from
    /// the SHIPWATCH_API_TOKEN environment variable (never a flag: it would show in `ps`).
    #[arg(long, env = "SHIPWATCH_SERVER", default_value = "http://127.0.0.1:9797", global = true)]
    pub server: String,
}

/// Filters and paging of the release list (`status` without an id).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Only releases in these states: planned, deployed, verified, failed, inconclusive, active, closed
    /// (comma-separated).
    #[arg(long)]
    pub state: Option<String>,
    /// Only releases of this service.
    #[arg(long)]
    pub service: Option<String>,
    /// At most this many releases (1-1000; the daemon's default is 100).
    #[arg(long)]
    pub limit: Option<u16>,
    /// Start after this position (the `next` hint a previous page printed).
    #[arg(long)]
    pub cursor: Option<String>,
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
        /// Also print each probe's schedule and its next 3 fire times (UTC).
        #[arg(long)]
        schedules: bool,
    },
    /// Write a starter config from a Markdown checklist: the items it recognises bound to
    /// built-in templates (values only you know marked FILL_ME), the rest listed as manual.
    Init {
        /// The team's Markdown checklist.
        #[arg(long)]
        checklist: PathBuf,
        /// Base URL of the Prometheus that scrapes the service (http or https); without it the
        /// config gets a FILL_ME there.
        #[arg(long)]
        prometheus: Option<String>,
        /// Where to write the config (refused if it exists, unless --force).
        #[arg(long, default_value = "shipwatch.yaml")]
        out: PathBuf,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// List the probe templates `use:` can name: the built-in ones and, with --config, the
    /// files beside that config (which override built-ins of the same name).
    Templates {
        #[arg(long, short)]
        config: Option<PathBuf>,
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
    /// Show releases (newest first, a page at a time), or one release's items.
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        list: ListArgs,
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
    /// Give a release its verdict: settle an inconclusive one, or end an open one early (a
    /// manual promote or abort). Recorded in history with who and why.
    #[command(group(clap::ArgGroup::new("verdict").required(true).args(["verified", "failed"])))]
    Verdict {
        id: String,
        /// The release is verified.
        #[arg(long)]
        verified: bool,
        /// The release failed.
        #[arg(long)]
        failed: bool,
        /// Who decides (shown in history, the page and the report).
        #[arg(long)]
        by: String,
        /// Why.
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Wait for a release's items (CI gate): exit 0 complete, 1 failed, 2 timed out, 3 inconclusive.
    Gate(gate::GateArgs),
    /// Ask a daemon's /-/healthy (exit 0 healthy, 1 not): a container HEALTHCHECK needs no curl.
    Healthcheck {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a release's state changes: who ticked or waived what, and what the probes changed.
    History {
        id: String,
        #[arg(long)]
        json: bool,
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
        Command::CheckConfig { config, schedules } => Ok(check_config(&config, schedules).await),
        Command::Init { checklist, prometheus, out, force } => {
            Ok(init::run(&crate::init::Options { checklist, prometheus, out, force }))
        }
        Command::Templates { config } => Ok(init::templates(config.as_deref())),
        Command::Demo { keep } => demo::run(keep).await,
        Command::Release(cmd) => release::run(cmd).await,
        Command::Status { id, json, list, server } => client::status(&server.server, id.as_deref(), json, &list).await,
        Command::Tick { id, item, by, note, server } => client::tick(&server.server, &id, &item, &by, note).await,
        Command::Waive { id, item, by, reason, server } => {
            client::waive(&server.server, &id, &item, &by, &reason).await
        }
        Command::Verdict { id, verified, failed: _, by, note, server } => {
            client::verdict(&server.server, &id, verified, &by, note.as_deref()).await
        }
        Command::Gate(args) => gate::run(args).await,
        Command::Healthcheck { server } => Ok(client::healthcheck(&server.server).await),
        Command::History { id, json, server } => client::history(&server.server, &id, json).await,
    }
}

/// Warnings that need the sources (rate() windows vs scrape interval); empty when none.
async fn live_warnings(cfg: &config::Config) -> Vec<String> {
    match crate::probe::source::build_all(&cfg.sources, &cfg.dir()) {
        Ok(sources) => {
            let rt = crate::probe::Runtime::with_sources(cfg.redactor.clone(), sources);
            crate::config::lint::scrape_warnings(cfg, &rt).await
        }
        Err(_) => vec![],
    }
}

/// `check-config`: print every error, or the coverage line (and with `schedules`, each
/// probe's next fire times).
pub async fn check_config(path: &std::path::Path, schedules: bool) -> ExitCode {
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
            let mode = |m: config::Mode| c.items.values().filter(|b| b.mode == m).count();
            let (gate, warn, shadow) = (mode(config::Mode::Gate), mode(config::Mode::Warn), mode(config::Mode::Shadow));
            println!(
                "{} of {total} checklist items automated ({gate} gate, {warn} warn, {shadow} shadow; {probes} by probes, \
                 {actions} by events); {} probes; {} stay manual",
                probes + actions,
                c.probes.len(),
                total - probes - actions
            );
            print!("{}", watch_listing(c));
            if schedules {
                print!("{}", schedule_listing(c, chrono::Utc::now()));
            }
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

/// One line per `watch:` entry: what it asks, how often, and for which releases.
fn watch_listing(c: &config::Config) -> String {
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let mut out = String::new();
    for w in c.watches.values() {
        let existing = if w.start_existing { "; versions running at start get a release too" } else { "" };
        out.push_str(&format!(
            "watch {}: every {}, settle {}, source {}, label {}; starts releases of {} in {}{existing}\n",
            w.name,
            human(w.every),
            human(w.settle),
            w.source,
            w.version_label,
            w.service,
            w.environment
        ));
    }
    out
}

/// How many fire times `check-config --schedules` shows per probe.
const NEXT_RUNS: usize = 3;

/// `check-config --schedules`: each probe's schedule as written, its jitter and initial delay,
/// and its next fire times after `now` in UTC, so an expression can be checked without waiting.
fn schedule_listing(c: &config::Config, now: chrono::DateTime<chrono::Utc>) -> String {
    use std::fmt::Write as _;
    let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%a %Y-%m-%d %H:%M:%S UTC").to_string();
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let mut out = format!("\nSchedules (UTC; next {NEXT_RUNS} fire times after {}, before jitter):\n", when(&now));
    if c.probes.is_empty() {
        out.push_str("  (no probes)\n");
    }
    for (name, def) in &c.probes {
        let mut extra = vec![];
        if !def.jitter.is_zero() {
            extra.push(format!("jitter: {}", human(def.jitter)));
        }
        if !def.initial_delay.is_zero() {
            extra.push(format!("initial_delay: {}", human(def.initial_delay)));
        }
        let extra = if extra.is_empty() { String::new() } else { format!(", {}", extra.join(", ")) };
        let runs = def.schedule.upcoming(now, NEXT_RUNS);
        match &def.schedule {
            crate::schedule::Schedule::Every(d) => {
                let _ = writeln!(out, "  {name}: every: {}{extra}", human(*d));
                let _ = writeln!(out, "    runs every {} after deploy; from now that would be:", human(*d));
            }
            crate::schedule::Schedule::Cron { expr, .. } => {
                let _ = writeln!(out, "  {name}: cron: \"{expr}\"{extra}");
            }
        }
        for t in &runs {
            let _ = writeln!(out, "    {}", when(t));
        }
        if runs.len() < NEXT_RUNS {
            let _ = writeln!(out, "    (no further runs)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn schedule_listing_shows_expression_extras_and_next_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checklist.md"), "- [ ] Ask the PM\n").unwrap();
        let yaml = "checklist: checklist.md\nprobes:\n  \
            a: { http: { url: \"http://x\" }, every: 30s, jitter: 0s }\n  \
            b: { http: { url: \"http://x\" }, cron: \"0 9 * * mon-fri\", jitter: 2s, initial_delay: 10m }\n  \
            c: { http: { url: \"http://x\" }, cron: \"0 0 0 1 1 * 2099\" }\n";
        let path = dir.path().join("c.yaml");
        let cfg = crate::config::load_str(&path, yaml, &|_| None).unwrap().config;
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 8, 0, 0).unwrap(); // a Friday
        let want = "
Schedules (UTC; next 3 fire times after Fri 2026-12-04 08:00:00 UTC, before jitter):
  a: every: 30s
    runs every 30s after deploy; from now that would be:
    Fri 2026-12-04 08:00:30 UTC
    Fri 2026-12-04 08:01:00 UTC
    Fri 2026-12-04 08:01:30 UTC
  b: cron: \"0 9 * * mon-fri\", jitter: 2s, initial_delay: 10m
    Fri 2026-12-04 09:00:00 UTC
    Mon 2026-12-07 09:00:00 UTC
    Tue 2026-12-08 09:00:00 UTC
  c: cron: \"0 0 0 1 1 * 2099\", jitter: 5s
    Thu 2099-01-01 00:00:00 UTC
    (no further runs)
";
        assert_eq!(super::schedule_listing(&cfg, now), want);
    }
}
