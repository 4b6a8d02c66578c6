//! Writing a checklist back with marks applied.
//!
//! Rendering is a splice over the original source: a marked item's box character is replaced
//! and its note is inserted before the first line's ending, so every other byte (including
//! `\r\n` endings and a missing final newline) is reproduced exactly.

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
    /// and a note `n` is appended to the item's first line as ` — n` (line breaks inside the
    /// note are turned into spaces so it cannot change the document's structure). Items not in
    /// `marks` and unknown ids in `marks` are left alone.
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
                let clean: String = note.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
                edits.push((item.line_end, 1, Edit::Insert(format!(" — {clean}"))));
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
