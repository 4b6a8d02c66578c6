//! Client commands: talk to a running daemon over its HTTP API.
//!
//! Every release and item id the client puts in a URL is percent-encoded as one path segment
//! ([`api_path`]), so ids with `/` (`staging/run-smoke-tests`), `?`, `#` or `%` reach the
//! daemon whole.

use std::process::ExitCode;

use anyhow::Context;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::table;

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("static client settings")
}

pub(super) fn with_token(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var("SHIPWATCH_API_TOKEN") {
        Ok(t) if !t.is_empty() => rb.bearer_auth(t),
        _ => rb,
    }
}

/// Send a request; on a non-2xx answer print the server's error and return Err(exit code 1).
async fn call(server: &str, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, ExitCode> {
    let resp = match with_token(rb).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shipwatch: cannot reach the daemon at {server}: {e}");
            eprintln!(
                "  is it running? start it with: shipwatch run --config config/shipwatch.yaml (or pass --server URL)"
            );
            return Err(ExitCode::from(1));
        }
    };
    if resp.status().is_success() {
        return Ok(resp);
    }
    let code = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let msg =
        serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or(text);
    eprintln!("shipwatch: {code}: {msg}");
    if code == reqwest::StatusCode::UNAUTHORIZED {
        eprintln!("  set SHIPWATCH_API_TOKEN to the daemon's server.api_token");
    }
    Err(ExitCode::from(1))
}

pub(super) fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

/// What a path segment keeps unencoded: RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `/api/v1/` followed by `segments`, each percent-encoded as one path segment. An empty
/// segment, `.` or `..` is refused: URL parsers resolve dot segments, encoded or not, so the
/// request would go to another endpoint.
pub(super) fn api_path(segments: &[&str]) -> anyhow::Result<String> {
    let mut out = String::from("/api/v1");
    for s in segments {
        if s.is_empty() || *s == "." || *s == ".." {
            anyhow::bail!("{s:?} is not a release or item id");
        }
        out.push('/');
        out.extend(utf8_percent_encode(s, SEGMENT));
    }
    Ok(out)
}

/// Why a request to the daemon failed.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    /// The daemon could not be reached.
    Unreachable(String),
    /// It answered with a non-2xx status: the code and its `error` message.
    Http(u16, String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(e) => write!(f, "cannot reach the daemon: {e}"),
            Failure::Http(code, msg) => write!(f, "{code}: {msg}"),
        }
    }
}

/// GET `path` (with the API token if set): the 2xx response, or what went wrong.
pub(super) async fn get(server: &str, path: &str) -> Result<reqwest::Response, Failure> {
    let resp = with_token(client().get(url(server, path)))
        .send()
        .await
        .map_err(|e| Failure::Unreachable(format!("{} ({e})", server.trim_end_matches('/'))))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let msg =
        serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or(text);
    Err(Failure::Http(code, msg))
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
}

/// What `release start` got: the release id (None when the daemon refused) and the exit code.
pub struct Started {
    pub id: Option<String>,
    pub code: ExitCode,
}

pub async fn release_start(server: &str, body: Value, idempotency_key: Option<&str>) -> anyhow::Result<Started> {
    let mut req = client().post(url(server, "/api/v1/releases")).json(&body);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = match call(server, req).await {
        Ok(r) => r,
        Err(code) => return Ok(Started { id: None, code }),
    };
    let existing = resp.status() == reqwest::StatusCode::OK;
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    let id = v["id"].as_str().unwrap_or("?").to_string();
    println!("{id}");
    if existing {
        eprintln!("already watched: this is the release that request started (--new starts another)");
    }
    eprintln!(
        "release {} {} ({}) is {}; follow it with: shipwatch status {}",
        v["service"].as_str().unwrap_or(""),
        v["version"].as_str().unwrap_or(""),
        v["environment"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or("")
    );
    Ok(Started { id: Some(id), code: ExitCode::SUCCESS })
}

/// `healthcheck`: GET /-/healthy within 5 s; exit 0 on 200, 1 otherwise (saying why).
pub async fn healthcheck(server: &str) -> ExitCode {
    let req = client().get(url(server, "/-/healthy")).timeout(std::time::Duration::from_secs(5));
    match req.send().await {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            println!("{server}: healthy");
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("{server}: not healthy: /-/healthy answered {}", r.status());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{server}: not healthy: {e}");
            ExitCode::from(1)
        }
    }
}

pub async fn deploy(server: &str, id: &str) -> anyhow::Result<ExitCode> {
    let path = api_path(&["releases", id, "deploy"])?;
    tri!(call(server, client().post(url(server, &path))).await);
    println!("release {id} deployed; its window starts now");
    Ok(ExitCode::SUCCESS)
}

