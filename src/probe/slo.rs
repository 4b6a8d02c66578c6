//! `slo` probe: multi-window, multi-burn-rate judgement of an SLO since the deploy. `errors` and
//! `total` are PromQL over `[{{ window }}]`; for each window of each pair (default: 14.4× over
//! 1h and 5m, 6× over 6h and 30m, 1× over 3d and 6h; see `stats::burn`) the burn rate is the
//! error ratio over the window divided by the budget `1 − objective`. It fails when any pair
//! burns faster than its factor on both windows. A window longer than the release is old is
//! cut to the time since the deploy (the old version's errors are not this release's), and the
//! evidence says so. Evidence: every burn rate, each pair's state, the budget spent since the
//! deploy (share of the `period`'s budget) and what is left of it. No traffic or no data in a
//! window that decides is `error`, never a pass; a source that cannot be read is `error`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::percent::Percent;
use super::source::SourceClient;
use super::{Dur, Evidence, Outcome, RunContext, Runtime, promql};
use crate::stats::burn::{self, PairState};

/// One alerting pair of windows.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowPair {
    pub long: Dur,
    pub short: Dur,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SloProbe {
    pub source: String,
    /// The share of good events, e.g. `99.9%`.
    pub objective: Percent,
    /// PromQL: bad events (rate or count) over `[{{ window }}]`.
    pub errors: String,
    /// PromQL: all events over `[{{ window }}]`, the same way.
    pub total: String,
    /// Alerting pairs (default: the SRE workbook's three).
    #[serde(default)]
    pub windows: Option<Vec<WindowPair>>,
    /// The SLO period whose budget the spend is a share of (default 30d).
    #[serde(default)]
    pub period: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// One window's reading: errors and total, or why there is none.
type Reading = Result<(f64, f64), String>;

impl SloProbe {
    pub fn timeout(&self) -> Duration {
        self.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10))
    }

    pub fn period(&self) -> Duration {
        self.period.map(|d| d.0).unwrap_or(Duration::from_secs(30 * 24 * 3600))
    }

    pub fn pairs(&self) -> Vec<burn::Pair> {
        match &self.windows {
            Some(w) => w.iter().map(|p| burn::Pair { long: p.long.0, short: p.short.0, factor: p.factor }).collect(),
            None => burn::DEFAULT_PAIRS.to_vec(),
        }
    }

    pub async fn run(&self, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let src = match rt.source(&self.source) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let outcome = src.within(self.timeout(), self.run_on(src, ctx, rt)).await;
        super::http::redact_outcome(outcome, &rt.redactor)
    }

    async fn run_on(&self, src: &SourceClient, ctx: &RunContext, rt: &Runtime) -> Outcome {
        let started = tokio::time::Instant::now();
        let mut ev = Evidence {
            target: Some(rt.redactor.redact(&format!("({}) / ({})", self.errors, self.total))),
            expected: Some(self.expected()),
            ..Default::default()
        };
        let Some(deployed) = ctx.deployed else {
            ev.message = "no burn rate yet: the release is not deployed".into();
            return Outcome::error(ev);
        };
        let now = ctx.now();
        let elapsed = (now - deployed).to_std().unwrap_or_default();
        let mut windows: Vec<Duration> = self
            .pairs()
            .iter()
            .flat_map(|p| [p.long, p.short])
            .chain([elapsed])
            .map(|w| burn::effective_window(w, elapsed).0)
            .collect();
        windows.sort();
        windows.dedup();
        let mut readings = BTreeMap::new();
        for w in windows {
            let range = promql::promql_range(w);
            let (e, t) = match (ctx.render_range(&self.errors, &range), ctx.render_range(&self.total, &range)) {
                (Ok(e), Ok(t)) => (e, t),
                (Err(e), _) | (_, Err(e)) => {
                    ev.message = e;
                    return Outcome::error(ev);
                }
            };
            let (e, t) = tokio::join!(promql::instant(src, &e, now), promql::instant(src, &t, now));
            let reading = match (e, t) {
                (Err((_, why)), _) | (_, Err((_, why))) => {
                    ev.message = format!("cannot read the {range} window: {why}");
                    return Outcome::error(ev);
                }
                (Ok(e), Ok(t)) => match (promql::finite_sum(&e), promql::finite_sum(&t)) {
                    (Some(e), Some(t)) => Ok((e, t)),
                    (None, _) => Err("the errors query returned no finite value (end it with `or vector(0)` \
                                      if no errors should mean 0)"
                        .to_string()),
                    (_, None) => Err("the total query returned no finite value (no traffic?)".to_string()),
                },
            };
            readings.insert(w, reading);
        }
        ev.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        judge(self, elapsed, &readings, ev)
    }

    fn expected(&self) -> String {
        let pairs: Vec<String> = self
            .pairs()
            .iter()
            .map(|p| format!("{}× over {} and {}", num(p.factor), fmt_d(p.long), fmt_d(p.short)))
            .collect();
        format!("objective {}: no pair burning on both windows ({})", self.objective, pairs.join("; "))
    }

    pub fn validate(&self) -> Result<(), String> {
        let o = self.objective.0;
        if !(o > 0.0 && o < 1.0) {
            return Err(format!(
                "objective must be between 0% and 100% (exclusive), like 99.9%, not {}",
                self.objective
            ));
        }
        for (what, q) in [("errors", &self.errors), ("total", &self.total)] {
            if q.trim().is_empty() {
                return Err(format!("{what} is empty"));
            }
            if !uses_window(q) {
                return Err(format!(
                    "{what} must use the burn window as its range, e.g. sum(rate(http_requests_total[{{{{ window }}}}]))"
                ));
            }
        }
        if self.windows.as_ref().is_some_and(Vec::is_empty) {
            return Err("windows is empty; leave it out for the default pairs".into());
        }
        for (i, p) in self.pairs().iter().enumerate() {
            if p.short.is_zero() || p.long <= p.short {
                return Err(format!(
                    "windows[{i}]: long ({}) must be longer than short ({}) > 0s",
                    fmt_d(p.long),
                    fmt_d(p.short)
                ));
            }
            if !(p.factor.is_finite() && p.factor > 0.0) {
                return Err(format!("windows[{i}]: factor must be a positive number like 14.4, not {}", p.factor));
            }
        }
        if self.period().is_zero() {
            return Err("period must be longer than 0s".into());
        }
        Ok(())
    }
}

