//! JUnit XML reports for `shipwatch gate --junit FILE`, the format CI systems (GitLab, Jenkins,
//! GitHub test reporters) read: one `<testsuite>` per gate, one `<testcase>` per selected item,
//! with `<failure>` for failing items, `<error>` for items still pending at the timeout and
//! `<skipped>` for items not finished when the gate stopped on a failure.
//!
//! Written atomically (a temp file in the same directory, then a rename) so a CI job never
//! reads half a report.

use std::io::Write;
use std::path::Path;

/// How one item ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Passed,
    Failure { message: String, body: String },
    Error { message: String, body: String },
    Skipped { message: String },
}

/// One `<testcase>`.
#[derive(Debug, Clone)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub time_s: f64,
    pub verdict: Verdict,
    /// Goes to `<system-out>`: who ticked it, or the evidence that completed it.
    pub output: Option<String>,
}

/// One `<testsuite>`.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub time_s: f64,
    /// ISO 8601 start time (`2025-03-01T10:00:00`).
    pub timestamp: String,
    pub cases: Vec<Case>,
}

/// Escape text for XML content and attribute values; drops characters XML 1.0 forbids.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Escape element text (newlines kept as they are, for readable bodies).
fn text(s: &str) -> String {
    escape(s).replace("&#10;", "\n")
}

/// Render the report.
pub fn render(s: &Suite) -> String {
    let count = |f: fn(&Verdict) -> bool| s.cases.iter().filter(|c| f(&c.verdict)).count();
    let failures = count(|v| matches!(v, Verdict::Failure { .. }));
    let errors = count(|v| matches!(v, Verdict::Error { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped { .. }));
    let totals = format!(
        r#"tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{:.3}""#,
        s.cases.len(),
        s.time_s
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"shipwatch\" {totals}>\n"));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" {totals} timestamp=\"{}\">\n",
        escape(&s.name),
        escape(&s.timestamp)
    ));
    for c in &s.cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            escape(&c.classname),
            escape(&c.name),
            c.time_s
        ));
        let inner = match &c.verdict {
            Verdict::Passed => String::new(),
            Verdict::Failure { message, body } => {
                format!("      <failure message=\"{}\">{}</failure>\n", escape(message), text(body))
            }
            Verdict::Error { message, body } => {
                format!("      <error message=\"{}\">{}</error>\n", escape(message), text(body))
            }
            Verdict::Skipped { message } => format!("      <skipped message=\"{}\"/>\n", escape(message)),
        };
        let output = c.output.as_deref().map(|o| format!("      <system-out>{}</system-out>\n", text(o)));
        if inner.is_empty() && output.is_none() {
            out.push_str("/>\n");
        } else {
            out.push_str(">\n");
            out.push_str(&inner);
            out.push_str(&output.unwrap_or_default());
            out.push_str("    </testcase>\n");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Write `content` to `path` atomically: a temp file next to it, flushed, then renamed over it.
pub fn write_atomic(path: &Path, content: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, verdict: Verdict) -> Case {
        Case { classname: "Post-Deploy Verification".into(), name: name.into(), time_s: 1.5, verdict, output: None }
    }

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(escape(r#"a<b>&"c"'d'"#), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
        assert_eq!(escape("x\u{1}y\nz"), "xy&#10;z");
    }

    #[test]
    fn counts_and_shapes_every_verdict() {
        let suite = Suite {
            name: "shipwatch gate api-1-4-2".into(),
            time_s: 12.0,
            timestamp: "2025-03-01T10:00:00".into(),
            cases: vec![
                Case { output: Some("ticked by dave".into()), ..case("ok", Verdict::Passed) },
                case("plain", Verdict::Passed),
                case(
                    "health <200>",
                    Verdict::Failure { message: "failing: 500 & \"down\"".into(), body: "line1\nline2 <x>".into() },
                ),
                case("slow", Verdict::Error { message: "timed out".into(), body: "still pending".into() }),
                case("later", Verdict::Skipped { message: "gate stopped".into() }),
            ],
        };
        let xml = render(&suite);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{xml}");
        assert!(
            xml.contains(
                r#"<testsuite name="shipwatch gate api-1-4-2" tests="5" failures="1" errors="1" skipped="1" time="12.000""#
            ),
            "{xml}"
        );
        assert!(xml.contains(r#"<testcase classname="Post-Deploy Verification" name="plain" time="1.500"/>"#), "{xml}");
        assert!(xml.contains("<system-out>ticked by dave</system-out>"), "{xml}");
        assert!(xml.contains(r#"name="health &lt;200&gt;""#), "{xml}");
        assert!(
            xml.contains(
                r#"<failure message="failing: 500 &amp; &quot;down&quot;">line1
line2 &lt;x&gt;</failure>"#
            ),
            "{xml}"
        );
        assert!(xml.contains(r#"<error message="timed out">still pending</error>"#), "{xml}");
        assert!(xml.contains(r#"<skipped message="gate stopped"/>"#), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 5);
        assert_eq!(xml.matches("</testcase>").count(), 4);
        assert!(xml.trim_end().ends_with("</testsuites>"));
    }

    #[test]
    fn writes_atomically_and_replaces_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, "<new/>").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<new/>");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temp file left behind: {names:?}");
        assert!(write_atomic(&dir.path().join("missing/report.xml"), "x").is_err());
    }
}
