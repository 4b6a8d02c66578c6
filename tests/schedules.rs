//! `shipwatch check-config --schedules`: each probe's schedule as written, its jitter and
//! initial delay, and its next 3 fire times in UTC; a cron expression that can never fire is an
//! error at its `file:line:col`.

mod common;

use std::process::{Command, Output, Stdio};

use chrono::{Datelike, NaiveDateTime, Weekday};
use common::{BIN, Fixture};

const YAML: &str = r#"checklist: checklist.md
probes:
  health:
    http: { url: "http://127.0.0.1:9/healthz" }
    every: 30s
    initial_delay: 1m
  weekdays:
    http: { url: "http://127.0.0.1:9/" }
    cron: "0 9 * * 1-5"
    jitter: 0s
  new-year:
    http: { url: "http://127.0.0.1:9/" }
    cron: "0 0 0 1 1 * 2098,2099"
items:
  run-post-deploy-smoke-tests-on-production: { probes: [health, weekdays, new-year] }
"#;

/// `shipwatch check-config --config shipwatch.yaml ARGS` in the fixture's directory.
fn check_config(fx: &Fixture, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["check-config", "--config", "shipwatch.yaml"])
        .args(args)
        .current_dir(fx.path())
        .stdin(Stdio::null())
        .output()
        .expect("run shipwatch")
}

/// The indented lines after the line that starts with `  {head}`, up to the next probe.
fn block<'a>(stdout: &'a str, head: &str) -> (&'a str, Vec<&'a str>) {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(&format!("  {head}")));
    let first = lines.next().unwrap_or_else(|| panic!("no line starting with {head:?} in:\n{stdout}"));
    (first, lines.take_while(|l| l.starts_with("    ")).map(str::trim).collect())
}

fn time(line: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(line, "%a %Y-%m-%d %H:%M:%S UTC").unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn schedules_prints_each_probe_and_its_next_three_fire_times() {
    let fx = Fixture::new(YAML, 1);
    let out = check_config(&fx, &["--schedules"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n--- stderr ---\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(stdout.contains("shipwatch.yaml: OK"), "{all}");
    assert!(stdout.contains("Schedules (UTC; next 3 fire times after "), "{all}");

    // every: the interval, its extras, and three example times 30 s apart.
    let (head, lines) = block(&stdout, "health:");
    assert_eq!(head, "  health: every: 30s, jitter: 3s, initial_delay: 1m", "{all}");
    assert_eq!(lines[0], "runs every 30s after deploy; from now that would be:", "{all}");
    let times: Vec<NaiveDateTime> = lines[1..].iter().map(|l| time(l)).collect();
    assert_eq!(times.len(), 3, "{all}");
    assert!(times.windows(2).all(|w| w[1] - w[0] == chrono::Duration::seconds(30)), "{all}");

    // cron: the expression as written; three weekday mornings in a row, never Sat/Sun.
    let (head, lines) = block(&stdout, "weekdays:");
    assert_eq!(head, "  weekdays: cron: \"0 9 * * 1-5\"", "jitter 0s is not shown: {all}");
    let times: Vec<NaiveDateTime> = lines.iter().map(|l| time(l)).collect();
    assert_eq!(times.len(), 3, "{all}");
    for (t, line) in times.iter().zip(&lines) {
        assert_eq!(t.format("%H:%M:%S").to_string(), "09:00:00", "{line}");
        assert!(!matches!(t.weekday(), Weekday::Sat | Weekday::Sun), "{line} is on a weekend");
        assert!(line.starts_with(&t.weekday().to_string()), "{line} names its weekday");
    }
    assert!(times.windows(2).all(|w| w[0] < w[1] && w[1] - w[0] <= chrono::Duration::days(3)), "{all}");

    // A schedule with a year: exact times, then the end.
    let (head, lines) = block(&stdout, "new-year:");
    assert_eq!(head, "  new-year: cron: \"0 0 0 1 1 * 2098,2099\", jitter: 5s", "{all}");
    assert_eq!(lines, ["Wed 2098-01-01 00:00:00 UTC", "Thu 2099-01-01 00:00:00 UTC", "(no further runs)"], "{all}");

    // Without the flag, no listing.
    let plain = check_config(&fx, &[]);
    assert_eq!(plain.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("Schedules"));
}

#[test]
fn a_cron_expression_that_never_fires_is_an_error_at_its_position() {
    let yaml = YAML.replace("0 0 0 1 1 * 2098,2099", "0 0 30 2 *");
    let fx = Fixture::new(&yaml, 1);
    let out = check_config(&fx, &["--schedules"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let (line, col) =
        yaml.lines().enumerate().find_map(|(i, l)| l.find("\"0 0 30 2 *\"").map(|c| (i + 1, c + 1))).unwrap();
    let want =
        format!("shipwatch.yaml:{line}:{col}: probes.new-year.cron: cron expression \"0 0 30 2 *\" never fires after ");
    assert!(stderr.contains(&want), "want {want:?} in:\n{stderr}");
    assert!(stderr.contains("like February 30"), "the error suggests what to check:\n{stderr}");
    assert!(!stdout.contains("Schedules"), "no listing for a broken config:\n{stdout}");
}
