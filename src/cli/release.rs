//! `shipwatch release start|deploy`: start watching a release from CI (safe to retry), with
//! the commit, labels and window the API takes, and optionally wait on it like `gate`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::{ServerArgs, client, gate};

#[derive(Subcommand, Debug)]
pub enum ReleaseCmd {
    /// Start watching a release (prints its id). Safe to retry: a repeat answers with the open
    /// release of that service, version and environment. The API token comes from the
    /// SHIPWATCH_API_TOKEN environment variable.
    Start(Box<StartArgs>),
    /// Mark a planned release deployed now.
    Deploy {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// The service deployed, e.g. checkout-api (lowercase letters, digits, '-').
    #[arg(long)]
    pub service: String,
    /// The version deployed, e.g. 1.4.2.
    #[arg(long)]
    pub version: String,
    /// The environment (default: production).
    #[arg(long = "env")]
    pub environment: Option<String>,
    /// Not deployed yet: only pre-deploy items run until `release deploy`.
    #[arg(long)]
    pub planned: bool,
    /// Start a second release even if this version is already being watched (by default a
    /// repeat prints the open release's id: safe to retry in CI).
    #[arg(long)]
    pub new: bool,
    /// When it was deployed, if not now (RFC 3339, e.g. 2026-12-03T14:05:00Z).
    #[arg(long, value_parser = parse_time)]
    pub deployed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The watch window's minimum for this release (default: the config's `window.min`).
    #[arg(long, value_parser = parse_duration)]
    pub window_min: Option<String>,
    /// The watch window's maximum for this release (default: the config's `window.max`).
    #[arg(long, value_parser = parse_duration)]
    pub window_max: Option<String>,
    /// The commit deployed (7-64 hex digits), e.g. $GITHUB_SHA or $CI_COMMIT_SHA.
    #[arg(long)]
    pub commit: Option<String>,
    /// A label as NAME=VALUE (repeatable), shown on the status page and copied into
    /// notifications, e.g. --label team=payments --label pipeline=$CI_PIPELINE_URL.
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Sent as the Idempotency-Key header: any repeat of this exact request (even with --new)
    /// answers with the release it created, e.g. $GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Then wait on the whole release like `shipwatch gate` (exit 0 passed, 1 failed, 2 timed
    /// out or setup error, 3 inconclusive).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (exit 2), e.g. 15m.
    #[arg(long, default_value = "10m", requires = "wait")]
    pub timeout: String,
    /// With --wait: how often to ask the daemon.
    #[arg(long, default_value = "2s", requires = "wait")]
    pub interval: String,
    /// With --wait: write a JUnit XML report here.
    #[arg(long, requires = "wait")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `--deployed-at`: an RFC 3339 time.
fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write an RFC 3339 time such as 2026-12-03T14:05:00Z"))
}

/// `--window-min/--window-max`: a duration such as 30m or 24h (passed on as written).
fn parse_duration(s: &str) -> Result<String, String> {
    humantime::parse_duration(s).map(|_| s.to_string()).map_err(|e| format!("{e}; write e.g. 30m, 24h"))
}

/// `--label NAME=VALUE` (the daemon checks the name and value).
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not NAME=VALUE; write e.g. --label team=payments")),
    }
}

/// The API body for `release start`; a label given twice is refused (which one was meant?).
fn body(a: &StartArgs) -> Result<serde_json::Value, String> {
    let mut labels = BTreeMap::new();
    for (k, v) in &a.labels {
        if labels.insert(k.clone(), v.clone()).is_some() {
            return Err(format!("--label {k} is given twice; give each label once"));
        }
    }
    let mut body = json!({
        "service": a.service, "version": a.version, "planned": a.planned, "new": a.new,
        "environment": a.environment, "deployed_at": a.deployed_at.map(|t| t.to_rfc3339()),
        "commit": a.commit, "labels": labels,
    });
    if a.window_min.is_some() || a.window_max.is_some() {
        body["window"] = json!({ "min": a.window_min, "max": a.window_max });
    }
    Ok(body)
}

pub async fn run(cmd: ReleaseCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ReleaseCmd::Deploy { id, server } => client::deploy(&server.server, &id).await,
        ReleaseCmd::Start(a) => {
            let a = *a;
            let body = match body(&a) {
                Ok(b) => b,
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return Ok(ExitCode::from(2));
                }
            };
            let started = client::release_start(&a.server.server, body, a.idempotency_key.as_deref()).await?;
            let Some(id) = started.id else { return Ok(started.code) };
            if !a.wait {
                return Ok(started.code);
            }
            let args = gate::GateArgs {
                id,
                items: None,
                section: None,
                timeout: a.timeout,
                interval: a.interval,
                junit: a.junit,
                server: a.server,
            };
            gate::run(args).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn start(argv: &[&str]) -> Result<StartArgs, String> {
        let mut full = vec!["shipwatch", "release", "start", "--service", "api", "--version", "1.0"];
        full.extend_from_slice(argv);
        match crate::cli::Cli::try_parse_from(full).map_err(|e| e.to_string())?.command {
            crate::cli::Command::Release(ReleaseCmd::Start(a)) => Ok(*a),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn flags_become_the_api_body() {
        let a = start(&["--commit", "4F2A9C1", "--label", "team=payments", "--label", "url=https://x/?a=b"]).unwrap();
        let b = body(&a).unwrap();
        assert_eq!(b["commit"], "4F2A9C1");
        assert_eq!(b["labels"], json!({"team": "payments", "url": "https://x/?a=b"}));
        assert!(b.get("window").is_none());
        let a = start(&["--window-max", "2h"]).unwrap();
        assert_eq!(body(&a).unwrap()["window"], json!({"min": null, "max": "2h"}));
    }

    #[test]
    fn bad_flags_say_what_to_write() {
        let cases: &[(&[&str], &str)] = &[
            (&["--label", "team"], "is not NAME=VALUE; write e.g. --label team=payments"),
            (&["--label", "=x"], "is not NAME=VALUE"),
            (&["--timeout", "5m"], "--wait"),
            (&["--junit", "x.xml"], "--wait"),
            (&["--deployed-at", "yesterday"], "RFC 3339"),
            (&["--window-min", "soon"], "write e.g. 30m"),
        ];
        for (argv, piece) in cases {
            let err = start(argv).err().unwrap_or_else(|| panic!("{argv:?} was accepted"));
            assert!(err.contains(piece), "{argv:?}: {err}");
        }
        let twice = start(&["--label", "a=1", "--label", "a=2"]).unwrap();
        assert_eq!(body(&twice).unwrap_err(), "--label a is given twice; give each label once");
    }
}
