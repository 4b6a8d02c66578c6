//! Prometheus metrics of shipwatch itself, served at `GET /metrics` in the classic text format
//! (version 0.0.4, which `promtool check metrics` reads).
//!
//! Two kinds of families:
//! - **Event metrics** live in [`Metrics`] and are updated where things happen (cheap `&self`
//!   calls on atomics): probe runs and their duration, notification deliveries, the outbox
//!   depth, config reloads, build info.
//! - **State metrics** are computed at scrape time from [`Engine::releases`]: item states and
//!   window remaining per active release, release states, active regressions, release counts.
//!
//! Labels are bounded: probe, kind and receiver names come from the config; `release` labels
//! are release ids of active releases (and of releases closed in the last hour for
//! `shipwatch_release_state`, so an alert on `state="failed"` has time to fire).

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::api::AppState;
use crate::engine::ReleaseView;
use crate::probe::Status;
use crate::release::{ItemState, ReleaseState};

/// A label set: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// Probe duration buckets, 5 ms .. 30 s.
const DURATION_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Closed releases keep their `shipwatch_release_state` series this long.
const CLOSED_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

const ITEM_STATES: [ItemState; 6] = [
    ItemState::Manual,
    ItemState::Pending,
    ItemState::Complete,
    ItemState::Failing,
    ItemState::Regressed,
    ItemState::Waived,
];

const RELEASE_STATES: [ReleaseState; 4] =
    [ReleaseState::Planned, ReleaseState::Deployed, ReleaseState::Verified, ReleaseState::Failed];

fn histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Event metrics; the engine, the notifiers and the reloader update them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    probe_runs: Family<Labels, Counter>,
    probe_duration: Family<Labels, Histogram, fn() -> Histogram>,
    notifications: Family<Labels, Counter>,
    outbox_depth: Gauge,
    results_stored: Counter,
    result_batches: Counter,
    reload_success: Gauge,
    reload_timestamp: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("shipwatch");
        let probe_runs = Family::<Labels, Counter>::default();
        registry.register("probe_runs", "Probe runs by probe, kind and result (pass, fail, error)", probe_runs.clone());
        let probe_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        registry.register_with_unit("probe_duration", "Wall time of probe runs", Unit::Seconds, probe_duration.clone());
        let notifications = Family::<Labels, Counter>::default();
        registry.register(
            "notifications",
            "Notification deliveries by receiver and result (ok, error)",
            notifications.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register("outbox_depth", "Notifications waiting in the outbox", outbox_depth.clone());
        let results_stored = Counter::default();
        registry.register("results_stored", "Probe results written to the store", results_stored.clone());
        let result_batches = Counter::default();
        registry.register(
            "result_batches",
            "Transactions that wrote probe results (results_stored / result_batches = results per transaction)",
            result_batches.clone(),
        );
        let reload_success = Gauge::default();
        registry.register(
            "config_reload_success",
            "Whether the last config load or reload succeeded (1) or was rejected (0)",
            reload_success.clone(),
        );
        let reload_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "config_reload_timestamp",
            "Unix time of the last config load or reload attempt",
            Unit::Seconds,
            reload_timestamp.clone(),
        );
        let build_info = Family::<Labels, Gauge>::default();
        registry.register("build_info", "shipwatch build information; always 1", build_info.clone());
        build_info.get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())]).set(1);

        let m = Metrics {
            registry,
            probe_runs,
            probe_duration,
            notifications,
            outbox_depth,
            results_stored,
            result_batches,
            reload_success,
            reload_timestamp,
        };
        // The config in force was loaded when the process started.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
        m.reloaded(true, now);
        m
    }
}

/// A probe's run counters (by result) and duration histogram.
#[derive(Clone)]
pub struct ProbeMetrics {
    duration: Histogram,
    runs: [Counter; 3],
}

impl ProbeMetrics {
    /// One run finished with `status` after `elapsed`.
    pub fn ran(&self, status: Status, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        let i = match status {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Error => 2,
        };
        self.runs[i].inc();
    }
}

impl Metrics {
    /// The metric handles of one probe, looked up once (a probe task keeps them, so a run
    /// costs no label hashing or allocation).
    pub fn probe(&self, probe: &str, kind: &str) -> ProbeMetrics {
        let labels = vec![("probe", probe.to_string()), ("kind", kind.to_string())];
        let duration = self.probe_duration.get_or_create(&labels).clone();
        let runs = [Status::Pass, Status::Fail, Status::Error].map(|s| {
            let mut l = labels.clone();
            l.push(("result", s.as_str().to_string()));
            self.probe_runs.get_or_create(&l).clone()
        });
        ProbeMetrics { duration, runs }
    }

