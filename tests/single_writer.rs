//! One daemon per SQLite file (issue 10, defect 15): a second `shipwatch run` on the same
//! database is refused at start, before it recovers releases, probes anything or listens,
//! and the first one carries on undisturbed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_the_same_database_is_refused_before_it_does_anything() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let first = Daemon::start(&fx);
    let rel = first.create(serde_json::json!({"service": "api", "version": "1"})).await;
    let id = rel["id"].as_str().unwrap().to_string();

    let log = fx.path().join("second.stderr");
    let mut second = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&fx.config)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(fx.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SOON;
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second daemon kept running: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    let stdout = std::io::read_to_string(second.stdout.take().unwrap()).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("in use by another shipwatch") && stderr.contains("shipwatch.db"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.pid())), "names the holder: {stderr}");
    for never in ["state recovered", "API listening", "probe"] {
        assert!(!stderr.contains(never), "the refused daemon did something ({never}): {stderr}");
    }
    assert!(!stdout.contains("listening on"), "{stdout}");

    // The first daemon is untouched: it still answers and keeps probing.
    assert_eq!(first.release(&id).await["id"], id.as_str());
    let newest = |r: Vec<serde_json::Value>| r.first().map(|r| ts(&r["at"]));
    let before = newest(first.results(&id, None).await);
    wait_for("the first daemon to keep probing", SOON, || async {
        let now = newest(first.results(&id, None).await);
        if now > before { Ok(()) } else { Err(format!("newest result still {now:?}")) }
    })
    .await;
}
