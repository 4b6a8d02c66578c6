//! Release values in HTTP requests: encoded for where they land, never changing the request's
//! shape.
//!
//! Release fields (`{{ release.service }}`, `{{ release.version }}`, ...) come from the API and
//! are untrusted; text the operator wrote in the config stays as written. Each value a `{{ … }}`
//! outputs is treated by where it lands:
//!
//! - **URL** ([`url()`]): the template is rendered with a unique marker in place of each value and
//!   parsed, which shows the component each marker landed in. A value in the path, query or
//!   fragment (or the userinfo) is percent-encoded down to RFC 3986 unreserved characters, so it
//!   stays one opaque piece of that component (`/`, `?`, `#`, `&`, `=`, `%`, `@` are encoded). A
//!   value in the host may only be part of a label (letters, digits, `-`, `_`; no `.`), so the
//!   operator's domain is always kept; a value in the scheme or port is refused. The result is
//!   parsed again and must read exactly as built (no dot segment collapsed, nothing moved).
//! - **Header value** ([`header_value`]): a value with a control character (CR/LF would start
//!   another header) is refused.
//! - **Body** ([`body`]): when the body with markers is JSON, every marker is inside a JSON
//!   string (a bare marker is not JSON), so each value is JSON-escaped and cannot end the string.
//!   Other bodies (text, forms) get values as they are: no single escaping fits every format, and
//!   the values were validated when the release was created (`crate::validate`).

use std::sync::{Arc, Mutex};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{Position, Url};

use super::RunContext;

/// What a value in a URL component keeps unencoded: RFC 3986 unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Render the URL template `template` for `ctx`, each value encoded for its component.
pub fn url(ctx: &RunContext, template: &str) -> Result<Url, String> {
    let marked = Marked::render(ctx, template)?;
    let parsed = Url::parse(&marked.text).map_err(|e| format!("url: cannot parse {template:?} ({e})"))?;
    if marked.values.is_empty() {
        return Ok(parsed);
    }
    let s = parsed.as_str();
    let at = |p: Position| parsed[..p].len();
    let (scheme_end, host_start, host_end, path_start) =
        (at(Position::AfterScheme), at(Position::BeforeHost), at(Position::AfterHost), at(Position::BeforePath));
    let encoded = |v: &str| Ok(utf8_percent_encode(v, COMPONENT).to_string());
    let fixed = |what: &'static str| {
        move |_: &str| {
            Err(format!("url: a release value cannot be in the {what} of {template:?}; write the {what} itself"))
        }
    };
    let mut built = String::with_capacity(s.len() + 32);
    built.push_str(&marked.fill(&s[..scheme_end], fixed("scheme"))?);
    built.push_str(&marked.fill(&s[scheme_end..host_start], encoded)?);
    built.push_str(&marked.fill(&s[host_start..host_end], host_label_part)?);
    built.push_str(&marked.fill(&s[host_end..path_start], fixed("port"))?);
    built.push_str(&marked.fill(&s[path_start..], encoded)?);
    let url =
        Url::parse(&built).map_err(|e| format!("url: {template:?} with this release's values does not parse ({e})"))?;
    if url.as_str() != built {
        return Err(format!(
            "url: this release's values change the structure of {template:?} (a value is a '.' or '..' path segment?)"
        ));
    }
    Ok(url)
}

/// A value in a URL's host: part of one label, lower-cased.
fn host_label_part(v: &str) -> Result<String, String> {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(format!(
            "url: the release value {v:?} cannot be in the host; a value there may only hold letters, digits, '-' and '_'"
        ))
    }
}

/// Render a header value; a release value with a control character is refused.
pub fn header_value(ctx: &RunContext, template: &str) -> Result<String, String> {
    ctx.render_with(template, |v| match v.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!("a release value holds the control character {c:?}, which cannot be in a header")),
        None => Ok(v.to_string()),
    })
}

/// Render a request body; values are JSON-escaped when the body is JSON.
pub fn body(ctx: &RunContext, template: &str) -> Result<String, String> {
    let marked = Marked::render(ctx, template)?;
    if marked.values.is_empty() {
        return Ok(marked.text);
    }
    let json = serde_json::from_str::<serde_json::Value>(&marked.text).is_ok();
    marked.fill(&marked.text, |v| {
        if json {
            let quoted = serde_json::Value::from(v).to_string();
            Ok(quoted[1..quoted.len() - 1].to_string())
        } else {
            Ok(v.to_string())
        }
    })
}

/// A template rendered with `{prefix}{n}y` in place of the n-th value it output.
struct Marked {
    text: String,
    /// `zsw{k}x` for the smallest `k` the template does not contain. Its first letter appears
    /// nowhere else in it, so a marker can never be found overlapping the text around it; it
    /// is lowercase ASCII, which every URL component keeps as it is.
    prefix: String,
    values: Vec<String>,
}

impl Marked {
    fn render(ctx: &RunContext, template: &str) -> Result<Self, String> {
        let prefix = (0u64..).map(|k| format!("zsw{k}x")).find(|p| !template.contains(p.as_str())).unwrap_or_default();
        let values = Arc::new(Mutex::new(Vec::new()));
        let (seen, pre) = (Arc::clone(&values), prefix.clone());
        let text = ctx.render_with(template, move |v| {
            let mut seen = crate::sync::lock(&seen, "template seen");
            seen.push(v.to_string());
            Ok(format!("{pre}{}y", seen.len() - 1))
        })?;
        let values = std::mem::take(&mut *crate::sync::lock(&values, "template values"));
        Ok(Marked { text, prefix, values })
    }

    /// `part` with each marker replaced by `f(its value)`.
    fn fill(&self, part: &str, mut f: impl FnMut(&str) -> Result<String, String>) -> Result<String, String> {
        let mut out = String::with_capacity(part.len());
        let mut rest = part;
        while let Some(i) = rest.find(self.prefix.as_str()) {
            out.push_str(&rest[..i]);
            let after = &rest[i + self.prefix.len()..];
            let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            let value = after[..digits]
                .parse::<usize>()
                .ok()
                .filter(|_| after[digits..].starts_with('y'))
                .and_then(|n| self.values.get(n));
            match value {
                Some(v) => {
                    out.push_str(&f(v)?);
                    rest = &after[digits + 1..];
                }
                // Not one of ours (cannot happen: the prefix is not in the template).
                None => {
                    out.push_str(&self.prefix);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
#[path = "request_template_tests.rs"]
mod tests;
