//! Writing a checklist back with marks applied.
//!
//! Rendering is a splice over the original source: a marked item's box character is replaced
//! and its note is inserted at the end of the first line (before a hard line break there, so
//! the break still works), so every other byte (including `\r\n` endings and a missing final
//! newline) is reproduced exactly. Notes are plain text from people and probes: they are
//! escaped ([`escape_inline`]) so they cannot add markup, HTML or structure.

use std::collections::BTreeMap;

use super::{Checklist, Mark};

/// One change to the source at a byte offset.
enum Edit {
    /// Replace the single box byte with this one.
    Box(u8),
    /// Insert this text.
    Insert(String),
}

impl Checklist {
    /// Render the original source with marks applied; every other byte stays exactly as it was.
    ///
    /// For each item whose id is in `marks`, the box becomes `x` (checked) or ` ` (unchecked),
    /// and a note `n` is appended to the item's first line as ` — n`, escaped by
    /// [`escape_inline`] (line breaks become spaces, markup is shown as typed). When the first
    /// line ends in trailing spaces or a backslash (a hard line break), the note goes before
    /// them. Items not in `marks` and unknown ids in `marks` are left alone.
    pub fn render(&self, marks: &BTreeMap<String, Mark>) -> String {
        let src = self.source.as_bytes();
        let mut edits: Vec<(usize, u8, Edit)> = Vec::new();
        for item in &self.items {
            let Some(mark) = marks.get(&item.id) else {
                continue;
            };
            // Only touch a byte that really is a task box character: pulldown-cmark reads any
            // ASCII whitespace but a line break (space, tab, VT, FF) as an open box.
            if matches!(src.get(item.box_offset), Some(b' ' | b'\t' | 0x0b | 0x0c | b'x' | b'X')) {
                let c = if mark.checked { b'x' } else { b' ' };
                edits.push((item.box_offset, 0, Edit::Box(c)));
            }
            if let Some(note) = &mark.note
                && item.line_end <= src.len()
                && self.source.is_char_boundary(item.line_end)
            {
                let at = note_offset(src, item.box_offset + 2, item.line_end);
                edits.push((at, 1, Edit::Insert(format!(" — {}", escape_inline(note)))));
            }
        }
        edits.sort_by_key(|(offset, order, _)| (*offset, *order));

        let extra: usize = edits
            .iter()
            .map(|(_, _, e)| match e {
                Edit::Box(_) => 0,
                Edit::Insert(s) => s.len(),
            })
            .sum();
        let mut out: Vec<u8> = Vec::with_capacity(src.len() + extra);
        let mut pos = 0;
        for (offset, _, edit) in edits {
            let Some(before) = src.get(pos..offset) else {
                continue;
            };
            out.extend_from_slice(before);
            match edit {
                Edit::Box(c) => {
                    out.push(c);
                    pos = offset + 1;
                }
                Edit::Insert(text) => {
                    out.extend_from_slice(text.as_bytes());
                    pos = offset;
                }
            }
        }
        out.extend_from_slice(src.get(pos..).unwrap_or_default());
        // Edits only swap ASCII bytes and insert UTF-8 at char boundaries, so this is valid.
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// Where a note goes on a line that ends at `end`: before its trailing spaces and tabs (two
/// spaces are a hard break) or before a final unescaped backslash (also a hard break), never
/// before `min` (just after the box).
fn note_offset(src: &[u8], min: usize, end: usize) -> usize {
    let mut at = end;
    while at > min && matches!(src.get(at - 1), Some(b' ' | b'\t')) {
        at -= 1;
    }
    if at == end {
        let backslashes = src[min.min(end)..end].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            at = end - 1;
        }
    }
    at.max(min).min(end)
}

/// Escape plain text (a name, a note, evidence) for use inside a line of Markdown, so that it
/// reads as typed and cannot add structure: control characters and line breaks become spaces,
/// `&` `<` `>` become HTML entities, Markdown punctuation (`\` `` ` `` `*` `[` `]` `|` `~`, and
/// `_` unless inside a word) is backslash-escaped, and trailing whitespace (a hard break at a
/// line end) is dropped. For text placed after other text on a line (a list item, a table
/// cell), not at a line start.
pub fn escape_inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '_' => {
                let word = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
                if !(word(i.checked_sub(1)) && word(Some(i + 1))) {
                    out.push('\\');
                }
                out.push('_');
            }
            c => out.push(c),
        }
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Mark, parse};

    /// Build marks from (id, checked, note).
    fn marks(list: &[(&str, bool, Option<&str>)]) -> BTreeMap<String, Mark> {
        list.iter()
            .map(|(id, checked, note)| {
                let mark = Mark { checked: *checked, note: note.map(str::to_string) };
                (id.to_string(), mark)
            })
            .collect()
    }

    #[test]
    fn render_cases() {
        type Case = (&'static str, &'static str, &'static [(&'static str, bool, Option<&'static str>)], &'static str);
        let cases: &[Case] = &[
            ("no marks lf", "# T\n- [ ] A\n- [x] B\n", &[], "# T\n- [ ] A\n- [x] B\n"),
            ("no marks crlf", "# T\r\n- [ ] A\r\n", &[], "# T\r\n- [ ] A\r\n"),
            ("no trailing newline", "- [ ] A", &[("a", true, Some("done"))], "- [x] A — done"),
            ("check lf", "- [ ] A\n- [ ] B\n", &[("b", true, None)], "- [ ] A\n- [x] B\n"),
            (
                "check crlf with note",
                "- [ ] A\r\n- [ ] B\r\n",
                &[("a", true, Some("ok (200)"))],
                "- [x] A — ok (200)\r\n- [ ] B\r\n",
            ),
            ("uncheck pre-ticked", "- [X] A\n", &[("a", false, Some("failed"))], "- [ ] A — failed\n"),
            ("unknown id ignored", "- [ ] A\n", &[("nope", true, Some("x"))], "- [ ] A\n"),
            (
                "note on multi-line item goes on first line",
                "1. [ ] A\n   more\n",
                &[("a-more", true, Some("n"))],
                "1. [x] A — n\n   more\n",
            ),
            ("note line breaks flattened", "- [ ] A\n", &[("a", false, Some("x\r\ny\nz"))], "- [ ] A — x  y z\n"),
            (
                "nested and unicode kept",
                "* [ ] Café ✓\n  + [ ] Kind\n",
                &[("kind", true, Some("é"))],
                "* [ ] Café ✓\n  + [x] Kind — é\n",
            ),
            (
                "fenced look-alike untouched",
                "```\n- [ ] A\n```\n- [ ] A\n",
                &[("a", true, None)],
                "```\n- [ ] A\n```\n- [x] A\n",
            ),
        ];
        for (name, src, m, want) in cases {
            let list = parse(src);
            assert_eq!(list.render(&marks(m)), *want, "case {name}");
        }
    }

    /// Hard line breaks in the first line (Markdown's own events), as a count.
    fn hard_breaks(src: &str) -> usize {
        pulldown_cmark::Parser::new(src).filter(|e| matches!(e, pulldown_cmark::Event::HardBreak)).count()
    }

    /// Issue 10, defect 15: a note appended after a hard line break broke it (`A  ` + ` — n`).
    #[test]
    fn notes_go_before_a_hard_break() {
        let cases: &[(&str, &str, &str)] = &[
            ("two spaces", "- [ ] A  \n  more\n", "- [x] A — n  \n  more\n"),
            ("many spaces crlf", "- [ ] A    \r\n  more\r\n", "- [x] A — n    \r\n  more\r\n"),
            ("backslash", "- [ ] A\\\n  more\n", "- [x] A — n\\\n  more\n"),
            ("escaped backslash is text", "- [ ] A\\\\\n  more\n", "- [x] A\\\\ — n\n  more\n"),
            ("three backslashes", "- [ ] A\\\\\\\n  more\n", "- [x] A\\\\ — n\\\n  more\n"),
            ("one space", "- [ ] A \n", "- [x] A — n \n"),
            ("tab", "- [ ] A\t\n", "- [x] A — n\t\n"),
            ("spaces at the end of the file", "- [ ] A  ", "- [x] A — n  "),
            ("empty item with space", "- [ ] \n", "- [x] — n \n"),
            ("plain", "- [ ] A\n  more\n", "- [x] A — n\n  more\n"),
        ];
        for (name, src, want) in cases {
            let list = parse(src);
            let id = list.items[0].id.clone();
            let out = list.render(&marks(&[(&id, true, Some("n"))]));
            assert_eq!(out, *want, "case {name}");
            assert_eq!(hard_breaks(&out), hard_breaks(src), "case {name}: {out:?}");
            assert_eq!(parse(&out).items.len(), list.items.len(), "case {name}");
        }
    }

    /// Issue 10, defect 15: notes carry text from people and probes (`by`, notes, evidence).
    #[test]
    fn notes_cannot_add_markup_or_structure() {
        let cases: &[(&str, &str)] = &[
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
            ("mallory](http://evil.example) [x", "mallory\\](http://evil.example) \\[x"),
            ("![logo](http://evil.example/x.png)", "!\\[logo\\](http://evil.example/x.png)"),
            ("a | b", "a \\| b"),
            ("`rm -rf /`", "\\`rm -rf /\\`"),
            ("**bold** _it_ snake_case *x*", "\\*\\*bold\\*\\* \\_it\\_ snake_case \\*x\\*"),
            ("~~gone~~", "\\~\\~gone\\~\\~"),
            ("line\n- [x] Forged item\n# Heading", "line - \\[x\\] Forged item # Heading"),
            ("ends in backslash \\", "ends in backslash \\\\"),
            ("trailing spaces  ", "trailing spaces"),
            ("AT&T &lt;b&gt;", "AT&amp;T &amp;lt;b&amp;gt;"),
            ("tab\tand\u{1b}[31mescape\u{2028}sep", "tab and \\[31mescape sep"),
            ("<http://autolink.example>", "&lt;http://autolink.example&gt;"),
        ];
        let options = pulldown_cmark::Options::ENABLE_TABLES
            | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
            | pulldown_cmark::Options::ENABLE_TASKLISTS;
        for (note, escaped) in cases {
            assert_eq!(super::super::escape_inline(note), *escaped, "{note:?}");
            let src = "# T\n- [ ] A\n- [ ] B\n";
            let out = parse(src).render(&marks(&[("a", true, Some(note))]));
            assert_eq!(out, format!("# T\n- [x] A — {escaped}\n- [ ] B\n"), "{note:?}");
            let again = parse(&out);
            assert_eq!(again.items.len(), 2, "{note:?}: {out}");
            assert_eq!(again.sections.len(), 1, "{note:?}: {out}");
            let mut html = String::new();
            pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&out, options));
            for tag in ["<script", "<img", "<a ", "<code", "<em", "<strong", "<del", "<br", "<table", "<h2"] {
                assert!(!html.contains(tag), "{note:?} made {tag}: {html}");
            }
            // And it reads as typed: the item's plain text is the note, whitespace collapsed.
            let typed: String = note.chars().map(|c| if c.is_control() || c == '\u{2028}' { ' ' } else { c }).collect();
            let typed = typed.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(again.items[0].text, format!("A — {typed}"), "{note:?}: {out}");
        }
    }

    /// Found by fuzzing (fuzz/regressions/checklist/box-vt-ff.md): pulldown-cmark reads a VT or
    /// FF between the brackets as an open box, and render never ticked it.
    #[test]
    fn every_whitespace_box_ticks() {
        for open in [" ", "\t", "\x0b", "\x0c"] {
            let src = format!("- [{open}] A\n- [x] B\n");
            let list = parse(&src);
            assert_eq!(list.items.len(), 2, "{open:?}");
            let out = list.render(&marks(&[("a", true, Some("ok")), ("b", false, None)]));
            assert_eq!(out, "- [x] A — ok\n- [ ] B\n", "{open:?}");
        }
    }

    #[test]
    fn only_box_bytes_change_crlf() {
        let src = "# Pre\r\n\r\n- [ ] One\r\n- [x] Two\r\n  - [ ] Three";
        let list = parse(src);
        let all: Vec<(&str, bool, Option<&str>)> = list.items.iter().map(|i| (i.id.as_str(), true, None)).collect();
        let out = list.render(&marks(&all));
        assert_eq!(out.len(), src.len());
        let changed: Vec<usize> =
            src.bytes().zip(out.bytes()).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect();
        let one = list.get("one").map(|i| i.box_offset);
        let three = list.get("three").map(|i| i.box_offset);
        assert_eq!(changed.into_iter().map(Some).collect::<Vec<_>>(), vec![one, three]);
        assert_eq!(out, "# Pre\r\n\r\n- [x] One\r\n- [x] Two\r\n  - [x] Three");
    }
}
