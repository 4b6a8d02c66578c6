//! The demo's optional metrics stack: a real Prometheus (scraping the sample service every
//! second, with one alerting rule) and a real Alertmanager, started on free loopback ports with
//! temporary directories when their binaries are on PATH.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running Prometheus + Alertmanager pair; both are killed on drop.
pub struct Stack {
    pub prometheus: String,
    pub alertmanager: String,
    _children: Vec<Child>,
}

/// Find a binary on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
}

/// The binaries, if installed (Debian: `prometheus`, `prometheus-alertmanager`).
pub fn binaries() -> Option<(PathBuf, PathBuf)> {
    Some((which("prometheus")?, which("prometheus-alertmanager").or_else(|| which("alertmanager"))?))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

const RULES: &str = "groups:
  - name: demo
    rules:
      - alert: DemoHighErrorRate
        expr: sum(rate(http_requests_total{job=\"demo\",code=~\"5..\"}[5s])) / sum(rate(http_requests_total{job=\"demo\"}[5s])) > 0.2
        labels: { severity: page, service: checkout-api }
        annotations: { summary: checkout-api answers more than 20% errors }
";

async fn wait_ready(url: &str, what: &str) -> std::io::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..150 {
        if client.get(format!("{url}/-/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(std::io::Error::other(format!("{what} at {url} did not become ready in 15 s")))
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> std::io::Result<Child> {
    let out = std::fs::File::create(log)?;
    Command::new(bin).args(args).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).kill_on_drop(true).spawn()
}

impl Stack {
    /// Start both servers; Prometheus scrapes `target` (host:port) as job `demo`.
    pub async fn start(dir: &Path, target: &str) -> std::io::Result<Stack> {
        let (prom_bin, am_bin) =
            binaries().ok_or_else(|| std::io::Error::other("prometheus/alertmanager not on PATH"))?;
        let (pp, ap) = (free_port()?, free_port()?);
        let (prom, am) = (format!("http://127.0.0.1:{pp}"), format!("http://127.0.0.1:{ap}"));
        std::fs::create_dir_all(dir.join("prom-data"))?;
        std::fs::create_dir_all(dir.join("am-data"))?;
        std::fs::write(dir.join("rules.yml"), RULES)?;
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs: [{{ targets: ['127.0.0.1:{ap}'] }}]\nscrape_configs:\n  - job_name: demo\n    static_configs: [{{ targets: ['{target}'] }}]\n"
            ),
        )?;
        std::fs::write(
            dir.join("alertmanager.yml"),
            "route: { receiver: 'null', group_wait: 0s, group_interval: 1s, repeat_interval: 1h }\nreceivers: [ { name: 'null' } ]\n",
        )?;
        let s = |p: &Path| p.display().to_string();
        let am_child = spawn(
            &am_bin,
            &[
                format!("--config.file={}", s(&dir.join("alertmanager.yml"))),
                format!("--storage.path={}", s(&dir.join("am-data"))),
                format!("--web.listen-address=127.0.0.1:{ap}"),
                "--cluster.listen-address=".into(),
            ],
            &dir.join("alertmanager.log"),
        )?;
        let prom_child = spawn(
            &prom_bin,
            &[
                format!("--config.file={}", s(&dir.join("prometheus.yml"))),
                format!("--storage.tsdb.path={}", s(&dir.join("prom-data"))),
                format!("--web.listen-address=127.0.0.1:{pp}"),
            ],
            &dir.join("prometheus.log"),
        )?;
        let stack = Stack { prometheus: prom, alertmanager: am, _children: vec![am_child, prom_child] };
        wait_ready(&stack.alertmanager, "Alertmanager").await?;
        wait_ready(&stack.prometheus, "Prometheus").await?;
        Ok(stack)
    }
}
