//! Tables for the Nagios plugin output parser: perfdata in the shapes the Monitoring Plugins
//! guidelines describe (quoted labels, units, ranges, `U`, trailing semicolons dropped), real
//! plugin lines, malformed data, and the verdict from the exit code.

use super::*;

fn d(label: &str, value: Option<f64>, uom: Option<&str>) -> PerfDatum {
    PerfDatum { label: label.into(), value, uom: uom.map(String::from), ..PerfDatum::default() }
}

fn full(label: &str, value: f64, uom: &str, warn: &str, crit: &str, min: Option<f64>, max: Option<f64>) -> PerfDatum {
    let s = |t: &str| (!t.is_empty()).then(|| t.to_string());
    PerfDatum { label: label.into(), value: Some(value), uom: s(uom), warn: s(warn), crit: s(crit), min, max }
}

#[test]
fn well_formed_perfdata() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<PerfDatum>)> = vec![
        // check_http and check_tcp from monitoring-plugins-basic 2.3.3.
        ("time=0.002658s;;;0.000000;10.000000 size=4559B;;;0;", vec![
            full("time", 0.002658, "s", "", "", Some(0.0), Some(10.0)),
            full("size", 4559.0, "B", "", "", Some(0.0), None)]),
        ("time=0.001180s;;;0.000000;10.000000", vec![full("time", 0.00118, "s", "", "", Some(0.0), Some(10.0))]),
        // All five fields, a plain count, trailing semicolons dropped.
        ("users=4;20;50;0", vec![full("users", 4.0, "", "20", "50", Some(0.0), None)]),
        ("load1=0.52;15.000;30.000;0;", vec![full("load1", 0.52, "", "15.000", "30.000", Some(0.0), None)]),
        ("/srv=1812MB;4000;4500;0;5000", vec![full("/srv", 1812.0, "MB", "4000", "4500", Some(0.0), Some(5000.0))]),
        // Quoted labels: spaces, '' for a quote, = inside quotes.
        ("'free space /var'=71%;20:;10:", vec![full("free space /var", 71.0, "%", "20:", "10:", None, None)]),
        ("'it''s'=1", vec![d("it's", Some(1.0), None)]),
        ("'a=b'=2c", vec![d("a=b", Some(2.0), Some("c"))]),
        ("''''=3", vec![d("'", Some(3.0), None)]),
        // Every unit of the guidelines.
        ("a=1s b=2ms c=3us d=4% e=5B f=6KB g=7MB h=8GB i=9TB j=10c", vec![
            d("a", Some(1.0), Some("s")), d("b", Some(2.0), Some("ms")), d("c", Some(3.0), Some("us")),
            d("d", Some(4.0), Some("%")), d("e", Some(5.0), Some("B")), d("f", Some(6.0), Some("KB")),
            d("g", Some(7.0), Some("MB")), d("h", Some(8.0), Some("GB")), d("i", Some(9.0), Some("TB")),
            d("j", Some(10.0), Some("c"))]),
        // Unknown or empty values.
        ("temp=U;;;;", vec![d("temp", None, None)]),
        ("temp=U", vec![d("temp", None, None)]),
        ("empty=", vec![d("empty", None, None)]),
        ("empty=;5;10", vec![PerfDatum { warn: Some("5".into()), crit: Some("10".into()), ..d("empty", None, None) }]),
        // Range expressions.
        ("x=5;~:10;@10:20", vec![full("x", 5.0, "", "~:10", "@10:20", None, None)]),
        ("x=-3.5;-10:-1;~:", vec![full("x", -3.5, "", "-10:-1", "~:", None, None)]),
        // Numbers: leading dot, sign, exponent; min/max may repeat the value's unit.
        ("x=.5 y=+2 z=2e3 w=1.5E-3s;;;0s;10s", vec![
            d("x", Some(0.5), None), d("y", Some(2.0), None), d("z", Some(2000.0), None),
            full("w", 0.0015, "s", "", "", Some(0.0), Some(10.0))]),
        // Extra spaces between data, none at all.
        ("  a=1    b=2  ", vec![d("a", Some(1.0), None), d("b", Some(2.0), None)]),
        ("", vec![]),
    ];
    for (text, want) in cases {
        let (got, errors) = parse_perfdata(text);
        assert_eq!(errors, Vec::<String>::new(), "{text:?}");
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn malformed_perfdata_is_reported_and_the_rest_kept() {
    #[rustfmt::skip]
    let cases: &[(&str, &[&str], &[&str])] = &[
        // (text, labels kept, error fragments in order)
        ("novalue", &[], &["perfdata \"novalue\": no '=' (write label=value)"]),
        ("=5", &[], &["\"=5\": empty label"]),
        ("'  '=5", &[], &["empty label"]),
        ("x=abc", &[], &["value \"abc\" is not a number (or U)"]),
        ("x=5W", &[], &["unknown unit \"W\"; units are s ms us % B KB MB GB TB c"]),
        ("x=5KiB", &[], &["unknown unit \"KiB\""]),
        ("x=0,5", &[], &["unknown unit \",5\""]),
        ("x=inf x=NaN", &[], &["value \"inf\" is not a number", "value \"NaN\" is not a number"]),
        ("x=1e999", &[], &["value \"1e999\" is not a number"]),
        ("x=1.2.3", &[], &["value \"1.2.3\" is not a number"]),
        ("x=5;a", &[], &["warn \"a\": \"a\" is not a number; a range reads 10, 10:, ~:10, 10:20 or @10:20"]),
        ("x=5;;20:10", &[], &["crit \"20:10\": start 20 is above end 10"]),
        ("x=5;:", &[], &["warn \":\": empty range"]),
        ("x=5;@", &[], &["warn \"@\": empty range"]),
        ("x=5;;;zero", &[], &["min \"zero\" is not a number"]),
        ("x=5s;;;;10ms", &[], &["max \"10ms\" is not a number"]),
        ("x=1;2;3;4;5;6", &[], &["6 fields; at most 5"]),
        ("it's=1", &[], &["a label with ' must be quoted"]),
        ("'open=5 b=2", &[], &["the label's opening quote is never closed"]),
        ("'a'b=1 c=2", &["c"], &["\"'a'b=1\": no '=' right after the quoted label"]),
        // One bad datum among good ones: the good ones stay, in order.
        ("a=1 bad b=2 c=x d=4", &["a", "b", "d"], &["\"bad\"", "\"c=x\""]),
        // Real-world slip: commas between data.
        ("percent_packet_loss=0, rta=0.80", &["rta"], &["unknown unit \",\""]),
    ];
    for (text, kept, fragments) in cases {
        let (got, errors) = parse_perfdata(text);
        let labels: Vec<&str> = got.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels, *kept, "{text:?}: {errors:?}");
        assert_eq!(errors.len(), fragments.len(), "{text:?}: {errors:?}");
        for (e, f) in errors.iter().zip(fragments.iter()) {
            assert!(e.contains(f), "{text:?}: {e:?} lacks {f:?}");
        }
    }
}

