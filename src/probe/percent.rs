//! Percentages in config: `10%`, `+10%`, `-5%`, `99.9%`, or a fraction (`0.1`), held as the
//! fraction (`min_effect`, `max_change` of the `compare` probe; `objective` of the `slo` probe).

use serde::{Deserialize, Serialize};

/// A share written `10%`, `+10%`, `-5%`, `99.9%` or as a fraction (`0.1`); held as the fraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = (self.0 * 100.0 * 1e6).round() / 1e6;
        write!(f, "{v}%")
    }
}

impl std::str::FromStr for Percent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (num, scale) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), 100.0),
            None => (t, 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Percent(v / scale)),
            _ => Err(format!("{s:?} is not a percentage; write e.g. 10% or 0.1")),
        }
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) if v.is_finite() => Ok(Percent(v)),
            Raw::Num(v) => Err(serde::de::Error::custom(format!("{v} is not a percentage; write e.g. 10% or 0.1"))),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
