//! Secret redaction.
//!
//! Every value that came from the environment through `${VAR}` expansion (tokens, webhook URLs,
//! header values) is registered here; anything that leaves the process (logs, API, evidence,
//! status page) passes through [`Redactor::redact`] first.

use std::sync::{Arc, RwLock};

/// A shared set of secret strings to mask.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

/// What a secret is replaced with.
pub const MASK: &str = "<redacted>";

impl Redactor {
    /// Register a secret. Very short values (under 4 chars) are not masked: they would garble
    /// ordinary text and carry little secrecy.
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let mut s = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if !s.iter().any(|x| x == secret) {
            s.push(secret.to_string());
            // Longest first so a secret that contains another is masked whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    /// Replace every registered secret in `text` with [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let s = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for secret in s.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secrets_longest_first() {
        let r = Redactor::default();
        r.add("abc"); // too short, ignored
        r.add("token-123");
        r.add("token-123456");
        for (input, want) in [
            ("Bearer token-123456", "Bearer <redacted>"),
            ("x=token-123;", "x=<redacted>;"),
            ("abc", "abc"),
            ("nothing here", "nothing here"),
        ] {
            assert_eq!(r.redact(input), want, "input {input:?}");
        }
    }
}
