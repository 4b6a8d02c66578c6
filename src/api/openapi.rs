//! The OpenAPI 3.1 description of the HTTP API, served at `GET /api/v1/openapi.json`.
//!
//! Built by hand with `serde_json::json!` next to the router in `api/mod.rs`; `tests/openapi.rs`
//! checks it against the live routes both ways (every documented call is routed and answers one
//! of its documented codes; every route in `api/mod.rs` is documented), so keep the two in step.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{MAX_BODY, MAX_HEAD, MAX_HEADERS, MAX_URI, PAGE_CSP};

/// `GET /api/v1/openapi.json`.
pub async fn spec() -> Response {
    Json(document()).into_response()
}

pub(super) fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

pub(super) fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn json_resp(desc: &str, schema: Value) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": schema } } })
}

fn text_resp(desc: &str, mime: &str) -> Value {
    json!({ "description": desc, "content": { mime: { "schema": { "type": "string" } } } })
}

fn err(desc: &str) -> Value {
    json_resp(desc, r("Error"))
}

fn param(name: &str, place: &str, desc: &str, schema: Value) -> Value {
    json!({ "name": name, "in": place, "required": place == "path", "description": desc, "schema": schema })
}

fn id() -> Value {
    param("id", "path", "Release id, as returned on creation (e.g. `checkout-2-0-1`).", json!({"type": "string"}))
}

fn item() -> Value {
    param(
        "item",
        "path",
        "Checklist item id (e.g. `document-rollback-procedure-and-steps`).",
        json!({"type": "string"}),
    )
}

fn body(schema: &str, example: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": r(schema), "example": example } } })
}

/// An operation; `codes` are `(status, response)` pairs, `extra` is merged in last.
fn op(id: &str, tag: &str, summary: &str, codes: Vec<(&str, Value)>, extra: Value) -> Value {
    let mut o = json!({ "operationId": id, "tags": [tag], "summary": summary });
    o["responses"] = Value::Object(codes.into_iter().map(|(c, v)| (c.to_string(), v)).collect::<Map<_, _>>());
    if let Value::Object(m) = extra {
        for (k, v) in m {
            o[k] = v;
        }
    }
    o
}

/// A mutating operation: the API token (bearer, or basic auth with the token as password; the
/// read token when only that is configured), a 401 without it, and the content-type rules: JSON
/// bodies (413/408 while the body is read, before anything changes), or no body at all.
fn mutating(mut o: Value) -> Value {
    o["security"] = json!([{ "bearerAuth": [] }, { "basicAuth": [] }]);
    o["responses"]["401"] = err("Missing or wrong `Authorization: Bearer <token>`: the API token, or the read token \
        when only `server.read_token` is configured (writes are never less protected than reads).");
    o["responses"]["503"] = err("The store is not writable, or the connection was being closed to admit another \
        before the call started; nothing was changed.");
    if o["requestBody"].is_null() {
        o["responses"]["415"] = err("A `Content-Type` other than `application/json` (this call takes no body).");
    } else {
        o["responses"]["415"] = err("The body is not sent as `Content-Type: application/json`.");
        o["responses"]["413"] = err(&format!("The body is larger than {MAX_BODY} bytes."));
        o["responses"]["408"] = err("The body did not arrive within `server.request_timeout`; nothing was changed.");
    }
    o
}

/// A reading operation: open unless `server.read_token` is set, then the read or the API token;
/// answered 503 when it takes longer than `server.request_timeout`.
fn reading(mut o: Value) -> Value {
    o["security"] = json!([{}, { "bearerAuth": [] }, { "basicAuth": [] }]);
    o["responses"]["401"] = err("A read token is configured and none (or a wrong one) was presented.");
    add(&mut o, "503", err("It took longer than `server.request_timeout` (default 30s); try again."));
    o
}

/// Add response `code` to operation `o`, merging description and content types into one it
/// already has.
fn add(o: &mut Value, code: &str, resp: Value) {
    let have = &mut o["responses"][code];
    if have.is_null() {
        *have = resp;
        return;
    }
    let (was, more) = (have["description"].as_str().unwrap_or(""), resp["description"].as_str().unwrap_or(""));
    have["description"] = json!(format!("{was} Or: {more}"));
    if let Some(more) = resp["content"].as_object() {
        if !have["content"].is_object() {
            have["content"] = json!({});
        }
        for (media, v) in more {
            have["content"][media] = v.clone();
        }
    }
}

