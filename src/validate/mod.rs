//! Validation of the untrusted fields a release and a person's tick or waiver bring in.
//!
//! The engine calls these where the API hands values over (release creation, tick, waive) and
//! answers 422 with the returned message, which says what is allowed and gives an example. The
//! rules are strict because the values travel far: `service`, `environment` and `version` are
//! templated into probe URLs, command arguments, PromQL and hostnames; `by`, `note` and `reason`
//! land in logs, the status page, `checklist.md`, reports and webhooks.
//!
//! - `service` and `environment` are DNS-label-like: `a-z`, `0-9` and `-`, 1–63 characters, not
//!   starting or ending with `-`. Uppercase is refused, not folded: these names end up in
//!   hostnames (where case is ignored) and in slugged release ids, so `API` and `api` would be two
//!   releases for one host; one spelling keeps them apart, and the message shows the lowercase
//!   form to use.
//! - `version` is `A-Z a-z 0-9 . - + _`, 1–128 characters, not starting with `-` (it could become
//!   a command option) or `.` (`..` could climb a path).
//! - `by`, `note` and `reason` are free text with no control characters at all — not even a
//!   newline or tab in notes: each of them is shown on one line (a log line, a table cell, the
//!   end of a checklist item), where a newline could forge another line. Unicode line and
//!   paragraph separators and bidirectional overrides are refused for the same reason (they
//!   reorder or break what a reader sees). None may be blank.

mod meta;
pub use meta::{MAX_LABELS, commit, idempotency_key, labels, time};

/// Longest `by` accepted.
pub const MAX_BY: usize = 128;
/// Longest `note` (tick) or `reason` (waiver) accepted.
pub const MAX_NOTE: usize = 2000;
/// Longest `service` or `environment` accepted (a DNS label).
pub const MAX_NAME: usize = 63;
/// Longest `version` accepted.
pub const MAX_VERSION: usize = 128;

/// A release's service name: a DNS-label-like name such as `checkout-api`.
pub fn service(s: &str) -> Result<(), String> {
    label("service", s, "checkout-api")
}

/// A release's environment: same rule as [`service`], e.g. `prod-eu`.
pub fn environment(s: &str) -> Result<(), String> {
    label("environment", s, "prod-eu")
}

/// A release's version, e.g. `1.4.2`, `2.0.0-rc.1+build_7`.
pub fn version(s: &str) -> Result<(), String> {
    const RULE: &str = "use 1-128 letters, digits, '.', '-', '+' and '_', not starting with '-' or '.' \
                        (e.g. 1.4.2 or 2.0.0-rc.1+build.7)";
    let n = s.chars().count();
    if n == 0 || n > MAX_VERSION {
        return Err(format!("version has {n} characters; {RULE}"));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || ".-+_".contains(*c))) {
        return Err(format!("version contains {c:?}; {RULE}"));
    }
    if s.starts_with(['-', '.']) {
        return Err(format!("version starts with {:?}; {RULE}", &s[..1]));
    }
    Ok(())
}

/// Free text written by a person (`by`, `note`, `reason`): not blank, at most `max_len`
/// characters, no control characters, line separators or bidirectional overrides.
pub fn person_text(field: &str, s: &str, max_len: usize) -> Result<(), String> {
    let rule = format!("write 1-{max_len} characters on one line, e.g. \"alice\" or \"checked with the PM\"");
    if s.trim().is_empty() {
        return Err(format!("{field} is empty; {rule}"));
    }
    let n = s.chars().count();
    if n > max_len {
        return Err(format!("{field} has {n} characters; {rule}"));
    }
    if let Some(c) = s.chars().find(|c| forbidden_in_text(*c)) {
        return Err(format!("{field} contains the control character {c:?}; {rule}"));
    }
    Ok(())
}

