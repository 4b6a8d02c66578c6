//! Probe schedules: `every: 30s` or `cron: "0 9 * * 1-5"` (classic crontab, see `crontab.rs`;
//! six or seven fields add seconds and a year), plus jitter. Pure computations in UTC; the engine
//! sleeps with tokio time.

mod crontab;
#[cfg(test)]
mod reference_tests;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crontab::CronError;

/// When a probe runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron { expr: String, cron: Box<croner::Cron> },
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
    /// Parse a crontab expression that fires at least once after `now`: five fields (minute
    /// hour day-of-month month day-of-week) with Vixie/cronie meaning, or six/seven with
    /// seconds first (and a year last), or an `@` macro.
    pub fn cron(expr: &str, now: DateTime<Utc>) -> Result<Schedule, CronError> {
        let cron = crontab::parse(expr)?;
        let s = Schedule::Cron { expr: expr.trim().to_string(), cron: Box::new(cron) };
        match s.next_after(now) {
            Some(_) => Ok(s),
            None => Err(CronError::NeverFires {
                expr: expr.to_string(),
                after: now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            }),
        }
    }

    /// The first run time strictly after `after` (wall clock, UTC).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => chrono::Duration::from_std(*d).ok().and_then(|d| after.checked_add_signed(d)),
            Schedule::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
        }
    }

    /// The next `n` run times after `after` (fewer when the schedule ends).
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |t| self.next_after(*t)).take(n).collect()
    }

    /// The nominal interval, used to size jitter (cron: gap between the next two runs).
    pub fn nominal(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(d) => *d,
            Schedule::Cron { .. } => match self.upcoming(now, 2)[..] {
                [a, b] => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                _ => Duration::from_secs(60),
            },
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
/// Most a probe overdue at a (re)start waits for its spread-out first run.
pub const RESUME_SPREAD: Duration = Duration::from_secs(30);

/// The first run of an `every` probe whose last stored result was at `last`, when its task
/// (re)starts at `now` (a restart, a takeover, a reload): one interval after that result, or,
/// when that is past, within `spread` (a share of it chosen by the caller, at random) of now, so
/// thousands of overdue probes do not all run at once. Never before `due` (the deploy plus
/// `initial_delay`). Without a stored result: `due`, or now if that is past.
pub fn resume_at(
    every: Duration,
    due: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    spread: Duration,
) -> DateTime<Utc> {
    let Some(last) = last else { return due.max(now) };
    let next = last + chrono::Duration::from_std(every).unwrap_or_default();
    let at = if next >= now { next } else { now + chrono::Duration::from_std(spread).unwrap_or_default() };
    at.max(due)
}

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
    use chrono::{Datelike, TimeZone, Weekday};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn cron_forms() {
        let t0 = at(2026, 1, 1, 10, 2, 30);
        for (expr, want) in [
            ("*/5 * * * *", at(2026, 1, 1, 10, 5, 0)),
            ("*/10 * * * * *", at(2026, 1, 1, 10, 2, 40)),
            ("0 0 12 * * * 2026", at(2026, 1, 1, 12, 0, 0)),
            // 2026-01-01 is a Thursday.
            ("0 9 * * 1-5", at(2026, 1, 2, 9, 0, 0)),
            ("0 0 * * 0", at(2026, 1, 4, 0, 0, 0)),
            ("0 0 * * 7", at(2026, 1, 4, 0, 0, 0)),
            ("0 0 13 * 5", at(2026, 1, 2, 0, 0, 0)),
            ("@midnight", at(2026, 1, 2, 0, 0, 0)),
            ("@weekly", at(2026, 1, 4, 0, 0, 0)),
            ("  @HOURLY ", at(2026, 1, 1, 11, 0, 0)),
        ] {
            let s = Schedule::cron(expr, t0).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert_eq!(s.next_after(t0), Some(want), "{expr}");
        }
        // Strictly after, also from inside a second.
        let s = Schedule::cron("* * * * * *", t0).unwrap();
        assert_eq!(s.next_after(t0), Some(at(2026, 1, 1, 10, 2, 31)));
        assert_eq!(s.next_after(t0 + chrono::Duration::milliseconds(500)), Some(at(2026, 1, 1, 10, 2, 31)));
    }

    #[test]
    fn weekdays_never_fire_on_the_weekend() {
        let t0 = at(2026, 3, 1, 0, 0, 0); // a Sunday
        for expr in ["0 9 * * 1-5", "0 9 * * mon-fri", "*/30 * * * MON-FRI", "0 0 9 * * 1-5"] {
            let times = Schedule::cron(expr, t0).unwrap().upcoming(t0, 2 * 366);
            assert_eq!(times.len(), 2 * 366, "{expr}");
            let days: std::collections::HashSet<Weekday> = times.iter().map(|t| t.weekday()).collect();
            assert!(!days.contains(&Weekday::Sat) && !days.contains(&Weekday::Sun), "{expr}: {days:?}");
            assert_eq!(days.len(), 5, "{expr} covers Mon-Fri: {days:?}");
        }
    }

    #[test]
    fn never_firing_expressions_are_refused() {
        let t0 = at(2026, 1, 1, 0, 0, 0);
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 1 1 * 2020", "0 0 0 30 2 * 2026-2030"] {
            match Schedule::cron(expr, t0) {
                Err(e @ CronError::NeverFires { .. }) => {
                    assert!(e.to_string().contains("never fires after 2026-01-01 00:00:00 UTC"), "{e}");
                    assert!(e.hint().contains("February 30"), "{}", e.hint());
                }
                other => panic!("{expr}: want NeverFires, got {other:?}"),
            }
        }
        // Day-of-week OR keeps Feb 30 alive: it runs on Mondays in February.
        assert!(Schedule::cron("0 0 30 2 1", t0).is_ok());
    }

    #[test]
    fn upcoming_and_nominal() {
        let t0 = at(2026, 1, 1, 0, 0, 0);
        let s = Schedule::cron("0 0 0 1 1 * 2027,2028", t0).unwrap();
        assert_eq!(s.upcoming(t0, 3), vec![at(2027, 1, 1, 0, 0, 0), at(2028, 1, 1, 0, 0, 0)]);
        assert_eq!(Schedule::cron("*/15 * * * *", t0).unwrap().nominal(t0), Duration::from_secs(900));
        let every = Schedule::Every(Duration::from_secs(30));
        assert_eq!(every.upcoming(t0, 2), vec![at(2026, 1, 1, 0, 0, 30), at(2026, 1, 1, 0, 1, 0)]);
        assert_eq!(every.nominal(t0), Duration::from_secs(30));
    }

    #[test]
    fn every_and_jitter() {
        let t0 = at(2026, 1, 1, 0, 0, 0);
        let s = Schedule::Every(Duration::from_secs(30));
        assert_eq!(s.next_after(t0), Some(t0 + chrono::Duration::seconds(30)));
        assert_eq!(default_jitter(Duration::from_secs(30)), Duration::from_secs(3));
        assert_eq!(default_jitter(Duration::from_secs(600)), Duration::from_secs(5));
        for _ in 0..100 {
            assert!(random_jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(random_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn resume_at_continues_from_the_last_result_and_spreads_overdue_runs() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let every = Duration::from_secs(10);
        let spread = Duration::from_secs(3);
        for (name, due, last, now, want) in [
            ("no result yet: at the deploy", t(0), None, t(-5), t(0)),
            ("no result, deploy past: now", t(0), None, t(7), t(7)),
            ("one interval after the last result", t(0), Some(t(100)), t(104), t(110)),
            ("overdue: now plus its spread", t(0), Some(t(100)), t(150), t(153)),
            ("never before the initial delay", t(200), Some(t(100)), t(150), t(200)),
        ] {
            assert_eq!(resume_at(every, due, last, now, spread), want, "{name}");
        }
    }
}
