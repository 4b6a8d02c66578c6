//! `alerts` probe (being written): no matching alert firing (since the deploy).
use super::{Dur, Evidence, Outcome, RunContext, Runtime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which alerts count: those that started after the deploy, or any active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Since {
    #[default]
    Deploy,
    Any,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsProbe {
    /// An `alertmanager` or `prometheus` source.
    pub source: String,
    /// Label matchers in PromQL form: `service="api"`, `severity=~"page|critical"`, `env!="dev"`.
    #[serde(default)]
    pub matchers: Vec<String>,
    #[serde(default)]
    pub since: Since,
    /// Alertmanager: also count silenced alerts.
    #[serde(default)]
    pub include_silenced: bool,
    /// Alertmanager: also count inhibited alerts.
    #[serde(default)]
    pub include_inhibited: bool,
    /// Prometheus: also count pending (not yet firing) alerts.
    #[serde(default)]
    pub include_pending: bool,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

impl AlertsProbe {
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
