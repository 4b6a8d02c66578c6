//! What one probe run yields: a [`Status`] (`pass`, `fail`, or `error` when it could not
//! measure) with its [`Evidence`]. Plain data of the model layer: the release model, events and
//! the store use it without depending on the probes that produce it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The verdict of one probe run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The evidence holds.
    Pass,
    /// The evidence was measured and does not hold.
    Fail,
    /// Could not measure (timeout, target/source down, bad response). Never ticks or fails an
    /// item by itself.
    Error,
}

impl Status {
    /// Lower-case name as used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// What a probe saw. Every field is optional; a kind fills what it measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The resolved target: URL, query or argv, with secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The expected condition that was checked (e.g. `status in [200]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The observed value that decided the outcome (e.g. `500`, `0.034`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// HTTP status code, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Exit code of a command probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Wall time of the measurement in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Alert names involved (alert probes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
    /// One human sentence: why it passed, failed or could not measure.
    pub message: String,
    /// Extra kind-specific details (stdout tail, JSON result of a command, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    /// Performance data a Nagios plugin reported (command probe with `format: nagios`), in
    /// the order it printed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perfdata: Vec<PerfDatum>,
}

/// One performance datum of a Nagios plugin: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfDatum {
    /// The label, unquoted (`''` read as `'`).
    pub label: String,
    /// The value; `null` when the plugin could not determine it (`U`) or left it empty.
    pub value: Option<f64>,
    /// Unit of measurement (`s`, `ms`, `us`, `%`, `B`, `KB`, `MB`, `GB`, `TB`, `c`); absent for a
    /// plain count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    /// Warning threshold as a range expression (`10`, `10:`, `~:10`, `@10:20`), as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<String>,
    /// Critical threshold as a range expression, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<String>,
    /// Smallest possible value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest possible value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The result of one probe run: a status with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub evidence: Evidence,
}

impl Outcome {
    pub fn pass(evidence: Evidence) -> Self {
        Outcome { status: Status::Pass, evidence }
    }
    pub fn fail(evidence: Evidence) -> Self {
        Outcome { status: Status::Fail, evidence }
    }
    pub fn error(evidence: Evidence) -> Self {
        Outcome { status: Status::Error, evidence }
    }
}
