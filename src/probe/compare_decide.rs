//! The `compare` probe's judgement of what it fetched: pure, unit-tested in `compare_tests.rs`.
//! A regression needs both significance (p < 1 − confidence) and size (the relative shift of
//! the medians, or of the rates, at least `min_effect` the regression's way); `relative` needs
//! only its bound. Evidence carries the test, p-value, U, n per side, medians or rates and the
//! effect in `details`, and a one-line summary in `observed`.

use serde_json::{Value, json};

use super::{CompareProbe, Direction, Side, Span, Test};
use crate::probe::promql::{finite_pool, finite_sum};
use crate::probe::{Evidence, Outcome};
use crate::stats::{StatsError, mann_whitney, poisson, relative, relative_change};

/// The expectation in words.
pub fn expected(p: &CompareProbe) -> String {
    let way = match p.direction {
        Direction::Increase => "increase",
        Direction::Decrease => "decrease",
        Direction::Either => "shift",
    };
    let sided = if p.direction == Direction::Either { "two-sided" } else { "one-sided" };
    let conf = num(p.confidence() * 100.0);
    let min = pct(p.min_effect());
    match p.test {
        Test::MannWhitney => format!(
            "no {way} of the median ≥ {min} significant at {conf}% (Mann-Whitney U, {sided}) vs {}",
            p.baseline_words()
        ),
        Test::Poisson => format!(
            "no {way} of the rate ≥ {min} significant at {conf}% (conditional binomial test, {sided}) vs {}",
            p.baseline_words()
        ),
        Test::Relative => {
            let max = p.max_change.map(|m| m.0.abs()).unwrap_or_default();
            let agg = p.aggregate.unwrap_or_default().as_str();
            let bound = match p.direction {
                Direction::Increase => format!("rises at most {}", pct(max)),
                Direction::Decrease => format!("falls at most {}", pct(max)),
                Direction::Either => format!("changes at most ±{}", num(max * 100.0) + "%"),
            };
            format!("{agg} {bound} vs {}", p.baseline_words())
        }
    }
}

