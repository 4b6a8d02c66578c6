//! Plain-text tables and ANSI colours for the client commands (`status`, `history`, `gate`).
//!
//! Colour is decided once per command by [`color_enabled`]: only when stdout is a terminal and
//! `NO_COLOR` is not set (to any value). [`paint`] is a pure function of the state name, so the
//! words themselves always carry the meaning and colour only adds to them.

use serde::Deserialize;
use std::ffi::OsStr;

const RESET: &str = "\x1b[0m";

/// Whether to colour output: a terminal, and no `NO_COLOR` in the environment (any value).
pub fn color_enabled(is_tty: bool, no_color: Option<&OsStr>) -> bool {
    is_tty && no_color.is_none()
}

/// [`color_enabled`] for this process's stdout.
pub fn stdout_color() -> bool {
    use std::io::IsTerminal;
    color_enabled(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// The ANSI SGR code for a release or item state (as the API spells it), if it has a colour.
fn code(state: &str) -> Option<&'static str> {
    use crate::release::{ItemState as I, ReleaseState as R, State};
    let state = State::deserialize(serde_json::Value::from(state)).ok()?;
    match state {
        State::Item(I::Failing | I::Regressed) | State::Release(R::Failed) => Some("31"),
        State::Item(I::Complete) | State::Release(R::Verified) => Some("32"),
        State::Item(I::Pending) | State::Release(R::Deployed | R::Planned) => Some("33"),
        State::Item(I::Manual) => Some("2"),
        State::Item(I::Waived) => None,
        // Amber-orange, bold: nobody can tell.
        State::Item(I::Unknown) | State::Release(R::Inconclusive) => Some("1;33"),
    }
}

/// `text` wrapped in the colour of `state` when `color` is on; `text` unchanged otherwise.
pub fn paint(state: &str, text: &str, color: bool) -> String {
    match code(state) {
        Some(c) if color && !text.is_empty() => format!("\x1b[{c}m{text}{RESET}"),
        _ => text.to_string(),
    }
}

/// Width of `s` on a terminal: characters, not counting ANSI escape sequences.
pub fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params... final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// Render rows as left-aligned columns separated by two spaces (cells may be coloured).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| visible_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(visible_width(c));
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(visible_width(c));
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let t = render(&["ID", "STATE"], &[vec!["api-1".into(), "deployed".into()], vec!["x".into(), "failed".into()]]);
        assert_eq!(t, "ID     STATE\napi-1  deployed\nx      failed\n");
    }

    #[test]
    fn aligns_coloured_cells_by_visible_width() {
        let rows = vec![
            vec![paint("failing", "failing", true), "a".into()],
            vec![paint("manual", "manual", true), "b".into()],
        ];
        let t = render(&["STATE", "ITEM"], &rows);
        let plain: String = t.replace("\x1b[31m", "").replace("\x1b[2m", "").replace(RESET, "");
        assert_eq!(plain, "STATE    ITEM\nfailing  a\nmanual   b\n");
    }

    #[test]
    fn paints_each_state_family() {
        assert_eq!(paint("failing", "x", true), "\x1b[31mx\x1b[0m");
        assert_eq!(paint("regressed", "x", true), "\x1b[31mx\x1b[0m");
        assert_eq!(paint("failed", "x", true), "\x1b[31mx\x1b[0m");
        assert_eq!(paint("complete", "x", true), "\x1b[32mx\x1b[0m");
        assert_eq!(paint("verified", "x", true), "\x1b[32mx\x1b[0m");
        assert_eq!(paint("pending", "x", true), "\x1b[33mx\x1b[0m");
        assert_eq!(paint("deployed", "x", true), "\x1b[33mx\x1b[0m");
        assert_eq!(paint("manual", "x", true), "\x1b[2mx\x1b[0m");
        assert_eq!(paint("waived", "x", true), "x", "no colour for waived");
    }

    #[test]
    fn no_colour_means_plain_text() {
        for s in ["failing", "complete", "pending", "manual", "waived", "verified"] {
            assert_eq!(paint(s, s, false), s);
        }
        assert_eq!(paint("failing", "", true), "");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(color_enabled(true, None));
        assert!(!color_enabled(false, None));
        assert!(!color_enabled(true, Some(OsStr::new("1"))));
        assert!(!color_enabled(true, Some(OsStr::new(""))), "NO_COLOR set to any value, even empty");
    }

    #[test]
    fn visible_width_skips_escapes() {
        assert_eq!(visible_width("\x1b[1;31mred\x1b[0m"), 3);
        assert_eq!(visible_width("✓ ok"), 4);
    }
}
