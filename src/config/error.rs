//! Configuration errors: each names `file:line:col`, says what is wrong and, where it can, what
//! to write instead.

use std::fmt;
use std::path::PathBuf;

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
}
