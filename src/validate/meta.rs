//! Validation of a release's metadata from CI: the commit, labels and the `Idempotency-Key`.
//!
//! - `commit` is a git object name: 7-64 hexadecimal digits (a short SHA-1 up to a full
//!   SHA-256), folded to lowercase by the caller. It ends up in GitHub API paths.
//! - Label names follow Prometheus label names (`[a-zA-Z_][a-zA-Z0-9_]*`, at most 64
//!   characters, no `__` prefix) because they are copied into Alertmanager alerts; names
//!   shipwatch's own alerts use (`alertname`, `service`, …) are refused rather than silently
//!   shadowed. Values are one line of text (no control characters), at most 256 characters.
//!   At most [`MAX_LABELS`] labels.
//! - An idempotency key is 1-255 visible ASCII characters (RFC 9110 token-ish, as in the IETF
//!   `Idempotency-Key` draft): it is stored and echoed, never interpreted.

use std::collections::BTreeMap;

/// Most labels one release may carry.
pub const MAX_LABELS: usize = 32;
const MAX_LABEL_NAME: usize = 64;
const MAX_LABEL_VALUE: usize = 256;
const MAX_KEY: usize = 255;
/// Labels shipwatch's own Alertmanager alerts carry; a release label may not take these names.
const RESERVED: [&str; 9] =
    ["alertname", "service", "environment", "version", "release", "severity", "item", "probe", "commit"];

/// A git commit id: 7-64 hex digits, e.g. `4f2a9c1` or a full 40-digit SHA-1.
pub fn commit(s: &str) -> Result<(), String> {
    const RULE: &str = "give 7-64 hexadecimal digits (e.g. 4f2a9c1 or a full 40-digit SHA)";
    let n = s.chars().count();
    if !(7..=64).contains(&n) {
        return Err(format!("commit has {n} characters; {RULE}"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("commit contains {c:?}; {RULE}"));
    }
    Ok(())
}

/// Release labels: names like Prometheus label names, one-line values.
pub fn labels(l: &BTreeMap<String, String>) -> Result<(), String> {
    if l.len() > MAX_LABELS {
        return Err(format!("labels has {} entries; give at most {MAX_LABELS} (e.g. team=payments)", l.len()));
    }
    for (k, v) in l {
        label_name(k)?;
        let rule = format!("give a value of 0-{MAX_LABEL_VALUE} characters on one line (e.g. team=payments)");
        let n = v.chars().count();
        if n > MAX_LABEL_VALUE {
            return Err(format!("labels.{k} has {n} characters; {rule}"));
        }
        if let Some(c) = v.chars().find(|c| super::forbidden_in_text(*c)) {
            return Err(format!("labels.{k} contains the control character {c:?}; {rule}"));
        }
    }
    Ok(())
}

fn label_name(k: &str) -> Result<(), String> {
    let rule = format!(
        "name labels with 1-{MAX_LABEL_NAME} letters, digits and '_', not starting with a digit or '__' (e.g. team, ci_pipeline)"
    );
    let n = k.chars().count();
    if n == 0 || n > MAX_LABEL_NAME {
        return Err(format!("label name has {n} characters; {rule}"));
    }
    if let Some(c) = k.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!("label name contains {c:?}; {rule}"));
    }
    if k.starts_with(|c: char| c.is_ascii_digit()) || k.starts_with("__") {
        return Err(format!("label name {k:?} starts with a digit or '__'; {rule}"));
    }
    if RESERVED.contains(&k) {
        return Err(format!(
            "label name {k:?} is one shipwatch sets itself on alerts ({}); pick another, e.g. deploy_{k}",
            RESERVED.join(", ")
        ));
    }
    Ok(())
}