#[test]
fn perfdata_is_bounded() {
    let many: Vec<String> = (0..200).map(|i| format!("m{i}=1")).collect();
    let out = parse_output(&format!("OK | {}\nlong | more=1\nmore=2", many.join(" ")));
    assert_eq!(out.perfdata.len(), MAX_DATA);
    assert_eq!(out.errors, vec![format!("more than {MAX_DATA} performance data; the rest are not kept")]);
    let bad: Vec<String> = (0..50).map(|i| format!("b{i}")).collect();
    let out = parse_output(&format!("OK | {}", bad.join(" ")));
    assert_eq!(out.errors.len(), 9, "{:?}", out.errors);
    assert_eq!(out.errors[8], "... and 42 more");
}

#[test]
fn output_splits_into_text_long_output_and_perfdata() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // (stdout, text, long text, perfdata labels)
        ("TCP OK - 0.001 second response time on 127.0.0.1 port 80|time=0.001180s;;;0.000000;10.000000\n",
            "TCP OK - 0.001 second response time on 127.0.0.1 port 80", "", &["time"]),
        ("PROCS OK: 12 processes\n", "PROCS OK: 12 processes", "", &[]),
        ("", "", "", &[]),
        ("CRITICAL - no answer |\n", "CRITICAL - no answer", "", &[]),
        // Long output; perfdata resumes after the first '|' of a later line and runs to the end.
        ("DISK WARNING - /data at 91% | /=210MB;800;900;0;1000\n/ 21% used\n/data 91% used | /data=910MB;800;900;0;1000\n/tmp=12MB;800;900;0;1000\n",
            "DISK WARNING - /data at 91%", "/ 21% used\n/data 91% used", &["/", "/data", "/tmp"]),
        // Long output without perfdata; CRLF line ends.
        ("OK - 2 queues\r\nqueue a: 0\r\nqueue b: 3\r\n", "OK - 2 queues", "queue a: 0\nqueue b: 3", &[]),
        // A '|' in a later perfdata line is just a bad datum, not a new section.
        ("OK\nlong | a=1\nb=2 | c=3\n", "OK", "long", &["a", "b", "c"]),
    ];
    for (stdout, text, long, labels) in cases {
        let out = parse_output(stdout);
        assert_eq!((out.text.as_str(), out.long_text.as_str()), (*text, *long), "{stdout:?}");
        let got: Vec<&str> = out.perfdata.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(got, *labels, "{stdout:?}: {:?}", out.errors);
    }
    // An unterminated quote spoils only its own line.
    let out = parse_output("OK | 'broken=1 a=2\nlong | b=3\n");
    let got: Vec<&str> = out.perfdata.iter().map(|d| d.label.as_str()).collect();
    assert_eq!((got, out.errors.len()), (vec!["b"], 1), "{:?}", out.errors);
}

