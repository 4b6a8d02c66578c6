//! Aggregates of sampled values (`mean`, `median`, `p95`) and their relative change against a
//! baseline's: the Keptn-style bound without statistics (`max_change: +10%`). Quantiles
//! interpolate linearly between order statistics (NumPy's default `percentile` method).
//!
//! Checked against NumPy in `tests/fixtures/stats/relative.json`.

use serde::{Deserialize, Serialize};

use super::StatsError;

/// Which aggregate of the samples is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Mean,
    #[default]
    Median,
    P95,
}

impl Aggregate {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::P95 => "p95",
        }
    }
}

/// The aggregate of `samples` (finite, at least one).
pub fn aggregate(samples: &[f64], agg: Aggregate) -> Result<f64, StatsError> {
    if samples.is_empty() {
        return Err(StatsError::Empty { current: 0, baseline: 0 });
    }
    if samples.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("a sample"));
    }
    Ok(match agg {
        Aggregate::Mean => samples.iter().sum::<f64>() / samples.len() as f64,
        Aggregate::Median => quantile(&sorted(samples), 0.5),
        Aggregate::P95 => quantile(&sorted(samples), 0.95),
    })
}

/// The median of `samples` (finite, at least one).
pub fn median(samples: &[f64]) -> Result<f64, StatsError> {
    aggregate(samples, Aggregate::Median)
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The `q` quantile of non-empty `sorted` values, interpolated linearly (NumPy's `linear`).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let t = h - lo as f64;
    match sorted.get(lo + 1) {
        // NumPy's lerp, from the nearer end.
        Some(&b) if t >= 0.5 => b - (b - sorted[lo]) * (1.0 - t),
        Some(&b) => sorted[lo] + (b - sorted[lo]) * t,
        None => sorted[lo],
    }
}

/// Both aggregates and the relative change of the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub current: f64,
    pub baseline: f64,
    /// `(current − baseline) / |baseline|` (see [`super::relative_change`]).
    pub change: f64,
}

/// Aggregate both sides and compare; an empty side is [`StatsError::Empty`] with both counts.
pub fn compare(current: &[f64], baseline: &[f64], agg: Aggregate) -> Result<Change, StatsError> {
    if current.is_empty() || baseline.is_empty() {
        return Err(StatsError::Empty { current: current.len(), baseline: baseline.len() });
    }
    let (c, b) = (aggregate(current, agg)?, aggregate(baseline, agg)?);
    Ok(Change { current: c, baseline: b, change: super::relative_change(c, b) })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/relative.json");

    /// Every dataset of `tests/fixtures/stats/relative.json` (NumPy 2.4.6), to 1e-12 relative.
    #[test]
    fn agrees_with_numpy_on_every_fixture() {
        let fx: Value = serde_json::from_str(FIXTURE).unwrap();
        let cases = fx["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let x: Vec<f64> = c["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            for agg in [Aggregate::Mean, Aggregate::Median, Aggregate::P95] {
                let got = aggregate(&x, agg);
                if c["error"] == "empty" {
                    assert!(matches!(got, Err(StatsError::Empty { .. })), "{name}");
                    continue;
                }
                let want = c[agg.as_str()].as_f64().unwrap();
                let got = got.unwrap();
                assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "{name} {}: {got} vs {want}", agg.as_str());
            }
        }
    }

    #[test]
    fn compare_gives_the_relative_change_and_counts_an_empty_side() {
        let c = compare(&[1.1, 1.3, 1.2], &[1.0, 1.0, 1.0, 1.0], Aggregate::Median).unwrap();
        assert!((c.change - 0.2).abs() < 1e-12, "{c:?}");
        assert_eq!(compare(&[], &[1.0; 4], Aggregate::Mean), Err(StatsError::Empty { current: 0, baseline: 4 }));
        assert_eq!(compare(&[1.0], &[f64::NAN], Aggregate::Mean), Err(StatsError::NotFinite("a sample")));
    }
}
