//! The HTTP probe's `expect:` block and its status specs (`200`, `"2xx"`, `"200-299"`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Dur;

/// Conditions on the response. Without `status`, any 2xx passes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    pub status: Option<Vec<StatusSpec>>,
    pub body_contains: Option<String>,
    pub body_regex: Option<String>,
    /// JSONPath -> expected value. Every node the path selects must equal the value.
    pub json: BTreeMap<String, Value>,
    /// Header name (case-insensitive) -> substring its value must contain.
    pub headers: BTreeMap<String, String>,
    pub max_latency: Option<Dur>,
}

/// An accepted status: `200`, a class `"2xx"` or an inclusive range `"200-299"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSpec {
    Code(u16),
    Class(u16),
    Range(u16, u16),
}

impl StatusSpec {
    pub fn matches(self, code: u16) -> bool {
        match self {
            StatusSpec::Code(c) => c == code,
            StatusSpec::Class(c) => code / 100 == c,
            StatusSpec::Range(lo, hi) => (lo..=hi).contains(&code),
        }
    }
}

fn invalid_status(s: &str) -> String {
    format!("invalid status {s:?}; write 200, \"2xx\" or \"200-299\"")
}

impl std::str::FromStr for StatusSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let code = |x: &str| x.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c));
        let spec = if let Some((lo, hi)) = t.split_once('-') {
            code(lo).zip(code(hi)).filter(|(l, h)| l <= h).map(|(l, h)| StatusSpec::Range(l, h))
        } else if t.len() == 3 && t.is_ascii() && t[1..].eq_ignore_ascii_case("xx") {
            t[..1].parse::<u16>().ok().filter(|c| (1..=5).contains(c)).map(StatusSpec::Class)
        } else {
            code(t).map(StatusSpec::Code)
        };
        spec.ok_or_else(|| invalid_status(s))
    }
}

impl fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusSpec::Code(c) => write!(f, "{c}"),
            StatusSpec::Class(c) => write!(f, "{c}xx"),
            StatusSpec::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

impl Serialize for StatusSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatusSpec::Code(c) => s.serialize_u16(*c),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StatusSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status: 200, \"2xx\" or \"200-299\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusSpec, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}
