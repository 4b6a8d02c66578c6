//! Loader tests: the shipped configs load; every error names file:line:col and a fix.

use std::path::Path;

use super::*;

const CHECKLIST: &str = "# Staging\n- [ ] Run smoke tests in staging environment\n# Prod\n- [ ] Confirm new version is running in production\n- [ ] Ask the PM\n";

fn load_str(yaml: &str) -> Result<Loaded, ConfigErrors> {
    load_env(yaml, &|k: &str| (k == "TOKEN").then(|| "tok-12345".to_string()))
}

fn load_env(yaml: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).unwrap();
    std::fs::create_dir(dir.path().join("probes")).unwrap();
    std::fs::write(
        dir.path().join("probes/smoke.yaml"),
        "params:\n  url: { required: true }\nprobe:\n  http: { url: \"{{ url }}\" }\n",
    )
    .unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, yaml).unwrap();
    load_with_env(&path, env)
}

const HEAD: &str = "checklist: checklist.md\n";

#[test]
fn errors_name_position_and_fix() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "items:\n  run-smoke-tests: { probes: [p] }\nprobes:\n  p: { http: { url: \"http://x\" } }\n",
            vec![
                "c.yaml:3:3: unknown item 'run-smoke-tests'",
                "did you mean 'run-smoke-tests-in-staging-environment'?",
            ],
        ),
        (
            "probes:\n  p:\n    http: { url: \"http://x\" }\n    every: 5x\n",
            vec!["c.yaml:5:12:", "invalid duration \"5x\""],
        ),
        (
            "probes:\n  p: { htp: { url: x } }\n",
            vec!["c.yaml:3:8: unknown key 'htp' in probe 'p'; did you mean 'http'?"],
        ),
        ("windw: {}\n", vec!["c.yaml:2:1: unknown top-level key 'windw'; did you mean 'window'?"]),
        (
            "metrics: { probe_histogram: false }\n",
            vec![
                "c.yaml:2:12: unknown key 'probe_histogram' in metrics.probe_histogram; did you mean 'probe_histograms'?",
            ],
        ),
        ("metrics: { probe_histograms: maybe }\n", vec!["c.yaml:2:", "metrics.probe_histograms: invalid type"]),
        ("server: { api_token: \"${NOPE}\" }\n", vec!["c.yaml:2:22:", "NOPE is not set"]),
        ("window: { min: 2h, max: 1h }\n", vec!["window.min is longer than window.max"]),
        ("probes:\n  p: { use: smoke }\n", vec!["template 'smoke' needs parameter 'url'"]),
        ("probes:\n  p: { use: smoke, with: { ur: x } }\n", vec!["has no parameter 'ur'; did you mean 'url'?"]),
        (
            "probes:\n  p: { use: smoke, with: { url: FILL_ME } }\n",
            vec![
                "c.yaml:3:33: probes.p.with.url is still FILL_ME, a placeholder `shipwatch init` left; write the value",
            ],
        ),
        ("probes:\n  p: { http: { url: \"http://x\" }, cron: \"* * *\" }\n", vec!["has 3 fields", "; write 5 fields"]),
        // A schedule that can never fire again is an error at the expression, not a probe that never runs.
        (
            "probes:\n  p: { http: { url: \"http://x\" }, cron: \"0 0 30 2 *\" }\n",
            vec![
                "c.yaml:3:41: probes.p.cron: cron expression \"0 0 30 2 *\" never fires after ",
                "; no date matches it (like February 30",
            ],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" }, cron: \"0 9 * * mon-fry\" }\n",
            vec![
                "c.yaml:3:41: probes.p.cron: cron expression \"0 9 * * mon-fry\": day-of-week \"mon-fry\": \"fry\" is not a day-of-week value; write a number 0-7 or sun-sat",
            ],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" }, every: 0s }\n",
            vec!["c.yaml:3:42: probes.p.every: must be longer than 0s; write e.g. every: 30s"],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" }, every: 1m, cron: \"* * * * *\" }\n",
            vec!["probes.p.cron: cannot go with every:", "; keep either every: or cron:"],
        ),
        ("items:\n  ask-the-pm: {}\n", vec!["item 'ask-the-pm' binds nothing"]),
        ("items:\n  ask-the-pm: { on: item.regresed }\n", vec!["did you mean 'item.regressed'?"]),
        ("items:\n  ask-the-pm: { probes: [nope] }\n", vec!["uses unknown probe 'nope'"]),
        ("checklist: missing.md\n", vec!["cannot read checklist"]),
        // Devices, FIFOs and directories are refused before reading (`/dev/zero` never ends).
        ("checklist: /dev/zero\n", vec!["c.yaml:1:12: cannot read checklist /dev/zero: not a regular file"]),
        ("checklist: .\n", vec!["not a regular file"]),
        (
            "sources:\n  am: { alertmanager: { url: \"http://x\", tls: { ca_file: /dev/zero } } }\n",
            vec!["c.yaml:3:58: source 'am': cannot read tls.ca_file /dev/zero: not a regular file"],
        ),
        // Durations past 100y overflowed wall-clock arithmetic (fuzz/regressions/config/).
        ("window: { max: 300000y }\n", vec!["c.yaml:2:16:", "is too long; the longest is 100y"]),
        (
            "probes:\n  p: { http: { url: \"http://x\" }, every: 1000000y }\n",
            vec!["c.yaml:3:42: probes.p.every: duration \"1000000y\" is too long"],
        ),
        ("probes: [1, 2]\n", vec!["probes must be a mapping"]),
        // Defect 1: a notifier named `rollback` ran the rollback command for every event routed
        // to it; the name is the hook's alone.
        (
            "notify:\n  rollback: { webhook: { url: \"http://x\" }, events: [item.failing] }\n",
            vec![
                "c.yaml:3:3: 'rollback' is reserved for the rollback hook",
                "rename this receiver, e.g. 'rollback-webhook'",
            ],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\", expect: { status: [\"2x\"] } } }\n",
            vec!["invalid status \"2x\""],
        ),
        // Freshness and coverage (issue 11).
        (
            "coverage: { min_coverage: 90 }\n",
            vec![
                "c.yaml:2:27: coverage.min_coverage must be a share between 0 and 1, not 90",
                "e.g. min_coverage: 0.9",
            ],
        ),
        ("coverage: { stale_after: 0s }\n", vec!["c.yaml:2:26: coverage.stale_after must be longer than 0s"]),
        (
            "coverage: { stale: 1m }\n",
            vec!["c.yaml:2:13: unknown key 'stale' in coverage.stale; did you mean 'stale_after'?"],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" } }\nitems:\n  ask-the-pm: { probes: [p], min_coverage: -0.1 }\n",
            vec!["c.yaml:5:44: item 'ask-the-pm': min_coverage must be a share between 0 and 1, not -0.1"],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" } }\nitems:\n  ask-the-pm: { probes: [p], stale_after: 0s }\n",
            vec!["item 'ask-the-pm': stale_after must be longer than 0s"],
        ),
        (
            "probes:\n  p: { http: { url: \"http://x\" } }\nitems:\n  ask-the-pm: { probes: [p], mode: dry }\n",
            vec!["c.yaml:5:30: unknown value 'dry' in items.ask-the-pm.mode; expected one of: gate, warn, shadow"],
        ),
        // A command probe's output format is a closed set (issue 14 §4).
        (
            "probes:\n  p:\n    command: { argv: [/usr/lib/nagios/plugins/check_tcp], format: nagio }\n",
            vec![
                "c.yaml:4:59: unknown value 'nagio' in probes.p.command.format; did you mean 'nagios'? (one of: exit, nagios)",
            ],
        ),
        (
            "probes:\n  p: { command: { argv: [x], format: json } }\n",
            vec!["c.yaml:3:30: unknown value 'json' in probes.p.command.format; expected one of: exit, nagios"],
        ),
    ];
    for (yaml, wants) in cases {
        let text = if yaml.starts_with("checklist:") { yaml.to_string() } else { format!("{HEAD}{yaml}") };
        let err = load_str(&text).expect_err(yaml).to_string();
        for w in wants {
            assert!(err.contains(w), "config:\n{text}\nwant {w:?} in:\n{err}");
        }
    }
}

