//! The recognition table, case by case: item text (and sections) → rules, environment, or why
//! it stays manual.

use super::*;
use crate::config::template::Templates;

/// What [`recognise`] should say: the rule names, or `manual:PHRASE` / `manual` (no rule).
fn describe(r: &Recognition) -> String {
    match r {
        Recognition::Automated { rules, env, unmeasured } => {
            let names: Vec<&str> = rules.iter().map(|r| r.name).collect();
            let env = if *env == Env::Staging { " @staging" } else { "" };
            let un = if unmeasured.is_empty() { String::new() } else { format!(" !{}", unmeasured.join(",")) };
            format!("{}{env}{un}", names.join("+"))
        }
        Recognition::Manual { needs_person: Some((phrase, _)) } => format!("manual:{phrase}"),
        Recognition::Manual { needs_person: None } => "manual".into(),
    }
}

#[test]
fn items_are_recognised_by_their_words() {
    let cases: &[(&str, &[&str], &str)] = &[
        // Smoke tests and endpoints, staging by text or by section; production text wins.
        ("Run smoke tests in staging environment", &[], "smoke @staging"),
        ("Run post-deploy smoke tests on production", &["Staging Validation"], "smoke"),
        ("Smoke-test the checkout", &[], "smoke"),
        ("Health check endpoint returns 200", &[], "smoke"),
        (
            "Validate critical user flows and API endpoints",
            &["Staging Validation", "Smoke Tests"],
            "critical-endpoint @staging",
        ),
        ("Validate critical functionality is working", &[], "critical-endpoint"),
        ("Confirm new version is running in production", &[], "version-live"),
        ("Deployed version matches the release tag", &[], "version-live"),
        // Metrics.
        ("Review error rates and system health metrics", &[], "error-rate"),
        ("5xx ratio below 1%", &[], "error-rate"),
        ("Error budget burn is within SLO", &[], "slo"),
        ("Verify performance and latency are acceptable", &["Staging Validation"], "latency @staging"),
        ("p99 response time under 300ms", &[], "latency"),
        ("Confirm no unexpected alerts or incidents", &[], "alerts-firing"),
        ("No alerts firing for the service", &[], "alerts-firing"),
        ("Confirm alerting rules are configured and tested", &[], "alert-rules !tested"),
        ("Confirm all required services and dependencies are available", &[], "target-up"),
        ("All pods are running and ready", &[], "target-up"),
        ("Check resource capacity (CPU, memory, storage, bandwidth)", &[], "cpu+memory !storage,bandwidth"),
        ("No OOM kills after rollout", &[], "memory"),
        ("Monitor system for 24-48 hours post-release", &[], "monitor-errors+monitor-alerts"),
        // Words that look close but are not the same thing.
        ("Monitor deployment progress and logs in real-time", &[], "manual"),
        ("Confirm all automated tests are passing", &[], "manual"),
        ("Check integration points with external services", &[], "manual"),
        ("Verify deployment completes without errors", &[], "manual"),
        ("Slow down the rollout if needed", &[], "manual"),
        ("Notion page is up to date", &[], "manual"),
        // A person's work stays manual whatever it mentions.
        ("Track key metrics (error rates, performance, user feedback)", &[], "manual:user feedback"),
        ("Document known issues or workarounds", &[], "manual:document"),
        ("Notify on-call if error rates rise", &[], "manual:notify"),
        ("Check monitoring dashboards for anomalies", &[], "manual:dashboard*"),
        ("Set up release-specific metrics or dashboards", &[], "manual:set up"),
        ("Schedule post-release review with team", &[], "manual:schedule*"),
        ("Get sign-off from the product owner", &[], "manual:sign off"),
        ("Execute documented rollback procedure", &[], "manual"),
        ("", &[], "manual"),
    ];
    for (text, sections, want) in cases {
        let sections: Vec<String> = sections.iter().map(|s| s.to_string()).collect();
        assert_eq!(describe(&recognise(text, &sections)), *want, "{text:?} in {sections:?}");
    }
}

#[test]
fn phrases_match_whole_words_or_marked_prefixes() {
    let cases: &[(&str, &str, bool)] = &[
        ("smoke tests", "smoke test*", true),
        ("smoke-testing", "smoke test*", true),
        ("smoke test", "smoke test", true),
        ("smoke tests", "smoke test", false),
        ("slow", "slo", false),
        ("our SLO", "slo", true),
        ("CI/CD", "ci cd", true),
        ("notify", "no alert*", false),
        ("no alerts", "no alert*", true),
        ("smoke", "smoke test*", false),
    ];
    for (text, phrase, want) in cases {
        assert_eq!(has_phrase(&words(text), phrase), *want, "{phrase:?} in {text:?}");
    }
}

#[test]
fn stricter_pass_rule_wins() {
    use Pass::*;
    let cases = [
        (Consecutive(1), Consecutive(3), Consecutive(3)),
        (Consecutive(3), Sustained("10m"), Sustained("10m")),
        (Sustained("30m"), Sustained("15m"), Sustained("30m")),
        (Sustained("15m"), Sustained("1h"), Sustained("1h")),
        (Sustained("1h"), Window, Window),
        (Window, Consecutive(2), Window),
    ];
    for (a, b, want) in cases {
        assert_eq!(a.stricter(b), want, "{a:?} vs {b:?}");
        assert_eq!(b.stricter(a), want, "{b:?} vs {a:?}");
    }
}

/// Every rule names a built-in template and only parameters it has, with JSON values; rules
/// sharing a probe name agree on its template and parameters.
#[test]
fn rules_fit_the_builtin_templates() {
    let t = Templates::builtin();
    for r in RULES {
        let doc = t.doc(r.template).unwrap_or_else(|e| panic!("rule {}: {e}", r.name));
        for p in r.with {
            assert!(
                doc.params.contains_key(p.name),
                "rule {}: template {} has no param {}",
                r.name,
                r.template,
                p.name
            );
            if let Some(v) = p.value {
                serde_json::from_str::<serde_json::Value>(v)
                    .unwrap_or_else(|e| panic!("rule {} {}: {e}", r.name, p.name));
            }
            assert!(!p.note.is_empty() && !p.note.contains('\n'), "rule {} {}: note", r.name, p.name);
        }
        if let Some(every) = r.every {
            humantime::parse_duration(every).unwrap_or_else(|e| panic!("rule {}: every {every}: {e}", r.name));
        }
        if let Pass::Sustained(d) = r.pass {
            humantime::parse_duration(d).unwrap_or_else(|e| panic!("rule {}: pass {d}: {e}", r.name));
        }
        for other in RULES.iter().filter(|o| o.probe == r.probe) {
            let key = |r: &Rule| (r.template, r.every, r.with.iter().map(|p| (p.name, p.value)).collect::<Vec<_>>());
            assert_eq!(key(r), key(other), "rules {} and {} share probe {}", r.name, other.name, r.probe);
        }
    }
}
