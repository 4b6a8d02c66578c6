//! `prometheus` probe (being written).
use super::condition::Condition;
use super::{Dur, Evidence, Outcome, RunContext, Runtime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How many series must satisfy the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SeriesMode {
    #[default]
    All,
    Any,
    None,
}

/// What an empty result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NoData {
    #[default]
    Error,
    Pass,
    Fail,
    /// Keep the item pending (recorded as `error` with `details.no_data = "wait"`).
    Wait,
}

/// Where the baseline is evaluated: at the deploy (default) or a fixed time, minus `offset`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// `deploy` (default) or an RFC 3339 time.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub offset: Option<Dur>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromProbe {
    pub source: String,
    /// PromQL; may use `{{ release.* }}`, `{{ window.elapsed }}`, `{{ deployed_at }}`.
    pub query: String,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub series: SeriesMode,
    #[serde(default)]
    pub no_data: NoData,
    /// current ≤ max_increase × baseline.
    #[serde(default)]
    pub max_increase: Option<f64>,
    /// current ≤ baseline + max_delta.
    #[serde(default)]
    pub max_delta: Option<f64>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// The condition must hold over this range (range query), not one instant.
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

impl PromProbe {
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
