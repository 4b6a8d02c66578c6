//! HTTP probe: send one request and check status, latency, headers and body.
//!
//! The probe renders `{{ release.* }}` into the URL, body, header values and expected strings
//! (release values are encoded for where they land: see [`super::request_template`]),
//! sends the request with a timeout covering the whole exchange (body read included), reads at
//! most `max_body` bytes and then runs its checks in a fixed order: status, `max_latency`,
//! headers, `body_contains`, `body_regex`, JSON paths. The first failing check decides a `fail`.
//! Transport problems (refused, DNS, TLS, timeout, reset) are `error`: nothing was measured.
//! Every string that lands in [`Evidence`] passes through the runtime's redactor.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;

pub use super::http_expect::{Expect, StatusSpec};
use super::transport::describe_transport_error;
pub use super::transport::transport_reason;
use super::{Dur, Evidence, Outcome, RunContext, Runtime, request_template};
use crate::redact::Redactor;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// One HTTP request and what its response must look like.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// Target URL; may contain `{{ release.* }}`.
    pub url: String,
    /// HTTP method, `GET` by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// Request headers; values may be secrets (registered in the redactor at load).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body (templated).
    #[serde(default)]
    pub body: Option<String>,
    /// Whole-exchange timeout, 10s by default.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Bytes of body read at most (1 MiB by default); the rest is ignored, not an error.
    #[serde(default)]
    pub max_body: Option<u64>,
    /// What the response must satisfy.
    #[serde(default)]
    pub expect: Expect,
}

fn default_method() -> String {
    "GET".to_string()
}

/// One check after the status, with its rendered expectation.
enum Check {
    Latency(Duration),
    Header(String, String),
    Contains(String),
    Regex(regex::Regex),
    Json(String, JsonPath, Value),
}

impl Check {
    fn describe(&self) -> String {
        match self {
            Check::Latency(d) => format!("latency <= {}", humantime::format_duration(*d)),
            Check::Header(name, needle) => format!("header {name} contains {needle:?}"),
            Check::Contains(s) => format!("body contains {s:?}"),
            Check::Regex(re) => format!("body matches /{re}/"),
            Check::Json(path, _, want) => format!("{path} == {want}"),
        }
    }
}

/// The rendered request and checks for one run.
struct Prepared {
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    body: Option<String>,
    checks: Vec<Check>,
}

/// What came back.
struct Response {
    code: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    truncated: bool,
    latency: Duration,
}