#[test]
fn exit_codes_decide_and_text_is_the_message() {
    type Case<'a> = (i32, &'a str, Option<&'a str>, Status, &'a str, Option<&'a str>);
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // (exit code, stdout, stderr line, status, message, observed)
        (0, "TCP OK - 0.001 second response time on 127.0.0.1 port 80|time=0.001180s;;;0.000000;10.000000\n", None,
            Status::Pass, "TCP OK - 0.001 second response time on 127.0.0.1 port 80", Some("0.00118")),
        (0, "all good\n", None, Status::Pass, "OK: all good", Some("OK")),
        (0, "BOOK shelf in order\n", None, Status::Pass, "OK: BOOK shelf in order", Some("OK")),
        (1, "HTTP WARNING: HTTP/1.0 404 File not found|time=0.004874s;;;0.000000;10.000000 size=520B;;;0;\n", None,
            Status::Fail, "HTTP WARNING: HTTP/1.0 404 File not found", Some("0.004874")),
        (1, "disk 91% full | /=91%;90;95\n", None, Status::Fail, "WARNING: disk 91% full", Some("91")),
        (2, "connect to address 127.0.0.1 and port 1: Connection refused\n", None,
            Status::Fail, "CRITICAL: connect to address 127.0.0.1 and port 1: Connection refused", Some("CRITICAL")),
        (2, "HTTP CRITICAL: string 'x' not found\n", None, Status::Fail, "HTTP CRITICAL: string 'x' not found", Some("CRITICAL")),
        (2, "", Some("socket: permission denied"), Status::Fail, "CRITICAL: socket: permission denied", Some("CRITICAL")),
        // UNKNOWN: the plugin could not check; never a fail, never a pass.
        (3, "check_tcp: Timeout interval must be a positive integer\nUsage:\n", None,
            Status::Error, "UNKNOWN: check_tcp: Timeout interval must be a positive integer", Some("UNKNOWN")),
        (3, "UNKNOWN - no route|t=U\n", None, Status::Error, "UNKNOWN - no route", Some("UNKNOWN")),
        // Codes outside the interface.
        (4, "weird\n", None, Status::Error, "exit code 4 is not a plugin state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): weird", Some("exit code 4")),
        (127, "", Some("sh: 1: check_nope: not found"), Status::Error, "exit code 127 is not a plugin state", Some("exit code 127")),
        (-1, "", None, Status::Error, "exit code -1 is not a plugin state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): no output", None),
        (0, "", None, Status::Pass, "OK: no output", Some("OK")),
        // Malformed perfdata never turns a result into a pass, nor a pass into anything else.
        (2, "CRITICAL - slow|time=garbage\n", None, Status::Fail, "CRITICAL - slow", Some("CRITICAL")),
        (0, "OK|x=abc y=2\n", None, Status::Pass, "OK", Some("2")),
    ];
    for (code, stdout, stderr, want, message, observed) in cases {
        let o = judge(*code, stdout, stderr.map(String::from), Evidence::default());
        let e = &o.evidence;
        assert_eq!(o.status, *want, "exit {code} {stdout:?}: {e:?}");
        assert!(e.message.starts_with(message), "exit {code} {stdout:?}: message {:?}", e.message);
        assert_eq!(e.exit_code, Some(*code));
        if let Some(obs) = observed {
            assert_eq!(e.observed.as_deref(), Some(*obs), "exit {code} {stdout:?}");
        }
    }
}

