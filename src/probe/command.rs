//! Command probe: run a program (no shell) and judge it by its exit code.
//!
//! Arguments are passed to the program as they are, never through a shell, and a release value
//! can never start an argument with `-` (see `CommandProbe::render`).
//! With `format: exit` (the default) exit 0 passes and non-zero fails; a plugin may print a JSON
//! object as its last stdout line (`{"status": "fail", "message": "...", "observed": 3}`) to
//! refine the verdict and the evidence. With `format: nagios` the program is a Nagios plugin,
//! judged by [`super::nagios`] (0 OK passes, 1 WARNING and 2 CRITICAL fail, 3 UNKNOWN is `error`;
//! the first stdout line is the message, performance data goes into the evidence). Either way
//! death by signal or timeout is `error`. The child runs in its own process group so a timeout
//! kills grandchildren too (they would otherwise keep the output pipes open). Only the last
//! 2 KiB of stdout and stderr are kept, and for a Nagios plugin the first 8 KiB of stdout.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::{Dur, Evidence, Outcome, RunContext, Status};
use crate::redact::Redactor;

#[path = "command_output.rs"]
mod output;
use output::{HEAD, Sink, drain};
#[cfg(test)]
use output::{MAX_LINE, TAIL};

/// Rendered environment variables.
type Env = Vec<(String, String)>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long background leftovers may hold the pipes open after the main process exited.
const LEFTOVER_GRACE: Duration = Duration::from_millis(500);

/// A program to run, without a shell.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandProbe {
    /// Program and arguments; each element is templated (`{{ release.version }}`).
    pub argv: Vec<String>,
    /// Extra environment variables (values templated).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Kill the process group after this long (30s by default).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Working directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// How the program reports its result: `exit` (the default) or `nagios`.
    #[serde(default)]
    pub format: Format,
}

/// How a command probe reads the program's result (a closed set: an unknown name is a config
/// error listing these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Exit 0 passes, anything else fails; an optional JSON result line refines it.
    #[default]
    Exit,
    /// A Nagios plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, with performance data.
    Nagios,
}

impl CommandProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0)
    }

    pub fn validate(&self) -> Result<(), String> {
        match self.argv.first() {
            None => {
                Err("argv: empty; give the program and its arguments, e.g. [\"./check.sh\", \"{{ release.version }}\"]"
                    .into())
            }
            Some(p) if p.trim().is_empty() => {
                Err("argv: the program (argv[0]) is empty; name the program to run".into())
            }
            Some(_) => Ok(()),
        }
    }

    /// Run without a redactor (see [`CommandProbe::run_redacted`]).
    pub async fn run(&self, ctx: &RunContext) -> Outcome {
        self.run_redacted(ctx, &Redactor::default()).await
    }

    /// Run once; every string of the evidence passes through `redactor`.
    pub async fn run_redacted(&self, ctx: &RunContext, redactor: &Redactor) -> Outcome {
        let mut ev = Evidence { target: Some(self.argv.join(" ")), ..Evidence::default() };
        let outcome = match self.render(ctx) {
            Err(reason) => {
                ev.message = reason;
                Outcome::error(ev)
            }
            Ok((argv, env)) => {
                ev.target = Some(argv.join(" "));
                self.execute(&argv, env, ev).await
            }
        };
        super::http::redact_outcome(outcome, redactor)
    }

    /// Render argv and env. An argument whose template does not start with `-` itself may not
    /// render to one that does: a release value (`-la`, `--output=/etc/x`) would otherwise be
    /// read as an option. Values are validated at release creation; this also holds for
    /// releases stored before that, or values from elsewhere.
    fn render(&self, ctx: &RunContext) -> Result<(Vec<String>, Env), String> {
        self.validate()?;
        let mut argv = Vec::with_capacity(self.argv.len());
        for (i, template) in self.argv.iter().enumerate() {
            let arg = ctx.render(template)?;
            if arg.starts_with('-') && !template.starts_with('-') {
                return Err(format!(
                    "argv[{i}] {template:?} renders to {arg:?}, which starts with '-' and would be read as an option; \
                     refusing to run (write options literally in the config)"
                ));
            }
            argv.push(arg);
        }
        let env = self.env.iter().map(|(k, v)| Ok((k.clone(), ctx.render(v)?))).collect::<Result<Env, String>>()?;
        Ok((argv, env))
    }

    async fn execute(&self, argv: &[String], env: Env, mut ev: Evidence) -> Outcome {
        let timeout = self.timeout();
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.cwd {
            if !std::path::Path::new(dir).is_dir() {
                ev.message = format!("cwd {dir:?} is not a directory; fix the probe's cwd");
                return Outcome::error(ev);
            }
            cmd.current_dir(dir);
        }
        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                ev.message = spawn_error(&argv[0], &e);
                return Outcome::error(ev);
            }
        };
        let mut group = GroupGuard(child.id().and_then(|p| i32::try_from(p).ok()));
        let mut out = match self.format {
            Format::Exit => Sink::lines(),
            Format::Nagios => Sink::head(),
        };
        let mut err = Sink::default();
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let mut readers = Box::pin(async {
            tokio::join!(drain(stdout, &mut out), drain(stderr, &mut err));
        });
        let deadline = started + timeout;
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        let (mut status, mut readers_done, mut timed_out, mut wait_error) = (None, false, false, None);
        while !(readers_done && status.is_some()) {
            tokio::select! {
                _ = &mut readers, if !readers_done => readers_done = true,
                r = child.wait(), if status.is_none() => match r {
                    Ok(s) => {
                        status = Some(s);
                        sleep.as_mut().reset(deadline.min(Instant::now() + LEFTOVER_GRACE));
                    }
                    Err(e) => {
                        wait_error = Some(e);
                        break;
                    }
                },
                _ = &mut sleep => {
                    timed_out = status.is_none();
                    break;
                }
            }
        }
        let leftovers = status.is_some() && !readers_done;
        if !(readers_done && status.is_some()) {
            // Kill the whole group so grandchildren holding the pipes die too, then reap.
            group.kill();
            if status.is_none() {
                status = child.wait().await.ok();
            }
            if !readers_done {
                let _ = tokio::time::timeout(Duration::from_millis(500), &mut readers).await;
            }
        }
        drop(readers);
        group.0 = None;
        ev.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        ev.details.insert("stdout_tail".into(), Value::String(out.tail_string()));
        ev.details.insert("stderr_tail".into(), Value::String(err.tail_string()));
        if leftovers {
            ev.details.insert("note".into(), "killed background processes still holding stdout/stderr".into());
        }
        if let Some(e) = wait_error {
            ev.message = format!("waiting for `{}` failed: {e}", argv[0]);
            return Outcome::error(ev);
        }
        if timed_out {
            ev.message = format!("killed after {} timeout", humantime::format_duration(timeout));
            return Outcome::error(ev);
        }
        let Some(code) = status.and_then(|s| s.code()) else {
            let sig = status.and_then(|s| s.signal()).map_or("?".to_string(), |s| s.to_string());
            ev.message = format!("`{}` was killed by signal {sig}", argv[0]);
            return Outcome::error(ev);
        };
        match self.format {
            Format::Exit => judge(code, out.last_line(), &err, ev),
            Format::Nagios => {
                let (head, cut) = out.head_lines();
                if cut {
                    ev.details.insert(
                        "output_note".into(),
                        format!("stdout longer than {HEAD} bytes; read only those").into(),
                    );
                }
                super::nagios::judge(code, &head, err.last_line_of_tail(), ev)
            }
        }
    }
}

