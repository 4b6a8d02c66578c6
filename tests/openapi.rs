//! The OpenAPI document at `/api/v1/openapi.json`, checked against the live router both ways:
//! every documented path and method is routed (no 404/405 from the router, with real ids) and
//! answers one of its documented status codes with a documented content type; and every route
//! in `src/api/mod.rs` (parsed from the source, plus a hard-coded list in case the parsing
//! misses some) is in the document, so a route added without documentation fails here. The
//! limits every call has (oversized, malformed and non-JSON requests) are documented per call
//! and answered live with JSON errors.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

/// Routes the router is known to have (from `src/api/mod.rs`).
const KNOWN: &[(&str, &str)] = &[
    ("get", "/api/v1/releases"),
    ("post", "/api/v1/releases"),
    ("get", "/api/v1/releases/{id}"),
    ("post", "/api/v1/releases/{id}/deploy"),
    ("post", "/api/v1/releases/{id}/verdict"),
    ("get", "/api/v1/releases/{id}/checklist.md"),
    ("get", "/api/v1/releases/{id}/results"),
    ("get", "/api/v1/releases/{id}/history"),
    ("get", "/api/v1/releases/{id}/report"),
    ("post", "/api/v1/releases/{id}/items/{item}/tick"),
    ("post", "/api/v1/releases/{id}/items/{item}/waive"),
    ("get", "/api/v1/outbox"),
    ("get", "/api/v1/cluster"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/"),
    ("get", "/releases/{id}"),
    ("get", "/metrics"),
    ("get", "/-/healthy"),
    ("get", "/-/ready"),
    ("post", "/-/reload"),
    ("post", "/api/v1/hooks/github"),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// `(method, path)` of every `.route("PATH", METHOD(..)...)` call in the router's source.
fn routes_in_source(src: &str) -> BTreeSet<(String, String)> {
    let method = regex::Regex::new(r"\b(get|post|put|patch|delete)\(").unwrap();
    let mut out = BTreeSet::new();
    for (start, _) in src.match_indices(".route(") {
        let rest = &src[start + ".route(".len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("balanced .route( call");
        let call = &rest[..end];
        let path = call.trim_start().strip_prefix('"').and_then(|p| p.split('"').next()).expect("a path literal");
        for m in method.captures_iter(call) {
            out.insert((m[1].to_string(), path.to_string()));
        }
    }
    out
}

/// Every `(method, path)` the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

/// The `$ref`s of `v` resolve within `doc`.
fn check_refs(doc: &Value, v: &Value) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
                assert!(doc.pointer(ptr).is_some(), "dangling $ref {r}");
            }
            m.values().for_each(|x| check_refs(doc, x));
        }
        Value::Array(a) => a.iter().for_each(|x| check_refs(doc, x)),
        _ => {}
    }
}

