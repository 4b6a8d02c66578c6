//! Numeric conditions like `< 0.3`, `>= 1`, `== 0`, `!= 5` on probe values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// `OP NUMBER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub op: Op,
    pub value: f64,
}

impl Condition {
    /// Whether `v` satisfies the condition. NaN never does.
    pub fn holds(&self, v: f64) -> bool {
        if v.is_nan() {
            return false;
        }
        match self.op {
            Op::Lt => v < self.value,
            Op::Le => v <= self.value,
            Op::Gt => v > self.value,
            Op::Ge => v >= self.value,
            Op::Eq => v == self.value,
            Op::Ne => v != self.value,
        }
    }
}

impl FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)]
            .iter()
            .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r)))
            .ok_or_else(|| {
                format!("invalid condition {s:?}; write an operator and a number, e.g. \"< 0.3\", \">= 1\", \"== 0\"")
            })?;
        // NaN parses as an f64 but no value ever compares with it: the condition could never hold.
        let value: f64 = rest.trim().parse().ok().filter(|v: &f64| !v.is_nan()).ok_or_else(|| {
            format!("invalid condition {s:?}: {:?} is not a number; write e.g. \"< 0.3\"", rest.trim())
        })?;
        Ok(Condition { op, value })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        };
        write!(f, "{op} {}", self.value)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hold() {
        for (cond, v, want) in [
            ("< 0.3", 0.2, true),
            ("<0.3", 0.3, false),
            ("<= 0.3", 0.3, true),
            ("> 1", 2.0, true),
            (">= 1", 0.5, false),
            ("== 0", 0.0, true),
            ("!= 0", 0.0, false),
            ("< 1e-3", 0.0001, true),
            ("< 1", f64::NAN, false),
        ] {
            let c: Condition = cond.parse().unwrap();
            assert_eq!(c.holds(v), want, "{cond} on {v}");
        }
        for bad in ["0.3", "<", "< abc", "=> 1", "", "< nan", "!= NaN"] {
            assert!(bad.parse::<Condition>().is_err(), "{bad:?} must be rejected");
        }
        assert_eq!("<=0.5".parse::<Condition>().unwrap().to_string(), "<= 0.5");
    }
}
