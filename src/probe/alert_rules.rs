//! `rules` probe (being written): alerting rules are loaded and healthy.
use super::{Dur, Evidence, Outcome, RunContext, Runtime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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

impl RulesProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }
    pub async fn run(&self, _ctx: &RunContext, _rt: &Runtime) -> Outcome {
        Outcome::error(Evidence { message: "not implemented yet".into(), ..Default::default() })
    }
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
