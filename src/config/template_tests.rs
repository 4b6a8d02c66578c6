//! Template lookup (files before built-ins), expansion and the errors of both sources.

use super::*;
use serde_json::json;

const SMOKE: &str = "params:\n  url: { required: true }\n  status: { default: [200] }\n  max: { default: 0.5 }\nprobe:\n  every: 30s\n  http:\n    url: \"{{ url }}/healthz?v={{ release.version }}\"\n    expect: { status: \"{{ status }}\", body_contains: \"{{ max }}\" }\n";

/// Built-in stand-ins: a good one, one with a YAML error on line 3, one that cannot render.
const FAKE_BUILTIN: &[(&str, &str, &str)] = &[
    (
        "good",
        "good.yaml",
        "description: a good one\nparams:\n  url: { required: true, description: \"where\" }\nprobe:\n  http: { url: \"{{ url }}\" }\n",
    ),
    ("broken", "broken.yaml", "params:\n  url: { required: true }\nprobe: [unclosed\n"),
    ("unrenderable", "unrenderable.yaml", "probe:\n  http: { url: \"{{ nope }}\" }\n"),
];

fn setup() -> (tempfile::TempDir, Templates) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smoke.yaml"), SMOKE).unwrap();
    let t = Templates::with_builtin(vec![dir.path().to_path_buf()], &[]);
    (dir, t)
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn expands_typed_params_and_keeps_runtime_placeholders() {
    let (_d, t) = setup();
    let body = t.expand("smoke", &obj(json!({"url": "http://x"}))).unwrap();
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

#[test]
fn every_file_of_probes_is_built_in_with_its_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("probes");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .map(|p| (p.file_stem().unwrap().to_str().unwrap().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    let built: Vec<(String, String)> = BUILTIN.iter().map(|(n, _, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(built, files);
    assert!(BUILTIN.iter().any(|(n, _, _)| *n == "http-smoke"));
}

#[test]
fn builtin_templates_expand_without_any_directory() {
    let t = Templates::builtin();
    let body = t.expand("http-smoke", &obj(json!({"url": "http://x/healthz"}))).unwrap();
    assert_eq!(body["http"]["url"], json!("http://x/healthz"));
    let doc = t.doc("http-smoke").unwrap();
    assert_eq!(
        (doc.source, doc.label.as_str(), doc.overrides_builtin),
        (TemplateSource::Builtin, "<builtin>/probes/http-smoke.yaml", false)
    );
    assert!(doc.params["url"].required);
}

#[test]
fn a_file_overrides_the_builtin_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yaml"),
        "params:\n  url: { required: true }\nprobe:\n  http: { url: \"{{ url }}/local\" }\n",
    )
    .unwrap();
    let t = Templates::with_builtin(vec![dir.path().to_path_buf()], FAKE_BUILTIN);
    let body = t.expand("good", &obj(json!({"url": "http://x"}))).unwrap();
    assert_eq!(body["http"]["url"], json!("http://x/local"));
    let doc = t.doc("good").unwrap();
    assert_eq!(doc.source, TemplateSource::File(dir.path().join("good.yaml")));
    assert!(doc.overrides_builtin);
    // Without the directory the built-in one answers.
    let builtin = Templates::with_builtin(vec![], FAKE_BUILTIN);
    assert_eq!(builtin.expand("good", &obj(json!({"url": "http://x"}))).unwrap()["http"]["url"], json!("http://x"));
}

#[test]
fn errors_in_builtins_name_the_builtin_file() {
    let t = Templates::with_builtin(vec![], FAKE_BUILTIN);
    let cases: &[(&str, &str)] = &[
        ("broken", "<builtin>/probes/broken.yaml:3:"),
        ("unrenderable", "template 'unrenderable' (<builtin>/probes/unrenderable.yaml): "),
    ];
    for (name, want) in cases {
        let err = t.expand(name, &Map::new()).unwrap_err().to_string();
        assert!(err.starts_with(want), "{name}: {err}");
    }
}

#[test]
fn unknown_template_lists_both_sources_with_did_you_mean() {
    let (d, _) = setup();
    let t = Templates::with_builtin(vec![d.path().to_path_buf()], FAKE_BUILTIN);
    let err = t.expand("godo", &Map::new()).unwrap_err().to_string();
    let dir = d.path().display();
    for want in [
        "unknown template 'godo'".to_string(),
        "did you mean 'good'?".into(),
        format!("available: broken, good, smoke (file in {dir}), unrenderable"),
    ] {
        assert!(err.contains(&want), "want {want:?} in: {err}");
    }
    assert_eq!(t.names(), ["broken", "good", "smoke", "unrenderable"]);
}

#[test]
fn list_gives_each_template_once_with_its_source() {
    let (d, _) = setup();
    std::fs::write(d.path().join("good.yml"), "probe:\n  http: { url: \"http://x\" }\n").unwrap();
    let t = Templates::with_builtin(vec![d.path().to_path_buf()], FAKE_BUILTIN);
    let got: Vec<(String, String)> = t
        .list()
        .into_iter()
        .map(|(n, doc)| (n, doc.map(|d| d.source.kind().to_string()).unwrap_or_else(|e| format!("error: {e}"))))
        .collect();
    let want = [
        ("broken", "error: <builtin>/probes/broken.yaml:3:"),
        ("good", "file"),
        ("smoke", "file"),
        ("unrenderable", "builtin"),
    ];
    assert_eq!(got.len(), want.len());
    for ((n, s), (wn, ws)) in got.iter().zip(want) {
        assert!(n == wn && s.starts_with(ws), "{n}: {s} (want {wn}: {ws})");
    }
}
