//! `/metrics` of a live daemon whose probes have run: the exposition passes
//! `promtool check metrics` (Debian `prometheus` package) and carries the probe, release and
//! build families. Without promtool the promtool part is skipped, except under `CI=true`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("promtool")).find(|p| p.is_file())
}

/// The value of the first sample line starting with `name{` whose labels contain every one of
/// `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_probe_runs() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "api", "version": "1.4.2", "environment": "prod-eu"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    d.wait_item(&id, VERSION, "complete", SOON).await;

    let resp = d.client.get(format!("{}/metrics", d.url)).send().await.expect("GET /metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    let text = resp.text().await.unwrap();

    let pass =
        sample(&text, "shipwatch_probe_runs_total", &[r#"probe="health""#, r#"kind="http""#, r#"result="pass""#]);
    assert!(pass.is_some_and(|n| n >= 2.0), "health passes counted: {pass:?}\n{text}");
    let count = sample(&text, "shipwatch_probe_duration_seconds_count", &[r#"probe="health""#]);
    assert!(count.is_some_and(|n| n >= 2.0), "durations observed: {count:?}");
    let release = format!(r#"release="{id}""#);
    assert_eq!(sample(&text, "shipwatch_release_items", &[&release, r#"state="complete""#]), Some(2.0), "{text}");
    assert_eq!(sample(&text, "shipwatch_release_items", &[&release, r#"state="manual""#]), Some(48.0));
    assert_eq!(sample(&text, "shipwatch_release_state", &[&release, r#"state="deployed""#]), Some(1.0));
    assert!(sample(&text, "shipwatch_release_window_remaining_seconds", &[&release]).is_some_and(|s| s > 0.0));
    assert_eq!(sample(&text, "shipwatch_releases", &[r#"state="deployed""#]), Some(1.0));
    assert!(text.lines().any(|l| l == "shipwatch_active_regressions 0"), "{text}");
    assert!(text.lines().any(|l| l == "shipwatch_config_reload_success 1"), "{text}");
    let build = format!(r#"shipwatch_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"));
    assert!(text.lines().any(|l| l == build), "{build} in\n{text}");

    let Some(promtool) = promtool() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but promtool is missing (apt-get install prometheus)"
        );
        eprintln!("SKIPPED promtool check: promtool is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}\n{}{}\n--- exposition ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn probe_histograms_off_keeps_a_seconds_counter_per_probe() {
    let target = FakeTarget::start();
    let yaml = format!("{DAEMON_YAML}metrics: {{ probe_histograms: false }}\n");
    let d = Daemon::start(&Fixture::new(&yaml, target.port));
    let id = d.create(json!({"service": "api", "version": "1.4.2"})).await["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let (_, text) = d.get("/metrics").await;
    assert!(!text.contains("shipwatch_probe_duration_seconds_bucket"), "no histograms:\n{text}");
    let secs = sample(&text, "shipwatch_probe_run_seconds_total", &[r#"probe="health""#]);
    assert!(secs.is_some_and(|s| s > 0.0), "run seconds counted: {secs:?}\n{text}");
    let pass = sample(&text, "shipwatch_probe_runs_total", &[r#"probe="health""#, r#"result="pass""#]);
    assert!(pass.is_some_and(|n| n >= 2.0), "runs still counted: {pass:?}");
}
