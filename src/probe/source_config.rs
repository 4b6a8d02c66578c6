//! The `sources:` section's shape: a named Prometheus or Alertmanager endpoint with its
//! timeout, credentials and TLS settings. These are the probe layer's types (a
//! [`SourceClient`](super::source::SourceClient) is built from one); `config` re-exports them
//! and deserializes the section.

use std::path::PathBuf;

use serde::Deserialize;

use super::Dur;

/// A named data source. Probes of the metric kinds refer to one by name.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    Prometheus(SourceEndpoint),
    Alertmanager(SourceEndpoint),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceEndpoint {
    pub url: String,
    /// Per-request timeout (default 10s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Sent as `Authorization: Bearer ...`; write it as `${VAR}` so it stays out of the file.
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub tls: Option<Tls>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file with extra CA certificates (relative to the config file).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (testing only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl Source {
    pub fn endpoint(&self) -> &SourceEndpoint {
        match self {
            Source::Prometheus(e) | Source::Alertmanager(e) => e,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Prometheus(_) => "prometheus",
            Source::Alertmanager(_) => "alertmanager",
        }
    }
}
