//! Tests of the command probe with real processes.

use super::*;
use crate::probe::ReleaseVars;
use serde_json::json;

fn probe(v: Value) -> CommandProbe {
    let p: CommandProbe = serde_json::from_value(v).expect("probe deserializes");
    p.validate().expect("probe validates");
    p
}

fn ctx() -> RunContext {
    RunContext { release: ReleaseVars { version: "1.4.2".into(), ..ReleaseVars::default() }, ..Default::default() }
}

#[tokio::test]
async fn exit_codes_and_plugin_results() {
    #[rustfmt::skip]
    let cases: Vec<(Value, Status, Option<i32>, &str)> = vec![
        (json!({"argv": ["true"]}), Status::Pass, Some(0), "exit code 0 in"),
        (json!({"argv": ["false"]}), Status::Fail, Some(1), "exit code 1"),
        (json!({"argv": ["sh", "-c", "exit 3"]}), Status::Fail, Some(3), "exit code 3"),
        (json!({"argv": ["sh", "-c", "echo bad thing >&2; exit 3"]}), Status::Fail, Some(3), "exit code 3: bad thing"),
        (json!({"argv": ["sh", "-c", "kill -9 $$"]}), Status::Error, None, "killed by signal 9"),
        (json!({"argv": ["no-such-program-xyz"]}), Status::Error, None,
            "cannot run `no-such-program-xyz`: No such file or directory (is it installed and on PATH?)"),
        (json!({"argv": ["true"], "cwd": "/no/such/dir"}), Status::Error, None, "cwd \"/no/such/dir\" is not a directory"),
        (json!({"argv": ["sh", "-c", "test \"$1\" = 1.4.2 && test \"$V\" = v1.4.2", "sh", "{{ release.version }}"],
                "env": {"V": "v{{ release.version }}"}}), Status::Pass, Some(0), "exit code 0"),
        (json!({"argv": ["echo", "{{ release.nope }}"]}), Status::Error, None, "template"),
        (json!({"argv": ["pwd"], "cwd": "/"}), Status::Pass, Some(0), "exit code 0"),
        // Plugin JSON on the last non-empty stdout line.
        (json!({"argv": ["sh", "-c", r#"echo log; echo '{"status":"fail","message":"p99 too high","observed":0.9,"expected":"< 0.5"}'; echo"#]}),
            Status::Fail, Some(0), "p99 too high"),
        (json!({"argv": ["sh", "-c", r#"echo '{"status":"error","message":"source down"}'"#]}), Status::Error, Some(0), "source down"),
        (json!({"argv": ["sh", "-c", r#"echo '{"status":"pass","message":"fine"}'"#]}), Status::Pass, Some(0), "fine"),
        (json!({"argv": ["sh", "-c", r#"echo '{"status":"pass","message":"lies"}'; exit 2"#]}), Status::Fail, Some(2), "lies"),
        (json!({"argv": ["sh", "-c", r#"echo '{"status":"error","message":"no data"}'; exit 2"#]}), Status::Error, Some(2), "no data"),
        (json!({"argv": ["sh", "-c", r#"echo '{"status":"fail"}'; echo not json"#]}), Status::Pass, Some(0), "exit code 0"),
        (json!({"argv": ["sh", "-c", r#"echo '[1, 2]'"#]}), Status::Pass, Some(0), "exit code 0"),
    ];
    for (v, want, code, msg) in cases {
        let o = probe(v.clone()).run(&ctx()).await;
        let e = &o.evidence;
        assert_eq!((o.status, e.exit_code), (want, code), "{v}: {e:?}");
        assert!(e.message.contains(msg), "{v}: message {:?} lacks {msg:?}", e.message);
        assert!(e.target.is_some(), "{v}");
    }
}

#[tokio::test]
async fn evidence_from_plugin_and_tails() {
    let script = r#"echo hello; echo oops >&2; echo '{"status":"fail","message":"m","value":42,"expected":"< 10"}'"#;
    let o = probe(json!({"argv": ["sh", "-c", script]})).run(&ctx()).await;
    let e = o.evidence;
    assert_eq!((e.observed.as_deref(), e.expected.as_deref()), (Some("42"), Some("< 10")));
    assert_eq!(e.details["result"]["value"], 42);
    assert!(e.details["stdout_tail"].as_str().unwrap().starts_with("hello\n"));
    assert_eq!(e.details["stderr_tail"], "oops\n");
    assert_eq!(e.target.as_deref(), Some(format!("sh -c {script}").as_str()));
    assert!(e.latency_ms.is_some());
}

#[tokio::test]
async fn output_is_bounded() {
    let script = "head -c 1000000 /dev/zero | tr '\\0' a; echo; echo END; head -c 1000000 /dev/zero >&2";
    let o = probe(json!({"argv": ["sh", "-c", script]})).run(&ctx()).await;
    assert_eq!(o.status, Status::Pass, "{o:?}");
    let out = o.evidence.details["stdout_tail"].as_str().unwrap();
    assert!(out.len() <= TAIL && out.ends_with("aaa\nEND\n"), "{} bytes", out.len());
    assert!(o.evidence.details["stderr_tail"].as_str().unwrap().len() <= TAIL);
    // A huge last line is not taken for a plugin result and does not blow memory.
    let mut sink = Sink::lines();
    for _ in 0..1000 {
        sink.push(&[b'{'; 1024]);
    }
    assert_eq!(sink.last_line(), None);
    assert!(sink.tail.len() <= 2 * TAIL && sink.line.len() <= MAX_LINE);
}

#[tokio::test]
async fn timeouts_kill_the_whole_group() {
    for script in ["sleep 30", "sleep 30 & sleep 30", "sleep 30 & echo $!; wait"] {
        let start = std::time::Instant::now();
        let p = probe(json!({"argv": ["sh", "-c", script], "timeout": "300ms"}));
        let o = p.run(&ctx()).await;
        assert_eq!(o.status, Status::Error, "{script}: {o:?}");
        assert_eq!(o.evidence.message, "killed after 300ms timeout");
        assert!(start.elapsed() < Duration::from_secs(1), "{script} took {:?}", start.elapsed());
        let pid = o.evidence.details["stdout_tail"].as_str().unwrap().trim().to_string();
        if !pid.is_empty() {
            assert!(gone_or_zombie(&pid).await, "grandchild {pid} survived");
        }
    }
}

#[tokio::test]
async fn background_leftovers_do_not_hold_the_probe() {
    let start = std::time::Instant::now();
    let o = probe(json!({"argv": ["sh", "-c", "sleep 30 & echo $!; echo started"]})).run(&ctx()).await;
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(o.evidence.details.contains_key("note"));
    let out = o.evidence.details["stdout_tail"].as_str().unwrap().to_string();
    assert!(gone_or_zombie(out.lines().next().unwrap()).await, "leftover survived: {out}");
}

#[tokio::test]
async fn cancelled_run_kills_the_group() {
    let dir = std::env::temp_dir().join(format!("shipwatch-cmd-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let script = format!("sleep 30 & echo $! > {}; wait", dir.display());
    let p = probe(json!({"argv": ["sh", "-c", script]}));
    let r = tokio::time::timeout(Duration::from_millis(300), p.run(&ctx())).await;
    assert!(r.is_err());
    let pid = std::fs::read_to_string(&dir).unwrap();
    let _ = std::fs::remove_file(&dir);
    assert!(gone_or_zombie(pid.trim()).await, "grandchild {pid} survived a cancelled run");
}

/// Whether the process is gone (or a zombie waiting for a reaper) within a second.
async fn gone_or_zombie(pid: &str) -> bool {
    for _ in 0..20 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z')) => {
                return true;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

#[test]
fn validate_and_defaults() {
    for (v, ok) in [
        (json!({"argv": ["true"]}), true),
        (json!({"argv": []}), false),
        (json!({"argv": [""]}), false),
        (json!({"argv": [" "]}), false),
    ] {
        let p: CommandProbe = serde_json::from_value(v.clone()).unwrap();
        let r = p.validate();
        assert_eq!(r.is_ok(), ok, "{v}: {r:?}");
        if let Err(e) = r {
            assert!(e.starts_with("argv:"), "{e}");
        }
        assert_eq!(p.timeout(), Duration::from_secs(30));
    }
    assert!(serde_json::from_value::<CommandProbe>(json!({"argv": ["x"], "shell": true})).is_err());
}

#[tokio::test]
async fn redacted_run_masks_secrets() {
    let r = Redactor::default();
    r.add("hunter2-secret");
    let p =
        probe(json!({"argv": ["sh", "-c", "echo hunter2-secret; echo hunter2-secret >&2; exit 1", "hunter2-secret"]}));
    let o = p.run_redacted(&ctx(), &r).await;
    let text = serde_json::to_string(&o).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(o.status, Status::Fail);
    // A Nagios plugin's text, long output and perfdata labels too.
    let script = "echo \"CRITICAL hunter2-secret | hunter2-secret=1 'x hunter2-secret'=2;hunter2-secret\"; exit 2";
    let o = probe(json!({"argv": ["sh", "-c", script], "format": "nagios"})).run_redacted(&ctx(), &r).await;
    let text = serde_json::to_string(&o).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(o.evidence.perfdata.len(), 1, "{text}");
    assert_eq!(o.evidence.details["perfdata_errors"].as_array().map(Vec::len), Some(1), "{text}");
}

fn version(v: &str) -> RunContext {
    RunContext { release: ReleaseVars { version: v.into(), ..ReleaseVars::default() }, ..Default::default() }
}

/// Issue 10, defect 5: a version `-la` became an option of the program. The API refuses it
/// (`validate::version`); the probe refuses it too, for values that did not pass there.
#[tokio::test]
async fn release_values_never_become_options_or_shell_code() {
    let refused = crate::validate::version("-la").unwrap_err();
    assert!(refused.contains("starts with \"-\""), "{refused}");
    #[rustfmt::skip]
    let cases: &[(Value, &str, Status, &str)] = &[
        (json!(["ls", "{{ release.version }}"]), "-la", Status::Error, "argv[1] \"{{ release.version }}\" renders to \"-la\""),
        (json!(["ls", "{{ release.version }}"]), "--help", Status::Error, "would be read as an option"),
        (json!(["{{ release.version }}"]), "-x", Status::Error, "argv[0]"),
        // A value after the operator's own text, or inside an option the operator wrote, is data.
        (json!(["printf", "%s", "v={{ release.version }}"]), "-la", Status::Pass, "v=-la"),
        (json!(["printf", "%s", "--version={{ release.version }}"]), "-la", Status::Pass, "--version=-la"),
        // No shell ever sees a value: metacharacters arrive as they are.
        (json!(["printf", "%s", "{{ release.version }}"]), "$(echo pwned); `id` | cat > /x & *", Status::Pass,
            "$(echo pwned); `id` | cat > /x & *"),
        (json!(["sh", "-c", "printf %s \"$1\"", "sh", "{{ release.version }}"]), "$(id);exit 3", Status::Pass,
            "$(id);exit 3"),
    ];
    for (argv, v, want, text) in cases {
        let o = probe(json!({ "argv": argv })).run(&version(v)).await;
        assert_eq!(o.status, *want, "{argv} with {v:?}: {o:?}");
        if *want == Status::Pass {
            assert_eq!(o.evidence.details["stdout_tail"], *text, "{argv} with {v:?}");
        } else {
            assert!(o.evidence.message.contains(text), "{argv} with {v:?}: {}", o.evidence.message);
            assert_eq!(o.evidence.exit_code, None, "{argv} with {v:?} ran: {o:?}");
        }
    }
}

/// `format: nagios` with real processes: the exit code is the state, the first line the message,
/// perfdata (first line and long output) lands in the evidence; a JSON line means nothing here.
#[tokio::test]
async fn nagios_plugins() {
    type Case<'a> = (&'a str, Status, Option<i32>, &'a str, &'a [&'a str]);
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("echo 'PING OK - rta 0.8ms|rta=0.8ms;100;500;0 pl=0%;20;60'; exit 0", Status::Pass, Some(0), "PING OK - rta 0.8ms", &["rta", "pl"]),
        ("echo 'queue deep | depth=120;100;200'; exit 1", Status::Fail, Some(1), "WARNING: queue deep", &["depth"]),
        ("printf 'DISK CRITICAL - /data full | /=10MB\\n/data at 99%% | /data=990MB;800;900;0;1000\\n'; exit 2",
            Status::Fail, Some(2), "DISK CRITICAL - /data full", &["/", "/data"]),
        ("echo 'cannot reach the agent'; exit 3", Status::Error, Some(3), "UNKNOWN: cannot reach the agent", &[]),
        ("echo 'odd'; exit 7", Status::Error, Some(7), "exit code 7 is not a plugin state", &[]),
        ("echo 'no such option' >&2; exit 3", Status::Error, Some(3), "UNKNOWN: no such option", &[]),
        // The exit-format JSON line is not read: the exit code decides.
        (r#"echo '{"status":"pass","message":"lies"}'; exit 2"#, Status::Fail, Some(2), "CRITICAL: {", &[]),
        // Malformed perfdata keeps the verdict.
        ("echo 'OK | time=fast'; exit 0", Status::Pass, Some(0), "OK", &[]),
        ("kill -9 $$", Status::Error, None, "`sh` was killed by signal 9", &[]),
    ];
    for (script, want, code, msg, labels) in cases {
        let o = probe(json!({"argv": ["sh", "-c", script], "format": "nagios"})).run(&ctx()).await;
        let e = &o.evidence;
        assert_eq!((o.status, e.exit_code), (*want, *code), "{script}: {e:?}");
        assert!(e.message.starts_with(msg), "{script}: message {:?}", e.message);
        let got: Vec<&str> = e.perfdata.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(got, *labels, "{script}: {e:?}");
    }
    let o = probe(json!({"argv": ["sh", "-c", "echo 'OK | time=fast t=1s'"], "format": "nagios"})).run(&ctx()).await;
    assert_eq!(o.evidence.observed.as_deref(), Some("1"));
    assert_eq!(
        o.evidence.details["perfdata_errors"][0],
        "perfdata \"time=fast\": value \"fast\" is not a number (or U)"
    );
}

#[tokio::test]
async fn nagios_output_is_read_up_to_head_bytes() {
    let line = "x".repeat(99);
    let script = format!("echo 'OK | a=1'; for i in $(seq 200); do echo {line}; done; echo 'end | b=2'");
    let o = probe(json!({"argv": ["sh", "-c", script], "format": "nagios"})).run(&ctx()).await;
    assert_eq!(o.status, Status::Pass, "{o:?}");
    let labels: Vec<&str> = o.evidence.perfdata.iter().map(|d| d.label.as_str()).collect();
    assert_eq!(labels, ["a"], "perfdata past {HEAD} bytes is not read");
    assert_eq!(o.evidence.details["output_note"], format!("stdout longer than {HEAD} bytes; read only those"));
    let long = o.evidence.details["long_output"].as_str().unwrap();
    assert!(long.len() < HEAD && long.lines().all(|l| l == line), "the cut line is dropped: {} bytes", long.len());
    assert_eq!(long.lines().count(), (HEAD - "OK | a=1\n".len()) / 100);
}

#[test]
fn format_is_a_closed_set_defaulting_to_exit() {
    let parse = |v: Value| serde_json::from_value::<CommandProbe>(v).map(|p| p.format).map_err(|e| e.to_string());
    assert_eq!(parse(json!({"argv": ["x"]})), Ok(Format::Exit));
    assert_eq!(parse(json!({"argv": ["x"], "format": "exit"})), Ok(Format::Exit));
    assert_eq!(parse(json!({"argv": ["x"], "format": "nagios"})), Ok(Format::Nagios));
    let err = parse(json!({"argv": ["x"], "format": "icinga"})).unwrap_err();
    assert!(err.contains("unknown variant `icinga`, expected `exit` or `nagios`"), "{err}");
}
