//! The CI examples in `examples/ci/` (issue 14 §1): valid for GitHub Actions and GitLab CI by
//! `check-jsonschema`'s built-in schemas (and a broken copy is refused, so the check can fail),
//! and their shipwatch steps, run as written by bash against a real daemon, start a release
//! with the commit and labels and gate on it.

mod common;

use std::path::Path;
use std::process::Command;

use common::tools::{require_tool, run};
use common::*;
use serde_json::Value;

const GITHUB: &str = "examples/ci/github-actions.yml";
const GITLAB: &str = "examples/ci/gitlab-ci.yml";
const SHA: &str = "4f2a9c1e0b7d4c2a9f1144aa0b3c5d6e7f809a1b";

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_examples_pass_the_ci_schemas_and_a_broken_one_does_not() {
    let Some(tool) = require_tool("check-jsonschema", "pip install check-jsonschema") else { return };
    let dir = tempfile::tempdir().unwrap();
    for (file, schema, break_it) in [
        (GITHUB, "vendor.github-workflows", ("runs-on: ubuntu-latest", "runs-on: [[nested]]\n    stepz: 1")),
        (GITLAB, "vendor.gitlab-ci", ("  stage: verify", "  stage: verify\n  when: sometimes")),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let (ok, out) = run(Command::new(&tool).args(["--builtin-schema", schema]).arg(&path));
        assert!(ok, "{file} fails {schema}:\n{out}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(break_it.0), "{file} lacks {:?}", break_it.0);
        let broken = dir.path().join(Path::new(file).file_name().unwrap());
        std::fs::write(&broken, text.replacen(break_it.0, break_it.1, 1)).unwrap();
        let (ok, out) = run(Command::new(&tool).args(["--builtin-schema", schema]).arg(&broken));
        assert!(!ok, "the broken copy of {file} passed {schema}: the check cannot fail\n{out}");
    }
}

/// Run a CI script as written with bash, the built shipwatch first on PATH.
fn bash(script: &str, cwd: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", script]).current_dir(cwd).env("PATH", path).env_remove("SHIPWATCH_API_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn step<'a>(steps: &'a Value, name: &str) -> &'a str {
    let s = steps.as_array().unwrap().iter().find(|s| s["name"] == name);
    s.and_then(|s| s["run"].as_str()).unwrap_or_else(|| panic!("no step {name:?} with run:"))
}

#[tokio::test]
async fn the_github_workflow_steps_start_a_release_and_gate_on_it() {
    let target = FakeTarget::start();
    target.set_version("v2.1.0");
    let d = Daemon::start(&Fixture::new(DAEMON_YAML, target.port));
    let wf = yaml(GITHUB);
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("github_output");
    std::fs::write(&output, "").unwrap();
    let env = [
        ("SHIPWATCH_SERVER", d.url.as_str()),
        ("SERVICE", wf["env"]["SERVICE"].as_str().unwrap()),
        ("VERSION", "v2.1.0"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/checkout"),
        ("GITHUB_RUN_ID", "8812"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
    ];
    let start = step(&wf["jobs"]["deploy"]["steps"], "Tell shipwatch");
    let (ok, out) = bash(start, work.path(), &env);
    assert!(ok, "{out}");
    let written = std::fs::read_to_string(&output).unwrap();
    let id = written.trim().strip_prefix("release=").unwrap_or_else(|| panic!("{written:?}")).to_string();
    let rel = d.release(&id).await;
    assert_eq!((rel["service"].as_str(), rel["version"].as_str()), (Some("checkout"), Some("v2.1.0")));
    assert_eq!(rel["commit"], SHA);
    assert_eq!(rel["labels"]["pipeline"], "https://github.com/acme/checkout/actions/runs/8812");
    // A re-run of the job (same run id and attempt) is the same release.
    let (ok, out) = bash(start, work.path(), &env);
    assert!(ok, "{out}");
    assert!(std::fs::read_to_string(&output).unwrap().ends_with(&format!("release={id}\n")));

    let gate = step(&wf["jobs"]["verify"]["steps"], "Gate on the post-deploy checks")
        .replace("${{ needs.deploy.outputs.release }}", &id);
    let (ok, out) = bash(&gate, work.path(), &env);
    assert!(ok, "the gate passes once the smoke and version items pass:\n{out}");
    let junit = std::fs::read_to_string(work.path().join("shipwatch-junit.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

#[tokio::test]
async fn the_gitlab_pipeline_scripts_start_a_release_and_gate_on_it() {
    let target = FakeTarget::start();
    target.set_version("v3.0.0");
    let d = Daemon::start(&Fixture::new(DAEMON_YAML, target.port));
    let ci = yaml(GITLAB);
    let work = tempfile::tempdir().unwrap();
    let env = [
        ("SHIPWATCH_SERVER", d.url.as_str()),
        ("SERVICE", ci["variables"]["SERVICE"].as_str().unwrap()),
        ("CI_COMMIT_TAG", "v3.0.0"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_PIPELINE_URL", "https://gitlab.example.com/acme/checkout/-/pipelines/77"),
        ("CI_PIPELINE_ID", "77"),
        ("CI_JOB_NAME", "deploy"),
    ];
    // The deploy job's script after the deploy itself (./deploy.sh is the user's).
    let script: Vec<&str> = ci["deploy"]["script"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(script[0].starts_with("./deploy.sh"), "{script:?}");
    let (ok, out) = bash(&script[1..].join("\n"), work.path(), &env);
    assert!(ok, "{out}");
    let id = std::fs::read_to_string(work.path().join("release.id")).unwrap().trim().to_string();
    let rel = d.release(&id).await;
    assert_eq!((rel["version"].as_str(), rel["commit"].as_str()), (Some("v3.0.0"), Some(SHA)));
    assert_eq!(rel["labels"]["pipeline"], "https://gitlab.example.com/acme/checkout/-/pipelines/77");

    let verify: Vec<&str> = ci["verify"]["script"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let (ok, out) = bash(&verify.join("\n"), work.path(), &env);
    assert!(ok, "{out}");
    assert!(work.path().join("shipwatch-junit.xml").is_file());

    // The next tag's pipeline: its release fails, and so does the job.
    target.set_health(500, "down");
    let env2: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| match k {
            "CI_COMMIT_TAG" => (k, "v3.0.1"),
            "CI_PIPELINE_ID" => (k, "78"),
            _ => (k, v),
        })
        .collect();
    target.set_version("v3.0.1");
    let (ok, out) = bash(&script[1..].join("\n"), work.path(), &env2);
    assert!(ok, "{out}");
    let (ok, out) = bash(&verify.join("\n"), work.path(), &env2);
    assert!(!ok && out.contains("FAILED"), "{out}");
}