/// Control characters (C0, DEL, C1), Unicode line/paragraph separators and bidirectional
/// embedding, override and isolate controls.
fn forbidden_in_text(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn label(field: &str, s: &str, example: &str) -> Result<(), String> {
    let Some(problem) = label_problem(s) else { return Ok(()) };
    let rule =
        format!("use 1-{MAX_NAME} lowercase letters, digits and '-', not starting or ending with '-' (e.g. {example})");
    let lower = s.to_ascii_lowercase();
    if lower != s && label_problem(&lower).is_none() {
        return Err(format!("{field} has uppercase letters; write it in lowercase ({lower}); {rule}"));
    }
    Err(format!("{field} {problem}; {rule}"))
}

/// What is wrong with `s` as a DNS-label-like name, if anything.
fn label_problem(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n == 0 || n > MAX_NAME {
        return Some(format!("has {n} characters"));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(format!("contains {c:?}"));
    }
    (s.starts_with('-') || s.ends_with('-')).then(|| "starts or ends with '-'".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (value, Ok or a piece of the error).
    type Case = (String, Result<(), &'static str>);

    fn cases(list: &[(&str, Result<(), &'static str>)]) -> Vec<Case> {
        list.iter().map(|(s, r)| (s.to_string(), *r)).collect()
    }

    fn check(name: &str, f: fn(&str) -> Result<(), String>, cases: &[Case]) {
        for (input, want) in cases {
            match (f(input), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(piece)) => {
                    assert!(got.contains(piece), "{name}({input:?}): {got:?} lacks {piece:?}");
                    assert!(got.contains("e.g."), "{name}({input:?}): {got:?} gives no example");
                    assert!(!got.contains('\n') && !got.contains('\r'), "{name}({input:?}): {got:?}");
                }
                (got, want) => panic!("{name}({input:?}): got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn service_and_environment_are_dns_labels() {
        let mut table = cases(&[
            ("api", Ok(())),
            ("checkout-api", Ok(())),
            ("a", Ok(())),
            ("s3", Ok(())),
            ("0day", Ok(())),
            ("", Err("has 0 characters")),
            ("API", Err("write it in lowercase (api)")),
            ("Checkout-Api", Err("(checkout-api)")),
            ("-api", Err("starts or ends with '-'")),
            ("api-", Err("starts or ends with '-'")),
            ("x@127.0.0.1:18900/ssrf-host/", Err("contains '@'")),
            ("a.b", Err("contains '.'")),
            ("a/b", Err("contains '/'")),
            ("a b", Err("contains ' '")),
            ("a_b", Err("contains '_'")),
            ("a\nb", Err("contains '\\n'")),
            ("café", Err("contains 'é'")),
            ("Ünïcode", Err("contains 'Ü'")),
            ("A_B", Err("contains 'A'")),
        ]);
        table.push(("a".repeat(63), Ok(())));
        table.push(("a".repeat(64), Err("has 64 characters")));
        check("service", service, &table);
        check("environment", environment, &table);
        assert!(environment("PROD").unwrap_err().starts_with("environment has uppercase"));
    }

    #[test]
    fn versions() {
        let mut table = cases(&[
            ("1.4.2", Ok(())),
            ("v1.4.2", Ok(())),
            ("2.0.0-rc.1+build_7", Ok(())),
            ("1.0.0-RC1", Ok(())),
            ("2024_01_15", Ok(())),
            ("", Err("has 0 characters")),
            ("-la", Err("starts with \"-\"")),
            ("--help", Err("starts with \"-\"")),
            (".hidden", Err("starts with \".\"")),
            ("../../../admin/secret", Err("contains '/'")),
            ("..", Err("starts with \".\"")),
            ("1.0?x=1", Err("contains '?'")),
            ("1.0#frag", Err("contains '#'")),
            ("1.0%2F", Err("contains '%'")),
            ("1.0 beta", Err("contains ' '")),
            ("1.0\"", Err("contains '\"'")),
            ("$(id)", Err("contains '$'")),
            ("1.0\r\n", Err("contains '\\r'")),
            ("1.0ü", Err("contains 'ü'")),
        ]);
        table.push(("1".repeat(128), Ok(())));
        table.push(("1".repeat(129), Err("has 129 characters")));
        check("version", version, &table);
    }

    #[test]
    fn person_texts() {
        let cases: Vec<(&str, usize, Result<(), &str>)> = vec![
            ("alice", MAX_BY, Ok(())),
            ("Alice O'Brien <alice@example.com>", MAX_BY, Ok(())),
            ("Zoë 山田", MAX_BY, Ok(())),
            ("PM ok — see ticket #42 | `done` [x]", MAX_NOTE, Ok(())),
            ("", MAX_BY, Err("by is empty")),
            ("   ", MAX_BY, Err("by is empty")),
            ("mallory\n2026-01-01T00:00:00Z INFO shipwatch: FORGED", MAX_BY, Err("control character '\\n'")),
            ("a\rb", MAX_NOTE, Err("'\\r'")),
            ("a\tb", MAX_NOTE, Err("'\\t'")),
            ("a\u{1b}[31mred", MAX_NOTE, Err("'\\u{1b}'")),
            ("a\u{7f}", MAX_NOTE, Err("'\\u{7f}'")),
            ("a\u{85}b", MAX_NOTE, Err("'\\u{85}'")),
            ("a\u{2028}b", MAX_NOTE, Err("'\\u{2028}'")),
            ("evil\u{202e}txt.exe", MAX_BY, Err("'\\u{202e}'")),
            ("x\u{2066}y", MAX_BY, Err("'\\u{2066}'")),
        ];
        for (input, max, want) in cases {
            let field = if max == MAX_BY { "by" } else { "note" };
            match (person_text(field, input, max), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(piece)) => {
                    assert!(got.contains(piece), "{input:?}: {got:?} lacks {piece:?}");
                    assert!(!got.contains('\n'), "{got:?}");
                    if !input.trim().is_empty() {
                        assert!(!got.contains(input), "the message echoes the refused text: {got:?}");
                    }
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
        let at_limit = "é".repeat(MAX_BY);
        assert_eq!(person_text("by", &at_limit, MAX_BY), Ok(()), "the limit counts characters, not bytes");
        let err = person_text("reason", &"x".repeat(MAX_NOTE + 1), MAX_NOTE).unwrap_err();
        assert!(err.starts_with("reason has 2001 characters; write 1-2000 characters"), "{err}");
    }
}
