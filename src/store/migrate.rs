//! Numbered schema migrations, tracked in `PRAGMA user_version`: each runs in its own
//! transaction, in order; a database newer than this binary is refused. Most are SQL; a
//! migration that reshapes JSON bodies is code.

use rusqlite::{Connection, Transaction, params};
use serde_json::{Value, json};

use super::StoreError;

/// One migration step.
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

/// The migrations; index + 1 is the version.
const MIGRATIONS: &[Migration] = &[
    // 1: initial schema.
    Migration::Sql(
        "CREATE TABLE releases (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL);
         CREATE TABLE items (release_id TEXT NOT NULL, item_id TEXT NOT NULL, body TEXT NOT NULL,
                             PRIMARY KEY (release_id, item_id));
         CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL,
                               probe TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
         CREATE INDEX results_by_release ON results (release_id, probe, id);
         CREATE INDEX results_by_time ON results (at_ms);
         CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, release_id TEXT NOT NULL,
                               body TEXT NOT NULL);
         CREATE INDEX history_by_release ON history (release_id, id);",
    ),
    // 2: the durable notification outbox; delivered keys are remembered so a replay never
    //    queues a notification twice; small named state blobs for notifiers.
    Migration::Sql(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                              next_at_ms INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
         CREATE INDEX outbox_due ON outbox (dead, next_at_ms);
         CREATE TABLE delivered (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
         CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    ),
    // 3: typed causes in item records and history (instead of a `by` string); when a release
    //    closed, as a column, for retention.
    Migration::Code(typed_causes),
    // 4: service and state as columns, and an index on creation order, for the paginated and
    //    filtered release list (`GET /api/v1/releases?state=&service=&limit=&cursor=`).
    Migration::Code(list_columns),
    // 5: outbox rows say who delivers them (`target`); the rollback hook's rows, queued before
    //    under the receiver name `rollback`, are told apart by their key (`RELEASE/rollback/ITEM`;
    //    a notifier's key is `RELEASE/EVENT/ITEM/MS/RECEIVER[/ACTION]`, and no event is named
    //    `rollback`).
    Migration::Code(outbox_targets),
];

/// The schema version this binary writes.
pub(super) fn supported() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring `conn` up to [`supported`], refusing a newer database.
pub(super) fn run(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > supported() {
        return Err(StoreError::TooNew { path: path.into(), found: version, supported: supported() });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        match m {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(f) => f(&tx)?,
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(db = %path, version = i + 1, "applied schema migration");
    }
    Ok(())
}

fn rows(tx: &Transaction<'_>, sql: &str) -> Result<Vec<(i64, String)>, StoreError> {
    let mut st = tx.prepare(sql)?;
    let out = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(out)
}

fn parse(table: &'static str, body: &str) -> Result<Value, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

/// Milliseconds of an RFC 3339 time in a JSON body, if any.
pub(super) fn ms_of(v: &Value) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(t.timestamp_millis())
}

fn typed_causes(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "ALTER TABLE releases ADD COLUMN closed_ms INTEGER;
         CREATE INDEX releases_closed ON releases (closed_ms);",
    )?;
    for (rowid, body) in rows(tx, "SELECT rowid, body FROM releases")? {
        let v = parse("releases", &body)?;
        tx.execute("UPDATE releases SET closed_ms = ?2 WHERE rowid = ?1", params![rowid, ms_of(&v["closed_at"])])?;
    }
    for (rowid, body) in rows(tx, "SELECT rowid, body FROM items")? {
        let mut v = parse("items", &body)?;
        if let Some(o) = v.as_object_mut()
            && !o.contains_key("cause")
        {
            let by = o.remove("by").and_then(|b| b.as_str().map(String::from));
            let note = o.remove("note").and_then(|n| n.as_str().map(String::from));
            let state = o.get("state").and_then(Value::as_str).unwrap_or("");
            o.insert("cause".into(), legacy_item_cause(state, by.as_deref(), note.as_deref()));
            tx.execute("UPDATE items SET body = ?2 WHERE rowid = ?1", params![rowid, v.to_string()])?;
        }
    }
    for (id, body) in rows(tx, "SELECT id, body FROM history")? {
        let mut v = parse("history", &body)?;
        if let Some(o) = v.as_object_mut()
            && !o.contains_key("cause")
        {
            if o.get("from").and_then(Value::as_str) == Some("") {
                o.insert("from".into(), Value::Null);
            }
            let cause = legacy_history_cause(o);
            o.insert("cause".into(), cause);
            tx.execute("UPDATE history SET body = ?2 WHERE id = ?1", params![id, v.to_string()])?;
        }
    }
    Ok(())
}

