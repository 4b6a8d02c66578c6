//! `FILL_ME`: the marker `shipwatch init` writes where a person must put a value (a comment
//! beside it says what). A config that still holds one does not load: each is an error at its
//! position, so a starter config never runs half-filled.

use serde_json::{Map, Value};

/// The placeholder for a value only a person can give.
pub const FILL_ME: &str = "FILL_ME";

/// Paths of every string value containing [`FILL_ME`] under `root`, in document order.
pub(super) fn find(root: &Map<String, Value>) -> Vec<Vec<String>> {
    let mut out = vec![];
    for (k, v) in root {
        walk(v, &mut vec![k.clone()], &mut out);
    }
    out
}

fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::String(s) if s.contains(FILL_ME) => out.push(path.clone()),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                walk(x, path, out);
                path.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                path.push(k.clone());
                walk(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn finds_every_placeholder_with_its_path() {
        let cases: &[(serde_json::Value, &[&str])] = &[
            (json!({"a": "FILL_ME"}), &["a"]),
            (json!({"a": {"b": ["x", "http://FILL_ME/healthz"]}}), &["a.b.1"]),
            (json!({"a": 1, "b": "fill_me", "c": null}), &[]),
            (json!({"p": {"with": {"job": "FILL_ME", "max": 0.5}}, "s": {"url": "FILL_ME"}}), &["p.with.job", "s.url"]),
        ];
        for (v, want) in cases {
            let got: Vec<String> = super::find(v.as_object().unwrap()).iter().map(|p| p.join(".")).collect();
            assert_eq!(got, *want, "{v}");
        }
    }
}