/// An `Idempotency-Key` header value: 1-255 visible ASCII characters, e.g. a CI job id.
pub fn idempotency_key(s: &str) -> Result<(), String> {
    const RULE: &str = "send 1-255 visible ASCII characters (e.g. the CI job id, github-run-8812-1)";
    let n = s.len();
    if n == 0 || n > MAX_KEY {
        return Err(format!("Idempotency-Key has {n} characters; {RULE}"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("Idempotency-Key contains {c:?}; {RULE}"));
    }
    Ok(())
}

/// A point in time written by a caller (`deployed_at`): RFC 3339, e.g. `2026-12-03T14:05:00Z`
/// or `2026-12-03T15:05:00+01:00`, read as UTC. The message quotes at most 40 characters of
/// what was sent.
pub fn time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        let more = if s.chars().count() > 40 { "…" } else { "" };
        format!("write an RFC 3339 time such as 2026-12-03T14:05:00Z, not {shown:?}{more}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits() {
        let table: &[(&str, Result<(), &str>)] = &[
            ("4f2a9c1", Ok(())),
            ("4F2A9C1d", Ok(())),
            (&"a".repeat(40), Ok(())),
            (&"b".repeat(64), Ok(())),
            ("4f2a9c", Err("has 6 characters")),
            (&"a".repeat(65), Err("has 65 characters")),
            ("4f2a9cg", Err("contains 'g'")),
            ("../../x", Err("contains '.'")),
            ("abcdef1?x", Err("contains '?'")),
        ];
        for (s, want) in table {
            match (commit(s), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(piece)) => assert!(got.contains(piece) && got.contains("e.g."), "{s}: {got}"),
                (got, want) => panic!("{s}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn label_sets() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        type Case = (BTreeMap<String, String>, Result<(), &'static str>);
        let table: Vec<Case> = vec![
            (one("team", "payments"), Ok(())),
            (one("ci_pipeline", "https://ci.example.com/p/1"), Ok(())),
            (one("_x", ""), Ok(())),
            (one("owner", "Zoë 山田"), Ok(())),
            (one("", "x"), Err("has 0 characters")),
            (one("team-name", "x"), Err("contains '-'")),
            (one("9lives", "x"), Err("starts with a digit")),
            (one("__name__", "x"), Err("starts with a digit or '__'")),
            (one("alertname", "x"), Err("deploy_alertname")),
            (one("version", "x"), Err("one shipwatch sets itself")),
            (one("team", "a\nb"), Err("labels.team contains the control character '\\n'")),
            (one("team", "a\u{202e}b"), Err("control character")),
            (one("team", &"v".repeat(257)), Err("has 257 characters")),
            (one(&"k".repeat(65), "x"), Err("has 65 characters")),
            ((0..33).map(|i| (format!("l{i}"), "v".to_string())).collect(), Err("has 33 entries")),
        ];
        for (l, want) in table {
            match (labels(&l), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(piece)) => assert!(got.contains(piece) && got.contains("e.g."), "{l:?}: {got}"),
                (got, want) => panic!("{l:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn times() {
        let table: &[(&str, Result<&str, &str>)] = &[
            ("2026-12-03T14:05:00Z", Ok("2026-12-03T14:05:00+00:00")),
            ("2026-12-03T15:05:00+01:00", Ok("2026-12-03T14:05:00+00:00")),
            ("2026-12-03T14:05:00.250Z", Ok("2026-12-03T14:05:00.250+00:00")),
            ("yesterday", Err("not \"yesterday\"")),
            ("2026-12-03", Err("not \"2026-12-03\"")),
            ("", Err("RFC 3339 time such as 2026-12-03T14:05:00Z")),
            (&"x".repeat(50), Err("…")),
        ];
        for (s, want) in table {
            match (time(s), want) {
                (Ok(t), Ok(w)) => assert_eq!(t.to_rfc3339(), *w, "{s}"),
                (Err(got), Err(piece)) => assert!(got.contains(piece) && got.contains("RFC 3339"), "{s}: {got}"),
                (got, want) => panic!("{s}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(idempotency_key("github-run-8812-1"), Ok(()));
        assert_eq!(idempotency_key(&"k".repeat(255)), Ok(()));
        for (k, piece) in [("", "has 0"), ("a b", "contains ' '"), ("a\nb", "contains '\\n'"), ("é", "contains 'é'")]
        {
            let got = idempotency_key(k).unwrap_err();
            assert!(got.contains(piece), "{k:?}: {got}");
        }
        assert!(idempotency_key(&"k".repeat(256)).unwrap_err().contains("has 256"));
    }
}
