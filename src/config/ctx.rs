//! The loader's error collector: where each config error is (via the YAML position index),
//! serde errors turned into positioned ones with did-you-mean hints, and section helpers.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ConfigError, did_you_mean};
use super::yaml_pos::PosIndex;

pub(super) struct Ctx {
    pub(super) file: PathBuf,
    pub(super) idx: PosIndex,
    pub(super) errors: Vec<ConfigError>,
    /// Values taken from the environment; errors near them never show them.
    pub(super) expanded: Vec<super::env::Expanded>,
    /// Entries (`probes.NAME`, `sources.NAME`, ...) holding a `FILL_ME`: only that is reported
    /// for them, not what the placeholder breaks further on.
    pub(super) unfilled: Vec<Vec<String>>,
}

pub(super) fn p(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

impl Ctx {
    pub(super) fn at_key(&mut self, path: &[String], message: String, hint: Option<String>) {
        let pos = self.idx.key(path);
        self.push(path, ConfigError { file: self.file.clone(), line: pos.line, col: pos.col, message, hint });
    }

    pub(super) fn at_value(&mut self, path: &[String], message: String, hint: Option<String>) {
        let pos = self.idx.value(path);
        self.push(path, ConfigError { file: self.file.clone(), line: pos.line, col: pos.col, message, hint });
    }

    fn push(&mut self, path: &[String], mut error: ConfigError) {
        if self.unfilled.iter().any(|entry| path.starts_with(entry)) {
            return;
        }
        error.hide_expanded(path, &self.expanded);
        self.errors.push(error);
    }

    /// Deserialize `v` (found at `base`) into `T`, turning a serde error into a positioned one.
    pub(super) fn de<T: DeserializeOwned>(&mut self, v: &Value, base: &[String]) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(v) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut path = base.to_vec();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Seq { index } => path.push(index.to_string()),
                        serde_path_to_error::Segment::Map { key } => path.push(key.clone()),
                        serde_path_to_error::Segment::Enum { variant } => path.push(variant.clone()),
                        serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let msg = e.inner().to_string();
                let where_ = path.join(".");
                if let Some((what, name, expected)) = parse_unknown(&msg) {
                    if what == "field" {
                        path.push(name.clone());
                    }
                    let mut hint = did_you_mean(&name, expected.iter().map(String::as_str));
                    // A value of a closed set: always name them all (few enough to read).
                    if what == "variant"
                        && (2..=12).contains(&expected.len())
                        && hint.as_deref().is_some_and(|h| h.starts_with("did you mean"))
                    {
                        hint = hint.map(|h| format!("{h} (one of: {})", expected.join(", ")));
                    }
                    let kind = if what == "field" { "key" } else { "value" };
                    self.at_key(&path, format!("unknown {kind} '{name}' in {where_}"), hint);
                } else if let Some(field) = msg.strip_prefix("missing field `").and_then(|s| s.strip_suffix('`')) {
                    self.at_key(&path, format!("{where_} is missing '{field}'"), Some(format!("add {field}: ...")));
                } else {
                    self.at_value(&path, format!("{where_}: {msg}"), None);
                }
                None
            }
        }
    }
}

/// `unknown field `x`, expected one of `a`, `b`` → ("field", "x", [a, b]).
fn parse_unknown(msg: &str) -> Option<(String, String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown ")?;
    let (what, rest) = rest.split_once(" `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).map(String::from).collect();
    Some((what.to_string(), name.to_string(), expected))
}

/// The entries of a top-level mapping section, reporting a non-mapping value.
pub(super) fn obj_entries(cx: &mut Ctx, root: &Map<String, Value>, key: &str) -> Vec<(String, Value)> {
    match root.get(key) {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => {
            cx.at_value(&p(&[key]), format!("{key} must be a mapping of name: definition"), None);
            vec![]
        }
    }
}
