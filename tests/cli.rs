//! The command line: `check-config` on good and broken configs (exit codes, `file:line:col`
//! positions, "did you mean" hints, every error reported), and the client commands
//! (`release start`, `status --json`, `tick`) against a live daemon.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// What one CLI run did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Run `shipwatch args` in `dir` with `env` (and no inherited API token); killed after 30 s.
fn shipwatch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let (out, err) = (dir.join("cli.stdout"), dir.join("cli.stderr"));
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SHIPWATCH_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn shipwatch");
    let status = common::tools::wait_bounded(&mut child, &format!("shipwatch {args:?}"));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Run { code: status.code(), stdout: read(&out), stderr: read(&err) }
}

/// `check-config` on fixture `yaml` (relative config path, so errors name `shipwatch.yaml`).
fn check_config(yaml: &str) -> (Run, String) {
    let fx = Fixture::new(yaml, 1);
    let run = shipwatch(fx.path(), &["check-config", "--config", "shipwatch.yaml"], &[]);
    let text = std::fs::read_to_string(&fx.config).unwrap();
    (run, text)
}

/// 1-based line and column of `needle` in `text` (first occurrence).
fn pos(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
        .unwrap_or_else(|| panic!("{needle:?} not in fixture"))
}

/// Output lines that start with a `shipwatch.yaml:LINE:COL: ` position.
fn error_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.find("shipwatch.yaml:").map(|i| &l[i + "shipwatch.yaml:".len()..]))
        .filter(|rest| {
            let mut parts = rest.splitn(3, ':');
            let num = |p: Option<&str>| p.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
            num(parts.next()) && num(parts.next()) && parts.next().is_some_and(|r| r.starts_with(' '))
        })
        .collect()
}

#[test]
fn check_config_accepts_a_good_config_and_reports_coverage() {
    let (run, _) = check_config(DAEMON_YAML);
    assert_eq!(run.code, Some(0), "{run}");
    let total = CHECKLIST.lines().filter(|l| l.trim_start().starts_with("- [ ]")).count();
    assert_eq!(total, 50);
    assert!(run.stdout.contains(&format!("2 of {total} checklist items automated")), "{run}");
}

#[test]
fn check_config_points_at_a_misspelled_item_and_suggests_the_id() {
    let (run, text) = check_config(include_str!("fixtures/bad_item.yaml"));
    assert_eq!(run.code, Some(1), "{run}");
    let (line, col) = pos(&text, "run-smoke-tests:");
    let out = run.both();
    let located = format!("shipwatch.yaml:{line}:{col}: ");
    let err = out.lines().find(|l| l.contains(&located)).unwrap_or_else(|| panic!("no line with {located:?}:\n{run}"));
    assert!(err.contains("run-smoke-tests"), "{err}");
    assert!(err.contains("did you mean 'run-smoke-tests-in-staging-environment'"), "{err}");
    assert_eq!(error_lines(&out).len(), 1, "exactly one error:\n{run}");
}

#[test]
fn check_config_reports_every_error_not_just_the_first() {
    let (run, text) = check_config(include_str!("fixtures/two_errors.yaml"));
    assert_eq!(run.code, Some(1), "{run}");
    let out = run.both();
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 2, "two errors expected:\n{run}");
    let (every_line, every_col) = pos(&text, "5x");
    let (probe_line, probe_col) = pos(&text, "helth");
    let every = errors
        .iter()
        .find(|e| e.starts_with(&format!("{every_line}:")))
        .unwrap_or_else(|| panic!("no error on line {every_line}:\n{run}"));
    assert!(every.starts_with(&format!("{every_line}:{every_col}: ")), "points at the value: {every}");
    assert!(every.contains("5x"), "{every}");
    let probe = errors
        .iter()
        .find(|e| e.starts_with(&format!("{probe_line}:")))
        .unwrap_or_else(|| panic!("no error on line {probe_line}:\n{run}"));
    assert!(probe.starts_with(&format!("{probe_line}:{probe_col}: ")), "points at the value: {probe}");
    assert!(probe.contains("unknown probe 'helth'"), "{probe}");
    assert!(probe.contains("did you mean 'health'"), "{probe}");
}

#[test]
fn check_config_names_an_unset_variable() {
    let (run, text) = check_config(include_str!("fixtures/unset_var.yaml"));
    assert_eq!(run.code, Some(1), "{run}");
    let (line, _) = pos(&text, "${SHIPWATCH_TEST_UNSET_TOKEN_4711}");
    let out = run.both();
    let err = out
        .lines()
        .find(|l| l.contains(&format!("shipwatch.yaml:{line}:")))
        .unwrap_or_else(|| panic!("no error on line {line}:\n{run}"));
    assert!(err.contains("SHIPWATCH_TEST_UNSET_TOKEN_4711"), "the error names the variable: {err}");
}

