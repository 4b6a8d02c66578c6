//! `shipwatch gate` against a live daemon: exit 0 when the selected items complete, 1 when one
//! fails (or the release/items are unknown), 2 on timeout; the JUnit report; `--section`
//! selection by a heading or an enclosing heading; and `history` / `status` output (who ticked
//! what, no colour when stdout is not a terminal).

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// The daemon fixture with the smoke item unable to complete within a test (1000 passes).
fn slow_yaml() -> String {
    DAEMON_YAML.replace(
        "pass: { consecutive: 2 }, fail: { consecutive: 2 }",
        "pass: { consecutive: 1000 }, fail: { consecutive: 2 }",
    )
}

/// What one CLI run did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// Start `shipwatch args` in `dir` (stdout/stderr to files, so neither is a terminal).
fn spawn(dir: &Path, tag: &str, args: &[&str]) -> (Child, Instant) {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("SHIPWATCH_API_TOKEN")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(File::create(dir.join(format!("{tag}.stdout"))).unwrap())
        .stderr(File::create(dir.join(format!("{tag}.stderr"))).unwrap())
        .spawn()
        .expect("spawn shipwatch");
    (child, Instant::now())
}

/// Wait (30 s at most) for a spawned run.
fn finish(dir: &Path, tag: &str, (mut child, started): (Child, Instant)) -> Run {
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shipwatch {tag} did not finish within 30s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{tag}.{ext}"))).unwrap_or_default();
    Run { code: status.code(), stdout: read("stdout"), stderr: read("stderr"), took: started.elapsed() }
}

fn shipwatch(dir: &Path, args: &[&str]) -> Run {
    finish(dir, "cli", spawn(dir, "cli", args))
}

/// `gate ID --server URL --interval 200ms` plus `extra`.
fn gate(d: &Daemon, dir: &Path, id: &str, extra: &[&str]) -> Run {
    let mut args = vec!["gate", id, "--server", &d.url, "--interval", "200ms"];
    args.extend_from_slice(extra);
    shipwatch(dir, &args)
}

/// A release with a long window, so it stays `deployed` while the gate watches.
async fn release(d: &Daemon, version: &str) -> String {
    let rel = d.create(json!({"service": "api", "version": version, "window": {"min": "1m", "max": "10m"}})).await;
    rel["id"].as_str().unwrap().to_string()
}

/// The value of attribute `name` on the first `<tag ` element of `xml`.
fn attr(xml: &str, tag: &str, name: &str) -> String {
    let start = xml.find(&format!("<{tag} ")).unwrap_or_else(|| panic!("no <{tag}> in:\n{xml}"));
    let el = &xml[start..start + xml[start..].find('>').unwrap()];
    let re = regex::Regex::new(&format!(r#"\s{name}="([^"]*)""#)).unwrap();
    re.captures(el).unwrap_or_else(|| panic!("<{tag}> has no {name}: {el}"))[1].to_string()
}

/// Check the report's shape and its `(tests, failures, errors)` counts.
fn junit(path: &Path, id: &str, counts: (usize, usize, usize)) -> String {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no JUnit report at {}: {e}", path.display()));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuite>\n</testsuites>"), "{xml}");
    assert_eq!(attr(&xml, "testsuite", "name"), format!("shipwatch gate {id}"));
    let got: Vec<usize> =
        ["tests", "failures", "errors"].iter().map(|a| attr(&xml, "testsuite", a).parse().unwrap()).collect();
    assert_eq!(got, [counts.0, counts.1, counts.2], "tests/failures/errors:\n{xml}");
    assert_eq!(xml.matches("<testcase ").count(), counts.0, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), counts.1, "{xml}");
    assert_eq!(xml.matches("<error ").count(), counts.2, "{xml}");
    assert!(attr(&xml, "testsuite", "time").parse::<f64>().is_ok(), "{xml}");
    assert_eq!(xml.matches('<').count(), xml.matches('>').count(), "balanced markup:\n{xml}");
    xml
}

