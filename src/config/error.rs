//! Configuration errors: each names `file:line:col`, says what is wrong and, where it can, what
//! to write instead — and never shows a value that came from `${VAR}` expansion
//! ([`ConfigError::hide_expanded`]).

use std::fmt;
use std::path::PathBuf;

use super::env::Expanded;
use crate::redact::Redactor;

/// Pieces of an environment value at least this long give it away in an error message; shorter
/// ones are too common in ordinary messages (field names, units) to tell apart and reveal little.
const PIECE: usize = 6;

/// One problem found in a config, template or checklist file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line; 0 when the position is unknown (e.g. the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    pub message: String,
    /// What to write instead, when there is a good guess.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)?;
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// Keep values from the environment out of this error, found at `path`. Every value
    /// expanded into the same config entry (same section and name, e.g. `probes.p`) is masked
    /// wherever the message or hint quotes it whole; if a piece of one is still shown (a message
    /// may quote only part of a value, like the unit of a duration), the message becomes a
    /// sentence naming the field and the variable, without the value.
    pub fn hide_expanded(&mut self, path: &[String], expanded: &[Expanded]) {
        let related: Vec<&Expanded> = expanded.iter().filter(|x| same_entry(path, &x.path)).collect();
        if related.is_empty() {
            return;
        }
        let mask = Redactor::default();
        related.iter().for_each(|x| mask.add(&x.value));
        self.message = mask.redact(&self.message);
        self.hint = self.hint.as_deref().map(|h| mask.redact(h));
        let shown = |x: &&&Expanded| {
            shows_piece(&self.message, &x.value) || self.hint.as_deref().is_some_and(|h| shows_piece(h, &x.value))
        };
        let mut vars: Vec<String> = related.iter().filter(shown).map(|x| format!("${{{}}}", x.var)).collect();
        if vars.is_empty() {
            return;
        }
        vars.dedup();
        self.message = format!(
            "{}: the value from {} is not valid here (not shown: it came from the environment)",
            path.join("."),
            vars.join(", ")
        );
        self.hint = Some("check the variable's value".into());
    }

    /// Pass the message and hint through `redactor`.
    pub fn redact(&mut self, redactor: &Redactor) {
        self.message = redactor.redact(&self.message);
        self.hint = self.hint.as_deref().map(|h| redactor.redact(h));
    }
}

/// Whether two config paths are about the same entry: they agree on their first two segments
/// (`probes.p...`, `server.api_token`), or on all of the shorter one.
fn same_entry(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len()).min(2);
    a[..n] == b[..n]
}

/// Whether `text` shows `value`, or a piece of it [`PIECE`] characters long or more.
fn shows_piece(text: &str, value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < PIECE {
        return chars.len() >= 4 && text.contains(value);
    }
    chars.windows(PIECE).any(|w| text.contains(&w.iter().collect::<String>()))
}

/// Every error found in one load, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `wrong`, if any is reasonably close ("did you mean ...").
pub fn nearest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let mut score = strsim::normalized_levenshtein(wrong, c);
        if c.starts_with(wrong) || wrong.starts_with(c) {
            score = score.max(0.75);
        }
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.filter(|(s, _)| *s >= 0.5).map(|(_, c)| c)
}

/// `did you mean 'x'?` for the nearest candidate, or a list of what is allowed.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    if let Some(n) = nearest(wrong, candidates.clone()) {
        return Some(format!("did you mean '{n}'?"));
    }
    let all: Vec<&str> = candidates.into_iter().collect();
    if all.is_empty() || all.len() > 12 { None } else { Some(format!("expected one of: {}", all.join(", "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_cases() {
        let ids = ["run-smoke-tests-in-staging-environment", "api-health", "error-ratio"];
        for (wrong, want) in [
            ("run-smoke-tests", Some("run-smoke-tests-in-staging-environment")),
            ("api-helth", Some("api-health")),
            ("error_ratio", Some("error-ratio")),
            ("zzz", None),
        ] {
            assert_eq!(nearest(wrong, ids), want, "{wrong}");
        }
    }

    #[test]
    fn display_names_place_and_hint() {
        let e = ConfigError {
            file: "c.yaml".into(),
            line: 3,
            col: 5,
            message: "unknown item 'x'".into(),
            hint: Some("did you mean 'y'?".into()),
        };
        assert_eq!(e.to_string(), "c.yaml:3:5: unknown item 'x'; did you mean 'y'?");
    }

    #[test]
    fn expanded_values_are_hidden() {
        let path = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        let expanded =
            |at: &str, var: &str, value: &str| Expanded { path: path(at), var: var.into(), value: value.into() };
        let secret = "hunter2-very-secret";
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&str>, Expanded, &str)] = &[
            // Quoted whole: masked, the rest of the explanation kept.
            ("probes.p.every", "probes.p.every: invalid duration \"soon-ish-later\" (expected number at 0)", None,
                expanded("probes.p.every", "EVERY", "soon-ish-later"),
                "probes.p.every: invalid duration \"<redacted>\" (expected number at 0)"),
            // Quoted in part (the unit of a duration): replaced.
            ("probes.p.every", "probes.p.every: unknown time unit \"hunter2secret\"", Some("write 5m"),
                expanded("probes.p.every", "S", "5hunter2secret"),
                "probes.p.every: the value from ${S} is not valid here (not shown: it came from the environment)"),
            // Escaped by {:?}: still found.
            ("server.listen", "server.listen: bad \"a\\\"b-secret\"", None, expanded("server.listen", "L", "a\"b-secret"),
                "server.listen: bad \"<redacted>\""),
            // Another field of the same entry, in the hint.
            ("probes.p", "probe 'p' is invalid", Some(secret), expanded("probes.p.with.url", "U", secret),
                "probe 'p' is invalid"),
            // Another entry: untouched here (the loader's redactor still masks it whole).
            ("probes.q.every", "probes.q.every: hunter2-very-secret", None, expanded("probes.p.every", "S", secret),
                "probes.q.every: hunter2-very-secret"),
        ];
        for (at, message, hint, x, want) in cases {
            let mut e = ConfigError {
                file: "c.yaml".into(),
                line: 3,
                col: 5,
                message: message.to_string(),
                hint: hint.map(String::from),
            };
            e.hide_expanded(&path(at), std::slice::from_ref(x));
            assert_eq!(e.message, *want, "{message}");
            if *at != "probes.q.every" {
                let shown = e.to_string();
                assert!(!shows_piece(&shown, &x.value), "{shown}");
            }
        }
    }
}