/// Decide from the exit code and an optional plugin JSON line.
fn judge(code: i32, last_line: Option<String>, err: &Sink, mut ev: Evidence) -> Outcome {
    ev.exit_code = Some(code);
    ev.expected = Some("exit code 0".into());
    ev.observed = Some(code.to_string());
    let mut status = if code == 0 { Status::Pass } else { Status::Fail };
    ev.message = if code == 0 {
        format!("exit code 0 in {} ms", ev.latency_ms.unwrap_or(0.0).round())
    } else {
        match err.last_line_of_tail() {
            Some(line) => format!("exit code {code}: {line}"),
            None => format!("exit code {code}"),
        }
    };
    let result = last_line.and_then(|l| serde_json::from_str::<Value>(l.trim()).ok());
    if let Some(Value::Object(obj)) = result {
        let said = match obj.get("status").and_then(Value::as_str) {
            Some("pass") => Some(Status::Pass),
            Some("fail") => Some(Status::Fail),
            Some("error") => Some(Status::Error),
            _ => None,
        };
        status = match (code, said) {
            (0, Some(s)) => s,
            (_, Some(Status::Error)) => Status::Error,
            _ => status,
        };
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        if let Some(m) = obj.get("message").and_then(Value::as_str) {
            ev.message = m.to_string();
        }
        if let Some(v) = obj.get("observed").or_else(|| obj.get("value")) {
            ev.observed = Some(text(v));
        }
        if let Some(v) = obj.get("expected") {
            ev.expected = Some(text(v));
        }
        ev.details.insert("result".into(), Value::Object(obj));
    }
    Outcome { status, evidence: ev }
}

fn spawn_error(program: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.find(" (os error").map_or(text.as_str(), |i| &text[..i]);
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => " (is it installed and on PATH?)",
        std::io::ErrorKind::PermissionDenied => " (is it executable?)",
        _ => "",
    };
    format!("cannot run `{program}`: {text}{hint}")
}

/// SIGKILLs the child's process group when armed (on timeout, or if the run is cancelled).
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&self) {
        if let Some(pgid) = self.0.filter(|p| *p > 0) {
            // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names a group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
