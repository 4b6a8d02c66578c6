//! `GET /metrics`: shipwatch's own Prometheus metrics in the classic text format (version
//! 0.0.4, which `promtool check metrics` reads).
//!
//! Two kinds of families:
//! - **Event metrics** live in [`Metrics`] (below the engine, which updates them).
//! - **State metrics** are computed here at scrape time from the engine's release views: item
//!   states and window remaining per active release, release states, active regressions,
//!   release counts.
//!
//! `release` labels are bounded: release ids of active releases (and of releases closed in the
//! last hour for `shipwatch_release_state`, so an alert on `state="failed"` has time to fire).

use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::AppState;
use crate::engine::{ItemCoverage, ReleaseView};
use crate::metrics::{Labels, Metrics};
use crate::release::{ItemState, ReleaseState};

/// Closed releases keep their `shipwatch_release_state` series this long.
const CLOSED_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

const ITEM_STATES: [ItemState; 7] = [
    ItemState::Manual,
    ItemState::Pending,
    ItemState::Complete,
    ItemState::Failing,
    ItemState::Regressed,
    ItemState::Waived,
    ItemState::Unknown,
];

const RELEASE_STATES: [ReleaseState; 5] = [
    ReleaseState::Planned,
    ReleaseState::Deployed,
    ReleaseState::Verified,
    ReleaseState::Failed,
    ReleaseState::Inconclusive,
];

/// The whole exposition: event metrics, then state metrics computed from `releases` and the
/// `coverage` of the automated items of deployed releases.
pub fn exposition(
    metrics: &Metrics,
    releases: &[ReleaseView],
    coverage: &[ItemCoverage],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut out = metrics.encode();
    let mut reg = state_registry(releases, now);
    let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for c in coverage {
        family.get_or_create(&vec![("release", c.release.clone()), ("item", c.item.clone())]).set(c.ratio);
    }
    reg.register(
        "item_coverage_ratio",
        "Share of the elapsed window in which each automated item of a deployed release was measured",
        family,
    );
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, &reg);
    out
}

/// A registry of gauges describing `releases` right now.
fn state_registry(releases: &[ReleaseView], now: chrono::DateTime<chrono::Utc>) -> Registry {
    let mut reg = Registry::with_prefix("shipwatch");
    let items = Family::<Labels, Gauge>::default();
    let remaining = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let state = Family::<Labels, Gauge>::default();
    let by_state = Family::<Labels, Gauge>::default();
    let regressions: Gauge = Gauge::default();

    for s in RELEASE_STATES {
        let n = releases.iter().filter(|r| r.release.state == s).count();
        by_state.get_or_create(&vec![("state", s.as_str().into())]).set(n as i64);
    }
    let mut regressed = 0;
    for r in releases {
        let rel = &r.release;
        let active = rel.state.is_active();
        let recent = rel.closed_at.is_some_and(|c| now - c <= CLOSED_GRACE);
        if !active && !recent {
            continue;
        }
        for s in RELEASE_STATES {
            let labels = vec![("release", rel.id.clone()), ("state", s.as_str().into())];
            state.get_or_create(&labels).set(i64::from(rel.state == s));
        }
        if !active {
            continue;
        }
        regressed += r.counts.regressed;
        for s in ITEM_STATES {
            let c = &r.counts;
            let n = match s {
                ItemState::Manual => c.manual,
                ItemState::Pending => c.pending,
                ItemState::Complete => c.complete,
                ItemState::Failing => c.failing,
                ItemState::Regressed => c.regressed,
                ItemState::Waived => c.waived,
                ItemState::Unknown => c.unknown,
            };
            items.get_or_create(&vec![("release", rel.id.clone()), ("state", s.as_str().into())]).set(n as i64);
        }
        if let Some(left) = r.window.remaining_s {
            remaining.get_or_create(&vec![("release", rel.id.clone())]).set(left);
        }
    }
    regressions.set(regressed as i64);

    reg.register("release_items", "Checklist items of each active release by state", items);
    reg.register_with_unit(
        "release_window_remaining",
        "Time until the watch window of a deployed release ends at the latest (window max)",
        Unit::Seconds,
        remaining,
    );
    reg.register(
        "release_state",
        "1 for the current state of each active (or closed in the last hour) release, else 0",
        state,
    );
    reg.register("active_regressions", "Regressed items across active releases", regressions);
    reg.register("releases", "Releases by state (all releases known to the daemon)", by_state);
    reg
}

