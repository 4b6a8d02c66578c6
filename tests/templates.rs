//! The probe templates shipped in `probes/` and the example production config: every template
//! expands (with minimal params) into the probe kind and fields it documents, a missing or
//! misspelt parameter is an error naming the template and the parameter, and
//! `config/shipwatch.yaml` loads in a clean environment with most of the checklist automated.
//! No network: loading a config never contacts a source.

use std::path::{Path, PathBuf};

use shipwatch::config::{Config, load_with_env};
use shipwatch::probe::ProbeKind;
use shipwatch::probe::alert_rules::RulesProbe;
use shipwatch::probe::alerts::{AlertsProbe, Since};
use shipwatch::probe::command::{CommandProbe, Format};
use shipwatch::probe::http::HttpProbe;
use shipwatch::probe::prometheus::{NoData, PromProbe};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every template this file tests; `every_template_is_tested` keeps it in step with `probes/`.
const TEMPLATES: &[&str] = &[
    "alert-rules-loaded",
    "error-ratio",
    "http-smoke",
    "latency-p99",
    "memory-headroom",
    "no-new-alerts",
    "saturation",
    "slo-burn",
    "target-up",
    "tcp-port",
    "version-live",
];

/// Load a config with sources `prom`/`am`, the real templates and a copy of the real checklist,
/// defining probe `x` as `use: <template>` with `with: <with>` (a YAML flow mapping).
fn load_template(template: &str, with: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("config/release-checklist.md"), dir.path().join("release-checklist.md")).unwrap();
    let yaml = format!(
        "checklist: release-checklist.md\n\
         templates: {templates:?}\n\
         storage: {{ sqlite: {db:?} }}\n\
         sources:\n\
         \x20 prom: {{ prometheus: {{ url: \"http://127.0.0.1:9090\" }} }}\n\
         \x20 am: {{ alertmanager: {{ url: \"http://127.0.0.1:9093\" }} }}\n\
         probes:\n\
         \x20 x:\n\
         \x20   use: {template}\n\
         \x20   with: {with}\n\
         \x20   every: 1m\n\
         items:\n\
         \x20 run-post-deploy-smoke-tests-on-production: {{ probes: [x] }}\n",
        templates = root().join("probes").display().to_string(),
        db = dir.path().join("shipwatch.db").display().to_string(),
    );
    let path = dir.path().join("shipwatch.yaml");
    std::fs::write(&path, yaml).unwrap();
    load_with_env(&path, &|_| None).map(|l| l.config).map_err(|e| e.to_string())
}

fn expand(template: &str, with: &str) -> ProbeKind {
    let cfg = load_template(template, with).unwrap_or_else(|e| panic!("{template} with {with}: {e}"));
    let def = &cfg.probes["x"];
    assert_eq!(def.template.as_deref(), Some(template));
    def.kind.clone()
}

fn prom(template: &str, with: &str) -> PromProbe {
    match expand(template, with) {
        ProbeKind::Prometheus(p) => p,
        other => panic!("{template}: expected a prometheus probe, got {}", other.name()),
    }
}

fn http(template: &str, with: &str) -> HttpProbe {
    match expand(template, with) {
        ProbeKind::Http(p) => p,
        other => panic!("{template}: expected an http probe, got {}", other.name()),
    }
}

