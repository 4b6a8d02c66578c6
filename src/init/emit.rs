//! Writing the starter config: YAML built line by line from typed values, every scalar
//! quoted by a serializer and every piece of checklist text in a comment made single-line.
//!
//! Strings are written as JSON double-quoted scalars (`serde_json`), which YAML reads as the
//! same string whatever they hold; keys too, unless they are plain lower-case names. Comments take [`comment_text`] of the text: line
//! breaks (including U+0085, U+2028, U+2029), other control characters and bidirectional
//! formatting characters become spaces, and the result is cut to a length, so checklist text
//! can never end a comment and start YAML.

use serde_json::Value;

/// The longest piece of checklist text a comment quotes (characters).
pub const COMMENT_MAX: usize = 100;

/// A YAML document under construction.
#[derive(Debug, Default)]
pub struct Doc {
    lines: Vec<String>,
}

/// `s` as a double-quoted YAML scalar.
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Words YAML (1.1 or 1.2) may read as something other than a string when plain.
const RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

/// `s` as a mapping key: plain when it is a lower-case name (`api-health`, `every`), else
/// double-quoted.
pub fn key(s: &str) -> String {
    let mut chars = s.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !RESERVED.contains(&s);
    if plain { s.to_string() } else { quoted(s) }
}

/// `v` as a YAML flow value: strings double-quoted, mappings `{ key: value }`, lists `[a, b]`.
pub fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            let pairs: Vec<String> = o.iter().map(|(k, v)| format!("{}: {}", key(k), flow(v))).collect();
            if pairs.is_empty() { "{}".into() } else { format!("{{ {} }}", pairs.join(", ")) }
        }
        other => serde_json::to_string(other).expect("a JSON value serializes"),
    }
}

/// Whether `c` could break a line or reorder what a reader sees.
fn unsafe_in_comment(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` made safe for one comment line: unsafe characters become spaces, runs of spaces one,
/// and at most `max` characters are kept (`…` marks a cut).
pub fn comment_text(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().map(|c| if unsafe_in_comment(c) { ' ' } else { c }).collect();
    let words: Vec<&str> = cleaned.split(' ').filter(|w| !w.is_empty()).collect();
    let one = words.join(" ");
    if one.chars().count() <= max {
        return one;
    }
    let cut: String = one.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// `text` in double quotes for a comment (safe, and `"` inside shown as `'`).
pub fn comment_quote(text: &str) -> String {
    format!("\"{}\"", comment_text(&text.replace('"', "'"), COMMENT_MAX))
}

impl Doc {
    /// A line at `indent` levels (two spaces each).
    pub fn line(&mut self, indent: usize, text: &str) {
        self.lines.push(format!("{}{text}", "  ".repeat(indent)));
    }

    /// A comment line at `indent`; `text` must already be safe (see [`comment_text`]).
    pub fn comment(&mut self, indent: usize, text: &str) {
        debug_assert!(!text.chars().any(unsafe_in_comment), "unsafe comment {text:?}");
        if text.is_empty() {
            self.line(indent, "#");
        } else {
            self.line(indent, &format!("# {text}"));
        }
    }

    /// `key:` opening a block mapping.
    pub fn open(&mut self, indent: usize, key: &str) {
        self.line(indent, &format!("{}:", self::key(key)));
    }

    /// `key: value`, with an optional comment after it.
    pub fn pair(&mut self, indent: usize, key: &str, value: &Value, note: Option<&str>) {
        let mut s = format!("{}: {}", self::key(key), flow(value));
        if let Some(n) = note {
            debug_assert!(!n.chars().any(unsafe_in_comment), "unsafe comment {n:?}");
            s.push_str("  # ");
            s.push_str(n);
        }
        self.line(indent, &s);
    }

    pub fn blank(&mut self) {
        self.lines.push(String::new());
    }

    /// The document's text.
    pub fn finish(self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_plain_only_when_safe() {
        let cases = [
            ("every", "every"),
            ("api-health", "api-health"),
            ("run_smoke-2", "run_smoke-2"),
            ("post-release/notify", "\"post-release/notify\""),
            ("24-48-hours", "\"24-48-hours\""),
            ("Confirm it", "\"Confirm it\""),
            ("no", "\"no\""),
            ("null", "\"null\""),
            ("", "\"\""),
        ];
        for (k, want) in cases {
            assert_eq!(key(k), want);
        }
        assert_eq!(flow(&json!({"consecutive": 3})), "{ consecutive: 3 }");
        assert_eq!(flow(&json!(["a", 0.5, true])), "[\"a\", 0.5, true]");
    }

    #[test]
    fn comments_stay_on_one_line() {
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("two\nlines", "two lines"),
            ("cr\r\nlf", "cr lf"),
            ("nel\u{85}ls\u{2028}ps\u{2029}end", "nel ls ps end"),
            ("tab\there  and   spaces", "tab here and spaces"),
            ("bidi \u{202E}reversed\u{202C} \u{2067}x\u{2069}", "bidi reversed x"),
            ("# hash and : colon", "# hash and : colon"),
            ("", ""),
        ];
        for (text, want) in cases {
            assert_eq!(comment_text(text, 100), *want, "{text:?}");
        }
        assert_eq!(comment_text("abcdef ghij", 8), "abcdef…");
        assert_eq!(comment_text("ééééé", 3), "éé…");
    }

    /// Hostile keys, values and comments still parse back to what was written, and no comment
    /// text ends up as YAML.
    #[test]
    fn hostile_text_round_trips() {
        let hostile = [
            "a: b",
            "- [ ] x\nitems: {evil: 1}",
            "\"quoted\" 'single' \\ back",
            "{{ release.version }}",
            "&anchor *alias !tag %directive @at `tick`",
            "null",
            "true",
            "0x1F",
            "#not a comment",
            "\u{2028}items:",
            "ünïcødé 💥",
        ];
        for h in hostile {
            let mut d = Doc::default();
            d.comment(0, &comment_quote(h));
            d.open(0, h);
            d.pair(1, h, &json!(h), Some(&comment_text(h, 100)));
            d.pair(0, "after", &json!([h, 1, null, {h: [h]}]), None);
            let text = d.finish();
            let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{h:?}: {e}\n{text}"));
            assert_eq!(v, json!({ h: { h: h }, "after": [h, 1, null, {h: [h]}] }), "{h:?}\n{text}");
        }
    }
}
