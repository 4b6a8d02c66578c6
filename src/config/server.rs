//! `server:`: where the API listens, the tokens that guard it, and the HTTP limits (request and
//! header-read timeouts, the connection cap). The daemon reads them once at start: a reload does
//! not change the listener, its limits or the tokens.

use std::time::Duration;

use serde::Deserialize;

use crate::probe::Dur;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Needed for mutating calls, when set.
    #[serde(default)]
    pub api_token: Option<String>,
    /// When set, reading (API GETs, status page, /metrics) needs this token or the API token,
    /// as `Authorization: Bearer <token>` or HTTP basic auth with the token as password. Without
    /// an `api_token` it guards the mutating calls too: writes are never less protected than reads.
    #[serde(default)]
    pub read_token: Option<String>,
    /// Base URL people and receivers use to reach this shipwatch (links in notifications).
    /// Default: `http://<listen>`.
    #[serde(default)]
    pub external_url: Option<String>,
    /// Longest a reading call may take before it is answered 503 (default 30s). Mutating calls
    /// are never cut off once they run: their answer waits for the commit.
    #[serde(default = "default_request_timeout", deserialize_with = "positive")]
    pub request_timeout: Dur,
    /// A connection that has not sent a complete request head this long after connecting (or
    /// after its previous answer, when kept alive) is closed (default 10s).
    #[serde(default = "default_header_read_timeout", deserialize_with = "positive")]
    pub header_read_timeout: Dur,
    /// Open HTTP connections at most (default 4096; lowered at start when the file-descriptor
    /// limit would not leave a reserve for probes, the store and notifiers). At the cap the
    /// connection idle the longest is closed to admit a new one.
    #[serde(default = "default_max_connections", deserialize_with = "at_least_one")]
    pub max_connections: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: default_listen(),
            api_token: None,
            read_token: None,
            external_url: None,
            request_timeout: default_request_timeout(),
            header_read_timeout: default_header_read_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

impl Server {
    /// A warning when `listen` reaches beyond loopback and no token guards the API.
    pub fn unguarded_remote(&self) -> Option<String> {
        let set = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.is_empty());
        if set(&self.api_token) || set(&self.read_token) || is_loopback(&self.listen) {
            return None;
        }
        Some(format!(
            "server.listen {} accepts connections from other hosts and neither server.api_token nor \
             server.read_token is set: anyone who reaches it can create, tick, waive, deploy and reload",
            self.listen
        ))
    }
}

/// Whether `listen` (`host:port`) binds a loopback address only. Names other than `localhost`
/// may resolve anywhere, so they count as not loopback.
fn is_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    listen.rsplit_once(':').is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

fn default_listen() -> String {
    "127.0.0.1:9797".into()
}

fn default_request_timeout() -> Dur {
    Dur(Duration::from_secs(30))
}

fn default_header_read_timeout() -> Dur {
    Dur(Duration::from_secs(10))
}

fn default_max_connections() -> usize {
    4096
}

/// A duration longer than zero.
fn positive<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
    let v = Dur::deserialize(d)?;
    if v.0.is_zero() { Err(serde::de::Error::custom("must be longer than 0s")) } else { Ok(v) }
}

/// A count of at least one.
fn at_least_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 { Err(serde::de::Error::custom("must be at least 1")) } else { Ok(n) }
}
