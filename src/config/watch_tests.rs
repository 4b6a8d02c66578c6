//! `watch:` entries: a valid one with its defaults, and every mistake named at file:line:col
//! with a fix.

use std::time::Duration;

use super::super::{ConfigErrors, Loaded, load_with_env};

const SOURCES: &str = "checklist: checklist.md\nsources:\n  prom: { prometheus: { url: \"http://127.0.0.1:9090\" } }\n  am: { alertmanager: { url: \"http://127.0.0.1:9093\" } }\n";

fn load(watch: &str) -> Result<Loaded, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), "- [ ] Ask the PM\n").unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, format!("{SOURCES}{watch}")).unwrap();
    load_with_env(&path, &|_| None)
}

const Q: &str = "query: 'count by (version) (app_build_info{job=\"checkout\"})'";

#[test]
fn a_watch_loads_with_defaults() {
    let yaml = format!("watch:\n  checkout:\n    prometheus: {{ source: prom, {Q} }}\n    service: checkout\n");
    let c = load(&yaml).unwrap_or_else(|e| panic!("{e}")).config;
    let w = &c.watches["checkout"];
    assert_eq!((w.source.as_str(), w.service.as_str(), w.environment.as_str()), ("prom", "checkout", "production"));
    assert_eq!((w.every, w.settle), (Duration::from_secs(30), Duration::from_secs(120)));
    assert_eq!(w.version_label, "version");
    assert!(!w.start_existing);
    assert_eq!(w.window, Default::default());
}

#[test]
fn a_watch_takes_every_option() {
    let yaml = format!(
        "window: {{ min: 1h, max: 2h }}\nwatch:\n  checkout:\n    prometheus: {{ source: prom, {Q} }}\n    service: checkout\n    \
         environment: prod-eu\n    every: 10s\n    settle: 1m\n    version_label: app_version\n    \
         window: {{ min: 30m }}\n    start_existing: true\n"
    );
    let c = load(&yaml).unwrap_or_else(|e| panic!("{e}")).config;
    let w = &c.watches["checkout"];
    assert_eq!(w.environment, "prod-eu");
    assert_eq!((w.every, w.settle), (Duration::from_secs(10), Duration::from_secs(60)));
    assert_eq!(w.version_label, "app_version");
    assert_eq!(w.window.min.map(|d| d.0), Some(Duration::from_secs(1800)));
    assert!(w.start_existing);
}

#[test]
fn watch_errors_name_position_and_fix() {
    let entry = |rest: &str| {
        format!("watch:\n  checkout:\n    prometheus: {{ source: prom, {Q} }}\n    service: checkout\n{rest}")
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("wach: {}\n".into(), vec!["c.yaml:5:1: unknown top-level key 'wach'; did you mean 'watch'?"]),
        (
            entry("    setle: 2m\n"),
            vec!["c.yaml:9:5: unknown key 'setle' in watch.checkout.setle; did you mean 'settle'?"],
        ),
        (
            format!(
                "watch:\n  checkout:\n    prometheus: {{ source: prom, {Q}, timeout: 1s }}\n    service: checkout\n"
            ),
            vec![
                "c.yaml:7:95: unknown key 'timeout' in watch.checkout.prometheus.timeout; expected one of: source, query",
            ],
        ),
        (
            "watch:\n  checkout: { service: checkout }\n".into(),
            vec!["c.yaml:6:3: watch.checkout is missing 'prometheus'"],
        ),
        (
            format!("watch:\n  checkout:\n    prometheus: {{ source: prm, {Q} }}\n    service: checkout\n"),
            vec![
                "c.yaml:7:27: watch.checkout.prometheus.source: 'prm' is not defined under sources:; did you mean 'prom'?",
            ],
        ),
        (
            format!("watch:\n  checkout:\n    prometheus: {{ source: am, {Q} }}\n    service: checkout\n"),
            vec![
                "c.yaml:7:27: watch.checkout.prometheus.source: 'am' is an alertmanager source; a watch needs a prometheus source",
            ],
        ),
        (
            "watch:\n  checkout:\n    prometheus: { source: prom, query: ' ' }\n    service: checkout\n".into(),
            vec!["watch.checkout.prometheus.query: is empty; write e.g. query: 'count by (version)"],
        ),
        (entry("    every: 500ms\n"), vec!["c.yaml:9:12: watch.checkout.every: must be at least 1s"]),
        (entry("    every: 30\n"), vec!["c.yaml:9:12:", "duration 30 has no unit; write 30s"]),
        (
            entry("    every: 1m\n    settle: 30s\n"),
            vec!["c.yaml:10:13: watch.checkout.settle: 30s is shorter than every (1m)", "make settle at least 1m"],
        ),
        (
            entry("    version_label: 1version\n"),
            vec!["c.yaml:9:20: watch.checkout.version_label: \"1version\" is not a label name"],
        ),
        (
            "watch:\n  checkout:\n    prometheus: { source: prom, query: up }\n    service: Check_Out\n".into(),
            vec!["c.yaml:8:14: watch.checkout.service: "],
        ),
        (
            entry("    environment: \"prod eu\"\n"),
            vec!["c.yaml:9:18: watch.checkout.environment: environment contains ' '"],
        ),
        (
            entry("    window: { min: 3d }\n"),
            vec!["c.yaml:9:13: watch.checkout.window: min (3days) is longer than max (2days)"],
        ),
        (
            entry("    window: { mn: 1h }\n"),
            vec!["c.yaml:9:15: unknown key 'mn' in watch.checkout.window.mn; did you mean 'min'?"],
        ),
        ("watch: [checkout]\n".into(), vec!["c.yaml:5:8: watch must be a mapping of name: definition"]),
    ];
    for (yaml, want) in cases {
        let errs = load(&yaml).err().unwrap_or_else(|| panic!("should fail:\n{yaml}")).to_string();
        for w in want {
            assert!(errs.contains(w), "{yaml}\nwant {w:?} in:\n{errs}");
        }
    }
}
