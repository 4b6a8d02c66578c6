//! Transport errors (refused, DNS, TLS, timeout, reset) as one-line reasons, for the HTTP probe,
//! other HTTP-based probes and the source clients.

use std::time::Duration;

/// Classify a transport error by walking its source chain.
pub(super) fn describe_transport_error(err: &reqwest::Error, host: &str, addr: &str, timeout: Duration) -> String {
    use std::io::ErrorKind;
    if err.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut chain: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = io_kind.or(Some(io.kind()));
        }
        let msg = e.to_string();
        if !chain.iter().any(|c| c.contains(&msg)) {
            chain.push(msg);
        }
        cur = e.source();
    }
    let deepest = chain.last().map_or("", |d| d.find(" (os error").map_or(d.as_str(), |i| &d[..i]));
    let lower = chain.join(": ").to_lowercase();
    let tls_words = "certificate|tls|handshake|alert|corrupt message|peer is incompatible";
    if err.is_dns() || lower.contains("dns error") || lower.contains("failed to lookup address") {
        format!("DNS lookup failed for host {host} ({deepest})")
    } else if io_kind == Some(ErrorKind::ConnectionRefused) || lower.contains("connection refused") {
        format!("connection refused by {addr} (nothing listening on that port?)")
    } else if io_kind == Some(ErrorKind::TimedOut) {
        format!("timed out after {}", humantime::format_duration(timeout))
    } else if tls_words.split('|').any(|w| lower.contains(w)) {
        format!("TLS error: {deepest}")
    } else if matches!(io_kind, Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted))
        || lower.contains("connection reset")
        || lower.contains("connection closed before message completed")
    {
        format!("connection reset by {addr} ({deepest})")
    } else {
        chain.join(": ")
    }
}

/// A one-line reason for a transport error (refused, DNS, TLS, timeout, reset), for other
/// HTTP-based probes and source clients.
pub fn transport_reason(err: &reqwest::Error) -> String {
    let url = err.url();
    let host = url.and_then(|u| u.host_str()).unwrap_or("?").to_string();
    let addr =
        url.map(|u| format!("{host}:{}", u.port_or_known_default().unwrap_or(0))).unwrap_or_else(|| host.clone());
    if err.is_timeout() {
        return "timed out".to_string();
    }
    describe_transport_error(err, &host, &addr, Duration::ZERO)
}