#[test]
fn reports_every_error_not_just_the_first() {
    let yaml = format!(
        "{HEAD}probes:\n  a: {{ http: {{ url: x }}, every: 5x }}\nitems:\n  ask-the-pm: {{ probes: [b] }}\nbogus: 1\n"
    );
    let errs = load_str(&yaml).unwrap_err();
    // url: x and every: 5x (the same probe), the unknown probe, the unknown key.
    assert_eq!(errs.0.len(), 4, "{errs}");
}

#[test]
fn a_probe_reports_every_error_each_at_probes_name_field() {
    // (config, number of errors, texts expected in this order)
    let cases: Vec<(&str, usize, Vec<&str>)> = vec![
        // A bad kind field used to hide the schedule's error.
        (
            "probes:\n  p:\n    http: { url: \"http://x\", timeout: fast }\n    every: 0s\n",
            2,
            vec!["c.yaml:4:", "probes.p.http.timeout: ", "c.yaml:5:12: probes.p.every: must be longer than 0s"],
        ),
        // Each key is read on its own: a bad jitter does not hide a bad cron or initial_delay.
        (
            "probes:\n  p:\n    http: { url: \"http://x\" }\n    cron: \"0 0 30 2 *\"\n    jitter: soon\n    initial_delay: 5x\n",
            3,
            vec![
                "c.yaml:5:11: probes.p.cron: cron expression",
                "c.yaml:6:13: probes.p.jitter: ",
                "c.yaml:7:20: probes.p.initial_delay: ",
            ],
        ),
        // No kind, and a bad schedule.
        ("probes:\n  p:\n    every: 0s\n", 2, vec!["probe 'p' has no kind", "probes.p.every: must be longer than 0s"]),
        // A kind that fails validation, and a bad cron.
        (
            "probes:\n  p:\n    http: { url: \"not a url\" }\n    cron: \"61 * * * *\"\n",
            2,
            vec!["probes.p.http: url: cannot parse", "probes.p.cron: cron expression \"61 * * * *\": minute \"61\""],
        ),
    ];
    for (yaml, count, wants) in cases {
        let text = format!("{HEAD}{yaml}");
        let errs = load_str(&text).expect_err(yaml);
        assert_eq!(errs.0.len(), count, "config:\n{text}\nerrors:\n{errs}");
        let mut rest = errs.to_string();
        for w in wants {
            let at = rest.find(w).unwrap_or_else(|| panic!("config:\n{text}\nwant {w:?} (in order) in:\n{errs}"));
            rest = rest[at + w.len()..].to_string();
        }
    }
}

