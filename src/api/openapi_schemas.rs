//! The schemas of the OpenAPI document (`components.schemas`), split from `openapi.rs` to keep
//! both readable: request bodies and states, then the views the API answers with.

use serde_json::{Value, json};

use super::openapi::{array, nullable, r};

/// Every schema, by name.
pub(super) fn schemas() -> Value {
    let ts = json!({"type": "string", "format": "date-time"});
    let ts_or_null = json!({"type": ["string", "null"], "format": "date-time"});
    let duration = json!({"type": "string", "description": "A duration like 500ms, 30s, 5m or 24h.",
        "examples": ["10m"]});
    let mut all = models(&ts, &ts_or_null, &duration);
    let map = all.as_object_mut().expect("an object");
    for more in [views(&ts, &ts_or_null, &duration), report_parts(&ts)] {
        for (k, v) in more.as_object().expect("an object") {
            map.insert(k.clone(), v.clone());
        }
    }
    all
}

/// Request bodies, states and releases.
/// Release labels: Prometheus-style names, one-line values.
fn labels() -> Value {
    json!({ "type": "object", "maxProperties": 32,
        "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$" },
        "additionalProperties": { "type": "string", "maxLength": 256 },
        "description": "Free labels (`team: payments`), shown on the page and copied into notifications (Alertmanager labels too, so shipwatch's own label names are refused)." })
}

fn models(ts: &Value, ts_or_null: &Value, duration: &Value) -> Value {
    let name = json!({"type": "string", "pattern": "^[A-Za-z0-9._\\-+/:@]{1,128}$"});
    json!({
        "Error": { "type": "object", "required": ["error"],
            "properties": { "error": { "type": "string", "description": "What went wrong, naming the field." } } },
        "Reloaded": { "type": "object", "required": ["reloaded", "path"],
            "properties": {
                "reloaded": { "type": "boolean", "const": true },
                "path": { "type": "string", "description": "The config file that was read again." } } },
        "NewRelease": { "type": "object", "required": ["service", "version"], "additionalProperties": false,
            "properties": {
                "service": name, "version": name,
                "environment": { "anyOf": [name, { "type": "null" }], "default": "production",
                    "description": "Null or absent: `production`." },
                "deployed_at": { "type": ["string", "null"], "format": "date-time",
                    "description": "When it was deployed (null or absent: now; not in the future; not with `planned`)." },
                "planned": { "type": "boolean", "default": false,
                    "description": "Not deployed yet: only pre-deploy items run until `deploy`." },
                "new": { "type": "boolean", "default": false,
                    "description": "Start another release even when one of this service, version and environment is open (without it the open one is answered, 200)." },
                "window": { "type": ["object", "null"], "additionalProperties": false,
                    "description": "Overrides the configured watch window (an object; null or absent: the config's).",
                    "properties": { "min": { "anyOf": [duration, { "type": "null" }] },
                        "max": { "anyOf": [duration, { "type": "null" }] } } },
                "commit": { "type": ["string", "null"], "pattern": "^[0-9A-Fa-f]{7,64}$",
                    "description": "The commit deployed (stored in lowercase)." },
                "labels": labels() } },
        "TickBody": { "type": "object", "required": ["by"], "additionalProperties": false,
            "properties": { "by": { "type": "string", "minLength": 1 }, "note": nullable("string") } },
        "WaiveBody": { "type": "object", "required": ["by", "reason"], "additionalProperties": false,
            "properties": { "by": { "type": "string", "minLength": 1 }, "reason": { "type": "string", "minLength": 1 } } },
        "VerdictBody": { "type": "object", "required": ["verdict", "by"], "additionalProperties": false,
            "properties": { "verdict": { "type": "string", "enum": ["verified", "failed"] },
                "by": { "type": "string", "minLength": 1 }, "note": nullable("string") } },
        "ReleaseState": { "type": "string", "enum": ["planned", "deployed", "verified", "failed", "inconclusive"],
            "description": "`inconclusive`: closed without evidence enough (an item unknown or its coverage \
                below `min_coverage`); a person settles it with a verdict." },
        "ItemState": { "type": "string",
            "enum": ["manual", "pending", "complete", "failing", "regressed", "waived", "unknown"],
            "description": "`unknown`: could not be measured for longer than its `stale_after`." },
        "ProbeStatus": { "type": "string", "enum": ["pass", "fail", "error"] },
        "Release": { "type": "object",
            "required": ["id", "service", "version", "environment", "state", "created_at", "window_min", "window_max"],
            "properties": {
                "id": { "type": "string" }, "service": { "type": "string" }, "version": { "type": "string" },
                "environment": { "type": "string" }, "state": r("ReleaseState"),
                "created_at": ts, "deployed_at": ts_or_null, "closed_at": ts_or_null,
                "window_min": { "type": "number", "description": "Seconds." },
                "window_max": { "type": "number", "description": "Seconds." },
                "regressed": { "type": "boolean" },
                "reason": { "type": ["string", "null"], "description": "Why the verdict is what it is." },
                "commit": { "type": ["string", "null"], "description": "The commit deployed, lowercase hex." },
                "labels": labels(),
                "origin": { "type": "object", "required": ["kind"],
                    "description": "Who started it, when not the API: a `watch` (with its name) or a `github_deployment`.",
                    "properties": { "kind": { "type": "string", "enum": ["watch", "github_deployment"] } } } } },
        "Window": { "type": "object", "required": ["min_s", "max_s"], "properties": {
            "min_s": { "type": "number" }, "max_s": { "type": "number" },
            "elapsed_s": nullable("number"),
            "remaining_s": { "type": ["number", "null"], "description": "Until max; null when closed or planned." } } },
        "Counts": { "type": "object", "properties": {
            "complete": { "type": "integer" }, "pending": { "type": "integer" }, "failing": { "type": "integer" },
            "regressed": { "type": "integer" }, "manual": { "type": "integer" }, "waived": { "type": "integer" },
            "unknown": { "type": "integer" } } },
    })
}

