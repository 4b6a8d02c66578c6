//! Statistics for judging a release against a baseline: pure functions over numbers, no I/O,
//! no config. Each test lives in its own file with data-driven unit tests that compare it with
//! reference values computed by SciPy (`tests/fixtures/stats/gen.py`, its JSON output beside
//! it): [`mann_whitney`] (rank test over sampled values), [`poisson`] (conditional binomial test
//! of two event rates), [`relative`] (aggregates and relative change, no statistics) and
//! [`burn`] (SLO error-budget burn rates). Distributions come from `statrs`.

pub mod burn;
pub mod mann_whitney;
pub mod poisson;
pub mod relative;

/// What a two-sample test can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A side has no sample: there is nothing to compare.
    #[error("not enough data: {current} vs {baseline} samples")]
    Empty { current: usize, baseline: usize },
    /// A NaN or infinite input (callers drop those first: they are no data).
    #[error("{0} is not a finite number")]
    NotFinite(&'static str),
    /// Counts that cannot be: negative, or events without exposure.
    #[error("invalid counts: {0}")]
    InvalidCounts(String),
    /// The exact distribution is too large to count (use the normal approximation).
    #[error("exact distribution of {0} vs {1} samples is too large")]
    TooLarge(usize, usize),
}

/// The alternative hypothesis about the current side compared with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// Current is stochastically larger (a regression that is an increase).
    Greater,
    /// Current is stochastically smaller.
    Less,
    /// Either way.
    TwoSided,
}

impl Alternative {
    /// The name SciPy uses (`greater`, `less`, `two-sided`): the fixtures' keys.
    pub fn scipy_name(self) -> &'static str {
        match self {
            Alternative::Greater => "greater",
            Alternative::Less => "less",
            Alternative::TwoSided => "two-sided",
        }
    }
}

/// Relative change of `current` against `baseline`: `(current − baseline) / |baseline|`; 0 when
/// both are 0, ±∞ when only the baseline is 0 (any change from nothing is unbounded).
pub fn relative_change(current: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        if current == 0.0 { 0.0 } else { current.signum() * f64::INFINITY }
    } else {
        (current - baseline) / baseline.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::relative_change;

    #[test]
    fn relative_change_table() {
        for (c, b, want) in [
            (1.3, 1.0, 0.3),
            (0.7, 1.0, -0.3),
            (1.0, 1.0, 0.0),
            (-1.5, -1.0, -0.5),
            (0.0, 0.0, 0.0),
            (2.0, 0.0, f64::INFINITY),
            (-2.0, 0.0, f64::NEG_INFINITY),
        ] {
            let got = relative_change(c, b);
            assert!(got == want || (got - want).abs() < 1e-12, "{c} vs {b}: {got} != {want}");
        }
    }
}