fn list_columns(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "ALTER TABLE releases ADD COLUMN service TEXT NOT NULL DEFAULT '';
         ALTER TABLE releases ADD COLUMN state TEXT NOT NULL DEFAULT '';
         CREATE UNIQUE INDEX releases_by_seq ON releases (seq);
         CREATE INDEX releases_by_service ON releases (service, seq);",
    )?;
    for (rowid, body) in rows(tx, "SELECT rowid, body FROM releases")? {
        let v = parse("releases", &body)?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        tx.execute(
            "UPDATE releases SET service = ?2, state = ?3 WHERE rowid = ?1",
            params![rowid, field("service"), field("state")],
        )?;
    }
    Ok(())
}

fn outbox_targets(tx: &Transaction<'_>) -> Result<(), StoreError> {
    for (id, body) in rows(tx, "SELECT id, body FROM outbox")? {
        let mut v = parse("outbox", &body)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let hook_key = format!(
            "{}/rollback/{}",
            v["notification"]["release"]["id"].as_str().unwrap_or_default(),
            s("action_item")
        );
        if v.get("target").is_none() && s("receiver") == "rollback" && s("key") == hook_key {
            v["target"] = json!("rollback_hook");
            tx.execute("UPDATE outbox SET body = ?2 WHERE id = ?1", params![id, v.to_string()])?;
        }
    }
    Ok(())
}

/// The cause of a schema-2 item record, from its `by` and `note` (who, or a magic name).
fn legacy_item_cause(state: &str, by: Option<&str>, note: Option<&str>) -> Value {
    match (state, by) {
        (_, Some("checklist")) => json!({"kind": "checklist"}),
        ("waived", by) => json!({"kind": "waive", "by": by.unwrap_or("unknown"), "reason": note.unwrap_or("")}),
        ("complete", Some(by)) if by != "shipwatch" => json!({"kind": "tick", "by": by, "note": note}),
        ("manual" | "pending", None) => json!({"kind": "created"}),
        _ => json!({"kind": "unrecorded"}),
    }
}

/// The cause of a schema-2 history row, from its message and states.
fn legacy_history_cause(o: &serde_json::Map<String, Value>) -> Value {
    let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
    let (message, to, item) = (s("message"), s("to"), o.get("item_id").is_some_and(|i| !i.is_null()));
    let person = |prefix: &str| -> Option<(String, Option<String>)> {
        let rest = message.strip_prefix(prefix)?;
        Some(match rest.split_once(": ") {
            Some((by, note)) => (by.to_string(), Some(note.to_string())),
            None => (rest.to_string(), None),
        })
    };
    if let Some((by, note)) = person("ticked by ") {
        return json!({"kind": "tick", "by": by, "note": note});
    }
    if let Some((by, reason)) = person("waived by ") {
        return json!({"kind": "waive", "by": by, "reason": reason.unwrap_or_default()});
    }
    match (item, o.get("from").is_some_and(Value::is_null), to) {
        (false, true, _) => json!({"kind": "started", "planned": to == "planned"}),
        (false, false, "deployed") => json!({"kind": "deploy"}),
        (false, false, "verified" | "failed") => json!({"kind": "verdict", "to": to}),
        _ => json!({"kind": "unrecorded"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_causes_table() {
        for (state, by, note, want) in [
            ("complete", Some("checklist"), None, json!({"kind": "checklist"})),
            ("complete", Some("dave"), Some("done"), json!({"kind": "tick", "by": "dave", "note": "done"})),
            ("complete", Some("shipwatch"), None, json!({"kind": "unrecorded"})),
            ("waived", Some("ana"), Some("n/a"), json!({"kind": "waive", "by": "ana", "reason": "n/a"})),
            ("pending", None, None, json!({"kind": "created"})),
            ("failing", None, None, json!({"kind": "unrecorded"})),
        ] {
            assert_eq!(legacy_item_cause(state, by, note), want, "{state} {by:?}");
        }
        let h = |v: Value| legacy_history_cause(v.as_object().unwrap());
        assert_eq!(
            h(json!({"item_id": "x", "from": "manual", "to": "complete", "message": "ticked by dave: ok"})),
            json!({"kind": "tick", "by": "dave", "note": "ok"})
        );
        assert_eq!(
            h(json!({"item_id": null, "from": null, "to": "planned", "message": "release a 1 started"})),
            json!({"kind": "started", "planned": true})
        );
        assert_eq!(
            h(json!({"item_id": null, "from": "deployed", "to": "failed", "message": "window closed"})),
            json!({"kind": "verdict", "to": "failed"})
        );
        assert_eq!(
            h(json!({"item_id": "x", "from": "pending", "to": "complete", "message": "p passed"})),
            json!({"kind": "unrecorded"})
        );
    }
}
