//! The command probe's bounded memory of a child's stdout and stderr: the last [`TAIL`] bytes,
//! the last line (for a JSON result) and, for a Nagios plugin, the first [`HEAD`] bytes.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of stdout/stderr kept.
pub(super) const TAIL: usize = 2048;
/// Longest stdout line still considered as a plugin JSON result.
pub(super) const MAX_LINE: usize = 64 * 1024;
/// Bytes of a Nagios plugin's stdout read for its text and performance data (Nagios itself
/// reads 8 KiB of plugin output).
pub(super) const HEAD: usize = 8 * 1024;

/// Bounded memory of one output stream: its last [`TAIL`] bytes and, for stdout, the last
/// non-empty line (up to [`MAX_LINE`] bytes).
#[derive(Default)]
pub(super) struct Sink {
    pub(super) tail: Vec<u8>,
    /// The first [`HEAD`] bytes, when kept (a Nagios plugin's stdout).
    head: Option<Vec<u8>>,
    head_cut: bool,
    track_lines: bool,
    pub(super) line: Vec<u8>,
    line_too_long: bool,
    last_line: Option<Vec<u8>>,
}

impl Sink {
    /// For stdout read for a JSON result line.
    pub(super) fn lines() -> Self {
        Sink { track_lines: true, ..Sink::default() }
    }

    /// For stdout read as a Nagios plugin's output.
    pub(super) fn head() -> Self {
        Sink { head: Some(Vec::new()), ..Sink::default() }
    }

    pub(super) fn push(&mut self, data: &[u8]) {
        if let Some(head) = &mut self.head {
            let room = HEAD - head.len();
            head.extend_from_slice(&data[..room.min(data.len())]);
            self.head_cut |= data.len() > room;
        }
        if data.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > 2 * TAIL {
                self.tail.drain(..self.tail.len() - TAIL);
            }
        }
        if self.track_lines {
            for piece in data.split_inclusive(|b| *b == b'\n') {
                let (body, ends) = match piece.strip_suffix(b"\n") {
                    Some(b) => (b, true),
                    None => (piece, false),
                };
                if self.line.len() + body.len() > MAX_LINE {
                    self.line_too_long = true;
                    self.line.clear();
                } else if !self.line_too_long {
                    self.line.extend_from_slice(body);
                }
                if ends {
                    self.end_line();
                }
            }
        }
    }

    fn end_line(&mut self) {
        if self.line_too_long {
            self.last_line = None;
        } else if !self.line.trim_ascii().is_empty() {
            self.last_line = Some(std::mem::take(&mut self.line));
        }
        self.line.clear();
        self.line_too_long = false;
    }

    /// The last non-empty stdout line, if it was short enough to keep.
    pub(super) fn last_line(&mut self) -> Option<String> {
        self.end_line();
        self.last_line.as_deref().map(|l| String::from_utf8_lossy(l).into_owned())
    }

    /// The kept head as text and whether it was cut; a cut head ends at its last complete line.
    pub(super) fn head_lines(&self) -> (String, bool) {
        let head = self.head.as_deref().unwrap_or_default();
        let whole = match head.iter().rposition(|b| *b == b'\n') {
            Some(i) if self.head_cut => &head[..=i],
            _ => head,
        };
        (String::from_utf8_lossy(whole).into_owned(), self.head_cut)
    }

    pub(super) fn tail_string(&self) -> String {
        let mut start = self.tail.len().saturating_sub(TAIL);
        // Do not start in the middle of a UTF-8 character.
        while start < self.tail.len() && (self.tail[start] & 0xC0) == 0x80 {
            start += 1;
        }
        String::from_utf8_lossy(&self.tail[start..]).into_owned()
    }

    /// Last non-empty line of the kept tail, at most 200 characters (for messages).
    pub(super) fn last_line_of_tail(&self) -> Option<String> {
        let tail = self.tail_string();
        let line = tail.lines().rev().find(|l| !l.trim().is_empty())?;
        Some(line.trim().chars().take(200).collect())
    }
}

pub(super) async fn drain<R: AsyncRead + Unpin>(pipe: Option<R>, sink: &mut Sink) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        sink.push(&buf[..n]);
    }
}