fn cond(p: &PromProbe) -> String {
    p.condition.map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn every_template_is_tested() {
    let mut found: Vec<String> = std::fs::read_dir(root().join("probes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, TEMPLATES, "probes/ and the TEMPLATES list of this test differ");
}

#[test]
fn every_template_documents_itself() {
    for t in TEMPLATES {
        let text = std::fs::read_to_string(root().join("probes").join(format!("{t}.yaml"))).unwrap();
        assert!(text.starts_with(&format!("# {t}:")), "{t}: header comment must start with '# {t}:'");
        assert!(text.contains(&format!("use: {t}")), "{t}: header comment needs an example with use: {t}");
        assert!(text.contains("\ndescription:"), "{t}: needs a description");
    }
}

#[test]
fn http_smoke_expands() {
    let p = http("http-smoke", "{ url: \"https://api.example.com/healthz\" }");
    assert_eq!(p.url, "https://api.example.com/healthz");
    assert_eq!(p.timeout.map(|d| d.0), Some(std::time::Duration::from_secs(10)));
    assert_eq!(p.expect.max_latency.map(|d| d.0), Some(std::time::Duration::from_secs(2)));
    assert!(p.expect.status.as_ref().is_some_and(|s| s.len() == 1));
}

fn command(template: &str, with: &str) -> CommandProbe {
    match expand(template, with) {
        ProbeKind::Command(p) => p,
        other => panic!("{template}: expected a command probe, got {}", other.name()),
    }
}

#[test]
fn tcp_port_expands_to_check_tcp_as_a_nagios_plugin() {
    let p = command("tcp-port", "{ host: db.internal, port: 5432 }");
    assert_eq!(p.format, Format::Nagios);
    #[rustfmt::skip]
    let want = ["/usr/lib/nagios/plugins/check_tcp", "--hostname=db.internal", "--port=5432", "--warning=1",
        "--critical=5", "--timeout=10"];
    assert_eq!(p.argv, want);
    assert_eq!(p.timeout(), std::time::Duration::from_secs(15), "check_tcp's timeout plus 5s");
    let p = command("tcp-port", "{ host: q, port: 5672, timeout: 3, warning: 0.5, plugins: /opt/plugins }");
    assert_eq!(p.argv[0], "/opt/plugins/check_tcp");
    assert_eq!((p.argv[3].as_str(), p.argv[5].as_str()), ("--warning=0.5", "--timeout=3"));
    assert_eq!(p.timeout(), std::time::Duration::from_secs(8));
}

#[test]
fn tcp_port_needs_its_params() {
    assert_missing("tcp-port");
}

#[test]
fn version_live_expands_and_keeps_the_release_placeholder() {
    let p = http("version-live", "{ url: \"https://api.example.com/version\" }");
    assert_eq!(p.url, "https://api.example.com/version");
    assert_eq!(p.expect.json.get("$.version"), Some(&serde_json::json!("{{ release.version }}")));
    let p = http("version-live", "{ url: \"https://api.example.com/v\", path: \"$.build.version\" }");
    assert!(p.expect.json.contains_key("$.build.version"), "{:?}", p.expect.json);
}

#[test]
fn error_ratio_expands() {
    let p = prom("error-ratio", "{ job: api }");
    assert_eq!(p.source, "prom");
    assert_eq!(
        p.query,
        r#"sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="api"}[5m]))"#
    );
    assert_eq!(cond(&p), "< 0.01");
    assert_eq!(p.max_increase, Some(1.5));
    assert_eq!(p.max_delta, None);
    assert_eq!(p.no_data, NoData::Error);

    let p = prom(
        "error-ratio",
        "{ job: web, max: 0.05, max_increase: null, range: 10m, status_label: status, metric: requests_total, \
         selector: 'route!=\"/healthz\"', source: prom }",
    );
    assert_eq!(
        p.query,
        r#"sum(rate(requests_total{job="web",status=~"5..",route!="/healthz"}[10m])) / sum(rate(requests_total{job="web",route!="/healthz"}[10m]))"#
    );
    assert_eq!(cond(&p), "< 0.05");
    assert_eq!(p.max_increase, None);
}

#[test]
fn latency_p99_expands() {
    let p = prom("latency-p99", "{ job: api }");
    assert_eq!(
        p.query,
        r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))"#
    );
    assert_eq!(cond(&p), "< 0.5");
    assert_eq!(p.max_increase, None, "max_increase defaults to none");
    let p = prom("latency-p99", "{ job: api, max: 0.3, max_increase: 1.2, selector: 'environment=\"staging\"' }");
    assert!(p.query.contains(r#"{job="api",environment="staging"}"#), "{}", p.query);
    assert_eq!(cond(&p), "< 0.3");
    assert_eq!(p.max_increase, Some(1.2));
}

/// `min_traffic` is off (`min: null`) unless set; its query defaults to the job's request rate.
#[test]
fn min_traffic_renders_in_error_ratio_and_latency_p99() {
    let rate = |m: &str, sel: &str| format!(r#"sum(rate({m}{{job="api"{sel}}}[5m]))"#);
    let (req, count) = ("http_requests_total", "http_request_duration_seconds_count");
    let own = r#"sum(rate(x{job="{{ release.service }}"}[1m]))"#;
    let own_q = format!("{{ job: api, min_traffic: 0.5, traffic_query: '{own}' }}");
    for (t, with, min, query) in [
        ("error-ratio", "{ job: api }", None, rate(req, "")),
        ("error-ratio", r#"{ job: api, min_traffic: 1, selector: 'a!="b"' }"#, Some(1.0), rate(req, r#",a!="b""#)),
        ("error-ratio", &own_q, Some(0.5), own.into()),
        ("latency-p99", "{ job: api }", None, rate(count, "")),
        ("latency-p99", "{ job: api, min_traffic: 2 }", Some(2.0), rate(count, "")),
    ] {
        let p = prom(t, with);
        let mt = p.min_traffic.as_ref().unwrap_or_else(|| panic!("{t} {with}: no min_traffic"));
        assert_eq!((mt.min, mt.query.as_str()), (min, query.as_str()), "{t} {with}");
    }
}

/// `{{ window }}` survives the template (a `raw` block) for the probe to fill per burn window.
#[test]
fn slo_burn_expands() {
    let ProbeKind::Slo(p) = expand("slo-burn", "{ job: api }") else { panic!("slo-burn: expected an slo probe") };
    assert_eq!(p.source, "prom");
    assert!((p.objective.0 - 0.999).abs() < 1e-12, "{:?}", p.objective);
    assert_eq!(p.errors, r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{ window }}])) or vector(0)"#);
    assert_eq!(p.total, r#"sum(rate(http_requests_total{job="api"}[{{ window }}]))"#);
    assert_eq!((p.windows.clone(), p.period()), (None, std::time::Duration::from_secs(30 * 86400)));
    let ProbeKind::Slo(p) = expand(
        "slo-burn",
        "{ job: web, objective: 99%, selector: 'route!=\"/healthz\"', windows: [{ long: 20s, short: 5s, factor: 2 }] }",
    ) else {
        panic!("slo-burn: expected an slo probe");
    };
    assert!(p.total.contains(r#"{job="web",route!="/healthz"}"#), "{}", p.total);
    assert_eq!(p.windows.as_ref().map(Vec::len), Some(1));
    assert!((p.objective.0 - 0.99).abs() < 1e-12);
}

#[test]
fn saturation_expands() {
    let p = prom("saturation", "{ job: api }");
    assert_eq!(p.query, r#"max(rate(process_cpu_seconds_total{job="api"}[5m]))"#);
    assert_eq!(cond(&p), "< 0.8");
    assert_eq!(p.max_increase, None);
    let p = prom("saturation", "{ job: api, cpu_max: 2, max_increase: 1.3 }");
    assert_eq!(cond(&p), "< 2");
    assert_eq!(p.max_increase, Some(1.3));
}

#[test]
fn memory_headroom_expands() {
    let p = prom("memory-headroom", "{ job: api, limit_bytes: 2147483648 }");
    assert_eq!(p.query, r#"max(process_resident_memory_bytes{job="api"}) / 2147483648"#);
    assert_eq!(cond(&p), "< 0.85");
}

#[test]
fn target_up_expands() {
    let p = prom("target-up", "{ job: postgres }");
    assert_eq!(p.query, r#"min(up{job="postgres"})"#);
    assert_eq!(cond(&p), "== 1");
    assert_eq!(p.no_data, NoData::Fail, "a job without targets is a failure");
}

#[test]
fn no_new_alerts_expands() {
    let ProbeKind::Alerts(AlertsProbe { source, matchers, since, include_silenced, .. }) =
        expand("no-new-alerts", "{}")
    else {
        panic!("no-new-alerts: expected an alerts probe");
    };
    assert_eq!((source.as_str(), matchers.len(), since, include_silenced), ("am", 0, Since::Deploy, false));
    let kind = expand("no-new-alerts", "{ matchers: ['service=\"api\"', 'severity=~\"page|critical\"'], since: any }");
    assert_eq!(kind.name(), "alerts");
    let ProbeKind::Alerts(p) = kind else { unreachable!() };
    assert_eq!(p.matchers, vec![r#"service="api""#.to_string(), r#"severity=~"page|critical""#.to_string()]);
    assert_eq!(p.since, Since::Any);
}

#[test]
fn alert_rules_loaded_expands() {
    let kind = expand("alert-rules-loaded", "{}");
    assert_eq!(kind.name(), "rules");
    let ProbeKind::Rules(RulesProbe { source, names, matchers, min_rules, .. }) = kind else { unreachable!() };
    assert_eq!((source.as_str(), names.len(), matchers.len(), min_rules), ("prom", 0, 0, Some(1)));
    let ProbeKind::Rules(p) =
        expand("alert-rules-loaded", "{ names: [ApiHighErrorRate], matchers: ['service=\"api\"'], min_rules: 3 }")
    else {
        panic!("alert-rules-loaded: expected a rules probe");
    };
    assert_eq!(p.names, vec!["ApiHighErrorRate".to_string()]);
    assert_eq!(p.matchers, vec![r#"service="api""#.to_string()]);
    assert_eq!(p.min_rules, Some(3));
}

#[test]
fn the_source_param_picks_the_source() {
    // Only a `thanos` source: `source: thanos` uses it, the default `prom` is reported missing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("config/release-checklist.md"), dir.path().join("release-checklist.md")).unwrap();
    let yaml = format!(
        "templates: {:?}\nsources:\n  thanos: {{ prometheus: {{ url: \"http://127.0.0.1:19090\" }} }}\n\
         probes:\n  x: {{ use: target-up, with: {{ job: api, source: thanos }} }}\n\
         \x20 y: {{ use: target-up, with: {{ job: api }} }}\n",
        root().join("probes").display().to_string()
    );
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, yaml).unwrap();
    let err = load_with_env(&path, &|_| None).unwrap_err().to_string();
    assert!(err.contains("probe 'y' uses source 'prom'"), "{err}");
    assert!(!err.contains("probe 'x'"), "{err}");
}

/// (template, a complete `with:`, its required params).
const REQUIRED: &[(&str, &str, &[&str])] = &[
    ("http-smoke", "{ url: \"http://x\" }", &["url"]),
    ("version-live", "{ url: \"http://x\" }", &["url"]),
    ("error-ratio", "{ job: api }", &["job"]),
    ("latency-p99", "{ job: api }", &["job"]),
    ("saturation", "{ job: api }", &["job"]),
    ("memory-headroom", "{ job: api, limit_bytes: 1024 }", &["job", "limit_bytes"]),
    ("slo-burn", "{ job: api }", &["job"]),
    ("target-up", "{ job: api }", &["job"]),
    ("tcp-port", "{ host: db.internal, port: 5432 }", &["host", "port"]),
    ("no-new-alerts", "{}", &[]),
    ("alert-rules-loaded", "{}", &[]),
];

/// `with` (a flow mapping of `key: value` pairs) without `key`.
fn without(with: &str, key: &str) -> String {
    let inner = with.trim().trim_start_matches('{').trim_end_matches('}');
    let kept: Vec<&str> =
        inner.split(", ").map(str::trim).filter(|kv| !kv.is_empty() && !kv.starts_with(&format!("{key}:"))).collect();
    format!("{{ {} }}", kept.join(", "))
}

/// `with` plus one more `key: value` pair.
fn with_extra(with: &str, pair: &str) -> String {
    let inner = with.trim().trim_start_matches('{').trim_end_matches('}').trim();
    if inner.is_empty() { format!("{{ {pair} }}") } else { format!("{{ {inner}, {pair} }}") }
}

fn assert_missing(template: &str) {
    let (_, with, required) = REQUIRED.iter().find(|(t, ..)| *t == template).unwrap();
    load_template(template, with).unwrap_or_else(|e| panic!("{template} with {with}: {e}"));
    for param in *required {
        let w = without(with, param);
        let err = load_template(template, &w).expect_err(&format!("{template} without {param} must fail"));
        assert!(
            err.contains(&format!("template '{template}' needs parameter '{param}'")),
            "{template} without {param}: {err}"
        );
        assert!(err.contains("probe 'x'"), "{template}: the error names the probe: {err}");
    }
    // A misspelt parameter is an error too, naming template and parameter.
    let w = with_extra(with, "bogus_param: 1");
    let err = load_template(template, &w).expect_err(&format!("{template} with {w} must fail"));
    assert!(err.contains(&format!("template '{template}' has no parameter 'bogus_param'")), "{template}: {err}");
}

#[test]
fn http_smoke_needs_its_params() {
    assert_missing("http-smoke");
}

#[test]
fn version_live_needs_its_params() {
    assert_missing("version-live");
}

#[test]
fn error_ratio_needs_its_params() {
    assert_missing("error-ratio");
}

#[test]
fn latency_p99_needs_its_params() {
    assert_missing("latency-p99");
}

#[test]
fn saturation_needs_its_params() {
    assert_missing("saturation");
}

#[test]
fn memory_headroom_needs_its_params() {
    assert_missing("memory-headroom");
}

#[test]
fn slo_burn_needs_its_params() {
    assert_missing("slo-burn");
}

#[test]
fn target_up_needs_its_params() {
    assert_missing("target-up");
}

#[test]
fn no_new_alerts_rejects_unknown_params() {
    assert_missing("no-new-alerts");
}

#[test]
fn alert_rules_loaded_rejects_unknown_params() {
    assert_missing("alert-rules-loaded");
}

#[test]
fn every_template_is_in_the_required_table() {
    let mut listed: Vec<&str> = REQUIRED.iter().map(|(t, ..)| *t).collect();
    listed.sort();
    assert_eq!(listed, TEMPLATES);
}

fn production() -> Config {
    let path: &Path = &root().join("config/shipwatch.yaml");
    load_with_env(path, &|_| None)
        .unwrap_or_else(|e| panic!("config/shipwatch.yaml in a clean environment:\n{e}"))
        .config
}

#[test]
fn production_config_loads_and_automates_most_of_the_checklist() {
    let cfg = production();
    let total = cfg.checklist.items.len();
    let actions = cfg.items.values().filter(|b| b.on.is_some()).count();
    let automated = cfg.automated() + actions;
    assert_eq!(total, 50, "the example checklist has 50 items");
    assert!(automated >= 25, "only {automated} of {total} items automated");
    assert!(automated < total, "items that need a person must stay manual");
    assert!(actions >= 4, "announce / tracker / support / incident response are event actions");
    // The example shows every template in use.
    for t in TEMPLATES {
        assert!(cfg.probes.values().any(|p| p.template.as_deref() == Some(*t)), "template {t} is unused");
    }
    // Every probe is bound to some item.
    for name in cfg.probes.keys() {
        assert!(cfg.items.values().any(|b| b.probes.contains(name)), "probe {name} is bound to no item");
    }
}

#[test]
fn production_config_keeps_secrets_out_of_the_file() {
    let text = std::fs::read_to_string(root().join("config/shipwatch.yaml")).unwrap();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for key in ["api_token:", "bearer_token:", "secret:", "password:", "Authorization:"] {
            if let Some((_, value)) = line.split_once(key) {
                assert!(value.contains("${"), "{key} must come from the environment: {line}");
            }
        }
    }
    // A variable that is set is used instead of its default.
    let path = root().join("config/shipwatch.yaml");
    let cfg = load_with_env(&path, &|k| (k == "PROMETHEUS_URL").then(|| "http://prom.internal:9090".to_string()))
        .unwrap()
        .config;
    assert_eq!(cfg.sources["prom"].endpoint().url, "http://prom.internal:9090");
}
