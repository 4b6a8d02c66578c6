//! Mann-Whitney U test (Wilcoxon rank-sum) of current samples against baseline samples.
//!
//! `U` is the statistic of the current side (SciPy's `U1`): ranks of the current samples summed
//! over the pooled, sorted data (ties share their average rank) minus `n1(n1+1)/2`. Two ways to
//! a p-value, chosen like SciPy's `method="auto"` ([`test()`]):
//! - [`exact`]: the exact null distribution of `U` (no ties assumed), counted with the
//!   generating function of the Gaussian binomial coefficient `[n1+n2 choose n1]_q` in `i128`;
//!   used when one side has at most 8 samples and no value repeats (and `n1·n2 ≤ 250,000`);
//! - [`asymptotic`]: the normal approximation with the tie correction of the variance and a
//!   continuity correction of ½ (SciPy's default `use_continuity=True`; it also makes the
//!   all-equal case a clean `p = 1` instead of 0/0). Used otherwise.
//!
//! Checked against `scipy.stats.mannwhitneyu` in `tests/fixtures/stats/mann_whitney.json`.

use statrs::function::erf::erfc;

use super::{Alternative, StatsError};

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    Asymptotic,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Asymptotic => "asymptotic",
        }
    }
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct MannWhitney {
    /// `U` of the current side (0 ..= n1·n2).
    pub u: f64,
    pub p_value: f64,
    pub method: Method,
    /// Whether any value occurs more than once in the pooled data.
    pub ties: bool,
}

/// The largest side the exact method counts for (SciPy's `auto` threshold).
pub const EXACT_MAX_SMALL_SIDE: usize = 8;

/// The test with the method SciPy's `auto` picks: exact when a side has at most 8 samples and
/// there are no ties, else the normal approximation.
pub fn test(current: &[f64], baseline: &[f64], alt: Alternative) -> Result<MannWhitney, StatsError> {
    let r = rank(current, baseline)?;
    if !r.ties && current.len().min(baseline.len()) <= EXACT_MAX_SMALL_SIDE {
        match exact_p(r.u1, current.len(), baseline.len(), alt) {
            Ok(p) => return Ok(MannWhitney { u: r.u1, p_value: p, method: Method::Exact, ties: false }),
            Err(StatsError::TooLarge(..)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(asymptotic_from(&r, current.len(), baseline.len(), alt))
}

/// The normal approximation with tie and continuity corrections.
pub fn asymptotic(current: &[f64], baseline: &[f64], alt: Alternative) -> Result<MannWhitney, StatsError> {
    let r = rank(current, baseline)?;
    Ok(asymptotic_from(&r, current.len(), baseline.len(), alt))
}

/// The exact p-value (ties, if any, are ignored as SciPy does: `U` is truncated to an integer).
pub fn exact(current: &[f64], baseline: &[f64], alt: Alternative) -> Result<MannWhitney, StatsError> {
    let r = rank(current, baseline)?;
    let p = exact_p(r.u1, current.len(), baseline.len(), alt)?;
    Ok(MannWhitney { u: r.u1, p_value: p, method: Method::Exact, ties: r.ties })
}

struct Ranked {
    u1: f64,
    /// Σ (t³ − t) over groups of t equal values.
    tie_term: f64,
    ties: bool,
}

fn rank(x: &[f64], y: &[f64]) -> Result<Ranked, StatsError> {
    if x.is_empty() || y.is_empty() {
        return Err(StatsError::Empty { current: x.len(), baseline: y.len() });
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("a sample"));
    }
    let mut all: Vec<(f64, bool)> = x.iter().map(|&v| (v, true)).chain(y.iter().map(|&v| (v, false))).collect();
    all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let (mut r1, mut tie_term, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|(v, _)| *v == all[i].0).count();
        let avg = (i + 1 + j) as f64 / 2.0; // ranks i+1 ..= j share their mean
        let in_x = all[i..j].iter().filter(|(_, from_x)| *from_x).count();
        r1 += avg * in_x as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let n1 = x.len() as f64;
    Ok(Ranked { u1: r1 - n1 * (n1 + 1.0) / 2.0, tie_term, ties: tie_term > 0.0 })
}

/// The statistic whose upper tail is the p-value, and the factor for a two-sided test.
fn oriented(u1: f64, n1: usize, n2: usize, alt: Alternative) -> (f64, f64) {
    let u2 = (n1 * n2) as f64 - u1;
    match alt {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    }
}

fn asymptotic_from(r: &Ranked, n1: usize, n2: usize, alt: Alternative) -> MannWhitney {
    let (u, f) = oriented(r.u1, n1, n2, alt);
    let (a, b, n) = (n1 as f64, n2 as f64, (n1 + n2) as f64);
    let s = (a * b / 12.0 * ((n + 1.0) - r.tie_term / (n * (n - 1.0)))).sqrt();
    // The continuity correction: the upper tail starts half a step below U. With every value
    // equal, s = 0 and U = n1·n2/2, so z = −0.5/0 = −∞ and p = 1.
    let z = (u - a * b / 2.0 - 0.5) / s;
    let p = 0.5 * erfc(z / std::f64::consts::SQRT_2) * f;
    MannWhitney { u: r.u1, p_value: p.clamp(0.0, 1.0), method: Method::Asymptotic, ties: r.ties }
}

/// Largest `n1·n2` counted exactly (a vector of that many `i128`: 4 MB); beyond it the normal
/// approximation is used.
const EXACT_MAX_CELLS: usize = 250_000;

fn exact_p(u1: f64, n1: usize, n2: usize, alt: Alternative) -> Result<f64, StatsError> {
    let (u, f) = oriented(u1, n1, n2, alt);
    let counts = u_counts(n1, n2)?;
    let total: i128 = counts.iter().sum();
    // SciPy truncates U to an integer (it is one without ties).
    let from = (u.max(0.0) as usize).min(counts.len());
    let upper: i128 = counts[from..].iter().sum();
    Ok((upper as f64 / total as f64 * f).clamp(0.0, 1.0))
}

/// How many of the `C(n1+n2, n1)` equally likely arrangements give each `U = 0 ..= n1·n2`: the
/// coefficients of `Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i)` (m = the smaller side). Each step
/// multiplies then divides exactly, so every intermediate coefficient is bounded by the total,
/// which is checked to fit in `i128` first.
fn u_counts(n1: usize, n2: usize) -> Result<Vec<i128>, StatsError> {
    let (m, n) = (n1.min(n2), n1.max(n2));
    let too_large = StatsError::TooLarge(n1, n2);
    if m.checked_mul(n).is_none_or(|cells| cells > EXACT_MAX_CELLS) {
        return Err(too_large);
    }
    // C(m+n, m) = Π (n+i)/i, an integer at every step; it must fit (the sum of the counts).
    (1..=m).try_fold(1i128, |c, i| c.checked_mul((n + i) as i128).map(|c| c / i as i128)).ok_or(too_large)?;
    let mut c = vec![0i128; m * n + m + 1];
    c[0] = 1;
    let mut deg = 0;
    for i in 1..=m {
        let shift = n + i;
        for k in (shift..=deg + shift).rev() {
            c[k] -= c[k - shift];
        }
        for k in i..=deg + shift {
            c[k] += c[k - i];
        }
        deg += n;
    }
    c.truncate(m * n + 1);
    Ok(c)
}

#[cfg(test)]
#[path = "mann_whitney_tests.rs"]
mod tests;
