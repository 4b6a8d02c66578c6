//! Nagios plugins (the Monitoring Plugins interface) as command probes (`format: nagios`).
//!
//! The exit code is the state: 0 OK passes, 1 WARNING and 2 CRITICAL fail, 3 UNKNOWN (the
//! plugin could not check) and anything else are `error`. The plugin's stdout is
//!
//! ```text
//! TEXT OUTPUT | OPTIONAL PERFDATA
//! LONG TEXT LINE 1
//! LONG TEXT LINE N | PERFDATA LINE 2
//! PERFDATA LINE 3
//! ```
//!
//! The first line's text is the message; performance data, `'label'=value[UOM];[warn];[crit];[min];[max]`
//! separated by spaces, is parsed into [`PerfDatum`]s. A datum that does not parse is left out
//! and its reason kept: malformed perfdata never changes the verdict the exit code gave.

use serde_json::Value;

use super::{Evidence, Outcome, Status};
pub use crate::outcome::PerfDatum;

/// Units of measurement the plugin guidelines define (none: a plain count).
pub const UOMS: &[&str] = &["s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"];
/// Most performance data kept from one run (the evidence of every run is stored).
pub const MAX_DATA: usize = 64;
/// Most perfdata problems listed in the evidence.
const MAX_ERRORS: usize = 8;
/// Longest message taken from the plugin's first line, in characters.
const MAX_TEXT: usize = 500;

/// A plugin's state, from its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    /// The state of exit code `code`; `None` for codes the interface does not define.
    pub fn from_code(code: i32) -> Option<State> {
        match code {
            0 => Some(State::Ok),
            1 => Some(State::Warning),
            2 => Some(State::Critical),
            3 => Some(State::Unknown),
            _ => None,
        }
    }

    /// The state's name as plugins print it.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// OK passes, WARNING and CRITICAL fail, UNKNOWN could not measure.
    pub fn status(self) -> Status {
        match self {
            State::Ok => Status::Pass,
            State::Warning | State::Critical => Status::Fail,
            State::Unknown => Status::Error,
        }
    }
}

/// A plugin's stdout, split as the guidelines describe.
#[derive(Debug, Default, PartialEq)]
pub struct PluginOutput {
    /// The first line's text (before any `|`), trimmed.
    pub text: String,
    /// The long output: lines after the first, up to where perfdata starts.
    pub long_text: String,
    /// Every datum that parsed, in order (at most [`MAX_DATA`]).
    pub perfdata: Vec<PerfDatum>,
    /// Why each other datum was left out.
    pub errors: Vec<String>,
}

/// Split `stdout` into text, long output and performance data.
pub fn parse_output(stdout: &str) -> PluginOutput {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or("");
    let (text, perf) = first.split_once('|').map_or((first, None), |(t, p)| (t, Some(p)));
    let mut segments: Vec<&str> = perf.into_iter().collect();
    let mut long = vec![];
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            segments.push(line);
        } else if let Some((t, p)) = line.split_once('|') {
            long.push(t.trim_end());
            segments.push(p);
            in_perf = true;
        } else {
            long.push(line);
        }
    }
    let mut out = PluginOutput {
        text: text.trim().to_string(),
        long_text: long.join("\n").trim().to_string(),
        ..Default::default()
    };
    // Each line on its own: an unterminated quote never swallows the next line.
    for segment in segments {
        parse_perfdata_into(segment, &mut out.perfdata, &mut out.errors);
    }
    if out.errors.len() > MAX_ERRORS {
        let more = out.errors.len() - MAX_ERRORS;
        out.errors.truncate(MAX_ERRORS);
        out.errors.push(format!("... and {more} more"));
    }
    out
}

/// Parse one space-separated list of performance data: the data that parsed, and why each
/// other one did not.
pub fn parse_perfdata(text: &str) -> (Vec<PerfDatum>, Vec<String>) {
    let (mut data, mut errors) = (vec![], vec![]);
    parse_perfdata_into(text, &mut data, &mut errors);
    (data, errors)
}

fn parse_perfdata_into(text: &str, data: &mut Vec<PerfDatum>, errors: &mut Vec<String>) {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return;
        }
        let (raw, parsed, after) = next_datum(rest);
        rest = after;
        match parsed {
            Ok(_) if data.len() >= MAX_DATA => {
                let full = format!("more than {MAX_DATA} performance data; the rest are not kept");
                if !errors.contains(&full) {
                    errors.push(full);
                }
                return;
            }
            Ok(d) => data.push(d),
            Err(why) => errors.push(format!("perfdata {raw:?}: {why}")),
        }
    }
}

/// The next datum of `s` (which starts with a non-space): its raw text, the datum or why it is
/// malformed, and the text after it.
fn next_datum(s: &str) -> (&str, Result<PerfDatum, String>, &str) {
    let end_of_token = |from: usize| s[from..].find(char::is_whitespace).map_or(s.len(), |i| from + i);
    let (label, after_label) = if let Some(quoted) = s.strip_prefix('\'') {
        match quoted_label(quoted) {
            Some((label, used)) => (label, 1 + used),
            None => return (s, Err("the label's opening quote is never closed".into()), ""),
        }
    } else {
        let end = end_of_token(0);
        match s[..end].find('=') {
            Some(eq) if s[..eq].contains('\'') => {
                let why = "a label with ' must be quoted, each ' written '' ('it''s'=1)";
                return (&s[..end], Err(why.into()), &s[end..]);
            }
            Some(eq) => (s[..eq].to_string(), eq),
            None => return (&s[..end], Err("no '=' (write label=value)".into()), &s[end..]),
        }
    };
    let end = end_of_token(after_label);
    let raw = &s[..end];
    let Some(data) = s[after_label..end].strip_prefix('=') else {
        return (raw, Err("no '=' right after the quoted label".into()), &s[end..]);
    };
    (raw, datum(label, data), &s[end..])
}

