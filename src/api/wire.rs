//! The connection's byte stream, with one correction: hyper answers a request it cannot parse
//! (400), whose head is too large (431) or whose URI is too long (414) by itself, before the
//! router sees it, with an empty body. [`Wire`] replaces such an automatic answer by one with
//! the same status and a JSON `{"error": "..."}` body, so that every error of the API is JSON.
//!
//! An automatic answer is recognised by all of: it is the first write after a flush (hyper
//! writes each answer as one flattened buffer, see `writev(false)` in `listen.rs`), its status
//! is 400, 414 or 431, its body is empty (`content-length: 0`) and it lacks the
//! `x-content-type-options` header that every answer of the router carries. hyper closes the
//! connection after it, so the replacement says `connection: close`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::guard::{MAX_HEAD, MAX_HEADERS, MAX_URI};

/// A stream whose automatic hyper error answers get JSON bodies.
pub struct Wire<T> {
    io: T,
    /// The next write starts an answer (nothing written since the last flush).
    fresh: bool,
    /// A replacement answer still to be written, and how much of it is.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> Wire<T> {
    pub fn new(io: T) -> Self {
        Wire { io, fresh: true, pending: Vec::new(), sent: 0 }
    }
}

/// `(length of the head, status)` when `buf` starts with one of hyper's automatic answers.
fn automatic(buf: &[u8]) -> Option<(usize, u16)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    if !matches!(status, 400 | 414 | 431) {
        return None;
    }
    let mut empty = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("x-content-type-options") || name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            empty = value.trim() == "0";
        }
    }
    empty.then_some((end, status))
}

/// The JSON answer that replaces hyper's automatic one.
fn json_answer(status: u16) -> Vec<u8> {
    let msg = match status {
        414 => format!("URI too long: at most {MAX_URI} bytes"),
        431 => format!(
            "request head too large: at most {MAX_HEAD} bytes of request line and headers, {MAX_HEADERS} headers"
        ),
        _ => "malformed HTTP request: the request line or a header could not be parsed".to_string(),
    };
    let body = serde_json::json!({ "error": msg }).to_string();
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-content-type-options: nosniff\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl<T: AsyncWrite + Unpin> Wire<T> {
    /// Write what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Wire<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Wire<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if std::mem::take(&mut this.fresh)
            && let Some((len, status)) = automatic(buf)
        {
            this.pending = json_answer(status);
            // hyper's bytes count as written; ours go out now, or on the next write or flush.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(len));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        this.fresh = true;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
        date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";

    #[test]
    fn recognises_only_hyper_s_empty_answers() {
        assert_eq!(automatic(HYPER_431), Some((HYPER_431.len(), 431)));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-content-type-options: nosniff\r\n\r\n";
        assert_eq!(automatic(ours), None, "an answer of the router");
        assert_eq!(automatic(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n{\"error\":1}"), None);
        assert_eq!(automatic(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(automatic(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"), None, "incomplete head");
        assert_eq!(automatic(b"{\"HTTP/1.1 400\"}"), None);
    }

    #[tokio::test]
    async fn replaces_an_automatic_answer_at_a_boundary_and_nothing_else() {
        let mut w = Wire::new(Vec::new());
        w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
        w.flush().await.unwrap();
        w.write_all(HYPER_431).await.unwrap();
        w.flush().await.unwrap();
        let out = String::from_utf8(w.io).unwrap();
        let (first, second) = out.split_at("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".len());
        assert!(first.ends_with("ok"), "{out}");
        assert!(second.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{second}");
        let body = second.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("request head too large"), "{v}");
        assert!(second.contains(&format!("content-length: {}\r\n", body.len())), "{second}");

        // Mid-answer (no flush since the last write) the same bytes pass untouched.
        let mut w = Wire::new(Vec::new());
        w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 86\r\n\r\n").await.unwrap();
        w.write_all(HYPER_431).await.unwrap();
        assert!(w.io.ends_with(HYPER_431));
    }
}
