//! A live progress line on stderr, shared by `gate` and `demo`: on a terminal it is rewritten in
//! place (carriage return, erase line); otherwise (CI logs, pipes) it prints a plain line when
//! its key (the part that matters: counts, states) changes, or every 30 s, so logs stay short.

use std::io::Write;
use std::time::{Duration, Instant};

/// How often an unchanged line is printed again when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(30);

/// The progress line's state.
pub struct Progress {
    tty: bool,
    shown: bool,
    last_key: String,
    last_print: Option<Instant>,
}

impl Progress {
    /// A progress line; `tty`: stderr is a terminal (rewrite in place).
    pub fn new(tty: bool) -> Self {
        Self { tty, shown: false, last_key: String::new(), last_print: None }
    }

    /// What to write for `line` (with change key `key`), if anything, and remember it.
    pub fn text(&mut self, key: &str, line: &str, now: Instant) -> Option<String> {
        if self.tty {
            self.shown = true;
            return Some(format!("\r\x1b[2K{line}"));
        }
        if key != self.last_key || self.last_print.is_none_or(|t| now.duration_since(t) >= PLAIN_EVERY) {
            self.last_key = key.to_string();
            self.last_print = Some(now);
            return Some(format!("{line}\n"));
        }
        None
    }

    /// Show `line` on stderr.
    pub fn show(&mut self, key: &str, line: &str) {
        if let Some(t) = self.text(key, line, Instant::now()) {
            let mut err = std::io::stderr();
            let _ = err.write_all(t.as_bytes());
            let _ = err.flush();
        }
    }

    /// What ends the live line before other output (a newline on a terminal when one is shown).
    pub fn clear_text(&mut self) -> &'static str {
        if self.tty && self.shown {
            self.shown = false;
            "\r\x1b[2K"
        } else {
            ""
        }
    }

    /// End the live line (on a terminal) with a newline, leaving it visible.
    pub fn finish(&mut self) {
        if self.tty && self.shown {
            eprintln!();
            self.shown = false;
        }
    }

    /// Erase the live line (on a terminal) so that the next output starts on a clean line.
    pub fn clear(&mut self) {
        let t = self.clear_text();
        if !t.is_empty() {
            let mut err = std::io::stderr();
            let _ = err.write_all(t.as_bytes());
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (tty, key, seconds since start, what is written) in order, one progress line.
    #[test]
    fn terminal_rewrites_in_place_plain_prints_changes_and_every_30s() {
        #[rustfmt::skip]
        /// (key, seconds since start, what is written).
        type Step<'a> = (&'a str, u64, Option<&'a str>);
        let table: &[(bool, &[Step])] = &[
            (true, &[("a", 0, Some("\r\x1b[2Ka!")), ("a", 1, Some("\r\x1b[2Ka!")), ("b", 2, Some("\r\x1b[2Kb!"))]),
            (
                false,
                &[
                    ("a", 0, Some("a!\n")),
                    ("a", 1, None),
                    ("a", 29, None),
                    ("a", 30, Some("a!\n")),
                    ("b", 31, Some("b!\n")),
                    ("b", 32, None),
                ],
            ),
        ];
        let t0 = Instant::now();
        for (tty, steps) in table {
            let mut p = Progress::new(*tty);
            for (key, at, want) in *steps {
                let got = p.text(key, &format!("{key}!"), t0 + Duration::from_secs(*at));
                assert_eq!(got.as_deref(), *want, "tty {tty}, {key} at {at}s");
            }
            assert_eq!(p.clear_text(), if *tty { "\r\x1b[2K" } else { "" }, "tty {tty}");
            assert_eq!(p.clear_text(), "", "tty {tty}: cleared once");
        }
    }
}