/// `shipwatch_leader` (1 when this replica leads; a single process always does) and
/// `shipwatch_leader_epoch` (the lease's epoch; 0 without replicas).
pub fn leadership(cluster: Option<&crate::engine::ClusterStatus>) -> String {
    let mut reg = Registry::with_prefix("shipwatch");
    let (leading, epoch) = cluster.map_or((true, 0), |c| (c.leading, c.epoch));
    let leader: Gauge = Gauge::default();
    leader.set(i64::from(leading));
    let e: Gauge = Gauge::default();
    e.set(epoch);
    reg.register("leader", "1 when this replica leads (runs probes, timers, deliveries), else 0", leader);
    reg.register("leader_epoch", "The leadership epoch this replica knows (0 without replicas)", e);
    let mut out = String::new();
    let _ = prometheus_text::encode(&mut out, &reg);
    out
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn handler(State(st): State<AppState>) -> Response {
    let e = &st.engine.get();
    let mut body = exposition(&e.metrics(), &e.releases(), &e.coverage(), chrono::Utc::now());
    body.push_str(&leadership(st.engine.cluster().as_ref()));
    (StatusCode::OK, [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::engine::{Counts, WindowView};
    use crate::release::Release;

    fn rel(id: &str, state: ReleaseState, counts: Counts, remaining: Option<f64>) -> ReleaseView {
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        ReleaseView {
            release: Release {
                id: id.into(),
                service: "api".into(),
                version: "1.0".into(),
                environment: "prod".into(),
                state,
                created_at: t,
                deployed_at: Some(t),
                window_min: Duration::from_secs(60),
                window_max: Duration::from_secs(120),
                regressed: false,
                closed_at: (!state.is_active()).then_some(t + chrono::TimeDelta::minutes(2)),
                reason: None,
                commit: None,
                labels: Default::default(),
                origin: None,
                idempotency: None,
            },
            window: WindowView { min_s: 60.0, max_s: 120.0, elapsed_s: Some(30.0), remaining_s: remaining },
            counts,
            items: None,
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn no_releases_give_event_metrics_and_zero_counts() {
        let text = exposition(&Metrics::default(), &[], &[], Utc::now());
        let l = lines(&text);
        for want in
            ["shipwatch_outbox_depth 0", "shipwatch_active_regressions 0", r#"shipwatch_releases{state="deployed"} 0"#]
        {
            assert!(l.contains(&want), "missing {want:?} in:\n{text}");
        }
        assert!(!text.contains("# EOF"), "classic text format has no EOF marker");
    }

    #[test]
    fn state_metrics_cover_active_and_recently_closed_releases() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 30, 0).unwrap();
        let red = Counts { complete: 1, pending: 2, failing: 1, regressed: 2, manual: 40, waived: 0, unknown: 1 };
        let releases = [
            rel("api-1", ReleaseState::Deployed, red, Some(90.0)),
            rel("web-2", ReleaseState::Planned, Counts { manual: 3, ..Counts::default() }, None),
            rel("db-3", ReleaseState::Failed, Counts { failing: 1, ..Counts::default() }, None),
            rel("ui-4", ReleaseState::Inconclusive, Counts { unknown: 1, ..Counts::default() }, None),
        ];
        let coverage = [ItemCoverage { release: "api-1".into(), item: "smoke".into(), ratio: 0.75 }];
        let text = exposition(&Metrics::default(), &releases, &coverage, now);
        let l = lines(&text);
        for want in [
            r#"shipwatch_release_items{release="api-1",state="unknown"} 1"#,
            r#"shipwatch_release_state{release="ui-4",state="inconclusive"} 1"#,
            r#"shipwatch_releases{state="inconclusive"} 1"#,
            r#"shipwatch_item_coverage_ratio{release="api-1",item="smoke"} 0.75"#,
            r#"shipwatch_release_items{release="api-1",state="failing"} 1"#,
            r#"shipwatch_release_items{release="api-1",state="regressed"} 2"#,
            r#"shipwatch_release_items{release="api-1",state="waived"} 0"#,
            r#"shipwatch_release_items{release="web-2",state="manual"} 3"#,
            r#"shipwatch_release_window_remaining_seconds{release="api-1"} 90.0"#,
            r#"shipwatch_release_state{release="api-1",state="deployed"} 1"#,
            r#"shipwatch_release_state{release="api-1",state="verified"} 0"#,
            r#"shipwatch_release_state{release="db-3",state="failed"} 1"#,
            "shipwatch_active_regressions 2",
            r#"shipwatch_releases{state="deployed"} 1"#,
            r#"shipwatch_releases{state="planned"} 1"#,
            r#"shipwatch_releases{state="failed"} 1"#,
            r#"shipwatch_releases{state="verified"} 0"#,
        ] {
            assert!(l.contains(&want), "missing {want:?} in:\n{text}");
        }
        assert!(!text.contains(r#"release_items{release="db-3""#), "closed releases have no item series");
        assert!(!text.contains(r#"remaining_seconds{release="web-2""#), "planned: no window yet");

        // Over an hour after closing, a release leaves the per-release series.
        let later = now + chrono::TimeDelta::hours(2);
        let text = exposition(&Metrics::default(), &releases, &[], later);
        assert!(!text.contains(r#"release="db-3""#), "{text}");
        assert!(text.contains(r#"shipwatch_releases{state="failed"} 1"#), "{text}");
    }
}
