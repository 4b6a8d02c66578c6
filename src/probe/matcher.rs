//! PromQL-style label matchers: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
//!
//! Semantics follow Prometheus and Alertmanager: regexes are fully anchored (`^(?s:re)$`) and a
//! missing label reads as the empty string, so `env!="dev"` matches an alert without `env` and
//! `env=""` matches only alerts without it (or with it empty).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

/// The comparison a matcher makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        }
    }
}

/// Anything that can look up a label value by name.
pub trait LabelLookup {
    /// The value of label `name`, if present.
    fn label(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> LabelLookup for HashMap<String, String, S> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl LabelLookup for BTreeMap<String, String> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl LabelLookup for serde_json::Map<String, serde_json::Value> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(serde_json::Value::as_str)
    }
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Build a matcher; fails when a regex operator gets an invalid regex.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        if !valid_label_name(name) {
            return Err(format!(
                "label name '{name}' is invalid: use letters, digits and _ (not starting with a digit)"
            ));
        }
        let regex = match op {
            MatchOp::Re | MatchOp::NotRe => Some(
                regex::Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| format!("invalid regex {value:?}: {}", last_line(&e.to_string())))?,
            ),
            MatchOp::Eq | MatchOp::Ne => None,
        };
        Ok(Matcher { name: name.to_string(), op, value: value.to_string(), regex })
    }

    /// Whether `labels` satisfy this matcher (a missing label reads as "").
    pub fn matches<L: LabelLookup + ?Sized>(&self, labels: &L) -> bool {
        let v = labels.label(&self.name).unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Ne, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::NotRe, Some(re)) => !re.is_match(v),
            // `new` always compiles a regex for the regex operators.
            (MatchOp::Re | MatchOp::NotRe, None) => false,
        }
    }

    /// Parse every matcher; the error names the list index (`matchers[1]: ...`).
    pub fn parse_all(list: &[String]) -> Result<Vec<Matcher>, String> {
        parse_all(list)
    }
}

/// Parse every matcher; the error names the list index (`matchers[1]: ...`).
pub fn parse_all(list: &[String]) -> Result<Vec<Matcher>, String> {
    list.iter().enumerate().map(|(i, s)| s.parse::<Matcher>().map_err(|e| format!("matchers[{i}]: {e}"))).collect()
}

/// Whether every matcher matches `labels`.
pub fn all_match<L: LabelLookup + ?Sized>(matchers: &[Matcher], labels: &L) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// The matchers in PromQL form, joined with `,` (no braces).
pub fn join(matchers: &[Matcher]) -> String {
    matchers.iter().map(Matcher::to_string).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.as_str())?;
        for c in self.value.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl FromStr for Matcher {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let bad = |why: String| format!("invalid matcher '{input}': {why}");
        if s.is_empty() {
            return Err("empty matcher; write e.g. severity=\"page\"".into());
        }
        if s.starts_with('{') || s.ends_with('}') {
            return Err(bad("write one matcher per list entry without braces, e.g. service=\"api\"".into()));
        }
        let Some(op_at) = s.find(['=', '!']) else {
            return Err(bad(format!("no operator; write {s}=\"value\" (or !=, =~, !~)")));
        };
        let name = s[..op_at].trim();
        let rest = &s[op_at..];
        let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
            (MatchOp::Re, r)
        } else if let Some(r) = rest.strip_prefix("!~") {
            (MatchOp::NotRe, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (MatchOp::Ne, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (MatchOp::Eq, r)
        } else {
            return Err(bad("unknown operator; use =, !=, =~ or !~".into()));
        };
        if name.is_empty() {
            return Err(bad("missing label name; write e.g. severity=\"page\"".into()));
        }
        if !valid_label_name(name) {
            return Err(bad(format!(
                "label name '{name}' is invalid: use letters, digits and _ (not starting with a digit)"
            )));
        }
        let rest = rest.trim();
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) else {
            let shown = if rest.is_empty() { "value" } else { rest };
            return Err(bad(format!("quote the value, e.g. {name}{}\"{shown}\"", op.as_str())));
        };
        let (value, tail) =
            unquote(&rest[1..], quote).ok_or_else(|| bad(format!("missing closing {quote} after the value")))?;
        let tail = tail.trim();
        if !tail.is_empty() {
            let hint = if tail.starts_with(',') { "; put each matcher in its own list entry" } else { "" };
            return Err(bad(format!("unexpected text {tail:?} after the closing quote{hint}")));
        }
        Matcher::new(name, op, &value).map_err(bad)
    }
}

/// Read a quoted string body up to the closing `quote`; returns the value and what follows.
/// Backslash escapes `\"`, `\'`, `\\`, `\n`, `\t`, `\r`; any other `\x` is kept as written so
/// regex escapes like `\.` work. Backtick strings are raw.
fn unquote(body: &str, quote: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((out, &body[i + c.len_utf8()..]));
        }
        if c == '\\' && quote != '`' {
            match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                e @ ('"' | '\'' | '\\') => out.push(e),
                e => {
                    out.push('\\');
                    out.push(e);
                }
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn last_line(s: &str) -> String {
    s.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or(s).to_string()
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
