//! `rules` probe: alerting rules are loaded and healthy ("Confirm alerting rules are configured
//! and tested").
//!
//! Reads `/api/v1/rules?type=alert` from a Prometheus source. The selected rules are the alerting
//! rules whose labels match every matcher, plus every rule listed in `names`; with neither
//! matchers nor names, every alerting rule is selected. The probe fails when a named rule is
//! missing (suggesting a close name), when fewer than `min_rules` (default 1) rules are selected,
//! or when a selected rule's health is not `ok`. A source that cannot be read is `error`.
//! [`RulesProbe::decide`] is the pure decision over parsed rules.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::matcher::{self, Matcher};
use super::source::SourceClient;
use super::{Dur, Evidence, Outcome, RunContext, Runtime};

/// Messages are cut to about this many characters.
const MAX_MESSAGE: usize = 300;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesProbe {
    /// A `prometheus` source.
    pub source: String,
    /// Alerting rule names that must be loaded.
    #[serde(default)]
    pub names: Vec<String>,
    /// Label matchers (PromQL form) selecting the rules to check, e.g. `severity="page"`.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// At least this many alerting rules must be selected (default 1).
    #[serde(default)]
    pub min_rules: Option<usize>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// One alerting rule as Prometheus reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertRule {
    pub name: String,
    /// The rule group's name.
    pub group: String,
    pub labels: BTreeMap<String, String>,
    /// `ok`, `err` or `unknown` (not evaluated yet).
    pub health: String,
    pub last_error: String,
}

impl RulesProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }

    pub async fn run(&self, _ctx: &RunContext, rt: &Runtime) -> Outcome {
        let started = tokio::time::Instant::now();
        let mut outcome = match rt.source(&self.source) {
            Err(o) => o,
            Ok(src) => src.within(self.timeout(), self.run_on(src)).await,
        };
        outcome.evidence.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        super::http::redact_outcome(outcome, &rt.redactor)
    }

    async fn run_on(&self, src: &SourceClient) -> Outcome {
        let matchers = match matcher::parse_all(&self.matchers) {
            Ok(m) => m,
            Err(e) => return Outcome::error(Evidence { message: e, ..Default::default() }),
        };
        let ev = Evidence { target: Some(self.target(src, &matchers)), ..Default::default() };
        if src.kind != "prometheus" {
            let message = format!("source '{}' is {}; the rules probe needs a prometheus source", src.name, src.kind);
            return Outcome::error(Evidence { message, ..ev });
        }
        let rules = match src.get_json("/api/v1/rules?type=alert").await {
            Ok(v) => parse_rules(&v)
                .map_err(|e| format!("prometheus source '{}' answered an unexpected shape: {e}", src.name)),
            Err(e) => Err(e),
        };
        match rules {
            Ok(rules) => self.decide(&matchers, &rules, ev),
            Err(message) => Outcome::error(Evidence { message, ..ev }),
        }
    }

    /// `prometheus prom rules{severity="page"} names=[A,B]`
    fn target(&self, src: &SourceClient, matchers: &[Matcher]) -> String {
        let mut t = format!("{} {} rules{{{}}}", src.kind, src.name, matcher::join(matchers));
        if !self.names.is_empty() {
            t += &format!(" names=[{}]", self.names.join(","));
        }
        t
    }

    /// The verdict over the loaded alerting rules.
    pub fn decide(&self, matchers: &[Matcher], rules: &[AlertRule], mut ev: Evidence) -> Outcome {
        let min = self.min_rules.unwrap_or(1);
        let select_all = matchers.is_empty() && self.names.is_empty();
        let selected: Vec<&AlertRule> = rules
            .iter()
            .filter(|r| {
                select_all
                    || (!matchers.is_empty() && matcher::all_match(matchers, &r.labels))
                    || self.names.contains(&r.name)
            })
            .collect();
        let missing: Vec<&String> = self.names.iter().filter(|n| !rules.iter().any(|r| &r.name == *n)).collect();
        // `unknown` means Prometheus has not evaluated the rule yet: nothing measured, so only
        // `err` (or any other health) is unhealthy.
        let unhealthy: Vec<&&AlertRule> =
            selected.iter().filter(|r| r.health != "ok" && r.health != "unknown").collect();
        let unevaluated: Vec<&str> =
            selected.iter().filter(|r| r.health == "unknown").map(|r| r.name.as_str()).collect();

        let mut expected = format!("at least {min} alerting rules loaded and healthy");
        if !self.names.is_empty() {
            expected += &format!(", including {}", self.names.join(", "));
        }
        ev.expected = Some(expected);
        ev.observed =
            Some(format!("{} rules, {} unhealthy, {} missing", selected.len(), unhealthy.len(), missing.len()));
        ev.alerts = selected.iter().map(|r| r.name.clone()).collect();
        let rules_json = selected
            .iter()
            .map(|r| {
                json!({"name": r.name, "group": r.group, "labels": r.labels, "health": r.health, "last_error": r.last_error})
            })
            .collect();
        ev.details.insert("rules".into(), Value::Array(rules_json));
        ev.details.insert("missing".into(), json!(missing));

        let mut problems = vec![];
        for name in &missing {
            let hint = suggest(name, rules).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            problems.push(format!("alerting rule '{name}' is not loaded{hint}"));
        }
        for r in &unhealthy {
            let err = if r.last_error.is_empty() { String::new() } else { format!(": {}", r.last_error) };
            problems.push(format!("rule {} in group {} is {}{err}", r.name, r.group, r.health));
        }
        if selected.len() < min {
            let what =
                if matchers.is_empty() { String::new() } else { format!(" matching {{{}}}", matcher::join(matchers)) };
            let n = match selected.len() {
                0 => "no alerting rules".to_string(),
                n => format!("only {n} alerting {}", if n == 1 { "rule" } else { "rules" }),
            };
            problems.insert(0, format!("{n}{what} loaded, want at least {min}"));
        }
        if problems.is_empty() && !unevaluated.is_empty() {
            ev.message = cut(&format!("not evaluated by Prometheus yet: {}", unevaluated.join(", ")), MAX_MESSAGE);
            return Outcome::error(ev);
        }
        if problems.is_empty() {
            let names: Vec<&str> = selected.iter().map(|r| r.name.as_str()).collect();
            let n = selected.len();
            let head = format!("{n} alerting {} loaded and healthy: ", if n == 1 { "rule" } else { "rules" });
            ev.message = head + &cut(&names.join(", "), MAX_MESSAGE);
            Outcome::pass(ev)
        } else {
            ev.message = cut(&problems.join("; "), MAX_MESSAGE);
            Outcome::fail(ev)
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        matcher::parse_all(&self.matchers)?;
        if let Some(i) = self.names.iter().position(|n| n.trim().is_empty()) {
            return Err(format!("names[{i}]: empty rule name; write the alert name, e.g. HighErrorRate"));
        }
        Ok(())
    }
}