#[test]
fn good_config_resolves_by_id_and_text_and_registers_secrets() {
    let yaml = format!(
        "{HEAD}server: {{ api_token: \"${{TOKEN}}\" }}\nprobes:\n  s: {{ use: smoke, with: {{ url: \"http://h/{{{{ release.version }}}}\" }}, every: 10s }}\nitems:\n  \"Confirm new version is running in production\": {{ probes: [s], pass: {{ sustained: 1m }} }}\n"
    );
    let c = load_str(&yaml).unwrap().config;
    let b = &c.items["confirm-new-version-is-running-in-production"];
    assert_eq!(b.pass, PassRule::Sustained(std::time::Duration::from_secs(60)));
    assert_eq!(c.server.api_token.as_deref(), Some("tok-12345"));
    assert_eq!(c.redactor.redact("Bearer tok-12345"), "Bearer <redacted>");
    assert_eq!(c.probes["s"].template.as_deref(), Some("smoke"));
    assert_eq!(c.automated(), 1);
}

#[test]
fn shipped_configs_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prod = load_with_env(&root.join("config/shipwatch.yaml"), &|_| None).unwrap().config;
    assert!(prod.automated() >= 10, "production example binds {} items", prod.automated());
    let demo_env = |k: &str| match k {
        "SHIPWATCH_DEMO_TARGET" => Some("http://127.0.0.1:1".to_string()),
        "SHIPWATCH_DEMO_DATA" => Some("/tmp/x".to_string()),
        _ => None,
    };
    let demo = load_with_env(&root.join("config/demo.yaml"), &demo_env).unwrap().config;
    assert_eq!(demo.window.min.0, std::time::Duration::from_secs(20));
}

