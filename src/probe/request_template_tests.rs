//! Tables of hostile release values against URL, header and body templates.

use super::*;
use crate::probe::ReleaseVars;

fn ctx(service: &str, version: &str, environment: &str) -> RunContext {
    RunContext {
        release: ReleaseVars {
            service: service.into(),
            version: version.into(),
            environment: environment.into(),
            ..ReleaseVars::default()
        },
        ..Default::default()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned()
}

/// Values that would move a raw URL elsewhere; each must come back whole, in its own part.
const HOSTILE: &[&str] = &[
    "1.4.2",
    "x@127.0.0.1:18900/ssrf-host/",
    "../../../admin/secret",
    "a/b",
    "1.0?admin=1",
    "1.0#frag",
    "100%25 %2F%2e%2e",
    "a b\tc",
    "ünï/cødé ✓",
    "a&b=c+d;e",
    "\\..\\windows",
    "..%2F..",
    "-la",
    "\"'<>`{}|^",
];

#[test]
fn values_stay_in_the_part_they_land_in() {
    let t = "http://127.0.0.1:18900/deploy/{{ release.version }}/status?svc={{ release.service }}&x=1#{{ release.environment }}";
    for v in HOSTILE {
        let u = url(&ctx(v, v, v), t).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert_eq!((u.scheme(), u.host_str(), u.port()), ("http", Some("127.0.0.1"), Some(18900)), "{v:?}: {u}");
        assert_eq!((u.username(), u.password()), ("", None), "{v:?}: {u}");
        let segs: Vec<&str> = u.path_segments().unwrap().collect();
        assert_eq!(segs.len(), 3, "{v:?}: {u}");
        assert_eq!((segs[0], decode(segs[1]), segs[2]), ("deploy", v.to_string(), "status"), "{v:?}: {u}");
        let pairs: Vec<(String, String)> = u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        assert_eq!(pairs, vec![("svc".to_string(), v.to_string()), ("x".into(), "1".into())], "{v:?}: {u}");
        assert_eq!(u.fragment().map(decode).as_deref(), Some(*v), "{v:?}: {u}");
    }
}

#[test]
fn values_cannot_change_the_authority() {
    let cases: &[(&str, &str, Result<&str, &str>)] = &[
        ("https://{{ release.service }}.svc.example.com/health", "api", Ok("https://api.svc.example.com/health")),
        ("https://{{ release.service }}.svc.example.com/health", "API", Ok("https://api.svc.example.com/health")),
        (
            "https://{{ release.service }}.svc.example.com/",
            "x@127.0.0.1:18900/ssrf-host/",
            Err("cannot be in the host"),
        ),
        ("https://{{ release.service }}.svc.example.com/", "evil.com", Err("cannot be in the host")),
        ("https://{{ release.service }}.svc.example.com/", "evil.com#", Err("cannot be in the host")),
        ("https://{{ release.service }}.svc.example.com/", "", Err("cannot be in the host")),
        ("https://{{ release.service }}.svc.example.com/", "ü", Err("cannot be in the host")),
        ("https://api.example.com{{ release.service }}/", "@evil.com", Err("cannot be in the host")),
        ("https://{{ release.service }}:pw@h.example/", "a@b:c/d", Ok("https://a%40b%3Ac%2Fd:pw@h.example/")),
        ("https://u:{{ release.service }}@h.example/", "p@evil.com/", Ok("https://u:p%40evil.com%2F@h.example/")),
        ("{{ release.service }}://h.example/", "javascript", Err("cannot be in the scheme")),
        ("http://h.example:{{ release.service }}/", "80", Err("cannot parse")),
        ("http://h.example/{{ release.service }}/x", "..", Err("change the structure")),
        ("http://h.example/{{ release.service }}/x", ".", Err("change the structure")),
        ("http://h.example/a/{{ release.service }}", "%2e%2e", Ok("http://h.example/a/%252e%252e")),
        ("{{ release.service }}", "http://evil.example/", Err("cannot parse")),
    ];
    for (template, value, want) in cases {
        let got = url(&ctx(value, "1", "prod"), template).map(|u| u.to_string());
        match (&got, want) {
            (Ok(u), Ok(w)) => assert_eq!(u, w, "{template} with {value:?}"),
            (Err(e), Err(piece)) => {
                assert!(e.starts_with("url: ") && e.contains(piece), "{template} with {value:?}: {e}")
            }
            _ => panic!("{template} with {value:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn operator_text_stays_as_written() {
    let c = ctx("api", "1.4.2", "prod");
    for (template, want) in [
        ("http://h.example/x", "http://h.example/x"),
        (
            "http://h.example/a%2Fb/{{ release.version }}?x=1&y={{ release.version }}",
            "http://h.example/a%2Fb/1.4.2?x=1&y=1.4.2",
        ),
        ("http://h.example/{{ release.version | replace('.', '/') }}", "http://h.example/1%2F4%2F2"),
        ("http://h.example/{{ release.service ~ '/' ~ release.version }}", "http://h.example/api%2F1.4.2"),
        ("http://h.example/{% if release.version %}v/{{ release.version }}{% endif %}", "http://h.example/v/1.4.2"),
        ("http://h.example/zsw0x0y/{{ release.version }}", "http://h.example/zsw0x0y/1.4.2"),
        ("http://H.Example/Up/{{ release.service }}", "http://h.example/Up/api"),
    ] {
        assert_eq!(url(&c, template).map(|u| u.to_string()), Ok(want.to_string()), "{template}");
    }
    let err = url(&c, "http://h.example/{{ release.nope }}").unwrap_err();
    assert!(err.contains("release.nope") || err.contains("undefined"), "{err}");
}

#[test]
fn header_values_refuse_control_characters() {
    for (version, want) in [
        ("1.4.2", Ok("v=1.4.2")),
        ("1\r\nX-Injected: 1", Err("'\\r'")),
        ("1\nX-Injected: 1", Err("'\\n'")),
        ("1\0", Err("'\\0'")),
        ("ünï", Ok("v=ünï")),
    ] {
        match (header_value(&ctx("api", version, "prod"), "v={{ release.version }}"), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, w),
            (Err(e), Err(piece)) => assert!(e.contains(piece) && e.contains("header"), "{version:?}: {e}"),
            (got, want) => panic!("{version:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn json_bodies_escape_values_inside_strings() {
    let template = r#"{"version": "{{ release.version }}", "note": "v{{ release.version }} of {{ release.service }}"}"#;
    for v in ["1.4.2", r#"1","admin":true,"x":""#, "a\\\"b", "line\nbreak\u{1}", "ünï ✓", "{{ x }}"] {
        let text = body(&ctx("api", v, "prod"), template).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{v:?}: {e}: {text}"));
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["note", "version"], "{v:?}: {text}");
        assert_eq!(doc["version"], v, "{text}");
        assert_eq!(doc["note"], format!("v{v} of api"), "{text}");
    }
    // Not JSON: values go in as they are (form and text bodies have no one escaping).
    for (template, want) in
        [("v={{ release.version }}", "v=1\"2"), ("{\"n\": {{ release.version }}}", "{\"n\": 1\"2}"), ("plain", "plain")]
    {
        assert_eq!(body(&ctx("api", "1\"2", "prod"), template), Ok(want.to_string()), "{template}");
    }
}