/// The label inside quotes (`''` is one `'`) and the bytes used, closing quote included.
fn quoted_label(s: &str) -> Option<(String, usize)> {
    let mut label = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            label.push(c);
        } else if chars.peek().is_some_and(|(_, n)| *n == '\'') {
            chars.next();
            label.push('\'');
        } else {
            return Some((label, i + 1));
        }
    }
    None
}

/// One datum from its label and the text after `=`.
fn datum(label: String, data: &str) -> Result<PerfDatum, String> {
    if label.trim().is_empty() {
        return Err("empty label".into());
    }
    let fields: Vec<&str> = data.split(';').collect();
    if fields.len() > 5 {
        return Err(format!("{} fields; at most 5 (value;warn;crit;min;max)", fields.len()));
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let (value, uom) = match field(0) {
        "" | "U" => (None, None),
        v => {
            let (n, unit) = split_number(v).ok_or_else(|| format!("value {v:?} is not a number (or U)"))?;
            if !unit.is_empty() && !UOMS.contains(&unit) {
                return Err(format!("unknown unit {unit:?}; units are {} (none for a count)", UOMS.join(" ")));
            }
            (Some(n), (!unit.is_empty()).then(|| unit.to_string()))
        }
    };
    let bound = |name: &str, i: usize| -> Result<Option<f64>, String> {
        match field(i) {
            "" => Ok(None),
            t => match split_number(t) {
                Some((n, unit)) if unit.is_empty() || Some(unit) == uom.as_deref() => Ok(Some(n)),
                _ => Err(format!("{name} {t:?} is not a number")),
            },
        }
    };
    let threshold = |name: &str, i: usize| -> Result<Option<String>, String> {
        match field(i) {
            "" => Ok(None),
            t => check_range(t).map(|()| Some(t.to_string())).map_err(|why| format!("{name} {t:?}: {why}")),
        }
    };
    let (warn, crit) = (threshold("warn", 1)?, threshold("crit", 2)?);
    let (min, max) = (bound("min", 3)?, bound("max", 4)?);
    Ok(PerfDatum { label, value, uom, warn, crit, min, max })
}

/// A range expression: `[@][start:][end]`, `start` may be `~` (negative infinity), at least one
/// end given, `start <= end`.
fn check_range(text: &str) -> Result<(), String> {
    let body = text.strip_prefix('@').unwrap_or(text);
    let (start, end) = body.split_once(':').map_or(("", body), |(s, e)| (s, e));
    let num = |t: &str| match split_number(t) {
        Some((n, "")) => Ok(n),
        _ => Err(format!("{t:?} is not a number; a range reads 10, 10:, ~:10, 10:20 or @10:20")),
    };
    if end.is_empty() {
        return match start {
            "" => Err("empty range; give a start or an end".into()),
            "~" => Ok(()),
            t => num(t).map(|_| ()),
        };
    }
    let start = match start {
        "" => Some(0.0),
        "~" => None,
        t => Some(num(t)?),
    };
    let end = num(end)?;
    match start {
        Some(s) if s > end => Err(format!("start {s} is above end {end}")),
        _ => Ok(()),
    }
}

/// The finite number at the start of `s` (`-1.5`, `.5`, `2e3`) and the text after it.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits_from = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if !b[digits_from..i].iter().any(u8::is_ascii_digit) {
        return None;
    }
    // An exponent only when digits follow (`5e3`; in `5e` the `e` would be a unit).
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let n: f64 = s[..i].parse().ok()?;
    n.is_finite().then_some((n, &s[i..]))
}

/// Decide from the exit code and what the plugin printed. `stdout` is its start (complete
/// lines), `stderr_line` the last line it wrote to stderr.
pub fn judge(code: i32, stdout: &str, stderr_line: Option<String>, mut ev: Evidence) -> Outcome {
    let out = parse_output(stdout);
    ev.exit_code = Some(code);
    ev.expected = Some("exit 0 (OK)".into());
    let mut text: String = out.text.chars().take(MAX_TEXT).collect();
    if text.len() < out.text.len() {
        text.push('…');
    }
    if text.is_empty() {
        text = stderr_line.unwrap_or_else(|| "no output".into());
    }
    let state = State::from_code(code);
    let status = state.map_or(Status::Error, State::status);
    ev.message = match state {
        Some(s) if names(&text, s.name()) => text,
        Some(s) => format!("{}: {text}", s.name()),
        None => format!("exit code {code} is not a plugin state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): {text}"),
    };
    ev.observed = match out.perfdata.first().and_then(|d| d.value) {
        Some(v) => Some(v.to_string()),
        None => Some(state.map_or_else(|| format!("exit code {code}"), |s| s.name().to_string())),
    };
    if !out.long_text.is_empty() {
        ev.details.insert("long_output".into(), Value::String(out.long_text));
    }
    if !out.errors.is_empty() {
        ev.details.insert("perfdata_errors".into(), out.errors.into_iter().map(Value::String).collect());
    }
    ev.perfdata = out.perfdata;
    Outcome { status, evidence: ev }
}

/// Whether `text` has `word` as a word of its own (`HTTP OK:` names OK, `BOOK` does not).
fn names(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == word)
}

#[cfg(test)]
#[path = "nagios_tests.rs"]
mod tests;
