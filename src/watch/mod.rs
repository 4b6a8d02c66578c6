//! `watch:`, releases detected from Prometheus: asking the query ([`poll`]), reading the versions
//! from its series ([`versions_of`]) and deciding which have settled ([`detect`], pure).
//!
//! This module knows nothing of releases or the store: the engine runs one task per watch
//! (`engine/watcher.rs`), which polls through here, checks for an existing release, starts the
//! release of each settled version and remembers what it has seen in the store.

pub mod detect;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use detect::{Detector, Handled, Memory, Seen, Settled};

use crate::probe::prometheus::Series;
use crate::probe::source::SourceClient;

/// Why a poll saw nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The source could not be asked or rejected the query.
    #[error("{0}")]
    Source(String),
    /// Series came back, but none carries the version label.
    #[error(
        "{series} series but none has the label '{label}'; aggregate by it, e.g. count by ({label}) (app_build_info{{job=\"checkout\"}})"
    )]
    NoLabel { series: usize, label: String },
}

/// The versions one answer shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    /// Distinct values of the version label (empty: the query returned no series).
    pub versions: BTreeSet<String>,
    /// Series without the label (ignored).
    pub unlabeled: usize,
}

/// The distinct values of `label` over `series`. Series without it (or with an empty value, which
/// Prometheus treats as absent) are counted, not taken; none at all with series present is
/// [`PollError::NoLabel`] (the query does not aggregate by the label).
pub fn versions_of(series: &[Series], label: &str) -> Result<Versions, PollError> {
    let mut out = Versions::default();
    for s in series {
        match s.labels.get(label).filter(|v| !v.is_empty()) {
            Some(v) => {
                out.versions.insert(v.clone());
            }
            None => out.unlabeled += 1,
        }
    }
    if out.versions.is_empty() && out.unlabeled > 0 {
        return Err(PollError::NoLabel { series: out.unlabeled, label: label.to_string() });
    }
    Ok(out)
}

/// Ask `query` at `at` through `src`, within the source's timeout (plus a second).
pub async fn poll(src: &SourceClient, query: &str, label: &str, at: DateTime<Utc>) -> Result<Versions, PollError> {
    let limit = src.timeout + Duration::from_secs(1);
    let asked = tokio::time::timeout(limit, crate::probe::promql::instant(src, query, at)).await;
    let series = match asked {
        Ok(Ok(series)) => series,
        Ok(Err((_, why))) => return Err(PollError::Source(why)),
        Err(_) => {
            let why = format!(
                "prometheus source '{}' did not answer within {} (timed out)",
                src.name,
                humantime::format_duration(limit)
            );
            src.observe(false, &why);
            return Err(PollError::Source(why));
        }
    };
    versions_of(&series, label)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn series(labels: &[(&str, &str)]) -> Series {
        let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Series { labels, values: vec![1.0] }
    }

    #[test]
    fn versions_are_read_from_the_label() {
        /// The versions and unlabeled count wanted, or a piece of the error.
        type Want = Result<(&'static [&'static str], usize), &'static str>;
        let cases: &[(&str, Vec<Series>, Want)] = &[
            ("no series", vec![], Ok((&[], 0))),
            ("one", vec![series(&[("version", "1.0")])], Ok((&["1.0"], 0))),
            (
                "distinct, sorted",
                vec![
                    series(&[("version", "2.0"), ("pod", "a")]),
                    series(&[("version", "1.0")]),
                    series(&[("version", "2.0")]),
                ],
                Ok((&["1.0", "2.0"], 0)),
            ),
            (
                "unlabeled series are counted, not taken",
                vec![series(&[("version", "1.0")]), series(&[("job", "x")]), series(&[("version", "")])],
                Ok((&["1.0"], 2)),
            ),
            (
                "no series with the label",
                vec![series(&[("job", "x")])],
                Err("1 series but none has the label 'version'"),
            ),
        ];
        for (name, input, want) in cases {
            let got = versions_of(input, "version");
            match (got, want) {
                (Ok(v), Ok((vs, unlabeled))) => {
                    let want: BTreeSet<String> = vs.iter().map(|s| s.to_string()).collect();
                    assert_eq!((v.versions, v.unlabeled), (want, *unlabeled), "{name}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