/// Shape checks: version, info, unique operation ids, declared path parameters, the API token
/// required (not optional) on every mutating call, a 401 wherever a token may be needed, and the
/// JSON errors of the limits every call has (400/414/431; 415 and, with a body, 408/413 on
/// writes; the 503 of `server.request_timeout` on reads).
fn check_shape(doc: &Value) {
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi 3.1.x: {}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "{}", doc["info"]);
    for (name, kind) in [("bearerAuth", "bearer"), ("basicAuth", "basic")] {
        let scheme = &doc["components"]["securitySchemes"][name];
        assert_eq!((&scheme["type"], &scheme["scheme"]), (&json!("http"), &json!(kind)), "{scheme}");
    }
    check_refs(doc, doc);
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        let declared: Vec<&str> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let wanted: Vec<&str> = path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        assert_eq!(declared, wanted, "path parameters of {path}");
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let what = format!("{} {path}", m.to_uppercase());
            let op_id = op["operationId"].as_str().unwrap_or_else(|| panic!("{what}: no operationId"));
            assert!(ids.insert(op_id.to_string()), "{what}: duplicate operationId {op_id}");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{what}: no responses");
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{what}: no security"));
            if *m != "get" {
                // The GitHub webhook cannot send a token: GitHub signs its body instead.
                let signed = security == &vec![json!({"githubSignature": []})] && path == "/api/v1/hooks/github";
                assert!(signed || security.contains(&json!({"bearerAuth": []})), "{what} needs the bearer token");
                assert!(!security.contains(&json!({})), "{what}: the token is not optional");
            }
            assert_eq!(!security.is_empty(), op["responses"]["401"].is_object(), "{what}: security vs 401");
            let mut limits = vec!["400", "414", "431"];
            if *m == "post" {
                limits.extend(["415", "503"]);
                if op["requestBody"].is_object() {
                    limits.extend(["408", "413"]);
                }
            }
            if security.contains(&json!({})) {
                limits.push("503");
            }
            for code in limits {
                let json = &op["responses"][code]["content"]["application/json"]["schema"];
                assert_eq!(json, &json!({"$ref": "#/components/schemas/Error"}), "{what}: no JSON {code} documented");
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_matches_the_live_routes_both_ways() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let rel = d.create(json!({"service": "checkout", "version": "2.0.1"})).await;
    let id = rel["id"].as_str().unwrap().to_string();
    d.wait_item(&id, SMOKE, "complete", SOON).await;
    let doc = d.get_json("/api/v1/openapi.json").await;
    check_shape(&doc);

    let docs = documented(&doc);
    let source = routes_in_source(include_str!("../src/api/mod.rs"));
    for (m, p) in KNOWN {
        assert!(source.contains(&(m.to_string(), p.to_string())), "parsing src/api/mod.rs missed {m} {p}: {source:?}");
    }
    let undocumented: Vec<_> = source.difference(&docs).collect();
    assert!(undocumented.is_empty(), "routes in src/api/mod.rs missing from openapi.json: {undocumented:?}");

    for (method, path) in &docs {
        let op = &doc["paths"][path][method];
        let what = format!("{} {path}", method.to_uppercase());
        let (status, ctype, text) = send(&d, &doc, method, path, &id, None).await;
        assert_ne!(status, 405, "{what}: documented but the router has no such method: {text}");
        assert!(
            status != 404 || !text.contains("no such endpoint"),
            "{what}: documented but not routed (404 from the router): {text}"
        );
        assert_ne!(status, 404, "{what} with real ids answered 404: {text}");
        let documented = &op["responses"][status.to_string()];
        assert!(documented.is_object(), "{what} answered {status}, which is not documented: {text}");
        if let Some(content) = documented["content"].as_object() {
            let media = ctype.split(';').next().unwrap_or("").trim();
            assert!(content.contains_key(media), "{what}: content type {ctype:?} not documented ({content:?})");
        }
        if ctype.starts_with("application/json") && status < 300 {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        }
    }
    let history = d.get_json(&format!("/api/v1/releases/{id}/history")).await;
    assert!(
        history.as_array().unwrap().iter().any(|h| h["item_id"] == ROLLBACK_DOC && h["to"] == "complete"),
        "the documented tick example was applied: {history}"
    );
}