impl HttpProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0)
    }

    fn max_body(&self) -> u64 {
        self.max_body.unwrap_or(DEFAULT_MAX_BODY)
    }

    fn method(&self) -> String {
        self.method.trim().to_ascii_uppercase()
    }

    fn status_specs(&self) -> Vec<StatusSpec> {
        self.expect.status.clone().unwrap_or_else(|| vec![StatusSpec::Class(2)])
    }

    pub fn validate(&self) -> Result<(), String> {
        if !METHODS.contains(&self.method().as_str()) {
            return Err(format!("method: unknown HTTP method {:?}; use one of {}", self.method, METHODS.join(", ")));
        }
        if !self.url.contains("{{") {
            reqwest::Url::parse(&self.url).map_err(|e| {
                format!("url: cannot parse {:?} ({e}); write a full URL like https://example.com/health", self.url)
            })?;
        }
        for name in self.headers.keys() {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: invalid header name {name:?}"))?;
        }
        // Rendering with an empty release catches template typos in the expectations too.
        self.checks(&RunContext::default())?;
        if self.max_body == Some(0) {
            return Err("max_body: must be at least 1 byte; leave it out for the 1 MiB default".into());
        }
        Ok(())
    }

    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let method = self.method();
        let mut ev = Evidence { target: Some(format!("{method} {}", self.url)), ..Evidence::default() };
        let outcome = match self.prepare(ctx) {
            Err(reason) => {
                ev.message = reason;
                Outcome::error(ev)
            }
            Ok(prep) => {
                ev.target = Some(format!("{method} {}", prep.url));
                self.execute(&method, prep, ev, rt).await
            }
        };
        redact_outcome(outcome, &rt.redactor)
    }

    /// Render every template and compile the checks.
    fn prepare(&self, ctx: &RunContext) -> Result<Prepared, String> {
        use reqwest::header::{HeaderName, HeaderValue};
        let url = request_template::url(ctx, &self.url)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: invalid header name {name:?}"))?;
            let text = request_template::header_value(ctx, value).map_err(|e| format!("headers: {name}: {e}"))?;
            let v = HeaderValue::from_str(&text)
                .map_err(|_| format!("headers: value of {name} is not a valid header value (control characters?)"))?;
            headers.insert(n, v);
        }
        let body = self.body.as_deref().map(|b| request_template::body(ctx, b)).transpose()?;
        let checks = self.checks(ctx)?;
        Ok(Prepared { url, headers, body, checks })
    }

    /// Render the expectations and compile them into checks, in evaluation order.
    fn checks(&self, ctx: &RunContext) -> Result<Vec<Check>, String> {
        let e = &self.expect;
        let mut checks = Vec::new();
        if let Some(d) = e.max_latency {
            checks.push(Check::Latency(d.0));
        }
        for (name, needle) in &e.headers {
            checks.push(Check::Header(name.to_ascii_lowercase(), ctx.render(needle)?));
        }
        if let Some(s) = &e.body_contains {
            checks.push(Check::Contains(ctx.render(s)?));
        }
        if let Some(re) = &e.body_regex {
            let re = regex::Regex::new(re)
                .map_err(|err| format!("expect.body_regex: invalid regex {re:?}: {err}; check escaping"))?;
            checks.push(Check::Regex(re));
        }
        for (path, want) in &e.json {
            let jp = JsonPath::parse(path)
                .map_err(|err| format!("expect.json: invalid JSONPath {path:?} ({err}); write e.g. $.version"))?;
            let want = match want {
                Value::String(s) => Value::String(ctx.render(s)?),
                other => other.clone(),
            };
            checks.push(Check::Json(path.clone(), jp, want));
        }
        Ok(checks)
    }

    async fn execute(&self, method: &str, prep: Prepared, mut ev: Evidence, rt: &Runtime) -> Outcome {
        let timeout = self.timeout();
        let host = prep.url.host_str().unwrap_or("").to_string();
        let addr = format!("{host}:{}", prep.url.port_or_known_default().unwrap_or(0));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = rt.http.request(method, prep.url.clone()).headers(prep.headers);
        if let Some(body) = prep.body {
            req = req.body(body);
        }
        let max = self.max_body();
        let start = tokio::time::Instant::now();
        let mut status_seen: Option<u16> = None;
        let exchange = async {
            let mut resp = req.send().await?;
            let code = resp.status().as_u16();
            status_seen = Some(code);
            let headers = resp.headers().clone();
            let (mut body, mut truncated) = (Vec::new(), false);
            while let Some(chunk) = resp.chunk().await? {
                let room = usize::try_from(max).unwrap_or(usize::MAX).saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Response { code, headers, body, truncated, latency: start.elapsed() })
        };
        let result = tokio::time::timeout(timeout, exchange).await;
        ev.status_code = status_seen;
        match result {
            Err(_) => {
                ev.latency_ms = Some(ms(start.elapsed()));
                ev.message = format!("timed out after {}", humantime::format_duration(timeout));
                Outcome::error(ev)
            }
            Ok(Err(err)) => {
                ev.latency_ms = Some(ms(start.elapsed()));
                ev.message = describe_transport_error(&err, &host, &addr, timeout);
                Outcome::error(ev)
            }
            Ok(Ok(resp)) => self.judge(resp, prep.checks, ev, &rt.redactor),
        }
    }

    /// Run the checks in order against a response.
    fn judge(&self, resp: Response, checks: Vec<Check>, mut ev: Evidence, redactor: &Redactor) -> Outcome {
        ev.status_code = Some(resp.code);
        ev.latency_ms = Some(ms(resp.latency));
        let lat = format!("{} ms", resp.latency.as_millis());
        let text = String::from_utf8_lossy(&resp.body);
        // Redact the whole body before cutting snippets so a secret is never cut in half.
        let shown = redactor.redact(&text);
        let trunc_note = if resp.truncated {
            ev.details.insert("body_truncated".into(), Value::Bool(true));
            format!(" (body truncated at {} bytes)", resp.body.len())
        } else {
            String::new()
        };
        let specs = self.status_specs();
        let status_desc = format!("status in [{}]", specs.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "));
        let fail = |ev: &mut Evidence, expected: String, observed: String, message: String| {
            ev.expected = Some(expected);
            ev.observed = Some(observed);
            ev.message = format!("{message}{trunc_note}");
            ev.details.insert("body_snippet".into(), Value::String(snippet(&shown, 200)));
        };
        if !specs.iter().any(|s| s.matches(resp.code)) {
            let msg = format!("HTTP {}, expected {status_desc}", resp.code);
            fail(&mut ev, status_desc, resp.code.to_string(), msg);
            return Outcome::fail(ev);
        }
        let mut json: Option<Value> = None;
        for check in &checks {
            let failed: Option<(String, String)> = match check {
                Check::Latency(max) => (resp.latency > *max).then(|| {
                    let m = format!(
                        "HTTP {} in {lat}, slower than max_latency {}",
                        resp.code,
                        humantime::format_duration(*max)
                    );
                    (lat.clone(), m)
                }),
                Check::Header(name, needle) => {
                    let values: Vec<String> = resp
                        .headers
                        .get_all(name.as_str())
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .collect();
                    if values.is_empty() {
                        Some(("(absent)".into(), format!("response has no header {name}")))
                    } else {
                        let joined = values.join(", ");
                        (!joined.contains(needle.as_str())).then(|| {
                            (joined.clone(), format!("header {name} is {joined:?}, expected it to contain {needle:?}"))
                        })
                    }
                }
                Check::Contains(needle) => (!text.contains(needle.as_str()))
                    .then(|| (snippet(&shown, 80), format!("body does not contain {needle:?}"))),
                Check::Regex(re) => {
                    (!re.is_match(&text)).then(|| (snippet(&shown, 80), format!("body does not match /{re}/")))
                }
                Check::Json(path, jp, want) => {
                    if json.is_none() {
                        match parse_json_body(&text, &shown) {
                            Ok(v) => json = Some(v),
                            Err((observed, m)) => {
                                fail(&mut ev, check.describe(), observed, m);
                                return Outcome::fail(ev);
                            }
                        }
                    }
                    json_check(path, jp, want, json.as_ref().unwrap_or(&Value::Null))
                }
            };
            if let Some((observed, message)) = failed {
                fail(&mut ev, check.describe(), observed, message);
                return Outcome::fail(ev);
            }
        }
        let mut expected = vec![status_desc];
        expected.extend(checks.iter().map(Check::describe));
        ev.expected = Some(expected.join("; "));
        ev.observed = Some(resp.code.to_string());
        let n = checks.len() + 1;
        ev.message =
            format!("HTTP {} in {lat}; {n} check{} passed{trunc_note}", resp.code, if n == 1 { "" } else { "s" });
        Outcome::pass(ev)
    }
}

