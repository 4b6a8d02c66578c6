//! Clients for named data sources (Prometheus, Alertmanager): auth, TLS, timeout, and outage
//! tracking so an unreachable source is logged once per outage, not once per probe run.
//! Messages never show the credentials of a source URL written as `https://user:pass@host`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::source_config::Source;

/// A ready-to-use client for one configured source.
#[derive(Debug)]
pub struct SourceClient {
    pub name: String,
    /// `prometheus` or `alertmanager`.
    pub kind: &'static str,
    /// Base URL without a trailing slash.
    pub url: String,
    pub http: reqwest::Client,
    pub timeout: Duration,
    down: AtomicBool,
}

/// All sources by name.
pub type Sources = BTreeMap<String, std::sync::Arc<SourceClient>>;

impl SourceClient {
    /// Build the client for `src` (`config_dir` resolves a relative `tls.ca_file`).
    pub fn build(name: &str, src: &Source, config_dir: &Path) -> Result<Self, String> {
        let ep = src.endpoint();
        let timeout = ep.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10));
        let mut headers = HeaderMap::new();
        let auth = match (&ep.basic_auth, &ep.bearer_token) {
            (Some(_), Some(_)) => return Err(format!("source '{name}': use basic_auth or bearer_token, not both")),
            (Some(b), None) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", b.username, b.password))
            )),
            (None, Some(t)) => Some(format!("Bearer {t}")),
            (None, None) => None,
        };
        if let Some(a) = auth {
            let mut v = HeaderValue::from_str(&a)
                .map_err(|_| format!("source '{name}': credentials contain invalid characters"))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let mut b = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .user_agent(concat!("shipwatch/", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = &ep.tls {
            if let Some(ca) = &tls.ca_file {
                let path = config_dir.join(ca);
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("source '{name}': cannot read tls.ca_file {}: {e}", path.display()))?;
                let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                    format!("source '{name}': tls.ca_file {} is not a PEM certificate: {e}", path.display())
                })?;
                b = b.add_root_certificate(cert);
            }
            b = b.tls_danger_accept_invalid_certs(tls.insecure_skip_verify);
        }
        let http = b.build().map_err(|e| format!("source '{name}': {e}"))?;
        let url = ep.url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&url)
            .map_err(|e| format!("source '{name}': invalid url {:?}: {e}", crate::redact::mask_userinfo(&url)))?;
        Ok(SourceClient { name: name.to_string(), kind: src.kind(), url, http, timeout, down: AtomicBool::new(false) })
    }

    /// A Prometheus API client sharing this source's HTTP client (auth, TLS, timeout).
    pub fn prometheus(&self) -> Result<prometheus_http_query::Client, String> {
        prometheus_http_query::Client::from(self.http.clone(), &self.url)
            .map_err(|e| crate::redact::mask_userinfo(&format!("source '{}': {e}", self.name)))
    }

    /// Record whether the source answered. Logs once when an outage starts and once when it ends.
    pub fn observe(&self, reachable: bool, reason: &str) {
        let reason = crate::redact::mask_userinfo(reason);
        let reason = reason.as_str();
        let was_down = self.down.swap(!reachable, Ordering::Relaxed);
        match (was_down, reachable) {
            (false, false) => {
                tracing::warn!(source = %self.name, kind = self.kind, reason, "source unreachable; its probes report error until it is back")
            }
            (true, true) => tracing::info!(source = %self.name, kind = self.kind, "source reachable again"),
            _ => {}
        }
    }

    /// Run `fut` (one probe's requests to this source) within the probe's `timeout`; running
    /// out of time is an outage of the source and an `error` outcome.
    pub async fn within(
        &self,
        timeout: Duration,
        fut: impl std::future::Future<Output = super::Outcome>,
    ) -> super::Outcome {
        match tokio::time::timeout(timeout, fut).await {
            Ok(o) => o,
            Err(_) => {
                let why = format!(
                    "{} source '{}' did not answer within {} (timed out)",
                    self.kind,
                    self.name,
                    humantime::format_duration(timeout)
                );
                self.observe(false, &why);
                super::Outcome::error(super::Evidence { message: why, ..Default::default() })
            }
        }
    }

    /// Whether the last call failed to reach the source.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// GET `path` (with query) and parse JSON. Transport failures mark the source down.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.url);
        let resp = match self.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                let msg = crate::redact::mask_userinfo(&format!(
                    "{} source '{}' unreachable: {}",
                    self.kind,
                    self.name,
                    crate::probe::http::transport_reason(&e)
                ));
                self.observe(false, &msg);
                return Err(msg);
            }
        };
        self.observe(true, "");
        let status = resp.status();
        let text =
            resp.text().await.map_err(|e| format!("{} source '{}': reading answer: {e}", self.kind, self.name))?;
        if !status.is_success() {
            return Err(format!(
                "{} source '{}' answered HTTP {status}: {}",
                self.kind,
                self.name,
                text.chars().take(200).collect::<String>()
            ));
        }
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} source '{}' answered non-JSON ({e}): {}",
                self.kind,
                self.name,
                text.chars().take(80).collect::<String>()
            )
        })
    }
}

/// Build clients for every configured source.
pub fn build_all(sources: &BTreeMap<String, Source>, config_dir: &Path) -> Result<Sources, Vec<String>> {
    let mut out = Sources::new();
    let mut errs = vec![];
    for (name, s) in sources {
        match SourceClient::build(name, s, config_dir) {
            Ok(c) => {
                out.insert(name.clone(), std::sync::Arc::new(c));
            }
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// The array at `pointer` of a Prometheus API answer (`{status: "success", data: ...}`), or why
/// the answer is not one.
pub fn api_array<'a>(v: &'a serde_json::Value, pointer: &str) -> Result<&'a Vec<serde_json::Value>, String> {
    use serde_json::Value;
    match v.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some(_) => {
            let err = v.get("error").and_then(Value::as_str).unwrap_or("no error text");
            return Err(format!("status is not success: {err}"));
        }
        None => return Err("no status field (is this a Prometheus API?)".into()),
    }
    let field = pointer.trim_start_matches('/').replace('/', ".");
    v.pointer(pointer).and_then(Value::as_array).ok_or_else(|| format!("no {field} array (is this a Prometheus API?)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::source_config::SourceEndpoint;

    fn source(url: &str) -> Source {
        Source::Prometheus(SourceEndpoint {
            url: url.into(),
            timeout: Some(crate::probe::Dur(Duration::from_secs(2))),
            basic_auth: None,
            bearer_token: None,
            tls: None,
        })
    }

    /// Issue 10, defect 7: source URLs with credentials must not show them in messages.
    #[tokio::test]
    async fn messages_never_show_url_credentials() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let built = SourceClient::build("p", &source("http://scraper:hunter2-pw@exa mple.com"), Path::new("."));
        let err = built.err().unwrap_or_default();
        assert!(err.contains("invalid url \"http://<redacted>@exa mple.com\""), "{err}");
        let client = SourceClient::build("p", &source(&format!("http://scraper:hunter2-pw@{refused}")), Path::new("."))
            .expect("a valid url builds");
        let err = client.get_json("/api/v1/query?query=up").await.unwrap_err();
        assert!(err.starts_with("prometheus source 'p' unreachable: "), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("scraper"), "{err}");
    }
}
