//! Checks of a whole [`Config`] that need a live source: `rate()`-style windows shorter than twice the scrape
//! interval (they return nothing or jump between samples). Read from each Prometheus source's
//! `/api/v1/status/config` when reachable; skipped (with a note) when not.

use std::time::Duration;

use regex::Regex;

use super::Config;
use crate::probe::source::SourceClient;
use crate::probe::{ProbeKind, Runtime};

/// The smallest scrape interval in a Prometheus config (YAML text).
pub fn min_scrape_interval(config_yaml: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_saphyr::from_str(config_yaml).ok()?;
    let parse = |s: &serde_json::Value| s.as_str().and_then(|s| humantime::parse_duration(s).ok());
    let global = v["global"].get("scrape_interval").and_then(parse).unwrap_or(Duration::from_secs(60));
    let jobs = v["scrape_configs"]
        .as_array()
        .map(|a| a.iter().filter_map(|j| j.get("scrape_interval").and_then(parse)).collect::<Vec<_>>())
        .unwrap_or_default();
    jobs.into_iter().chain([global]).min()
}

/// Range windows of rate-like functions in `query` shorter than `2 × scrape`.
pub fn short_windows(query: &str, scrape: Duration) -> Vec<(String, Duration)> {
    let rate_like =
        Regex::new(r"\b(rate|irate|increase|delta|idelta|deriv|resets|changes)\s*\(").expect("static regex");
    if !rate_like.is_match(query) {
        return vec![];
    }
    let range =
        Regex::new(r"\[\s*([0-9]+(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)\s*(?::[^\]]*)?\]").expect("static regex");
    range
        .captures_iter(query)
        .filter_map(|c| {
            let text = c[1].to_string();
            let d = humantime::parse_duration(&text).ok()?;
            (d < scrape * 2).then_some((text, d))
        })
        .collect()
}

/// Warnings (`warning: ...`) for every prometheus or compare probe whose rate window is too
/// short for its source (and every compare probe whose `step` is shorter than the scrape
/// interval: the same scrape sampled twice inflates n), and notes (`note: ...`) for sources that could not be asked.
pub async fn scrape_warnings(cfg: &Config, rt: &Runtime) -> Vec<String> {
    let mut out = vec![];
    for (name, src) in rt.sources.iter() {
        if src.kind != "prometheus" {
            continue;
        }
        let Some(scrape) = fetch_interval(src).await else {
            out.push(format!("note: source '{name}' not reachable; skipped the rate() window check for its probes"));
            continue;
        };
        for (pname, def) in &cfg.probes {
            let (source, queries): (&str, Vec<&str>) = match &def.kind {
                ProbeKind::Prometheus(p) => (&p.source, vec![&p.query]),
                ProbeKind::Compare(p) => {
                    if p.source == *name && p.step() < scrape {
                        out.push(format!(
                            "warning: {}: probe '{pname}': step {} is shorter than the scrape interval of source '{name}' ({}): samples repeat and the test overstates n; write at least step: {}",
                            cfg.file.display(),
                            humantime::format_duration(p.step()),
                            humantime::format_duration(scrape),
                            humantime::format_duration(scrape)
                        ));
                    }
                    (
                        &p.source,
                        [Some(&p.query), p.baseline.query.as_ref()].into_iter().flatten().map(String::as_str).collect(),
                    )
                }
                _ => continue,
            };
            if source != name {
                continue;
            }
            for (text, _) in queries.iter().flat_map(|q| short_windows(q, scrape)) {
                let min = humantime::format_duration(scrape * 2);
                out.push(format!(
                    "warning: {}: probe '{pname}': range [{text}] is shorter than 2× the scrape interval of source '{name}' ({}); write at least [{min}]",
                    cfg.file.display(),
                    humantime::format_duration(scrape)
                ));
            }
        }
    }
    out
}

async fn fetch_interval(src: &SourceClient) -> Option<Duration> {
    // Not `get_json`: that records outages, and the engine's own client logs this one.
    let url = format!("{}/api/v1/status/config", src.url);
    let fut =
        async { src.http.get(&url).send().await.ok()?.error_for_status().ok()?.json::<serde_json::Value>().await.ok() };
    let v = tokio::time::timeout(Duration::from_secs(3), fut).await.ok()??;
    min_scrape_interval(v["data"]["yaml"].as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let s = Duration::from_secs(15);
        for (q, want) in [
            ("rate(x[5m])", vec![]),
            ("rate(x[20s])", vec!["20s"]),
            ("sum(increase(x[10s])) / sum(rate(y[1m]))", vec!["10s"]),
            ("max_over_time(x[5s])", vec![]),
            ("rate(x[15s:5s])", vec!["15s"]),
            ("rate(x[1m30s])", vec![]),
            ("rate(x[{{ window.elapsed }}])", vec![]),
        ] {
            let got: Vec<String> = short_windows(q, s).into_iter().map(|(t, _)| t).collect();
            assert_eq!(got, want, "{q}");
        }
    }

    #[test]
    fn scrape_interval_from_config() {
        let y = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n  - job_name: b\n";
        assert_eq!(min_scrape_interval(y), Some(Duration::from_secs(5)));
        assert_eq!(min_scrape_interval("scrape_configs: []\n"), Some(Duration::from_secs(60)));
    }
}