fn uses_window(text: &str) -> bool {
    text.split("{{").skip(1).any(|rest| rest.split("}}").next().is_some_and(|v| v.trim() == "window"))
}

/// Judge the readings (by effective window) taken `elapsed` after the deploy.
pub fn judge(p: &SloProbe, elapsed: Duration, readings: &BTreeMap<Duration, Reading>, mut ev: Evidence) -> Outcome {
    let objective = p.objective.0;
    let burn_of = |w: Duration| -> (Duration, bool, Result<f64, String>) {
        let (eff, cut) = burn::effective_window(w, elapsed);
        let r = match readings.get(&eff) {
            Some(Ok((e, t))) => burn::burn_rate(*e, *t, objective).ok_or_else(|| "no traffic".to_string()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("not measured".into()),
        };
        (eff, cut, r)
    };
    let mut states = vec![];
    let mut pairs_json = vec![];
    let mut rates = serde_json::Map::new();
    let mut burning = vec![];
    let mut unmeasured = vec![];
    let mut shown = vec![];
    for pair in p.pairs() {
        let mut sides = vec![];
        for w in [pair.long, pair.short] {
            let (eff, cut, r) = burn_of(w);
            let label = if cut { format!("{} (cut to {})", fmt_d(w), fmt_d(eff)) } else { fmt_d(w) };
            match &r {
                Ok(b) => {
                    let seen = format!("{} {}×", fmt_d(w), num(*b));
                    if rates.insert(fmt_d(w), json!(b)).is_none() {
                        shown.push(seen);
                    }
                }
                Err(why) => unmeasured.push(format!("{label}: {why}")),
            }
            sides.push((label, r.ok()));
        }
        let state = burn::pair_state(sides[0].1, sides[1].1, pair.factor);
        let words = |(l, b): &(String, Option<f64>)| match b {
            Some(b) => format!("{}× over {l}", num(*b)),
            None => format!("no data over {l}"),
        };
        if state == PairState::Burning {
            burning.push(format!("{} and {} > {}×", words(&sides[0]), words(&sides[1]), num(pair.factor)));
        }
        pairs_json.push(json!({"long": fmt_d(pair.long), "short": fmt_d(pair.short), "factor": pair.factor,
            "burn_long": sides[0].1, "burn_short": sides[1].1, "window_long": sides[0].0, "window_short": sides[1].0,
            "state": format!("{state:?}").to_lowercase()}));
        states.push(state);
    }
    let d = &mut ev.details;
    d.insert("objective".into(), json!(objective));
    d.insert("burn_rates".into(), serde_json::Value::Object(rates));
    d.insert("pairs".into(), json!(pairs_json));
    d.insert("elapsed".into(), json!(fmt_d(elapsed)));
    let budget = match burn_of(elapsed).2 {
        Ok(b) => {
            let spent = burn::budget_spent(b, elapsed, p.period());
            d.insert("budget_spent".into(), json!(spent));
            d.insert("budget_remaining".into(), json!(1.0 - spent));
            format!("budget spent since the deploy {} of {} ({} left)", pct(spent), fmt_d(p.period()), pct(1.0 - spent))
        }
        Err(why) => format!("budget spent since the deploy unknown ({why})"),
    };
    ev.observed = Some(format!("burn {}", shown.join(", ")));
    let state = burn::verdict(&states);
    ev.message = match state {
        PairState::Burning => format!("burning the error budget: {}; {budget}", burning.join("; ")),
        PairState::Within => format!("within the error budget: burn {}; {budget}", shown.join(", ")),
        PairState::NoData => format!("not enough data to judge the burn rate: {}", unmeasured.join("; ")),
    };
    match state {
        PairState::Burning => Outcome::fail(ev),
        PairState::Within => Outcome::pass(ev),
        PairState::NoData => Outcome::error(ev),
    }
}

fn fmt_d(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

fn num(v: f64) -> String {
    format!("{}", (v * 100.0).round() / 100.0)
}

fn pct(v: f64) -> String {
    format!("{}%", (v * 100.0 * 1000.0).round() / 1000.0)
}

#[cfg(test)]
#[path = "slo_tests.rs"]
mod tests;
