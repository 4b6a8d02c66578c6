//! Probe templates from `probes/`: `use: error-ratio` + `with: {job: api, max: 0.01}`.
//!
//! A template file declares `params` (required or with defaults) and a `probe` body. Strings in
//! the body are minijinja templates over the params; a string that is exactly `{{ param }}` takes
//! the param's value with its type (numbers stay numbers). Run-time placeholders
//! (`{{ release.version }}`, `{{ window.elapsed }}`, `{{ deployed_at }}`) pass through untouched
//! and are filled per release.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::did_you_mean;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, ParamSpec>,
    probe: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamSpec {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

/// Why a template could not be expanded. `file` errors carry a position in the template file.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown template '{name}' (looked in {searched}){}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    NotFound { name: String, searched: String, hint: Option<String> },
    #[error("{file}:{line}:{col}: {message}")]
    File { file: String, line: usize, col: usize, message: String },
    #[error("template '{template}' needs parameter '{param}'; add it under with:")]
    MissingParam { template: String, param: String },
    #[error("template '{template}' has no parameter '{param}'{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownParam { template: String, param: String, hint: Option<String> },
    #[error("template '{template}': {message}")]
    Render { template: String, message: String },
}

/// Where templates are looked up, in order.
#[derive(Debug, Clone)]
pub struct Templates {
    pub dirs: Vec<PathBuf>,
}

impl Templates {
    /// `<config dir>/probes`, then `<config dir>/../probes`, unless `explicit` is given.
    pub fn for_config(config_dir: &Path, explicit: Option<PathBuf>) -> Self {
        let dirs = match explicit {
            Some(d) => vec![config_dir.join(d)],
            None => vec![config_dir.join("probes"), config_dir.join("..").join("probes")],
        };
        Templates { dirs }
    }

    fn available(&self) -> Vec<String> {
        let mut names = vec![];
        for d in &self.dirs {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                        && let Some(s) = p.file_stem().and_then(|s| s.to_str())
                    {
                        {
                            names.push(s.to_string());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Expand template `name` with `with`, returning the probe body (kind key plus any schedule
    /// defaults the template sets).
    pub fn expand(&self, name: &str, with: &Map<String, Value>) -> Result<Map<String, Value>, TemplateError> {
        let path = self
            .dirs
            .iter()
            .flat_map(|d| [d.join(format!("{name}.yaml")), d.join(format!("{name}.yml"))])
            .find(|p| p.is_file())
            .ok_or_else(|| {
                let avail = self.available();
                TemplateError::NotFound {
                    name: name.to_string(),
                    searched: self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                    hint: did_you_mean(name, avail.iter().map(String::as_str)),
                }
            })?;
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| TemplateError::File {
            file: file.clone(),
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
        })?;
        let tf: TemplateFile = serde_saphyr::from_str(&text).map_err(|e| {
            let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
            TemplateError::File { file: file.clone(), line, col, message: e.without_snippet().to_string() }
        })?;
        let mut params = Map::new();
        for (k, v) in with {
            if !tf.params.contains_key(k) {
                return Err(TemplateError::UnknownParam {
                    template: name.to_string(),
                    param: k.clone(),
                    hint: did_you_mean(k, tf.params.keys().map(String::as_str)),
                });
            }
            params.insert(k.clone(), v.clone());
        }
        for (k, spec) in &tf.params {
            if params.contains_key(k) {
                continue;
            }
            match (&spec.default, spec.required) {
                (Some(d), _) => {
                    params.insert(k.clone(), d.clone());
                }
                (None, true) => {
                    return Err(TemplateError::MissingParam { template: name.to_string(), param: k.clone() });
                }
                (None, false) => {
                    params.insert(k.clone(), Value::Null);
                }
            }
        }
        let mut ctx = params.clone();
        let pass = |fields: &[&str], prefix: &str| {
            Value::Object(
                fields.iter().map(|f| (f.to_string(), Value::String(format!("{{{{ {prefix}.{f} }}}}")))).collect(),
            )
        };
        ctx.insert("release".into(), pass(&["id", "service", "version", "environment", "deployed_at"], "release"));
        ctx.insert("window".into(), pass(&["elapsed", "min", "max"], "window"));
        ctx.insert("deployed_at".into(), Value::String("{{ deployed_at }}".into()));
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut body = Value::Object(tf.probe);
        render(&mut body, &params, &Value::Object(ctx), &env)
            .map_err(|message| TemplateError::Render { template: name.to_string(), message })?;
        match body {
            Value::Object(m) => Ok(m),
            _ => unreachable!("rendering keeps the object shape"),
        }
    }
}

fn render(v: &mut Value, params: &Map<String, Value>, ctx: &Value, env: &minijinja::Environment) -> Result<(), String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if let Some(inner) = t.strip_prefix("{{").and_then(|x| x.strip_suffix("}}")) {
                let ident = inner.trim();
                if let Some(p) = params.get(ident) {
                    *v = p.clone();
                    return Ok(());
                }
            }
            if s.contains("{{") || s.contains("{%") {
                *s = env.render_str(s, minijinja::value::Serde(ctx)).map_err(|e| format!("{s:?}: {e}"))?;
            }
        }
        Value::Array(a) => {
            for x in a {
                render(x, params, ctx, env)?;
            }
        }
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, mut x) in std::mem::take(o) {
                let mut key = Value::String(k);
                render(&mut key, params, ctx, env)?;
                let key = match key {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                render(&mut x, params, ctx, env)?;
                out.insert(key, x);
            }
            *o = out;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setup() -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("smoke.yaml"),
            "params:\n  url: { required: true }\n  status: { default: [200] }\n  max: { default: 0.5 }\nprobe:\n  every: 30s\n  http:\n    url: \"{{ url }}/healthz?v={{ release.version }}\"\n    expect: { status: \"{{ status }}\", body_contains: \"{{ max }}\" }\n",
        )
        .unwrap();
        let t = Templates { dirs: vec![dir.path().to_path_buf()] };
        (dir, t)
    }

    #[test]
    fn expands_typed_params_and_keeps_runtime_placeholders() {
        let (_d, t) = setup();
        let with = json!({"url": "http://x"}).as_object().unwrap().clone();
        let body = t.expand("smoke", &with).unwrap();
        assert_eq!(body["http"]["url"], json!("http://x/healthz?v={{ release.version }}"));
        assert_eq!(body["http"]["expect"]["status"], json!([200]));
        assert_eq!(body["http"]["expect"]["body_contains"], json!(0.5));
        assert_eq!(body["every"], json!("30s"));
    }

    #[test]
    fn errors_name_template_and_param() {
        let (_d, t) = setup();
        let cases: Vec<(&str, Value, &str)> = vec![
            ("smoke", json!({}), "template 'smoke' needs parameter 'url'"),
            ("smoke", json!({"url": "u", "stauts": 1}), "did you mean 'status'?"),
            ("smok", json!({}), "did you mean 'smoke'?"),
        ];
        for (name, with, want) in cases {
            let err = t.expand(name, with.as_object().unwrap()).unwrap_err().to_string();
            assert!(err.contains(want), "{name} {with}: {err}");
        }
    }
}