#[tokio::test]
async fn client_commands_drive_a_live_daemon() {
    const TOKEN: &str = "cli-token-0815-abcdef";
    let target = FakeTarget::start();
    let fx = Fixture::new(TOKEN_YAML, target.port);
    let d = Daemon::start_with_env(&fx, &[("TEST_TOKEN", TOKEN)]);
    let url = d.url.clone();
    let env = [("SHIPWATCH_API_TOKEN", TOKEN)];
    let dir = fx.path();

    let start =
        ["release", "start", "--server", &url, "--service", "checkout", "--version", "2.0.1", "--env", "staging"];
    let denied = shipwatch(dir, &start, &[]);
    assert_ne!(denied.code, Some(0), "no token, no release: {denied}");
    assert_eq!(d.get_json("/api/v1/releases").await["releases"], Value::Array(vec![]), "{denied}");

    let started = shipwatch(dir, &start, &env);
    assert_eq!(started.code, Some(0), "{started}");
    let list = d.get_json("/api/v1/releases").await;
    let rels = list["releases"].as_array().expect("list");
    assert_eq!(rels.len(), 1, "{list}");
    let rel = &rels[0];
    assert_eq!(
        (&rel["service"], &rel["version"], &rel["environment"]),
        (&"checkout".into(), &"2.0.1".into(), &"staging".into())
    );
    let id = rel["id"].as_str().unwrap().to_string();
    assert!(started.stdout.contains(&id), "release start prints the id {id}: {started}");

    let status = shipwatch(dir, &["status", &id, "--json", "--server", &url], &[]);
    assert_eq!(status.code, Some(0), "{status}");
    let v: Value =
        serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {status}"));
    assert_eq!(
        (&v["id"], &v["service"], &v["state"]),
        (&id.clone().into(), &"checkout".into(), &"deployed".into()),
        "{v}"
    );
    let items = v["items"].as_array().expect("status --json lists items");
    assert!(items.iter().any(|i| i["id"] == SMOKE), "{v}");
    let all = shipwatch(dir, &["status", "--json", "--server", &url], &[]);
    assert_eq!(all.code, Some(0), "{all}");
    let list: Value =
        serde_json::from_str(&all.stdout).unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {all}"));
    assert!(
        list["releases"].as_array().is_some_and(|l| l.iter().any(|r| r["id"] == id.as_str())),
        "lists {id}: {list}"
    );
    // Filters reach the daemon: no release of another service, none closed yet.
    for filter in [["--service", "payments"], ["--state", "closed"]] {
        let none = shipwatch(dir, &["status", "--server", &url, filter[0], filter[1]], &[]);
        assert_eq!(none.code, Some(0), "{none}");
        assert!(none.stdout.contains("no releases match") && !none.stdout.contains(&id), "{filter:?}: {none}");
    }
    let bad = shipwatch(dir, &["status", "--server", &url, "--state", "done"], &[]);
    assert_ne!(bad.code, Some(0), "{bad}");
    assert!(bad.stderr.contains("not a release state"), "{bad}");
    let human = shipwatch(dir, &["status", &id, "--server", &url], &[]);
    assert_eq!(human.code, Some(0), "{human}");
    assert!(human.stdout.contains(&id) && human.stdout.contains("deployed"), "{human}");

    let note = "checked from the cli";
    let tick = shipwatch(dir, &["tick", &id, ROLLBACK_DOC, "--by", "dave", "--note", note, "--server", &url], &env);
    assert_eq!(tick.code, Some(0), "{tick}");
    let rel = d.release(&id).await;
    let it = item(&rel, ROLLBACK_DOC);
    assert_eq!((&it["state"], &it["by"], &it["note"]), (&"complete".into(), &"dave".into(), &note.into()), "{it}");

    let bad = shipwatch(dir, &["tick", &id, "run-smoke-tests", "--by", "dave", "--server", &url], &env);
    assert!(bad.code.is_some_and(|c| c != 0), "{bad}");
    let out = bad.both();
    assert!(out.contains("no item 'run-smoke-tests'"), "the server's message is shown: {bad}");
    assert!(out.contains("did you mean 'run-smoke-tests-in-staging-environment'"), "{bad}");
    for run in [&denied, &started, &status, &all, &human, &tick, &bad] {
        assert!(!run.both().contains(TOKEN), "the token leaked into CLI output: {run}");
    }
}

#[test]
fn usage_errors_exit_1_so_gate_timeouts_keep_exit_2() {
    let out = std::process::Command::new(BIN).args(["gate", "some-release", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "usage error: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    let help = std::process::Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0), "--help exits 0");
}