pub async fn status(server: &str, id: Option<&str>, as_json: bool, list: &super::ListArgs) -> anyhow::Result<ExitCode> {
    let path = match id {
        Some(id) => api_path(&["releases", id])?,
        None => "/api/v1/releases".into(),
    };
    let mut req = client().get(url(server, &path));
    if id.is_none() {
        let limit = list.limit.map(|l| l.to_string());
        let q: Vec<(&str, &str)> = [
            ("state", list.state.as_deref()),
            ("service", list.service.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", list.cursor.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        req = req.query(&q);
    }
    let resp = tri!(call(server, req).await);
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", super::status::render_status_colored(&v, id.is_some(), table::stdout_color()));
    Ok(ExitCode::SUCCESS)
}

pub async fn tick(server: &str, id: &str, item: &str, by: &str, note: Option<String>) -> anyhow::Result<ExitCode> {
    let body = json!({ "by": by, "note": note });
    let path = api_path(&["releases", id, "items", item, "tick"])?;
    tri!(call(server, client().post(url(server, &path)).json(&body)).await);
    println!("ticked {item} in {id} (by {by})");
    Ok(ExitCode::SUCCESS)
}

pub async fn waive(server: &str, id: &str, item: &str, by: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let body = json!({ "by": by, "reason": reason });
    let path = api_path(&["releases", id, "items", item, "waive"])?;
    tri!(call(server, client().post(url(server, &path)).json(&body)).await);
    println!("waived {item} in {id} (by {by}: {reason})");
    Ok(ExitCode::SUCCESS)
}

pub async fn verdict(server: &str, id: &str, verified: bool, by: &str, note: Option<&str>) -> anyhow::Result<ExitCode> {
    let word = if verified { "verified" } else { "failed" };
    let body = json!({ "verdict": word, "by": by, "note": note });
    let path = api_path(&["releases", id, "verdict"])?;
    let resp = tri!(call(server, client().post(url(server, &path)).json(&body)).await);
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    println!("{id} is {}: {}", v["state"].as_str().unwrap_or(word), v["reason"].as_str().unwrap_or(""));
    Ok(ExitCode::SUCCESS)
}

pub async fn history(server: &str, id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let path = api_path(&["releases", id, "history"])?;
    let resp = tri!(call(server, client().get(url(server, &path))).await);
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render_history(id, &v, table::stdout_color()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form of `history`: one row per state change, oldest first.
pub fn render_history(id: &str, v: &Value, color: bool) -> String {
    let rows: Vec<Vec<String>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    let at = h["at"].as_str().unwrap_or("");
                    let when = chrono::DateTime::parse_from_rfc3339(at)
                        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|_| at.to_string());
                    let (from, to) = (h["from"].as_str().unwrap_or(""), h["to"].as_str().unwrap_or(""));
                    let from = if from.is_empty() { "new" } else { from };
                    vec![
                        when,
                        h["item_id"].as_str().unwrap_or("(release)").into(),
                        format!("{from} → {}", table::paint(to, to, color)),
                        h["message"].as_str().unwrap_or("").into(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        return format!("no history yet for {id}\n");
    }
    table::render(&["WHEN (UTC)", "ITEM", "CHANGE", "MESSAGE"], &rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Issue 10, defect 13: `shipwatch tick ID staging/run-smoke-tests` answered 404: the `/`
    /// split the item id into two path segments.
    #[test]
    fn ids_are_sent_as_one_path_segment_each() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &str)] = &[
            (&["releases", "api-1-4-2"], "/api/v1/releases/api-1-4-2"),
            (&["releases", "api-1-4-2", "items", "staging/run-smoke-tests", "tick"],
                "/api/v1/releases/api-1-4-2/items/staging%2Frun-smoke-tests/tick"),
            (&["releases", "a/b/c", "items", "x?y=1#z", "waive"], "/api/v1/releases/a%2Fb%2Fc/items/x%3Fy%3D1%23z/waive"),
            (&["releases", "100%", "history"], "/api/v1/releases/100%25/history"),
            (&["releases", "café ✓", "deploy"], "/api/v1/releases/caf%C3%A9%20%E2%9C%93/deploy"),
            (&["releases", "v1.2_3~x", "items", "...", "tick"], "/api/v1/releases/v1.2_3~x/items/.../tick"),
        ];
        for (segments, want) in cases {
            let path = super::api_path(segments).unwrap();
            assert_eq!(path, *want, "{segments:?}");
            let sent = reqwest::Url::parse(&super::url("http://127.0.0.1:8080/", &path)).unwrap();
            let got: Vec<String> = sent
                .path_segments()
                .unwrap()
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned())
                .collect();
            let mut expected = vec!["api".to_string(), "v1".into()];
            expected.extend(segments.iter().map(|s| s.to_string()));
            assert_eq!(got, expected, "{segments:?}: {sent}");
        }
        for bad in ["", ".", ".."] {
            let err = super::api_path(&["releases", bad, "deploy"]).unwrap_err().to_string();
            assert!(err.contains("is not a release or item id"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn history_shows_who_ticked_and_colours_the_new_state() {
        let v = json!([
            {"release_id": "r", "item_id": "doc-rollback", "at": "2025-03-01T10:00:05Z",
             "from": "manual", "to": "complete", "message": "ticked by dave: done"},
            {"release_id": "r", "at": "2025-03-01T10:00:00Z", "from": "", "to": "deployed", "message": "started"},
            {"release_id": "r", "at": "2025-03-01T10:01:00Z", "from": "deployed", "to": "failed",
             "message": "window closed"}
        ]);
        let plain = super::render_history("r", &v, false);
        assert!(plain.starts_with("WHEN (UTC)"), "{plain}");
        assert!(
            plain.contains("2025-03-01 10:00:05  doc-rollback  manual → complete  ticked by dave: done"),
            "{plain}"
        );
        assert!(plain.contains("  (release)     new → deployed     started"), "{plain}");
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = super::render_history("r", &v, true);
        assert!(coloured.contains("\x1b[32mcomplete\x1b[0m") && coloured.contains("\x1b[31mfailed"), "{coloured}");
        assert_eq!(super::render_history("r", &json!([]), false), "no history yet for r\n");
    }
}