#[tokio::test]
async fn gate_exits_0_when_the_automated_items_complete() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let id = release(&d, "1.4.2").await;
    let report = fx.path().join("reports/gate.xml");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let run = gate(&d, fx.path(), &id, &["--timeout", "20s", "--junit", report.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains(&format!("gate {id}: passed — 2/2 items complete")), "{run}");
    assert!(!run.stderr.contains('\r') && !run.stderr.contains('\x1b'), "no terminal, no rewriting: {run}");
    let rel = d.release(&id).await;
    for it in [SMOKE, VERSION] {
        assert_eq!(item(&rel, it)["state"], "complete", "{run}");
    }
    let xml = junit(&report, &id, (2, 0, 0));
    assert!(xml.contains(r#"classname="Post-Deploy Verification" name="Run post-deploy smoke tests on production""#));
    assert!(xml.contains(r#"classname="Production Deployment" name="Confirm new version is running in production""#));
    let leftovers: Vec<_> = std::fs::read_dir(report.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the report, no temp file");
}

#[tokio::test]
async fn gate_exits_1_when_an_item_fails_and_reports_the_evidence() {
    let target = FakeTarget::start();
    target.set_health(500, "database <down> & out");
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let id = release(&d, "1.4.2").await;
    let report = fx.path().join("gate.xml");
    let run = gate(&d, fx.path(), &id, &["--timeout", "20s", "--junit", "gate.xml"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stdout.contains("FAILED") && run.stdout.contains(&format!("✗ {SMOKE} is failing")), "{run}");
    let xml = junit(&report, &id, (2, 1, 0));
    let failure = regex::Regex::new(r#"(?s)<failure message="failing: ([^"]+)">(.*?)</failure>"#).unwrap();
    let caps = failure.captures(&xml).unwrap_or_else(|| panic!("no failure element:\n{xml}"));
    let rel = d.release(&id).await;
    let msg = item(&rel, SMOKE)["evidence"]["evidence"]["message"].as_str().unwrap().to_string();
    let escaped = msg.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    assert_eq!(&caps[1], escaped.replace('\'', "&apos;"), "the item's evidence is the failure message");
    assert!(caps[2].contains("probe: health (fail)") && caps[2].contains("HTTP status: 500"), "{xml}");
    assert!(!xml.contains("<down>"), "markup from the target is escaped:\n{xml}");
}

#[tokio::test]
async fn gate_exits_2_on_timeout_with_an_error_per_pending_item() {
    let target = FakeTarget::start();
    let fx = Fixture::new(&slow_yaml(), target.port);
    let d = Daemon::start(&fx);
    let id = release(&d, "1.4.2").await;
    let run = gate(&d, fx.path(), &id, &["--timeout", "2s", "--junit", "gate.xml"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.took >= Duration::from_secs(2) && run.took < Duration::from_secs(10), "{run}");
    assert!(run.stdout.contains(&format!("still waiting for:\n  … {SMOKE} (pending)")), "{run}");
    // Why it is still pending: its probes pass, but not 1000 times yet.
    assert!(run.stdout.contains(&format!("  … {SMOKE} (pending): latest pass: ")), "the reason: {run}");
    assert!(run.stderr.contains(&format!("gate {id}: ")) && run.stderr.contains(" left"), "progress lines: {run}");
    let xml = junit(&fx.path().join("gate.xml"), &id, (2, 0, 1));
    assert!(xml.contains(r#"<error message="timed out">still pending"#), "{xml}");
}

#[tokio::test]
async fn gate_refuses_unknown_releases_items_and_bad_flags_with_exit_1() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let id = release(&d, "1.4.2").await;
    let run = gate(&d, fx.path(), "no-such-release", &["--timeout", "5s", "--junit", "setup.xml"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("404") && run.stderr.contains("no release 'no-such-release'"), "{run}");
    let xml = junit(&fx.path().join("setup.xml"), "no-such-release", (1, 0, 1));
    assert!(xml.contains("no release"), "{xml}");

    let items = format!("{SMOKE},confirm-new-version-is-runing");
    let run = gate(&d, fx.path(), &id, &["--timeout", "5s", "--items", &items]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .contains(&format!("no item 'confirm-new-version-is-runing' in release '{id}'; did you mean '{VERSION}'?")),
        "{run}"
    );
    for bad in [&["--timeout", "soon"][..], &["--items", "a", "--section", "b"], &["--section", "Nowhere At All"]] {
        let run = gate(&d, fx.path(), &id, bad);
        assert_eq!(run.code, Some(1), "{bad:?}: {run}");
        assert!(run.took < Duration::from_secs(5), "{run}");
    }
    let run = gate(&d, fx.path(), &id, &["--section", "post deploy verifcation"]);
    assert!(run.stderr.contains("did you mean 'Post-Deploy Verification'?"), "{run}");
}

#[tokio::test]
async fn gate_on_a_section_waits_for_its_manual_items_and_history_shows_who() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let id = release(&d, "1.4.2").await;
    let rel = d.release(&id).await;
    let section: Vec<Value> = rel["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["section"] == "Post-Deploy Verification")
        .cloned()
        .collect();
    assert_eq!(section.len(), 5, "{rel}");
    let manual: Vec<String> =
        section.iter().filter(|i| i["automated"] == false).map(|i| i["id"].as_str().unwrap().into()).collect();
    assert_eq!(manual.len(), 4);

    let args = ["gate", &id, "--server", &d.url, "--interval", "200ms", "--timeout", "20s"];
    let child = spawn(
        fx.path(),
        "section",
        &[&args[..], &["--section", "post-deploy VERIFICATION", "--junit", "s.xml"]].concat(),
    );
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let url = |it: &str, verb: &str| format!("/api/v1/releases/{id}/items/{it}/{verb}");
    for it in &manual[..3] {
        let (status, body) = d.post(&url(it, "tick"), &json!({"by": "dave", "note": "looked at it"})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) =
        d.post(&url(&manual[3], "waive"), &json!({"by": "erin", "reason": "no alerts wired yet"})).await;
    assert_eq!(status, 200, "{body}");
    let run = finish(fx.path(), "section", child);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("passed — 5/5 items complete"), "{run}");
    let xml = junit(&fx.path().join("s.xml"), &id, (5, 0, 0));
    assert_eq!(xml.matches(r#"classname="Post-Deploy Verification""#).count(), 5, "{xml}");
    assert!(xml.contains("<system-out>complete by dave: looked at it</system-out>"), "{xml}");
    assert!(xml.contains("<system-out>waived by erin: no alerts wired yet</system-out>"), "{xml}");

    // An enclosing heading selects the items of every section under it (4 + 5), none of which
    // but the two automated ones can complete within a second.
    let run = gate(&d, fx.path(), &id, &["--timeout", "1s", "--section", "Deployment Execution", "--junit", "p.xml"]);
    assert_eq!(run.code, Some(2), "{run}");
    junit(&fx.path().join("p.xml"), &id, (9, 0, 3));

    let hist = shipwatch(fx.path(), &["history", &id, "--server", &d.url]);
    assert_eq!(hist.code, Some(0), "{hist}");
    assert!(hist.stdout.starts_with("WHEN (UTC)"), "{hist}");
    let line = hist.stdout.lines().find(|l| l.contains(&manual[0])).unwrap_or_else(|| panic!("{hist}"));
    assert!(line.contains("manual → complete") && line.contains("ticked by dave: looked at it"), "{line}");
    assert!(hist.stdout.contains("waived by erin: no alerts wired yet"), "{hist}");
    assert!(!hist.stdout.contains('\x1b'), "no colour when stdout is not a terminal: {hist}");
    let json = shipwatch(fx.path(), &["history", &id, "--json", "--server", &d.url]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("history --json ({e}): {json}"));
    assert!(v.as_array().unwrap().iter().any(|h| h["item_id"] == manual[3].as_str() && h["to"] == "waived"), "{v}");

    let status = shipwatch(fx.path(), &["status", &id, "--server", &d.url]);
    assert_eq!(status.code, Some(0), "{status}");
    assert!(status.stdout.contains("complete") && !status.stdout.contains('\x1b'), "{status}");
}
