//! Table-driven tests of matcher parsing, display and Prometheus matching semantics.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn parses_all_forms() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, MatchOp, &str, &str)] = &[
        // input, name, op, value, display
        (r#"severity="page""#, "severity", MatchOp::Eq, "page", r#"severity="page""#),
        (r#"env!="dev""#, "env", MatchOp::Ne, "dev", r#"env!="dev""#),
        (r#"severity=~"page|critical""#, "severity", MatchOp::Re, "page|critical", r#"severity=~"page|critical""#),
        (r#"job!~"x.*""#, "job", MatchOp::NotRe, "x.*", r#"job!~"x.*""#),
        ("service='api'", "service", MatchOp::Eq, "api", r#"service="api""#),
        ("  service  =  \"api\"  ", "service", MatchOp::Eq, "api", r#"service="api""#),
        (r#"msg="say \"hi\"""#, "msg", MatchOp::Eq, r#"say "hi""#, r#"msg="say \"hi\"""#),
        (r"msg='it\'s'", "msg", MatchOp::Eq, "it's", r#"msg="it's""#),
        (r#"path="a\\b""#, "path", MatchOp::Eq, r"a\b", r#"path="a\\b""#),
        (r#"host=~"a\.b""#, "host", MatchOp::Re, r"a\.b", r#"host=~"a\\.b""#),
        ("host=~`a\\.b`", "host", MatchOp::Re, r"a\.b", r#"host=~"a\\.b""#),
        (r#"env="""#, "env", MatchOp::Eq, "", r#"env="""#),
        (r#"url="a=b!c""#, "url", MatchOp::Eq, "a=b!c", r#"url="a=b!c""#),
        (r#"_x1="v""#, "_x1", MatchOp::Eq, "v", r#"_x1="v""#),
    ];
    for (input, name, op, value, display) in cases {
        let m: Matcher = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!((m.name.as_str(), m.op, m.value.as_str()), (*name, *op, *value), "input {input}");
        assert_eq!(m.to_string(), *display, "display of {input}");
        let again: Matcher = m.to_string().parse().expect("display re-parses");
        assert_eq!(again, m, "round trip of {input}");
    }
}

#[test]
fn parse_errors_say_what_to_write() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("severity=page", r#"invalid matcher 'severity=page': quote the value, e.g. severity="page""#),
        ("severity=~page|crit", r#"quote the value, e.g. severity=~"page|crit""#),
        ("severity=", r#"quote the value, e.g. severity="value""#),
        ("severity", r#"no operator; write severity="value""#),
        ("", "empty matcher"),
        ("   ", "empty matcher"),
        (r#"="x""#, "missing label name"),
        (r#"1sev="x""#, "label name '1sev' is invalid"),
        (r#"se-v="x""#, "label name 'se-v' is invalid"),
        (r#"sev="page"#, "missing closing \""),
        (r#"sev="page\""#, "missing closing \""),
        (r#"sev="page",env="prod""#, "put each matcher in its own list entry"),
        (r#"sev="page" x"#, "unexpected text \"x\""),
        (r#"{sev="page"}"#, "without braces"),
        (r#"sev=~"(unclosed""#, "invalid regex \"(unclosed\""),
        (r#"sev!"x""#, "unknown operator"),
    ];
    for (input, want) in cases {
        let err = input.parse::<Matcher>().expect_err(input);
        assert!(err.contains(want), "input {input:?}: error {err:?} lacks {want:?}");
    }
}

#[test]
fn matches_with_prometheus_semantics() {
    let alert = labels(&[("alertname", "HighErrorRate"), ("service", "api"), ("severity", "page"), ("empty", "")]);
    #[rustfmt::skip]
    let cases: &[(&str, bool)] = &[
        (r#"service="api""#, true),
        (r#"service="API""#, false),
        (r#"service="ap""#, false),
        (r#"service!="api""#, false),
        (r#"service!="web""#, true),
        (r#"severity=~"page|critical""#, true),
        (r#"severity=~"pag""#, false), // anchored: no partial match
        (r#"severity=~"ag""#, false),
        (r#"severity=~".*ag.*""#, true),
        (r#"severity=~"page|""#, true),
        (r#"severity!~"page|critical""#, false),
        (r#"severity!~"info""#, true),
        // Missing labels read as "".
        (r#"env!="dev""#, true),
        (r#"env="""#, true),
        (r#"env="prod""#, false),
        (r#"env=~".*""#, true),
        (r#"env=~".+""#, false),
        (r#"env!~".+""#, true),
        (r#"empty="""#, true),
        (r#"service="""#, false),
        (r#"service!="""#, true),
    ];
    for (input, want) in cases {
        let m: Matcher = input.parse().unwrap();
        assert_eq!(m.matches(&alert), *want, "{input} against {alert:?}");
        let hash: HashMap<String, String> = alert.clone().into_iter().collect();
        assert_eq!(m.matches(&hash), *want, "{input} against a HashMap");
        let json: serde_json::Map<String, serde_json::Value> =
            alert.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect();
        assert_eq!(m.matches(&json), *want, "{input} against a JSON object");
    }
}

#[test]
fn regex_dot_matches_newline_like_prometheus() {
    let m: Matcher = r#"msg=~"a.*b""#.parse().unwrap();
    assert!(m.matches(&labels(&[("msg", "a\nb")])));
}

#[test]
fn parse_all_names_the_index_and_all_match_needs_every_matcher() {
    let list = vec![r#"service="api""#.to_string(), "severity=page".to_string()];
    let err = parse_all(&list).unwrap_err();
    assert!(err.starts_with("matchers[1]: invalid matcher 'severity=page'"), "{err}");
    assert_eq!(Matcher::parse_all(&list), Err(err));

    let ms = parse_all(&[r#"service="api""#.into(), r#"severity=~"page|critical""#.into()]).unwrap();
    assert_eq!(join(&ms), r#"service="api",severity=~"page|critical""#);
    assert!(all_match(&ms, &labels(&[("service", "api"), ("severity", "critical")])));
    assert!(!all_match(&ms, &labels(&[("service", "api"), ("severity", "info")])));
    assert!(all_match(&[], &labels(&[])));
    assert_eq!(parse_all(&[]), Ok(vec![]));
}