/// Views, history, reports and the outbox.
fn views(ts: &Value, ts_or_null: &Value, duration: &Value) -> Value {
    json!({
        "Cluster": { "type": "object", "required": ["storage", "cluster"], "properties": {
            "storage": { "type": "string", "enum": ["sqlite", "postgres"] },
            "cluster": { "type": "object", "required": ["name", "epoch", "leading", "replicas"], "properties": {
                "name": { "type": "string", "description": "This replica." },
                "leader": nullable("string"), "leader_url": nullable("string"),
                "epoch": { "type": "integer", "description": "Bumped at every takeover." },
                "since": ts_or_null, "leading": { "type": "boolean" },
                "replicas": array(json!({ "type": "object", "properties": {
                    "name": { "type": "string" }, "url": { "type": "string" }, "leader": { "type": "boolean" },
                    "seen_at": ts } })) } } } },
        "ReleasePage": { "type": "object", "required": ["releases"], "properties": {
            "releases": array(r("ReleaseView")),
            "next_cursor": { "type": "string",
                "description": "Pass as `cursor` for the next page; absent on the last page." } } },
        "State": { "oneOf": [r("ItemState"), r("ReleaseState")] },
        "Cause": { "type": "object", "required": ["kind"], "description": "Why a state changed.",
            "properties": {
                "kind": { "type": "string", "enum": ["created", "started", "checklist", "rule", "window_closed",
                    "tick", "waive", "action", "rebind", "deploy", "unmeasured", "measured", "verdict", "decided",
                    "unrecorded"] },
                "since": { "type": "string", "format": "date-time",
                    "description": "`unmeasured`: the last measurement (or when the first was due)." },
                "planned": { "type": "boolean", "description": "`started`: the release waits for its deploy." },
                "met": { "type": "string", "enum": ["pass", "fail"], "description": "`rule`: which rule the evidence met." },
                "probe": { "type": "string", "description": "`rule`: the probe whose result decided (none: time did)." },
                "by": { "type": "string", "description": "`tick`, `waive`, `decided`: the person." },
                "note": { "type": "string", "description": "`tick`, `decided`: their note." },
                "reason": { "type": "string", "description": "`waive`: why." },
                "event": { "type": "string", "description": "`action`: the event the action item is on." },
                "receiver": { "type": "string", "description": "`action`: where its notification was delivered." },
                "bound": { "type": "boolean", "description": "`rebind`: probes were bound (true) or unbound." },
                "to": r("ReleaseState") } },
        "ReleaseView": { "allOf": [r("Release"), { "type": "object", "required": ["window", "counts"],
            "properties": { "window": r("Window"), "counts": r("Counts"),
                "items": { "type": "array", "items": r("ItemView"),
                    "description": "In checklist order; only in the single-release view." } } }] },
        "PassRule": { "oneOf": [
            { "const": "window", "description": "No fail across the whole window." },
            { "type": "object", "required": ["consecutive"], "properties": { "consecutive": { "type": "integer" } } },
            { "type": "object", "required": ["sustained"], "properties": { "sustained": duration } } ] },
        "Evidence": { "type": "object", "required": ["message"], "properties": {
            "target": { "type": "string", "description": "Resolved URL, query or argv (secrets redacted)." },
            "expected": { "type": "string" }, "observed": { "type": "string" },
            "status_code": { "type": "integer" }, "exit_code": { "type": "integer" },
            "latency_ms": { "type": "number" }, "alerts": array(json!({"type": "string"})),
            "message": { "type": "string" }, "details": { "type": "object" },
            "perfdata": { "type": "array", "items": r("PerfDatum"),
                "description": "A Nagios plugin's performance data (command probe, `format: nagios`)." } } },
        "PerfDatum": { "type": "object", "required": ["label", "value"], "properties": {
            "label": { "type": "string" },
            "value": { "type": ["number", "null"], "description": "Null: the plugin printed `U` (could not determine) or nothing." },
            "uom": { "type": "string", "enum": ["s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"],
                "description": "Unit; absent for a plain count." },
            "warn": { "type": "string", "description": "Warning range as printed (`10`, `10:`, `~:10`, `@10:20`)." },
            "crit": { "type": "string", "description": "Critical range as printed." },
            "min": { "type": "number" }, "max": { "type": "number" } } },
        "ItemEvidence": { "type": "object", "required": ["evidence"], "properties": {
            "probe": nullable("string"), "status": { "oneOf": [r("ProbeStatus"), { "type": "null" }] },
            "evidence": r("Evidence") } },
        "ItemView": { "type": "object", "required": ["id", "text", "state", "since", "automated", "cause"], "properties": {
            "id": { "type": "string" }, "text": { "type": "string" },
            "section": { "type": ["string", "null"], "description": "Nearest heading above the item." },
            "state": r("ItemState"), "since": ts, "automated": { "type": "boolean" },
            "probes": array(json!({"type": "string"})), "pass": r("PassRule"),
            "cause": r("Cause"),
            "by": { "type": "string", "description": "The person who ticked or waived it (absent otherwise)." },
            "note": { "type": "string", "description": "Tick note or waiver reason." },
            "evidence": r("ItemEvidence"), "last_results": array(r("ResultRecord")),
            "mode": { "type": "string", "enum": ["gate", "warn", "shadow"],
                "description": "How the binding counts: gates the verdict, only warns, or is shown only (shadow)." },
            "fresh_at": { "type": "string", "format": "date-time",
                "description": "When a bound probe last measured (a result that was not `error`)." },
            "coverage": { "type": "number", "minimum": 0, "maximum": 1,
                "description": "Share of the elapsed window in which the item was measured." },
            "min_coverage": { "type": "number", "description": "The least coverage a verified verdict needs." },
            "stale_after_s": { "type": "number", "description": "Seconds without a measurement before `unknown`." } } },
        "ResultRecord": { "type": "object", "required": ["release_id", "probe", "at", "status", "evidence"],
            "properties": { "release_id": { "type": "string" }, "probe": { "type": "string" }, "at": ts,
                "status": r("ProbeStatus"), "evidence": r("Evidence") } },
        "HistoryRecord": { "type": "object", "required": ["release_id", "at", "from", "to", "cause", "message"],
            "properties": { "release_id": { "type": "string" },
                "item_id": { "type": ["string", "null"], "description": "Null for release state changes." },
                "at": ts,
                "from": { "oneOf": [r("State"), { "type": "null" }], "description": "Null when created." },
                "to": r("State"), "cause": r("Cause"),
                "message": { "type": "string", "description": "Includes who, for ticks and waivers." } } },
        "Report": { "type": "object", "required": ["release", "verdict", "counts", "items"], "properties": {
            "release": r("Release"), "verdict": r("ReleaseState"), "reason": nullable("string"),
            "decided": { "oneOf": [r("Decision"), { "type": "null" }],
                "description": "The person who gave the verdict, when a person did (the latest such change)." },
            "generated_at": ts, "counts": r("Counts"),
            "items": array(r("ReportItem")),
            "regressions": array(json!({ "type": "object", "properties": {
                "item": { "type": "string" }, "from": ts, "to": ts_or_null, "duration_s": { "type": "integer" } } })),
            "probes": array(json!({ "type": "object", "properties": {
                "probe": { "type": "string" }, "passes": { "type": "integer" }, "fails": { "type": "integer" },
                "errors": { "type": "integer" }, "pass_rate": { "type": "number" } } })) } },
        "OutboxEntry": { "type": "object", "properties": {
            "id": { "type": "integer" }, "key": { "type": "string", "description": "Idempotency key." },
            "receiver": { "type": "string" }, "event": { "type": "string" }, "release": { "type": "string" },
            "item": nullable("string"), "action_item": nullable("string"), "attempts": { "type": "integer" },
            "created_at": ts, "next_at": ts, "last_error": nullable("string"), "dead": { "type": "boolean" } } },
    })
}

