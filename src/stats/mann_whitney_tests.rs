//! `mann_whitney` against SciPy 1.17.1 (`tests/fixtures/stats/mann_whitney.json`, written by
//! `tests/fixtures/stats/gen.py`), plus the properties the fixtures cannot show.

use serde_json::Value;

use super::*;

const FIXTURE: &str = include_str!("../../tests/fixtures/stats/mann_whitney.json");
const ALTS: [Alternative; 3] = [Alternative::TwoSided, Alternative::Greater, Alternative::Less];

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-6, "{what}: {got} vs SciPy {want}");
}

#[test]
fn agrees_with_scipy_on_every_fixture() {
    let fx: Value = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(fx["scipy"], "1.17.1", "regenerate the fixtures with the SciPy version named in gen.py");
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "at least 10 datasets");
    let (mut exact_checked, mut too_large) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        if case["error"] == "empty" {
            for alt in ALTS {
                let want = StatsError::Empty { current: x.len(), baseline: y.len() };
                assert_eq!(test(&x, &y, alt), Err(want.clone()), "{name}");
                assert_eq!(asymptotic(&x, &y, alt), Err(want), "{name}");
            }
            continue;
        }
        for alt in ALTS {
            let want = &case["p"][alt.scipy_name()];
            let what = format!("{name} ({})", alt.scipy_name());
            let a = asymptotic(&x, &y, alt).unwrap();
            assert_eq!(a.u, want["u"].as_f64().unwrap(), "{what}: U");
            assert_eq!(a.ties, case["ties"].as_bool().unwrap(), "{what}: ties");
            close(a.p_value, want["asymptotic"].as_f64().unwrap(), &format!("{what} asymptotic"));
            close(test(&x, &y, alt).unwrap().p_value, want["auto"].as_f64().unwrap(), &format!("{what} auto"));
            if let Some(e) = want["exact"].as_f64() {
                match exact(&x, &y, alt) {
                    Ok(got) => {
                        close(got.p_value, e, &format!("{what} exact"));
                        exact_checked += 1;
                    }
                    Err(StatsError::TooLarge(..)) => too_large += 1,
                    Err(err) => panic!("{what}: {err}"),
                }
            }
        }
    }
    assert!(exact_checked >= 21, "exact p-values compared: {exact_checked}");
    assert!(too_large <= 9, "only the 60 vs 240 and 120 vs 150 sets are too large to count: {too_large}");
}

#[test]
fn auto_picks_exact_only_for_a_small_side_without_ties() {
    let g = Alternative::Greater;
    assert_eq!(test(&[1.0, 2.0, 3.0], &[0.5, 1.5], g).unwrap().method, Method::Exact);
    let nine: Vec<f64> = (0..9).map(f64::from).collect();
    let ten: Vec<f64> = (0..10).map(|v| f64::from(v) + 0.5).collect();
    assert_eq!(test(&nine, &ten, g).unwrap().method, Method::Asymptotic);
    assert_eq!(test(&[1.0, 2.0, 2.0], &[0.5, 1.5], g).unwrap().method, Method::Asymptotic, "ties");
    let many: Vec<f64> = (0..5000).map(|v| f64::from(v) + 0.25).collect();
    assert_eq!(test(&[1.0, 2.0], &many, g).unwrap().method, Method::Exact, "2 vs 5000 is still counted");
    let huge: Vec<f64> = (0..40_000).map(|v| f64::from(v) + 0.25).collect();
    let r = test(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &huge, g).unwrap();
    assert_eq!(r.method, Method::Asymptotic, "8 vs 40,000: too many cells to count, approximated");
}

#[test]
fn exact_counts_sum_to_the_binomial_and_are_symmetric() {
    for (m, n, total) in [(1, 1, 2i128), (3, 4, 35), (8, 8, 12870), (5, 20, 53130)] {
        let c = u_counts(m, n).unwrap();
        assert_eq!(c.len(), m * n + 1);
        assert_eq!(c.iter().sum::<i128>(), total, "{m} vs {n}");
        assert!(c.iter().all(|&v| v > 0), "{m} vs {n}: every U is reachable");
        assert!(c.iter().eq(c.iter().rev()), "{m} vs {n}: symmetric");
    }
    assert_eq!(u_counts(200, 200), Err(StatsError::TooLarge(200, 200)));
}

#[test]
fn refuses_non_finite_samples() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(test(&[1.0, bad], &[2.0], Alternative::Greater), Err(StatsError::NotFinite("a sample")));
    }
}

#[test]
fn a_larger_shift_gives_a_smaller_p_value() {
    let base: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i % 13) * 1.7 + f64::from(i % 7) * 0.31).collect();
    let mut last = 1.0;
    for shift in [0.0, 0.02, 0.05, 0.1, 0.3] {
        let cur: Vec<f64> = base.iter().map(|v| v * (1.0 + shift) + 0.001).collect();
        let p = test(&cur, &base, Alternative::Greater).unwrap().p_value;
        assert!(p <= last, "shift {shift}: p {p} > {last}");
        last = p;
    }
    assert!(last < 1e-10, "30% shift: {last}");
}
