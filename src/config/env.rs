//! `${VAR}` (and `${VAR:-default}`) expansion from the environment, applied to every string value after parsing (so
//! comments and keys are never touched). Expanded values are registered as secrets, and
//! remembered with where they went so config errors there never show them
//! (`ConfigError::hide_expanded`).

use serde_json::Value;

/// A value taken from the environment: the config path it went to and the variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub path: Vec<String>,
    pub var: String,
    pub value: String,
}

/// Expand `${NAME}` in every string of `v`. `$${` escapes a literal `${`. Collects every value
/// taken from the environment in `secrets`, and the paths and messages of variables that are
/// unset in `errors`.
pub fn expand(
    v: &mut Value,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<Expanded>,
    errors: &mut Vec<(Vec<String>, String)>,
) {
    match v {
        Value::String(s) if s.contains('$') => {
            let mut taken = vec![];
            match expand_str(s, env, &mut taken) {
                Ok(n) => *s = n,
                Err(msg) => errors.push((path.clone(), msg)),
            }
            secrets.extend(taken.into_iter().map(|(var, value)| Expanded { path: path.clone(), var, value }));
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                expand(x, path, env, secrets, errors);
                path.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                path.push(k.clone());
                expand(x, path, env, secrets, errors);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Expand one string; `taken` gets `(variable, value)` for each value read from the environment.
fn expand_str(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    taken: &mut Vec<(String, String)>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = t;
        } else if let Some(t) = tail.strip_prefix("${") {
            let end = t.find('}').ok_or_else(|| format!("unclosed '${{' in {s:?}; write ${{NAME}}"))?;
            let (name, default) = match t[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&t[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name {name:?} in {s:?}; use letters, digits and _"));
            }
            let val = match (env(name), default) {
                (Some(v), _) => {
                    taken.push((name.to_string(), v.clone()));
                    v
                }
                (None, Some(d)) => d.to_string(),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set; export {name}=... before starting shipwatch (or write ${{{name}:-default}})"
                    ));
                }
            };
            out.push_str(&val);
            rest = &t[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_cases() {
        let env = |k: &str| match k {
            "TOKEN" => Some("s3cret".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        for (input, want) in [
            ("Bearer ${TOKEN}", Ok("Bearer s3cret")),
            ("a${EMPTY}b", Ok("ab")),
            ("price $5", Ok("price $5")),
            ("$${TOKEN}", Ok("${TOKEN}")),
            ("${MISSING}", Err("MISSING is not set")),
            ("${MISSING:-fallback}", Ok("fallback")),
            ("${TOKEN:-fallback}", Ok("s3cret")),
            ("${MISSING:-}", Ok("")),
            ("${BAD-NAME}", Err("invalid variable name")),
            ("${OPEN", Err("unclosed")),
        ] {
            let mut taken = vec![];
            match (expand_str(input, &env, &mut taken), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{input}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{input}: {got}"),
                (got, w) => panic!("{input}: got {got:?}, want {w:?}"),
            }
            let from_env = input.contains("${TOKEN") || input.contains("${EMPTY");
            assert_eq!(!taken.is_empty(), from_env && !input.starts_with("$$"), "{input}: {taken:?}");
        }
    }

    #[test]
    fn expanded_values_are_remembered_with_their_path() {
        let env = |k: &str| (k == "TOKEN").then(|| "s3cret".to_string());
        let mut v = serde_json::json!({"a": {"b": ["x ${TOKEN} ${NOPE:-d}", "plain"]}, "c": "${TOKEN}"});
        let (mut secrets, mut errors) = (vec![], vec![]);
        expand(&mut v, &mut vec![], &env, &mut secrets, &mut errors);
        let got: Vec<(String, &str, &str)> =
            secrets.iter().map(|e| (e.path.join("."), e.var.as_str(), e.value.as_str())).collect();
        assert_eq!(got, [("a.b.0".to_string(), "TOKEN", "s3cret"), ("c".to_string(), "TOKEN", "s3cret")]);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