#[test]
fn evidence_keeps_perfdata_long_output_and_parse_errors() {
    let stdout = "CRITICAL - 'x' missing | time=0.5s;1;2;0 'bytes in'=12B junk\nline two\n";
    let o = judge(2, stdout, None, Evidence::default());
    assert_eq!(o.status, Status::Fail);
    let e = &o.evidence;
    assert_eq!(
        e.perfdata,
        vec![full("time", 0.5, "s", "1", "2", Some(0.0), None), d("bytes in", Some(12.0), Some("B"))]
    );
    assert_eq!(e.details["long_output"], "line two");
    assert_eq!(e.details["perfdata_errors"], serde_json::json!(["perfdata \"junk\": no '=' (write label=value)"]));
    // Serialized for the API: every field of a datum, nulls left out.
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(
        json["perfdata"][0],
        serde_json::json!({"label": "time", "value": 0.5, "uom": "s", "warn": "1", "crit": "2", "min": 0.0})
    );
    assert_eq!(json["perfdata"][1], serde_json::json!({"label": "bytes in", "value": 12.0, "uom": "B"}));
    let back: Evidence = serde_json::from_value(json).unwrap();
    assert_eq!(&back, e);
    // A long first line is cut.
    let long = format!("OK {}\n", "x".repeat(2000));
    let o = judge(0, &long, None, Evidence::default());
    assert_eq!(o.evidence.message.chars().count(), MAX_TEXT + 1);
    assert!(o.evidence.message.ends_with('…'));
}

#[test]
fn odd_input_never_panics() {
    for text in [
        "'",
        "''",
        "'''",
        "=",
        "==",
        "a=;;;;",
        "a=-",
        "a=.",
        "a=1e",
        "a=1e+",
        "a=1e+s",
        "'é''ü'=1µs",
        "ü=1",
        "a=1;é",
        "\u{0}=1",
        "a\u{3000}b=1",
        "'a\u{3000}'=2",
        "|||",
        "a=1;@~:",
        "a=1;~",
        "a=+",
        "a=1;;;-;+",
    ] {
        let (data, errors) = parse_perfdata(text);
        assert!(data.len() + errors.len() <= text.len(), "{text:?}");
        let _ = parse_output(&format!("X|{text}\n{text}|{text}\n{text}"));
    }
    assert_eq!(parse_perfdata("a=1e").0, vec![]);
    assert_eq!(parse_perfdata("'é''ü'=1").0, vec![d("é'ü", Some(1.0), None)]);
    assert_eq!(parse_perfdata("a=1;~").1.len(), 1, "a lone ~ is no range");
}
