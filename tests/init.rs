//! `shipwatch init` and the built-in templates, through the real binary: a starter config for
//! the seed checklist and two real-world-style ones (tests/fixtures/init/) is refused by
//! `check-config` until its FILL_ME values are replaced and accepted after, with the automated
//! count `init` printed; a config in a temp dir (no `probes/` near it) uses the built-in
//! templates in `check-config` and in a running daemon, and a `probes/` file beside it
//! overrides the built-in of the same name.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Run `shipwatch args` in `dir`; killed after 30 s.
fn shipwatch(dir: &Path, args: &[&str]) -> Run {
    let (out, err) = (dir.join("cli.stdout"), dir.join("cli.stderr"));
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("spawn shipwatch");
    let status = common::tools::wait_bounded(&mut child, &format!("shipwatch {args:?}"));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Run { code: status.code(), stdout: read(&out), stderr: read(&err) }
}

/// Replace each `"FILL_ME"` value with a plausible one for its key (as a person would).
fn fill(text: &str) -> String {
    let value = |key: &str| match key {
        "url" => "\"http://127.0.0.1:9/healthz\"",
        "job" => "\"api\"",
        "limit_bytes" => "2147483648",
        "matchers" => "['service=\"api\"']",
        other => panic!("no plausible value for {other}"),
    };
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.trim_start().split_once(": \"FILL_ME\"") {
            Some((key, _)) => l.replacen("\"FILL_ME\"", value(key), 1),
            None => l.to_string(),
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn init_writes_configs_that_check_config_accepts_once_filled() {
    // (checklist, automated, items, FILL_ME values)
    let cases: &[(&str, &str, usize, usize, usize)] = &[
        ("seed", CHECKLIST, 12, 50, 14),
        ("production readiness", include_str!("fixtures/init/production-readiness.md"), 12, 30, 13),
        ("web app", include_str!("fixtures/init/webapp-deploy.md"), 7, 15, 8),
    ];
    for (name, md, automated, total, fills) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/checklist.md"), md).unwrap();
        let run = shipwatch(dir.path(), &["init", "--checklist", "docs/checklist.md", "--out", "shipwatch.yaml"]);
        assert_eq!(run.code, Some(0), "{name}: {run}");
        let first = run.stdout.lines().next().unwrap_or_default();
        assert_eq!(first, format!("{automated} of {total} items automated; wrote shipwatch.yaml"), "{name}: {run}");
        assert!(run.stdout.contains(&format!("{fills} value(s) to fill")), "{name}: {run}");
        assert!(run.stdout.contains("shipwatch check-config --config shipwatch.yaml"), "{name}: {run}");
        // As written: refused, one error per placeholder, each at its line.
        let text = std::fs::read_to_string(dir.path().join("shipwatch.yaml")).unwrap();
        let check = shipwatch(dir.path(), &["check-config", "--config", "shipwatch.yaml"]);
        assert_eq!(check.code, Some(1), "{name}: {check}");
        let errors: Vec<&str> = check
            .stderr
            .lines()
            .filter(|l| l.strip_prefix("shipwatch.yaml:").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())))
            .collect();
        assert!(check.stderr.ends_with(&format!("shipwatch.yaml: {fills} error(s)\n")), "{name}: {check}");
        assert_eq!(errors.len(), *fills, "{name}: only the placeholders are reported:\n{check}");
        for e in &errors {
            assert!(e.contains("is still FILL_ME, a placeholder `shipwatch init` left"), "{name}: {e}");
            let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
            assert!(text.lines().nth(line - 1).unwrap().contains("\"FILL_ME\""), "{name}: {e} points elsewhere");
        }
        // Filled: accepted, with the count init printed.
        std::fs::write(dir.path().join("shipwatch.yaml"), fill(&text)).unwrap();
        let check = shipwatch(dir.path(), &["check-config", "--config", "shipwatch.yaml"]);
        assert_eq!(check.code, Some(0), "{name}: {check}\n{}", fill(&text));
        assert!(check.stdout.starts_with("shipwatch.yaml: OK\n"), "{name}: {check}");
        assert!(check.stdout.contains(&format!("{automated} of {total} checklist items automated")), "{name}: {check}");
    }
}

