//! SLO error-budget burn rates, multi-window and multi-burn-rate (the Google SRE workbook's
//! alerting): the burn rate over a window is the error ratio over it divided by the budget
//! `1 − objective` (1× spends exactly the budget over the SLO period). A pair of windows burns
//! when **both** its long and its short window burn faster than its factor: the long one proves
//! it matters, the short one that it is still going on.
//!
//! Default pairs (for a 30-day period): 14.4× over 1h and 5m (2% of the budget in an hour:
//! page), 6× over 6h and 30m (5% in 6h: page), 1× over 3d and 6h (10% in 3 days: ticket).

use std::time::Duration;

/// One alerting pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub long: Duration,
    pub short: Duration,
    /// Burns when both windows' burn rates are above this.
    pub factor: f64,
}

const HOUR: u64 = 3600;

/// The workbook's three pairs.
pub const DEFAULT_PAIRS: [Pair; 3] = [
    Pair { long: Duration::from_secs(HOUR), short: Duration::from_secs(300), factor: 14.4 },
    Pair { long: Duration::from_secs(6 * HOUR), short: Duration::from_secs(1800), factor: 6.0 },
    Pair { long: Duration::from_secs(72 * HOUR), short: Duration::from_secs(6 * HOUR), factor: 1.0 },
];

/// Burn rate of `errors` out of `total` (counts or per-second rates over the same window)
/// against `objective` (e.g. 0.999): `(errors / total) / (1 − objective)`. `None` (no data)
/// when there was no traffic, or a value is negative, NaN or infinite.
pub fn burn_rate(errors: f64, total: f64, objective: f64) -> Option<f64> {
    let ok = |v: f64| v.is_finite() && v >= 0.0;
    if !ok(errors) || !ok(total) || total == 0.0 || !(0.0..1.0).contains(&objective) {
        return None;
    }
    Some(errors / total / (1.0 - objective))
}

/// The window to evaluate when only `elapsed` has passed since the deploy: the window itself, or
/// the elapsed time (at least a second) when that is shorter, with `true` for "cut short".
pub fn effective_window(window: Duration, elapsed: Duration) -> (Duration, bool) {
    let elapsed = elapsed.max(Duration::from_secs(1));
    if window > elapsed { (elapsed, true) } else { (window, false) }
}

/// Share of the SLO period's budget spent by burning at `burn` for `elapsed`.
pub fn budget_spent(burn: f64, elapsed: Duration, period: Duration) -> f64 {
    burn * elapsed.as_secs_f64() / period.as_secs_f64()
}

/// What one pair says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairState {
    /// Both windows burn faster than the factor.
    Burning,
    /// At least one measured window is at or below the factor: the pair cannot be burning.
    Within,
    /// Not measured well enough to tell (no traffic, no data).
    NoData,
}

/// Judge one pair from its two burn rates (`None`: not measured).
pub fn pair_state(long: Option<f64>, short: Option<f64>, factor: f64) -> PairState {
    match (long, short) {
        (Some(l), Some(s)) if l > factor && s > factor => PairState::Burning,
        (Some(v), _) | (_, Some(v)) if v <= factor => PairState::Within,
        _ => PairState::NoData,
    }
}

/// The probe's verdict over every pair: any burning pair fails; else any unmeasured pair is no
/// data (never a pass); else it passes.
pub fn verdict(states: &[PairState]) -> PairState {
    if states.contains(&PairState::Burning) {
        PairState::Burning
    } else if states.is_empty() || states.contains(&PairState::NoData) {
        PairState::NoData
    } else {
        PairState::Within
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: fn(u64) -> Duration = Duration::from_secs;

    /// Hand-computed: (errors, total, objective, burn rate).
    #[test]
    fn burn_rate_table() {
        for (errors, total, objective, want) in [
            (0.5, 100.0, 0.999, Some(5.0)),   // 0.5% errors, 0.1% budget
            (1.44, 100.0, 0.999, Some(14.4)), // exactly the page factor
            (2.0, 100.0, 0.999, Some(20.0)),
            (0.0, 50.0, 0.999, Some(0.0)),
            (3.0, 100.0, 0.99, Some(3.0)),
            (1.0, 1000.0, 0.999, Some(1.0)), // 1×: the budget, exactly
            (250.0, 6000.0, 0.99, Some(250.0 / 6000.0 / 0.01)),
            (100.0, 100.0, 0.999, Some(1000.0)), // everything fails: the most it can burn
            (0.0, 0.0, 0.999, None),             // no traffic: 0/0 is no data
            (1.0, 0.0, 0.999, None),
            (f64::NAN, 10.0, 0.999, None),
            (1.0, f64::INFINITY, 0.999, None),
            (-1.0, 10.0, 0.999, None),
            (1.0, 10.0, 1.0, None), // a 100% objective has no budget to burn
        ] {
            let got = burn_rate(errors, total, objective);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{errors}/{total} @ {objective}: {g} != {w}"),
                _ => assert_eq!(got, want, "{errors}/{total} @ {objective}"),
            }
        }
    }

    /// The workbook's budget table: burning at the factor for the long window spends 2%, 5%
    /// and 10% of a 30-day budget.
    #[test]
    fn budget_spent_table() {
        let month = D(30 * 24 * HOUR);
        for (burn, elapsed, want) in [
            (14.4, D(HOUR), 0.02),
            (6.0, D(6 * HOUR), 0.05),
            (1.0, D(72 * HOUR), 0.1),
            (1.0, month, 1.0),
            (0.0, D(HOUR), 0.0),
            (2.0, D(HOUR), 2.0 / 720.0),
            (1000.0, D(HOUR), 1000.0 / 720.0), // more than the whole budget
        ] {
            let got = budget_spent(burn, elapsed, month);
            assert!((got - want).abs() < 1e-12, "{burn}× for {elapsed:?}: {got} != {want}");
        }
    }

    #[test]
    fn windows_longer_than_the_release_use_what_is_there() {
        for (window, elapsed, want) in [
            (D(HOUR), D(2 * HOUR), (D(HOUR), false)),
            (D(HOUR), D(HOUR), (D(HOUR), false)),
            (D(72 * HOUR), D(600), (D(600), true)),
            (D(300), D(120), (D(120), true)),
            (D(300), D(0), (D(1), true)),
        ] {
            assert_eq!(effective_window(window, elapsed), want, "{window:?} after {elapsed:?}");
        }
    }

    /// (long burn, short burn, factor, state).
    #[test]
    fn pair_state_table() {
        use PairState::*;
        for (long, short, factor, want) in [
            (Some(20.0), Some(30.0), 14.4, Burning),
            (Some(20.0), Some(10.0), 14.4, Within), // burst over: the short window recovered
            (Some(10.0), Some(30.0), 14.4, Within), // a blip: too short to matter yet
            (Some(14.4), Some(14.4), 14.4, Within), // at the factor is not faster than it
            (Some(14.5), Some(14.5), 14.4, Burning),
            (Some(0.0), Some(0.0), 1.0, Within),
            (None, Some(3.0), 1.0, NoData),
            (Some(3.0), None, 1.0, NoData),
            (None, Some(0.5), 1.0, Within), // one window at or below the factor settles it
            (None, None, 6.0, NoData),
        ] {
            assert_eq!(pair_state(long, short, factor), want, "{long:?} {short:?} > {factor}");
        }
        assert_eq!(verdict(&[Within, Burning, NoData]), Burning);
        assert_eq!(verdict(&[Within, NoData]), NoData);
        assert_eq!(verdict(&[Within, Within, Within]), Within);
        assert_eq!(verdict(&[]), NoData);
    }
}