/// The loaded rule name closest to `name`, when one is close enough to be a typo.
fn suggest<'a>(name: &str, rules: &'a [AlertRule]) -> Option<&'a str> {
    rules
        .iter()
        .map(|r| (strsim::normalized_damerau_levenshtein(&name.to_lowercase(), &r.name.to_lowercase()), &r.name))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.as_str())
}

/// At most `limit` characters, ending in `…` when cut.
fn cut(s: &str, limit: usize) -> String {
    if s.chars().count() <= limit { s.to_string() } else { s.chars().take(limit - 1).collect::<String>() + "…" }
}

/// Parse Prometheus's `GET /api/v1/rules` answer, keeping the alerting rules.
pub fn parse_rules(v: &Value) -> Result<Vec<AlertRule>, String> {
    let groups = super::source::api_array(v, "/data/groups")?;
    let mut out = vec![];
    for (gi, g) in groups.iter().enumerate() {
        let group = g.get("name").and_then(Value::as_str).unwrap_or_default();
        let rules = g.get("rules").and_then(Value::as_array).ok_or_else(|| format!("group {gi} has no rules array"))?;
        for (ri, r) in rules.iter().enumerate() {
            let at = || format!("group {group:?} rule {ri}");
            if r.get("type").and_then(Value::as_str) != Some("alerting") {
                continue;
            }
            let field = |k: &str| {
                r.get(k).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("{} has no {k}", at()))
            };
            let labels = match r.get("labels") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_string()))
                            .ok_or_else(|| format!("{}: label {k} is not a string", at()))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(format!("{}: labels is not an object", at())),
            };
            out.push(AlertRule {
                name: field("name")?,
                group: group.to_string(),
                labels,
                health: field("health")?,
                last_error: r.get("lastError").and_then(Value::as_str).unwrap_or_default().to_string(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "alert_rules_tests.rs"]
mod tests;