/// Issue 10, defect 7: a `${VAR}` value in a bad field was echoed in the reload 422, the log
/// and `check-config`. The error names the field and its place, never the value.
#[test]
fn errors_never_show_values_from_the_environment() {
    let env = |k: &str| match k {
        "SECRET" => Some("hunter2-very-secret".to_string()),
        "UNIT" => Some("5hunter2secret".to_string()),
        _ => None,
    };
    #[rustfmt::skip]
    let cases: &[(&str, &[&str])] = &[
        ("probes:\n  p: { http: { url: \"http://x\" }, every: \"${SECRET}\" }\n",
            &["c.yaml:3:42: probes.p.every: invalid duration \"<redacted>\" (expected number at 0); write e.g. 500ms"]),
        ("probes:\n  p: { http: { url: \"http://x\" }, every: \"${UNIT}\" }\n",
            &["c.yaml:3:42: probes.p.every: ", "${UNIT}"]),
        ("window: { max: \"${SECRET}\" }\n", &["c.yaml:2:16: window.max: "]),
        ("probes:\n  p: { use: smoke, with: { url: \"${SECRET}\" } }\n", &["c.yaml:3:"]),
        ("probes:\n  p: { http: { url: \"http://x\", expect: { status: [\"${SECRET}\"] } } }\n", &["c.yaml:3:"]),
    ];
    for (yaml, wants) in cases {
        let text = format!("{HEAD}{yaml}");
        let err = load_env(&text, &env).expect_err(yaml).to_string();
        for w in *wants {
            assert!(err.contains(w), "config:\n{text}\nwant {w:?} in:\n{err}");
        }
        for piece in ["hunter", "very-secret", "2secret"] {
            assert!(!err.contains(piece), "config:\n{text}\nshows {piece:?}:\n{err}");
        }
    }
}

/// Issue 10, defect 11: a checklist above the documented size limit is refused where the config
/// names it, with the count, the limit and how to fix it.
#[test]
fn a_checklist_above_the_size_limit_is_refused_at_the_checklist_key() {
    let dir = tempfile::tempdir().unwrap();
    let items = crate::checklist::MAX_ITEMS + 1;
    std::fs::write(dir.path().join("big.md"), "- [ ] a\n".repeat(items)).unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "checklist: big.md\n").unwrap();
    let err = load_with_env(&path, &|_: &str| None).expect_err("too many items").to_string();
    assert!(err.contains("c.yaml:1:12:") && err.contains(&format!("{items} task-list items")), "{err}");
    assert!(err.contains(&format!("limit of {}", crate::checklist::MAX_ITEMS)) && err.contains("split"), "{err}");
}

/// `stale_after` resolves binding → `coverage:` → 3 × the longest probe interval (at least 1m);
/// `min_coverage` binding → `coverage:` → 0.9; `error_limit` is a warning, not an error.
#[test]
fn freshness_defaults_resolve_per_binding() {
    let yaml = "probes:\n  fast: { http: { url: \"http://x\" }, every: 5s }\n  slow: { http: { url: \"http://x\" }, every: 2m, error_limit: 3 }\n\
                items:\n  ask-the-pm: { probes: [fast] }\n  run-smoke-tests-in-staging-environment: { probes: [fast, slow], mode: warn }\n  \
                confirm-new-version-is-running-in-production: { probes: [fast], stale_after: 10s, min_coverage: 0.5 }\n";
    let loaded = load_str(&format!("{HEAD}{yaml}")).unwrap();
    let items = &loaded.config.items;
    let b = |id: &str| (items[id].stale_after, items[id].min_coverage, items[id].mode);
    use std::time::Duration;
    assert_eq!(b("ask-the-pm"), (Duration::from_secs(60), 0.9, Mode::Gate), "3 × 5s is below the 1m floor");
    assert_eq!(b("run-smoke-tests-in-staging-environment"), (Duration::from_secs(360), 0.9, Mode::Warn));
    assert_eq!(b("confirm-new-version-is-running-in-production"), (Duration::from_secs(10), 0.5, Mode::Gate));
    assert!(
        loaded.warnings.iter().any(|w| w.to_string().contains("probes.slow.error_limit is no longer used")),
        "{:?}",
        loaded.warnings
    );
    let global = load_str(&format!("{HEAD}coverage: {{ stale_after: 20s, min_coverage: 0.75 }}\n{yaml}")).unwrap();
    let g = &global.config.items["ask-the-pm"];
    assert_eq!((g.stale_after, g.min_coverage), (Duration::from_secs(20), 0.75));
    let shadow = load_str(&format!("{HEAD}{}", yaml.replace("mode: warn", "mode: shadow"))).unwrap();
    assert!(!shadow.config.is_bound("run-smoke-tests-in-staging-environment"), "a shadow item stays manual");
    assert!(shadow.config.is_bound("ask-the-pm"));
}