/// The report's item and person's-verdict schemas (their own `json!` calls: one would exceed
/// the macro's recursion limit).
fn report_parts(ts: &Value) -> Value {
    let item = json!({ "type": "object", "properties": {
        "id": { "type": "string" }, "text": { "type": "string" }, "section": nullable("string"),
        "state": r("ItemState"), "since": ts, "cause": r("Cause"),
        "by": nullable("string"), "note": nullable("string"),
        "evidence": { "type": ["string", "null"],
            "description": "The evidence that last changed its state (an unknown item's last good one, old)." },
        "automated": { "type": "boolean" },
        "mode": { "type": ["string", "null"], "enum": ["gate", "warn", "shadow", null],
            "description": "How its binding counts; null for a manual item." },
        "coverage": { "type": ["number", "null"], "minimum": 0, "maximum": 1,
            "description": "Share of the window (to its close, or now) in which the item was measured \
                (gate and warn items bound to probes, once deployed)." },
        "min_coverage": nullable("number"),
        "unmeasured": { "type": ["object", "null"], "description": "Why an unknown item could not be seen.",
            "properties": { "since": ts,
                "error": { "type": "string", "description": "The latest result message of its probes since then." } } } } });
    let decision = json!({ "type": "object", "required": ["by", "at", "from", "to"], "properties": {
        "by": { "type": "string" }, "note": nullable("string"), "at": ts,
        "from": { "allOf": [r("ReleaseState")], "description": "The state it settled (e.g. inconclusive)." },
        "to": r("ReleaseState"),
        "from_reason": { "type": ["string", "null"],
            "description": "Why the release was in `from` (e.g. why it was inconclusive)." } } });
    json!({ "ReportItem": item, "Decision": decision })
}