/// Parse the body as JSON, or say why it cannot be: `(observed, message)`.
fn parse_json_body(text: &str, shown: &str) -> Result<Value, (String, String)> {
    if text.trim().is_empty() {
        return Err(("(empty body)".into(), "expected a JSON body, got an empty body".into()));
    }
    serde_json::from_str(text).map_err(|_| {
        let head = snippet(shown, 80);
        (head.clone(), format!("expected a JSON body, got non-JSON body: {head}"))
    })
}

/// Every node `jp` selects must equal `want`; `Some((observed, message))` when not.
fn json_check(path: &str, jp: &JsonPath, want: &Value, doc: &Value) -> Option<(String, String)> {
    let nodes = jp.query_located(doc);
    if nodes.is_empty() {
        return Some(("nothing".into(), format!("{path} matched nothing")));
    }
    let many = nodes.len() > 1;
    nodes.into_iter().find(|n| !json_equal(want, n.node())).map(|n| {
        let got = n.node().to_string();
        let at = if many { n.location().to_string() } else { path.to_string() };
        (got.clone(), format!("{at} is {got}, expected {want}"))
    })
}

/// Equal JSON values; a string expectation also equals a number or bool with the same JSON text,
/// and numbers compare by value (`1` == `1.0`).
fn json_equal(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(s), Value::Number(_) | Value::Bool(_)) => {
            let text = got.to_string();
            text == *s
        }
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y),
        _ => want == got,
    }
}

fn snippet(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Pass every string of the outcome through the redactor.
pub(super) fn redact_outcome(mut o: Outcome, r: &Redactor) -> Outcome {
    fn value(v: &mut Value, r: &Redactor) {
        match v {
            Value::String(s) => *s = r.redact(s),
            Value::Array(items) => items.iter_mut().for_each(|x| value(x, r)),
            Value::Object(map) => map.values_mut().for_each(|x| value(x, r)),
            _ => {}
        }
    }
    let ev = &mut o.evidence;
    for s in [&mut ev.target, &mut ev.expected, &mut ev.observed].into_iter().flatten() {
        *s = r.redact(s);
    }
    ev.message = r.redact(&ev.message);
    ev.alerts.iter_mut().for_each(|a| *a = r.redact(a));
    ev.details.values_mut().for_each(|v| value(v, r));
    for d in &mut ev.perfdata {
        d.label = r.redact(&d.label);
        for s in [&mut d.warn, &mut d.crit].into_iter().flatten() {
            *s = r.redact(s);
        }
    }
    o
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