    /// One notification delivery attempt to `receiver`.
    pub fn delivery(&self, receiver: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.notifications.get_or_create(&vec![("receiver", receiver.to_string()), ("result", result.into())]).inc();
    }

    /// `n` probe results were stored in one transaction.
    pub fn recorded(&self, n: usize) {
        self.results_stored.inc_by(n as u64);
        self.result_batches.inc();
    }

    /// Notifications waiting to be delivered.
    pub fn set_outbox_depth(&self, n: i64) {
        self.outbox_depth.set(n);
    }

    /// A config (re)load was attempted at `at_unix` (seconds) and succeeded or was rejected.
    pub fn reloaded(&self, ok: bool, at_unix: f64) {
        self.reload_success.set(i64::from(ok));
        self.reload_timestamp.set(at_unix);
    }

    /// The whole exposition: event metrics, then state metrics computed from `releases`.
    pub fn encode(&self, releases: &[ReleaseView], now: chrono::DateTime<chrono::Utc>) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &state_registry(releases, now));
        out
    }
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

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn handler(State(st): State<AppState>) -> Response {
    let body = st.engine.metrics().encode(&st.engine.releases(), chrono::Utc::now());
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
    fn event_metrics_are_encoded_with_conventional_names() {
        let m = Metrics::default();
        let health = m.probe("health", "http");
        health.ran(Status::Pass, Duration::from_millis(12));
        health.ran(Status::Pass, Duration::from_millis(40));
        health.ran(Status::Fail, Duration::from_secs(2));
        m.delivery("oncall", true);
        m.delivery("oncall", false);
        m.set_outbox_depth(3);
        m.reloaded(false, 1_700_000_000.5);
        let text = m.encode(&[], Utc::now());
        let l = lines(&text);
        for want in [
            r#"shipwatch_probe_runs_total{probe="health",kind="http",result="pass"} 2"#,
            r#"shipwatch_probe_runs_total{probe="health",kind="http",result="fail"} 1"#,
            r#"shipwatch_probe_duration_seconds_bucket{probe="health",kind="http",le="0.005"} 0"#,
            r#"shipwatch_probe_duration_seconds_bucket{probe="health",kind="http",le="0.025"} 1"#,
            r#"shipwatch_probe_duration_seconds_bucket{probe="health",kind="http",le="30"} 3"#,
            r#"shipwatch_probe_duration_seconds_count{probe="health",kind="http"} 3"#,
            r#"shipwatch_notifications_total{receiver="oncall",result="ok"} 1"#,
            r#"shipwatch_notifications_total{receiver="oncall",result="error"} 1"#,
            "shipwatch_outbox_depth 3",
            "shipwatch_config_reload_success 0",
            "shipwatch_config_reload_timestamp_seconds 1700000000.5",
            &format!(r#"shipwatch_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")),
            "shipwatch_active_regressions 0",
            r#"shipwatch_releases{state="deployed"} 0"#,
        ] {
            assert!(l.contains(&want), "missing {want:?} in:\n{text}");
        }
        assert!(text.contains("# TYPE shipwatch_probe_runs_total counter\n"), "{text}");
        assert!(text.contains("# TYPE shipwatch_probe_duration_seconds histogram\n"), "{text}");
        assert!(!text.contains("# EOF"), "classic text format has no EOF marker");
    }

    #[test]
    fn state_metrics_cover_active_and_recently_closed_releases() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 30, 0).unwrap();
        let red = Counts { complete: 1, pending: 2, failing: 1, regressed: 2, manual: 40, waived: 0 };
        let releases = [
            rel("api-1", ReleaseState::Deployed, red, Some(90.0)),
            rel("web-2", ReleaseState::Planned, Counts { manual: 3, ..Counts::default() }, None),
            rel("db-3", ReleaseState::Failed, Counts { failing: 1, ..Counts::default() }, None),
        ];
        let text = Metrics::default().encode(&releases, now);
        let l = lines(&text);
        for want in [
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
        let text = Metrics::default().encode(&releases, later);
        assert!(!text.contains(r#"release="db-3""#), "{text}");
        assert!(text.contains(r#"shipwatch_releases{state="failed"} 1"#), "{text}");
    }
}
