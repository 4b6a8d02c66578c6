//! Probe schedules: `every: 30s` or `cron: "*/5 * * * *"` (5-field, or 6/7 fields with seconds),
//! plus jitter. Pure computations; the engine sleeps with tokio time.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// When a probe runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron { expr: String, schedule: Box<cron::Schedule> },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Schedule::Every(a), Schedule::Every(b)) => a == b,
            (Schedule::Cron { expr: a, .. }, Schedule::Cron { expr: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Schedule {
    /// Parse a crontab expression. Five fields (minute hour dom month dow) are the classic form;
    /// six or seven fields start with seconds (and may end with a year).
    pub fn cron(expr: &str) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {}", expr.trim()),
            6 | 7 => expr.trim().to_string(),
            n => {
                return Err(format!(
                    "cron expression {expr:?} has {n} fields; write 5 (\"*/5 * * * *\") or 6/7 with seconds first (\"*/10 * * * * *\")"
                ));
            }
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        Ok(Schedule::Cron { expr: expr.trim().to_string(), schedule: Box::new(schedule) })
    }

    /// The first run time strictly after `after` (wall clock).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => chrono::Duration::from_std(*d).ok().map(|d| after + d),
            Schedule::Cron { schedule, .. } => schedule.after(&after).next(),
        }
    }

    /// The nominal interval, used to size jitter (cron: gap between the next two runs).
    pub fn nominal(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(d) => *d,
            Schedule::Cron { schedule, .. } => {
                let mut it = schedule.after(&now);
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                    _ => Duration::from_secs(60),
                }
            }
        }
    }

    /// Human form for the API.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Schedule::Cron { expr, .. } => format!("cron {expr}"),
        }
    }
}

/// Default jitter bound: 10% of the interval, at most 5 s.
pub fn default_jitter(interval: Duration) -> Duration {
    (interval / 10).min(Duration::from_secs(5))
}

/// A random offset in `[0, bound)`.
pub fn random_jitter(bound: Duration) -> Duration {
    if bound.is_zero() {
        return Duration::ZERO;
    }
    let nanos = bound.as_nanos().min(u64::MAX as u128) as u64;
    Duration::from_nanos(rand::random_range(0..nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_forms() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 10, 2, 30).unwrap();
        for (expr, want) in [
            ("*/5 * * * *", Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 5, 0).unwrap())),
            ("*/10 * * * * *", Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 2, 40).unwrap())),
            ("0 0 12 * * * 2026", Some(Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap())),
        ] {
            let s = Schedule::cron(expr).unwrap();
            assert_eq!(s.next_after(t0), want, "{expr}");
        }
        for bad in ["* * *", "61 * * * *", "a b c d e"] {
            assert!(Schedule::cron(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn every_and_jitter() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let s = Schedule::Every(Duration::from_secs(30));
        assert_eq!(s.next_after(t0), Some(t0 + chrono::Duration::seconds(30)));
        assert_eq!(default_jitter(Duration::from_secs(30)), Duration::from_secs(3));
        assert_eq!(default_jitter(Duration::from_secs(600)), Duration::from_secs(5));
        for _ in 0..100 {
            assert!(random_jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(random_jitter(Duration::ZERO), Duration::ZERO);
    }
}
