//! External validators and tools the packaging tests run (check-jsonschema, hadolint,
//! systemd-analyze, promtool): found on `PATH`, or the test fails under `CI=true` (where
//! `.ci/run` installs them) and is skipped with a note elsewhere.

use std::path::PathBuf;

/// The tool's path, if on `PATH`. Missing: panics under `CI=true`, else prints a note.
pub fn require_tool(bin: &str, install: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(p) = std::env::split_paths(&path).map(|d| d.join(bin)).find(|p| p.is_file()) {
        return Some(p);
    }
    let msg = format!("{bin} not installed ({install})");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {msg}");
    eprintln!("note: skipping this test: {msg}");
    None
}

/// Run `cmd`, returning (success, stdout + stderr).
pub fn run(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Wait for `child` at most 30 s (killing it and panicking after), polling every 20 ms.
pub fn wait_bounded(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within 30s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