/// Judge the two sides (each with the span it covers).
pub fn decide(p: &CompareProbe, current: (Span, Side), baseline: (Span, Side), mut ev: Evidence) -> Outcome {
    let d = &mut ev.details;
    d.insert("test".into(), json!(p.test.as_str()));
    d.insert("baseline".into(), json!(p.baseline_words()));
    for (name, span) in [("current", current.0), ("baseline", baseline.0)] {
        d.insert(format!("{name}_from"), json!(span.start.to_rfc3339()));
        d.insert(format!("{name}_to"), json!(span.end.to_rfc3339()));
    }
    let judged = match (current.1, baseline.1) {
        (Side::Samples(c), Side::Samples(b)) => match (c, b) {
            (Ok(c), Ok(b)) => samples(p, &c, &b, &mut ev),
            (Err((_, why)), _) => Err(format!("cannot read the current samples: {why}")),
            (_, Err((_, why))) => Err(format!("cannot read the baseline: {why}")),
        },
        (Side::Counts { events: ce, total: ct }, Side::Counts { events: be, total: bt }) => {
            let read = |r: crate::probe::prometheus::QueryResult, what: &str| {
                r.map_err(|(_, why)| format!("cannot read the {what}: {why}"))
            };
            match (
                read(ce, "current events"),
                read(ct, "current total"),
                read(be, "baseline events"),
                read(bt, "baseline total"),
            ) {
                (Ok(ce), Ok(ct), Ok(be), Ok(bt)) => counts(p, [&ce, &ct, &be, &bt], &mut ev),
                (Err(e), ..) | (_, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => Err(e),
            }
        }
        _ => Err("internal: the two sides were fetched differently".into()),
    };
    match judged {
        Ok(regressed) if regressed => Outcome::fail(ev),
        Ok(_) => Outcome::pass(ev),
        Err(why) => {
            ev.message = why;
            Outcome::error(ev)
        }
    }
}

/// `Ok(true)` for a regression, `Ok(false)` for none, `Err` for too little or no data.
fn samples(
    p: &CompareProbe,
    c: &[crate::probe::prometheus::Series],
    b: &[crate::probe::prometheus::Series],
    ev: &mut Evidence,
) -> Result<bool, String> {
    let ((cur, c_drop), (base, b_drop)) = (finite_pool(c), finite_pool(b));
    let d = &mut ev.details;
    d.insert("n_current".into(), json!(cur.len()));
    d.insert("n_baseline".into(), json!(base.len()));
    d.insert("series".into(), json!([c.len(), b.len()]));
    if c_drop + b_drop > 0 {
        d.insert("nan_dropped".into(), json!([c_drop, b_drop]));
    }
    enough(p, cur.len() as u64, base.len() as u64, "samples")?;
    let stat = |e: StatsError| e.to_string();
    if p.test == Test::Relative {
        let agg = p.aggregate.unwrap_or_default();
        let r = relative::compare(&cur, &base, agg).map_err(stat)?;
        let max = p.max_change.map(|m| m.0.abs()).unwrap_or_default();
        let d = &mut ev.details;
        d.insert("aggregate".into(), json!(agg.as_str()));
        d.insert(format!("{}_current", agg.as_str()), json!(r.current));
        d.insert(format!("{}_baseline", agg.as_str()), json!(r.baseline));
        d.insert("change".into(), finite_or_text(r.change));
        let over = p.direction.beyond(r.change, max) && r.change.abs() > max;
        let seen = format!("{} {} vs {} ({})", agg.as_str(), num(r.current), num(r.baseline), signed_pct(r.change));
        ev.observed = Some(seen.clone());
        ev.message = match over {
            true => format!("regression: {seen} over {}, beyond {}", p.baseline_words(), pct(max)),
            false => format!("within bounds: {seen} over {}, within {}", p.baseline_words(), pct(max)),
        };
        return Ok(over);
    }
    let mw = mann_whitney::test(&cur, &base, p.direction.alternative()).map_err(stat)?;
    let (mc, mb) = (relative::median(&cur).map_err(stat)?, relative::median(&base).map_err(stat)?);
    let effect = relative_change(mc, mb);
    let d = &mut ev.details;
    d.insert("method".into(), json!(mw.method.as_str()));
    d.insert("u".into(), json!(mw.u));
    d.insert("p_value".into(), json!(mw.p_value));
    d.insert("median_current".into(), json!(mc));
    d.insert("median_baseline".into(), json!(mb));
    d.insert("effect".into(), finite_or_text(effect));
    let seen = format!("median {} vs {} ({}), p = {}", num(mc), num(mb), signed_pct(effect), pval(mw.p_value));
    let test = format!("Mann-Whitney U = {}, n = {} vs {}", num(mw.u), cur.len(), base.len());
    Ok(verdict(p, mw.p_value, effect, seen, test, ev))
}

/// Sum the four count results and run the conditional binomial test.
fn counts(p: &CompareProbe, r: [&Vec<crate::probe::prometheus::Series>; 4], ev: &mut Evidence) -> Result<bool, String> {
    let names = ["current events", "current total", "baseline events", "baseline total"];
    let mut v = [0.0; 4];
    for (i, series) in r.iter().enumerate() {
        v[i] = finite_sum(series).ok_or_else(|| {
            format!(
                "no data: the {} query returned no finite value (if no events should mean 0, end it with `or vector(0)`)",
                names[i]
            )
        })?;
        if v[i] < 0.0 {
            return Err(format!("the {} is negative ({})", names[i], num(v[i])));
        }
    }
    let [ce, ct, be, bt] = v;
    let d = &mut ev.details;
    for (i, name) in ["events_current", "total_current", "events_baseline", "total_baseline"].iter().enumerate() {
        d.insert((*name).into(), json!(v[i]));
    }
    enough(p, ct.round() as u64, bt.round() as u64, "requests")?;
    let (k1, k2) = (ce.round() as u64, be.round() as u64);
    let t = poisson::test(k1, ct, k2, bt, p.direction.alternative()).map_err(|e| e.to_string())?;
    let effect = relative_change(t.rate_current, t.rate_baseline);
    let d = &mut ev.details;
    d.insert("rate_current".into(), json!(t.rate_current));
    d.insert("rate_baseline".into(), json!(t.rate_baseline));
    d.insert("p_value".into(), json!(t.p_value));
    d.insert("effect".into(), finite_or_text(effect));
    let seen = format!(
        "rate {} vs {} ({}), p = {}",
        num(t.rate_current),
        num(t.rate_baseline),
        signed_pct(effect),
        pval(t.p_value)
    );
    let test = format!("conditional binomial test: {k1} of {} vs {k2} of {}", num(ct), num(bt));
    Ok(verdict(p, t.p_value, effect, seen, test, ev))
}

/// Too few on a side is an error naming both counts.
fn enough(p: &CompareProbe, cur: u64, base: u64, what: &str) -> Result<(), String> {
    let min = p.min_samples();
    if cur < min || base < min {
        return Err(format!("not enough data: {cur} vs {base} {what} (min_samples: {min} per side)"));
    }
    Ok(())
}

/// Significant and large enough → regression; fills `observed` and `message`.
fn verdict(p: &CompareProbe, p_value: f64, effect: f64, seen: String, test: String, ev: &mut Evidence) -> bool {
    let alpha = 1.0 - p.confidence();
    let (significant, large) = (p_value < alpha, p.direction.beyond(effect, p.min_effect()));
    let vs = p.baseline_words();
    let a = num(alpha);
    ev.observed = Some(seen.clone());
    ev.message = match (significant, large) {
        (true, true) => format!("regression: {seen} < {a} over {vs} ({test})"),
        (true, false) => format!(
            "no regression: {seen} < {a} over {vs}, but the shift is below min_effect {} ({test})",
            pct(p.min_effect())
        ),
        (false, _) => format!("no regression: {seen} ≥ {a} over {vs} ({test})"),
    };
    significant && large
}

fn finite_or_text(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { json!(signed_pct(v)) }
}

/// A number rounded to 6 decimals (like the prometheus probe's evidence), or scientific below.
fn num(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-4 { format!("{v:.3e}") } else { format!("{}", (v * 1e6).round() / 1e6) }
}

/// A p-value: 4 significant digits, scientific when small.
fn pval(p: f64) -> String {
    if p < 1e-4 { format!("{p:.2e}") } else { format!("{}", (p * 1e4).round() / 1e4) }
}

fn pct(v: f64) -> String {
    format!("{}%", num(v * 100.0))
}

fn signed_pct(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+∞%".into() } else { "−∞%".into() };
    }
    format!("{:+.1}%", v * 100.0)
}