#[test]
fn github_integration_and_notifier_load_with_secrets_registered_and_default_events() {
    let yaml = format!(
        "{HEAD}integrations:\n  github:\n    webhook_secret: literal-hook-secret\n    repositories: {{ \"Acme/Checkout\": checkout-api }}\n    environments: {{ Production: production }}\nnotify:\n  gh: {{ github: {{ repo: acme/checkout, token: \"${{TOKEN}}\" }} }}\n  quiet: {{ github: {{ repo: acme/checkout, token: ghp-literal-token, api_url: \"https://ghe.example/api/v3\" }}, events: [release.failed] }}\n"
    );
    let c = load_str(&yaml).unwrap().config;
    let gh = c.integrations.github.as_ref().unwrap();
    assert_eq!(gh.service_of("acme/checkout"), Some("checkout-api"), "repositories match ignoring case");
    assert_eq!(gh.environment_of("Production"), Some("production"));
    use crate::event::EventKind::*;
    assert_eq!(c.notify["gh"].events, vec![ReleaseDeployed, ReleaseVerified, ReleaseFailed, ReleaseInconclusive]);
    assert_eq!(c.notify["quiet"].events, vec![ReleaseFailed, ReleaseInconclusive], "listed events replace the default");
    let text = "literal-hook-secret tok-12345 ghp-literal-token";
    assert_eq!(c.redactor.redact(text), "<redacted> <redacted> <redacted>", "written in the file or not");
    assert!(load_str(HEAD).unwrap().config.integrations.github.is_none());
}

#[test]
fn github_settings_errors_name_the_field_and_a_fix() {
    #[rustfmt::skip]
    let cases: &[(&str, &[&str])] = &[
        ("integrations: { github: { webhook_secret: \"\" } }\n",
            &["c.yaml:2:43: integrations.github.webhook_secret is empty", "${GITHUB_WEBHOOK_SECRET}"]),
        ("integrations: { github: {} }\n", &["integrations.github is missing 'webhook_secret'"]),
        ("integrations: { github: { webhook_secret: x, repos: {} } }\n",
            &["c.yaml:2:46: unknown key 'repos'", "did you mean 'repositories'?"]),
        ("integrations: { gitlab: {} }\n", &["unknown key 'gitlab'", "did you mean 'github'?"]),
        ("integrations: { github: { webhook_secret: x, repositories: { checkout: api } } }\n",
            &["integrations.github.repositories: 'checkout' is not owner/name", "e.g. \"acme/checkout\""]),
        ("integrations: { github: { webhook_secret: x, repositories: { a/b: API } } }\n",
            &["integrations.github.repositories.a/b: service has uppercase letters; write it in lowercase (api)"]),
        ("integrations: { github: { webhook_secret: x, repositories: { a/b: x, A/B: z } } }\n",
            &["names 'a/b' and 'A/B', one repository"]),
        ("integrations: { github: { webhook_secret: x, environments: { Prod: prod/eu } } }\n",
            &["integrations.github.environments.Prod: environment contains '/'"]),
        ("notify:\n  gh: { github: { repo: checkout, token: t } }\n",
            &["c.yaml:3:25: notifier 'gh': github.repo 'checkout' is not owner/name", "repo: acme/checkout"]),
        ("notify:\n  gh: { github: { repo: a/.., token: t } }\n", &["github.repo name '..'"]),
        ("notify:\n  gh: { github: { repo: a/b, token: \" \" } }\n", &["github.token is empty", "${GITHUB_TOKEN}"]),
        ("notify:\n  gh: { github: { repo: a/b } }\n", &["notify.gh.github is missing 'token'"]),
        ("notify:\n  gh: { github: { repo: a/b, token: t, api_url: \"ftp://x\" } }\n",
            &["github.api_url has scheme ftp", "https://github.example.com/api/v3"]),
        ("notify:\n  gh: { github: { repo: a/b, token: t, api_url: \"https://x/api?y=1\" } }\n",
            &["github.api_url has a query"]),
        ("notify:\n  gh: { gitub: { repo: a/b, token: t } }\n", &["unknown key 'gitub' in receiver 'gh'; did you mean 'github'?"]),
    ];
    for (yaml, wants) in cases {
        let err = load_str(&format!("{HEAD}{yaml}")).unwrap_err().to_string();
        for w in *wants {
            assert!(err.contains(w), "{yaml}: {err}\nlacks: {w}");
        }
    }
}