/// The limits every call has, whatever the config; hyper's own answers to them get JSON
/// bodies too (`wire.rs`).
fn everywhere(mut paths: Value) -> Value {
    for item in paths.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        for (method, o) in item.as_object_mut().into_iter().flatten() {
            if method != "parameters" {
                add(o, "400", err("Malformed HTTP request (request line or header syntax)."));
                add(o, "414", err(&format!("The request target is longer than {MAX_URI} bytes.")));
                let big = format!("Request line and headers over {MAX_HEAD} bytes, or over {MAX_HEADERS} headers.");
                add(o, "431", err(&big));
            }
        }
    }
    paths
}

/// Every operation without an explicit `security` is a reading one (see the router in `mod.rs`:
/// everything but the probes `/-/healthy` and `/-/ready` sits behind the read token).
fn default_reading(mut paths: Value) -> Value {
    for item in paths.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        for (method, o) in item.as_object_mut().into_iter().flatten() {
            if method != "parameters" && o.get("security").is_none() {
                *o = reading(o.take());
            }
        }
    }
    paths
}

/// No authentication, ever (liveness and readiness probes).
fn open() -> Value {
    json!({ "security": [] })
}

fn not_found() -> (&'static str, Value) {
    ("404", err("No such release (or item)."))
}

fn bad_body() -> Vec<(&'static str, Value)> {
    vec![
        ("400", err("Empty or malformed JSON body.")),
        ("422", err("A field is missing, unknown or invalid; the message names it.")),
    ]
}

fn obj() -> Value {
    json!({"type": "object"})
}

/// `POST /api/v1/hooks/github`: signed by GitHub (HMAC), no API token.
fn github_hook() -> Value {
    let example = json!({
        "action": "created",
        "deployment_status": { "state": "success", "created_at": "2026-01-05T12:00:00Z", "target_url": "" },
        "deployment": { "id": 145988746, "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "ref": "v2.0.1",
                        "environment": "production" },
        "repository": { "full_name": "acme/checkout", "name": "checkout" },
    });
    let mut o = op(
        "githubHook",
        "integrations",
        "GitHub webhook (`deployment_status`, `ping`): a successful deployment starts a release with its commit, \
         or deploys the planned one of that service, version and environment; a redelivery answers with the release \
         it started. No API token: GitHub's `X-Hub-Signature-256` (HMAC-SHA256, `integrations.github.webhook_secret`).",
        vec![
            ("201", json_resp("The release this deployment started.", r("ReleaseView"))),
            ("200", json_resp("The release it already started, or the planned one it deployed; a ping.", obj())),
            ("202", json_resp("Nothing to do, and why: `{\"ignored\": \"...\"}`.", obj())),
            ("400", err("Empty or malformed JSON body, or no `X-GitHub-Event`.")),
            ("401", err("`X-Hub-Signature-256` is missing or does not match the body.")),
            ("415", err("The body is not JSON: set the webhook's content type to `application/json`.")),
            ("413", err(&format!("The body is larger than {MAX_BODY} bytes."))),
            ("408", err("The body did not arrive within `server.request_timeout`; nothing was changed.")),
            ("422", err("A field GitHub always sends is missing, or the release was refused (the message names it).")),
            ("503", err("`integrations.github` is not configured, or the store is not writable.")),
        ],
        json!({ "requestBody": { "required": true, "content": { "application/json": {
                    "schema": obj(), "example": example } } },
                "parameters": [
                    param("X-GitHub-Event", "header", "`deployment_status` or `ping`.", json!({"type": "string"})),
                    param("X-Hub-Signature-256", "header", "`sha256=<hex HMAC-SHA256 of the raw body>`.",
                        json!({"type": "string"})),
                ] }),
    );
    o["security"] = json!([{ "githubSignature": [] }]);
    o
}

