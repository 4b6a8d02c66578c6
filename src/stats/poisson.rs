//! Two event rates compared: `k1` events over exposure `t1` (current: errors over requests)
//! against `k2` over `t2` (baseline). Under the null hypothesis of equal rates, and given the
//! `k1 + k2` events seen in all, `k1` is binomial with `p0 = t1 / (t1 + t2)`; the p-value is the
//! exact binomial test of `k1` (SciPy's `binomtest`, two-sided by its "minlike" rule: the
//! outcomes no more likely than the one seen, with its 1e-7 relative tolerance). No event on
//! either side is no evidence of a change: `p = 1`.
//!
//! Checked against `scipy.stats.binomtest` in `tests/fixtures/stats/poisson.json`.

use statrs::distribution::{Binomial, Discrete, DiscreteCDF};

use super::{Alternative, StatsError};

/// The result of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTest {
    pub p_value: f64,
    /// `k1 / t1`.
    pub rate_current: f64,
    /// `k2 / t2`.
    pub rate_baseline: f64,
}

/// Compare `k1/t1` (current) with `k2/t2` (baseline); exposures must be positive and finite.
pub fn test(k1: u64, t1: f64, k2: u64, t2: f64, alt: Alternative) -> Result<RateTest, StatsError> {
    for (t, side) in [(t1, "current"), (t2, "baseline")] {
        if !t.is_finite() {
            return Err(StatsError::NotFinite("an exposure"));
        }
        if t <= 0.0 {
            return Err(StatsError::InvalidCounts(format!("the {side} exposure is {t}; it must be > 0")));
        }
    }
    let (rate_current, rate_baseline) = (k1 as f64 / t1, k2 as f64 / t2);
    let p_value = match k1.checked_add(k2) {
        Some(0) => 1.0,
        Some(n) => binom_test(k1, n, t1 / (t1 + t2), alt),
        None => return Err(StatsError::InvalidCounts(format!("{k1} + {k2} events overflow"))),
    };
    Ok(RateTest { p_value, rate_current, rate_baseline })
}

/// The exact binomial test of `k` successes in `n ≥ 1` trials against probability `p`, as
/// `scipy.stats.binomtest(k, n, p, alternative).pvalue`.
pub fn binom_test(k: u64, n: u64, p: f64, alt: Alternative) -> f64 {
    let Ok(b) = Binomial::new(p, n) else { return f64::NAN };
    // P(X <= x) and P(X > x) for any integer x, also negative.
    let cdf = |x: i64| if x < 0 { 0.0 } else { b.cdf(x as u64) };
    let sf = |x: i64| if x < 0 { 1.0 } else { b.sf(x as u64) };
    let pmf = |x: i64| if x < 0 { 0.0 } else { b.pmf(x as u64) };
    let (k, n) = (k as i64, n as i64);
    let p_value = match alt {
        Alternative::Less => cdf(k),
        Alternative::Greater => sf(k - 1),
        Alternative::TwoSided => {
            let d = pmf(k);
            let rerr = 1.0 + 1e-7;
            let mode = p * n as f64;
            if k as f64 == mode {
                1.0
            } else if (k as f64) < mode {
                let ix = search(|x| -pmf(x), -d * rerr, mode.ceil() as i64, n);
                let y = n - ix + i64::from(d * rerr == pmf(ix));
                cdf(k) + sf(n - y)
            } else {
                let ix = search(pmf, d * rerr, 0, mode.floor() as i64);
                let y = ix + 1;
                cdf(y - 1) + sf(k - 1)
            }
        }
    };
    p_value.min(1.0)
}

/// SciPy's `_binary_search_for_binom_tst`: the `i` in `lo ..= hi` with `a(i) <= d < a(i+1)`
/// for `a` ascending over that range (or `lo − 1`).
fn search(a: impl Fn(i64) -> f64, d: f64, mut lo: i64, mut hi: i64) -> i64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let v = a(mid);
        if v < d {
            lo = mid + 1;
        } else if v > d {
            hi = mid - 1;
        } else {
            return mid;
        }
    }
    if a(lo) <= d { lo } else { lo - 1 }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/poisson.json");
    const ALTS: [Alternative; 3] = [Alternative::TwoSided, Alternative::Greater, Alternative::Less];

    /// Every dataset of `tests/fixtures/stats/poisson.json` (SciPy 1.17.1), to 1e-6.
    #[test]
    fn agrees_with_scipy_on_every_fixture() {
        let fx: Value = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(fx["scipy"], "1.17.1");
        let cases = fx["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let (k1, k2) = (c["k1"].as_u64().unwrap(), c["k2"].as_u64().unwrap());
            let (t1, t2) = (c["t1"].as_f64().unwrap(), c["t2"].as_f64().unwrap());
            for alt in ALTS {
                let got = test(k1, t1, k2, t2, alt).unwrap();
                assert_eq!((got.rate_current, got.rate_baseline), (k1 as f64 / t1, k2 as f64 / t2), "{name}");
                let want = if c["none"] == true { 1.0 } else { c["p"][alt.scipy_name()].as_f64().unwrap() };
                let what = format!("{name} ({})", alt.scipy_name());
                assert!((got.p_value - want).abs() <= 1e-6, "{what}: {} vs SciPy {want}", got.p_value);
            }
        }
    }

    #[test]
    fn refuses_exposures_that_cannot_be() {
        let g = Alternative::Greater;
        for (t1, t2) in [(0.0, 10.0), (10.0, -1.0), (f64::NAN, 1.0), (1.0, f64::INFINITY)] {
            assert!(test(1, t1, 1, t2, g).is_err(), "{t1} {t2}");
        }
        assert!(test(u64::MAX, 1.0, 1, 1.0, g).is_err());
    }
}
