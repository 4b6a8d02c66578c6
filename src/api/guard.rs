//! The limits of the HTTP layer: the request-head limits hyper enforces (431) and the ones that
//! come from the config (`server.request_timeout`, `header_read_timeout`, `max_connections`).

use std::time::Duration;

/// Request line plus headers, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Headers per request.
pub const MAX_HEADERS: usize = 100;

/// The limits a router applies that come from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Reads are answered 503 after this; the body of a write must arrive within it.
    pub request_timeout: Duration,
    /// See `server.header_read_timeout`.
    pub header_read_timeout: Duration,
    /// See `server.max_connections` (lowered at start to fit the file-descriptor limit).
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(s: &crate::config::Server) -> Self {
        Limits {
            request_timeout: s.request_timeout.0,
            header_read_timeout: s.header_read_timeout.0,
            max_connections: s.max_connections,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_config(&crate::config::Server::default())
    }
}
