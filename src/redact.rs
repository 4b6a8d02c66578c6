//! Secret redaction.
//!
//! Every value that came from the environment through `${VAR}` expansion (tokens, webhook URLs,
//! header values) is registered here; anything that leaves the process (logs, API, evidence,
//! status page) passes through [`Redactor::redact`] first. [`Redactor::redact`] also masks the
//! user and password of any URL in the text ([`mask_userinfo`]): a URL written with credentials
//! (`https://user:pass@host/`) is a secret even when it did not come from the environment.

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
    /// ordinary text and carry little secrecy. The secret is also registered as it reads once
    /// escaped by `{:?}` or in JSON (quotes, backslashes, control characters), the forms error
    /// messages quote values in.
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let debug = format!("{secret:?}");
        let json = serde_json::Value::from(secret).to_string();
        let forms = [secret, &debug[1..debug.len() - 1], &json[1..json.len() - 1]];
        let mut s = crate::sync::write(&self.secrets, "secrets");
        for form in forms {
            if !s.iter().any(|x| x == form) {
                s.push(form.to_string());
            }
        }
        // Longest first so a secret that contains another is masked whole.
        s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }

    /// Replace every registered secret in `text` with [`MASK`], and the credentials of every
    /// URL in it ([`mask_userinfo`]).
    pub fn redact(&self, text: &str) -> String {
        let s = crate::sync::read(&self.secrets, "secrets");
        let mut out = text.to_string();
        for secret in s.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        mask_userinfo(&out)
    }
}

/// Mask the userinfo (user and password) of every `scheme://user:pass@host` URL in `text`:
/// `https://<redacted>@host/`. The user goes too, not only the password: a user alone is often
/// the token itself (`https://TOKEN@host/`). Text without `://` is returned unchanged.
pub fn mask_userinfo(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let authority_start = i + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        // The authority ends where a path, query or fragment starts, or where the URL itself ends
        // in quotes, markup or whitespace. Punctuation such as `)` `,` `;` `'` may be part of a
        // password (RFC 3986 sub-delims), so it does not end it.
        let end = after
            .find(|c: char| c.is_whitespace() || c.is_control() || "/?#\\\"<>`".contains(c))
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) if at > 0 => {
                out.push_str(MASK);
                out.push_str(&after[at..end]);
            }
            _ => out.push_str(&after[..end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn escaped_forms_of_a_secret_are_masked() {
        let r = Redactor::default();
        r.add("pa\"ss\\wo\nrd");
        for quoted in [
            format!("{:?}", "pa\"ss\\wo\nrd"),
            serde_json::Value::from("pa\"ss\\wo\nrd").to_string(),
            "raw: pa\"ss\\wo\nrd".to_string(),
        ] {
            let out = r.redact(&quoted);
            assert!(!out.contains("ss") && out.contains(MASK), "{quoted} -> {out}");
        }
    }

    #[test]
    fn url_credentials_are_masked() {
        for (input, want) in [
            ("GET https://user:pass@host/x?q=1", "GET https://<redacted>@host/x?q=1"),
            ("https://token@github.com/o/r.git", "https://<redacted>@github.com/o/r.git"),
            ("http://u:p%40ss@127.0.0.1:8080", "http://<redacted>@127.0.0.1:8080"),
            ("http://a:b@c@evil.example/", "http://<redacted>@evil.example/"),
            ("url \"https://u:p@h/\" and https://v:q@k", "url \"https://<redacted>@h/\" and https://<redacted>@k"),
            ("(see http://u:p@h)", "(see http://<redacted>@h)"),
            ("https://host/path@v2?mail=a@b.c#x@y", "https://host/path@v2?mail=a@b.c#x@y"),
            ("mailto:alice@example.com", "mailto:alice@example.com"),
            ("no url: a@b, ://@h", "no url: a@b, ://@h"),
            ("https://us;er:p,a)ss'@h/", "https://<redacted>@h/"),
            ("https://h/ then ftp://x:y@z/", "https://h/ then ftp://<redacted>@z/"),
            ("naïve://ü:ö@ä/é", "naïve://<redacted>@ä/é"),
            ("", ""),
        ] {
            assert_eq!(mask_userinfo(input), want, "{input}");
            assert_eq!(Redactor::default().redact(input), want, "{input}");
        }
    }
}
