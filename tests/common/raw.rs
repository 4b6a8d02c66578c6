//! Raw HTTP/1.1 over a plain `TcpStream`, for what an HTTP client library would not send (or
//! would hide): malformed and oversized requests, bodies that never complete, idle connections.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Connect to `to` (`host:port`), send `bytes`, and read until the peer closes or `deadline`
/// passes: what it sent, and when it closed (`None`: still open at the deadline).
pub fn until_closed(to: &str, bytes: &[u8], deadline: Duration) -> (String, Option<Duration>) {
    let mut s = TcpStream::connect(to).unwrap_or_else(|e| panic!("connect {to}: {e}"));
    s.set_read_timeout(Some(deadline)).unwrap();
    let started = Instant::now();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break Some(started.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break Some(started.elapsed()),
            Err(_) => break None,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// One request (which should say `Connection: close`) on its own connection: status, the
/// lower-cased head and the body.
pub fn raw(to: &str, request: &[u8]) -> (u16, String, String) {
    let (got, closed) = until_closed(to, request, Duration::from_secs(15));
    assert!(closed.is_some(), "no complete answer within 15s: {got}");
    let (head, body) = got.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {got:?}"));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line: {head}"));
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Assert a `raw` answer is `want` with `nosniff` and a JSON `{"error": ...}` mentioning `needle`.
pub fn json_error(what: &str, (status, head, body): &(u16, String, String), want: u16, needle: &str) {
    assert_eq!(*status, want, "{what}: {head}\n{body}");
    assert!(head.contains("content-type: application/json"), "{what}: not JSON: {head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{what}: no nosniff: {head}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {body}"));
    let msg = v["error"].as_str().unwrap_or_else(|| panic!("{what}: no error field: {v}"));
    assert!(msg.contains(needle), "{what}: {msg:?} should mention {needle:?}");
}