#[test]
fn init_refuses_to_overwrite_and_checks_the_prometheus_url() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).unwrap();
    let args = ["init", "--checklist", "checklist.md", "--prometheus", "http://prometheus.internal:9090"];
    let run = shipwatch(dir.path(), &args);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.starts_with("12 of 50 items automated; wrote shipwatch.yaml\n"), "{run}");
    let text = std::fs::read_to_string(dir.path().join("shipwatch.yaml")).unwrap();
    assert!(text.contains("      url: \"http://prometheus.internal:9090\"\n"), "{text}");
    assert!(run.stdout.contains("13 value(s) to fill"), "{run}");

    std::fs::write(dir.path().join("shipwatch.yaml"), "mine\n").unwrap();
    let again = shipwatch(dir.path(), &args);
    assert_eq!(again.code, Some(1), "{again}");
    assert!(again.stderr.contains("shipwatch.yaml already exists; pass --force to overwrite it"), "{again}");
    assert_eq!(std::fs::read_to_string(dir.path().join("shipwatch.yaml")).unwrap(), "mine\n");
    let forced = shipwatch(dir.path(), &[&args[..], &["--force"]].concat());
    assert_eq!(forced.code, Some(0), "{forced}");
    assert_eq!(std::fs::read_to_string(dir.path().join("shipwatch.yaml")).unwrap(), text);

    for (url, why) in [
        ("prometheus.internal:9090", "has scheme 'prometheus.internal', not http or https"),
        ("ftp://prom:9090", "has scheme 'ftp', not http or https"),
        ("http://admin:pw@prom:9090", "holds credentials"),
    ] {
        let run =
            shipwatch(dir.path(), &["init", "--checklist", "checklist.md", "--prometheus", url, "--out", "other.yaml"]);
        assert_eq!(run.code, Some(1), "{url}: {run}");
        assert!(
            run.stderr.contains(why) && run.stderr.contains("e.g. http://prometheus.internal:9090"),
            "{url}: {run}"
        );
        assert!(!dir.path().join("other.yaml").exists(), "{url}: nothing written");
    }
}

const BUILTIN_YAML: &str = "\
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./shipwatch.db }
checklist: checklist.md
window: { min: 30s, max: 60s }
probes:
  health:
    use: http-smoke
    with: { url: \"http://127.0.0.1:__PORT__/healthz\", body_contains: ok }
    every: 200ms
    jitter: 0s
  version:
    use: version-live
    with: { url: \"http://127.0.0.1:__PORT__/version\" }
    every: 200ms
    jitter: 0s
items:
  run-post-deploy-smoke-tests-on-production: { probes: [health] }
  confirm-new-version-is-running-in-production: { probes: [version] }
";

/// Start a daemon on `fx`, start a release of version 1.4.2 and wait for both items; returns
/// the `health` probe's evidence target.
async fn run_release(fx: &Fixture) -> String {
    let d = Daemon::start(fx);
    let rel = d.create(json!({ "service": "api", "version": "1.4.2" })).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    d.wait_item(&id, VERSION, "complete", SOON).await;
    let results = d.results(&id, Some("health")).await;
    results[0]["evidence"]["target"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_templates_work_outside_the_source_tree_and_files_override_them() {
    let target = FakeTarget::start();
    let fx = Fixture::new(BUILTIN_YAML, target.port);
    assert!(!fx.path().join("probes").exists());
    let check = shipwatch(fx.path(), &["check-config", "--config", "shipwatch.yaml"]);
    assert_eq!(check.code, Some(0), "{check}");
    assert!(check.stdout.contains("2 of 50 checklist items automated"), "{check}");
    let url = run_release(&fx).await;
    assert_eq!(url, format!("GET http://127.0.0.1:{}/healthz", target.port));

    // A probes/http-smoke.yaml beside the config is used instead of the built-in one.
    let over = Fixture::new(BUILTIN_YAML, target.port);
    std::fs::create_dir(over.path().join("probes")).unwrap();
    std::fs::write(
        over.path().join("probes/http-smoke.yaml"),
        "params:\n  url: { required: true }\n  body_contains: { default: \"\" }\n\
         probe:\n  http: { url: \"{{ url }}?from=local-override\", expect: { status: [200] } }\n",
    )
    .unwrap();
    let listed = shipwatch(over.path(), &["templates", "--config", "shipwatch.yaml"]);
    assert_eq!(listed.code, Some(0), "{listed}");
    assert!(listed.stdout.contains("http-smoke  [file ./probes/http-smoke.yaml (overrides the built-in)]"), "{listed}");
    assert!(listed.stdout.contains("version-live  [builtin]"), "{listed}");
    let url = run_release(&over).await;
    assert_eq!(url, format!("GET http://127.0.0.1:{}/healthz?from=local-override", target.port));

    // A misspelt template: the error lists both sources and the nearest name.
    std::fs::write(over.path().join("shipwatch.yaml"), BUILTIN_YAML.replace("use: version-live", "use: version-lve"))
        .unwrap();
    let bad = shipwatch(over.path(), &["check-config", "--config", "shipwatch.yaml"]);
    assert_eq!(bad.code, Some(1), "{bad}");
    for want in [
        "unknown template 'version-lve'",
        "did you mean 'version-live'?",
        "http-smoke (file in ./probes, overrides the built-in)",
        "target-up",
    ] {
        assert!(bad.stderr.contains(want), "missing {want:?}:\n{bad}");
    }
}