fn paths() -> Value {
    let with = |mut v: Vec<(&'static str, Value)>, more: Vec<(&'static str, Value)>| {
        v.extend(more);
        v
    };
    everywhere(default_reading(json!({
        "/api/v1/releases": {
            "get": op("listReleases", "releases",
                "A page of releases, newest first (without items), from the store: closed releases that have \
                 left memory (`storage.keep_closed`) are listed too, until `storage.retention` deletes them.",
                vec![("200", json_resp("A page of releases.", r("ReleasePage"))), ("422", err("Bad query parameter."))],
                json!({ "parameters": [
                    param("state", "query", "Only these states, comma-separated: planned, deployed, verified, \
                        failed, inconclusive, and `active` (planned,deployed) or `closed` \
                        (verified,failed,inconclusive).",
                        json!({"type": "string", "examples": ["active", "failed,verified"]})),
                    param("service", "query", "Only this service's releases.", json!({"type": "string"})),
                    param("limit", "query", "At most this many (default 100).",
                        json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})),
                    param("cursor", "query", "`next_cursor` of the previous page (same filters).",
                        json!({"type": "string"})),
                ] })),
            "post": mutating(op("createRelease", "releases",
                "Start watching a release. Idempotent while it is open: a repeat for the same service, version and \
                 environment answers 200 with the open release (a retried CI job); `new: true` starts another. \
                 With an `Idempotency-Key` header any repeat of the same request answers 200 with the release the \
                 key created (open, or closed within `storage.keep_closed`); the same key with a different \
                 request is refused with 422.",
                with(vec![("201", json_resp("The new release with its items.", r("ReleaseView"))),
                          ("200", json_resp("That version is already watched: the open release.", r("ReleaseView")))],
                     bad_body()),
                json!({ "requestBody": body("NewRelease",
                    json!({"service": "checkout", "version": "2.0.1", "environment": "staging"})),
                    "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false,
                        "schema": { "type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$" },
                        "description": "Makes any repeat of this request safe, e.g. the CI job id." }] }))),
        },
        "/api/v1/releases/{id}": { "parameters": [id()],
            "get": op("getRelease", "releases", "One release with its items, their states and evidence.",
                vec![("200", json_resp("The release.", r("ReleaseView"))), not_found()], json!({})) },
        "/api/v1/releases/{id}/deploy": { "parameters": [id()],
            "post": mutating(op("deployRelease", "releases", "A planned release is deployed now: its window starts.",
                vec![("200", json_resp("The release.", r("ReleaseView"))), not_found(),
                     ("409", err("The release is not planned."))], json!({}))) },
        "/api/v1/releases/{id}/verdict": { "parameters": [id()],
            "post": mutating(op("giveVerdict", "releases",
                "A person gives the release its verdict: settles an inconclusive release, or ends an open one \
                 early (a manual promote or abort). Recorded in history with who and why; the same verdict \
                 again changes nothing.",
                with(vec![("200", json_resp("The release.", r("ReleaseView"))), not_found(),
                          ("409", err("The release is closed with another verdict, or planned (verify after the deploy)."))],
                     bad_body()),
                json!({ "requestBody": body("VerdictBody",
                    json!({"verdict": "verified", "by": "dave", "note": "dashboards checked by hand"})) }))) },
        "/api/v1/releases/{id}/checklist.md": { "parameters": [id()],
            "get": op("getChecklist", "releases",
                "The team's Markdown with `[x]` on done items and a note (when, by whom or which evidence).",
                vec![("200", text_resp("The ticked checklist.", "text/markdown")), not_found()], json!({})) },
        "/api/v1/releases/{id}/results": { "parameters": [id()],
            "get": op("listResults", "releases", "Probe results, newest first.",
                vec![("200", json_resp("Results.", array(r("ResultRecord")))), not_found(),
                     ("422", err("Bad query parameter."))],
                json!({ "parameters": [
                    param("probe", "query", "Only this probe's results.", json!({"type": "string"})),
                    param("limit", "query", "At most this many (default 100).",
                        json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})),
                ] })) },
        "/api/v1/releases/{id}/history": { "parameters": [id()],
            "get": op("listHistory", "releases",
                "State changes, oldest first: probes, regressions, and who ticked or waived what.",
                vec![("200", json_resp("History.", array(r("HistoryRecord")))), not_found()], json!({})) },
        "/api/v1/releases/{id}/report": { "parameters": [id()],
            "get": op("getReport", "releases", "The release report (final once the release is closed).",
                vec![("200", json!({ "description": "The report.", "content": {
                        "application/json": { "schema": r("Report") },
                        "text/markdown": { "schema": { "type": "string" } } } })),
                     not_found(), ("422", err("Bad query parameter."))],
                json!({ "parameters": [param("format", "query", "`json` (default) or `md` for Markdown.",
                    json!({"type": "string", "enum": ["json", "md", "markdown"], "default": "json"}))] })) },
        "/api/v1/releases/{id}/items/{item}/tick": { "parameters": [id(), item()],
            "post": mutating(op("tickItem", "items", "A person ticks a manual item (recorded with who and a note).",
                with(vec![("200", json_resp("The item.", r("ItemView"))), not_found(),
                          ("409", err("The item is automated: waive it instead."))], bad_body()),
                json!({ "requestBody": body("TickBody", json!({"by": "dave", "note": "rollback doc reviewed"})) }))) },
        "/api/v1/releases/{id}/items/{item}/waive": { "parameters": [id(), item()],
            "post": mutating(op("waiveItem", "items", "A person waives an item, with a reason.",
                with(vec![("200", json_resp("The item.", r("ItemView"))), not_found()], bad_body()),
                json!({ "requestBody": body("WaiveBody",
                    json!({"by": "dave", "reason": "no schema change in this release"})) }))) },
        "/api/v1/hooks/github": { "post": github_hook() },
        "/api/v1/cluster": {
            "get": op("getCluster", "ops",
                "The replicas (on PostgreSQL), which one leads, since when and at which epoch; a single \
                 process on SQLite answers as a cluster of one that leads. Writes sent to a follower are \
                 forwarded to the leader (503 with Retry-After while no replica leads).",
                vec![("200", json_resp("The cluster.", r("Cluster")))], json!({})) },
        "/api/v1/outbox": {
            "get": op("listOutbox", "notifications", "Notifications waiting for delivery, and dead letters.",
                vec![("200", json_resp("Outbox rows.", array(r("OutboxEntry")))),
                     ("503", err("The store cannot be read."))], json!({})) },
        "/api/v1/openapi.json": {
            "get": op("getOpenApi", "meta", "This document.",
                vec![("200", json_resp("OpenAPI 3.1.", json!({"type": "object"})))], json!({})) },
        "/": { "get": op("statusPage", "pages", "The on-call status page (HTML, refreshes itself).",
                vec![("200", text_resp("HTML.", "text/html"))], json!({})) },
        "/releases/{id}": { "parameters": [id()],
            "get": op("releasePage", "pages", "One release's checklist with evidence (HTML).",
                vec![
                    ("200", text_resp("HTML.", "text/html")),
                    ("404", text_resp("No such release.", "text/html")),
                    ("503", text_resp("The release cannot be shown right now.", "text/html")),
                ],
                json!({})) },
        "/metrics": { "get": op("metrics", "ops", "Prometheus metrics (text exposition format).",
                vec![("200", text_resp("Metrics.", "text/plain"))], json!({})) },
        "/-/healthy": { "get": op("healthy", "ops", "Liveness: the process serves HTTP.",
                vec![("200", text_resp("Healthy.", "text/plain"))], open()) },
        "/-/ready": { "get": op("ready", "ops", "Readiness: the store is writable.",
                vec![("200", text_resp("Ready.", "text/plain")),
                     ("503", text_resp("Not ready.", "text/plain"))], open()) },
        "/-/reload": { "post": mutating(op("reload", "ops",
                "Re-read config and checklist; an invalid new config is rejected and the old one keeps running.",
                vec![("200", json_resp("Reloaded: the new config and checklist are in use.", r("Reloaded"))),
                     ("409", err("This shipwatch was not started from a config file.")),
                     ("422", err("The new config is invalid; the old one keeps running."))], json!({}))) },
    })))
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "shipwatch",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Verifies production releases from a team's Markdown checklist. Errors are JSON \
                `{{\"error\": \"...\"}}`, including the answers to requests that are too large or malformed. \
                Mutating calls need `Authorization: Bearer <api_token>` when the daemon has a token configured, \
                and the read token when only `server.read_token` is set; reading calls need the read token (or \
                the API token) when `server.read_token` is set. Either token may also be sent as the password \
                of HTTP basic auth.\n\n\
                Whatever the config: request line and headers at most {MAX_HEAD} bytes and {MAX_HEADERS} headers \
                (431), the request target at most {MAX_URI} bytes (414), a body at most {MAX_BODY} bytes (413). \
                Writes with a body need `Content-Type: application/json` (415); writes without one refuse any \
                other content type (415). Reading calls are answered 503 after `server.request_timeout` \
                (default 30s); a write is never cut off once it runs: its answer waits for the commit, and a \
                body that does not arrive in time is refused (408) before anything changes. A connection that \
                sends no complete request head within `server.header_read_timeout` (default 10s) is closed; at \
                `server.max_connections` (default 4096) the connection idle the longest is closed to admit a \
                new one. Every answer carries `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` \
                and `X-Frame-Options: DENY`; the HTML pages also `Content-Security-Policy: {PAGE_CSP}`."),
        },
        "tags": [
            { "name": "releases" }, { "name": "items" }, { "name": "notifications" },
            { "name": "pages" }, { "name": "ops" }, { "name": "meta" }, { "name": "integrations" },
        ],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer",
                    "description": "`server.api_token` (`SHIPWATCH_API_TOKEN` for the CLI), or `server.read_token` \
                        for reading calls." },
                "basicAuth": { "type": "http", "scheme": "basic",
                    "description": "Any user name; the token as the password (for browsers)." },
                "githubSignature": { "type": "apiKey", "in": "header", "name": "X-Hub-Signature-256",
                    "description": "GitHub's HMAC-SHA256 of the raw body with `integrations.github.webhook_secret`, \
                        as `sha256=<hex>`." },
            },
            "schemas": super::openapi_schemas::schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ref_resolves() {
        let doc = super::document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
    }
}