/// Send the documented call `method path` to `d` (path parameters replaced by release `id` and
/// a manual item; query parameters at their defaults; the documented example body), with an
/// optional bearer token: status, content type and body. Every answer must say `nosniff`.
async fn send(
    d: &Daemon,
    doc: &Value,
    method: &str,
    path: &str,
    id: &str,
    token: Option<&str>,
) -> (u16, String, String) {
    let op = &doc["paths"][path][method];
    let what = format!("{} {path}", method.to_uppercase());
    let mut url = format!("{}{}", d.url, path.replace("{id}", id).replace("{item}", ROLLBACK_DOC));
    let query: Vec<String> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query" && !p["schema"]["default"].is_null())
        .map(|p| format!("{}={}", p["name"].as_str().unwrap(), p["schema"]["default"].to_string().trim_matches('"')))
        .collect();
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let mut req = match method {
        "get" => d.client.get(&url),
        "post" => {
            let example = &op["requestBody"]["content"]["application/json"]["example"];
            let body = if example.is_null() { String::new() } else { example.to_string() };
            d.client.post(&url).header("content-type", "application/json").body(body)
        }
        other => panic!("{what}: no test for method {other}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status().as_u16();
    let header = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let ctype = header("content-type");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what} answered {status} without nosniff");
    (status, ctype, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_documented_security_matches_the_tokens_the_daemon_asks_for() {
    const TOKEN: &str = "openapi-api-token-4711";
    const READER: &str = "openapi-read-token-0815";
    let target = FakeTarget::start();
    let yaml = TOKEN_YAML
        .replace(r#"api_token: "${TEST_TOKEN}""#, &format!(r#"api_token: "${{TEST_TOKEN}}", read_token: {READER}"#));
    assert_ne!(yaml, TOKEN_YAML, "the token fixture changed; add the read token another way");
    // With the GitHub integration configured, its webhook asks for GitHub's signature (401).
    let yaml = format!("{yaml}\nintegrations: {{ github: {{ webhook_secret: openapi-hook-secret }} }}\n");
    let fx = Fixture::new(&yaml, target.port);
    let mut d = Daemon::start_with_env(&fx, &[("TEST_TOKEN", TOKEN)]);
    d.token = Some(TOKEN.into());
    let id = d.create(json!({"service": "checkout", "version": "2.0.1"})).await["id"].as_str().unwrap().to_string();
    let resp = d.client.get(format!("{}/api/v1/openapi.json", d.url)).bearer_auth(READER).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the read token reads the document");
    let doc: Value = resp.json().await.unwrap();
    for (method, path) in documented(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let security = doc["paths"][&path][&method]["security"].as_array().cloned().unwrap_or_default();
        let (anonymous, _, text) = send(&d, &doc, &method, &path, &id, None).await;
        assert_eq!(anonymous == 401, !security.is_empty(), "{what} without a token answered {anonymous}: {text}");
        let (reader, _, text) = send(&d, &doc, &method, &path, &id, Some(READER)).await;
        let readable = security.is_empty() || security.contains(&json!({}));
        assert_eq!(reader != 401, readable, "{what} with the read token answered {reader}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_call_answers_the_documented_limits_with_json() {
    let target = FakeTarget::start();
    let fx = Fixture::new(DAEMON_YAML, target.port);
    let d = Daemon::start(&fx);
    let id = d.create(json!({"service": "checkout", "version": "2.0.1"})).await["id"].as_str().unwrap().to_string();
    let doc = d.get_json("/api/v1/openapi.json").await;
    let to = d.url.trim_start_matches("http://").to_string();
    for (method, path) in documented(&doc) {
        let op = &doc["paths"][&path][&method];
        let target = path.replace("{id}", &id).replace("{item}", ROLLBACK_DOC);
        let m = method.to_uppercase();
        let request = |target: &str, extra: &str, body: &str| {
            format!(
                "{m} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let json = "Content-Type: application/json\r\n";
        let mut cases = vec![
            ("414", request(&format!("{target}?pad={}", "p".repeat(9 * 1024)), json, "")),
            ("431", request(&target, &format!("{json}X-Pad: {}\r\n", "p".repeat(20 * 1024)), "")),
            ("400", request(&target, &format!("{json}Not A Header\r\n"), "")),
        ];
        if method == "post" && op["requestBody"].is_object() {
            cases.push(("415", request(&target, "", "{}")));
            cases.push(("413", request(&target, json, &"x".repeat(70_000))));
        } else if method == "post" {
            cases.push(("415", request(&target, "Content-Type: application/x-www-form-urlencoded\r\n", "")));
        }
        for (code, req) in cases {
            let what = format!("{m} {path} ({code})");
            let got = tokio::task::spawn_blocking({
                let to = to.clone();
                move || common::raw::raw(&to, req.as_bytes())
            })
            .await
            .unwrap();
            common::raw::json_error(&what, &got, code.parse().unwrap(), "");
            assert!(op["responses"][code]["content"]["application/json"].is_object(), "{what}: not documented");
        }
    }
}

#[test]
fn route_parsing_finds_methods_across_lines_and_chains() {
    let src = r#"
        Router::new()
            .route("/a/{id}", get(handlers::a).post(handlers::b))
            .route(
                "/-/reload",
                post(|State(st): State<AppState>| async move { reload(st).await }),
            )
    "#;
    let got: Vec<(String, String)> = routes_in_source(src).into_iter().collect();
    let want = [("get", "/a/{id}"), ("post", "/-/reload"), ("post", "/a/{id}")];
    assert_eq!(got, want.map(|(m, p)| (m.to_string(), p.to_string())));
}
