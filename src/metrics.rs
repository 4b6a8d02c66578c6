//! Prometheus metrics of shipwatch itself: the **event metrics**, kept in [`Metrics`] and
//! updated where things happen (cheap `&self` calls on atomics): probe runs and their duration,
//! notification deliveries, the outbox depth, stored results, config reloads, build info.
//!
//! This module sits below the engine (which updates it) and knows nothing of releases or HTTP:
//! the per-release **state metrics** and the `GET /metrics` handler are in `api/metrics.rs`.
//! Labels are bounded: probe, kind and receiver names come from the config.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::probe::Status;

/// A label set: `(name, value)` pairs.
pub type Labels = Vec<(&'static str, String)>;

/// Probe duration buckets, 5 ms .. 30 s.
const DURATION_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Event metrics; the engine, the notifiers and the reloader update them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    probe_runs: Family<Labels, Counter>,
    probe_duration: Family<Labels, Histogram, fn() -> Histogram>,
    /// Total seconds of probe runs, kept instead of the histograms when they are off.
    probe_seconds: Family<Labels, Counter<f64, AtomicU64>>,
    /// `metrics.probe_histograms`: a duration histogram per probe, or only `probe_seconds`.
    histograms: bool,
    notifications: Family<Labels, Counter>,
    outbox_depth: Gauge,
    results_stored: Counter,
    result_batches: Counter,
    reload_success: Gauge,
    reload_timestamp: Gauge<f64, AtomicU64>,
    watch_polls: Family<Labels, Counter>,
    watch_releases: Family<Labels, Counter>,
    watch_waiting: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(true)
    }
}

impl Metrics {
    /// The event metrics; `histograms` false keeps a run-seconds counter per probe instead of a
    /// 12-bucket duration histogram (`metrics.probe_histograms`, ~15 lines fewer per probe).
    pub fn new(histograms: bool) -> Self {
        let mut registry = Registry::with_prefix("shipwatch");
        let probe_runs = Family::<Labels, Counter>::default();
        registry.register("probe_runs", "Probe runs by probe, kind and result (pass, fail, error)", probe_runs.clone());
        let probe_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        registry.register_with_unit("probe_duration", "Wall time of probe runs", Unit::Seconds, probe_duration.clone());
        let probe_seconds = Family::<Labels, Counter<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "probe_run",
            "Total wall time of probe runs (with metrics.probe_histograms: false, instead of the histograms)",
            Unit::Seconds,
            probe_seconds.clone(),
        );
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
        let watch_polls = Family::<Labels, Counter>::default();
        registry.register(
            "watch_polls",
            "Polls of each watch's query by result (ok, empty: no series, error: not asked or no version label)",
            watch_polls.clone(),
        );
        let watch_releases = Family::<Labels, Counter>::default();
        registry.register("watch_releases", "Releases started by each watch", watch_releases.clone());
        let watch_waiting = Family::<Labels, Gauge>::default();
        registry.register(
            "watch_waiting_versions",
            "Versions each watch has seen and is waiting on to settle",
            watch_waiting.clone(),
        );
        let build_info = Family::<Labels, Gauge>::default();
        registry.register("build_info", "shipwatch build information; always 1", build_info.clone());
        build_info.get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())]).set(1);

        let m = Metrics {
            registry,
            probe_runs,
            probe_duration,
            probe_seconds,
            histograms,
            notifications,
            outbox_depth,
            results_stored,
            result_batches,
            reload_success,
            reload_timestamp,
            watch_polls,
            watch_releases,
            watch_waiting,
        };
        // The config in force was loaded when the process started.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
        m.reloaded(true, now);
        m
    }
}

/// Where a probe's run time goes: its histogram, or its total-seconds counter.
#[derive(Clone)]
enum Timing {
    Histogram(Histogram),
    Seconds(Counter<f64, AtomicU64>),
}

/// A probe's run counters (by result) and run time.
#[derive(Clone)]
pub struct ProbeMetrics {
    timing: Timing,
    runs: [Counter; 3],
}

impl ProbeMetrics {
    /// One run finished with `status` after `elapsed`.
    pub fn ran(&self, status: Status, elapsed: Duration) {
        match &self.timing {
            Timing::Histogram(h) => h.observe(elapsed.as_secs_f64()),
            Timing::Seconds(c) => {
                c.inc_by(elapsed.as_secs_f64());
            }
        }
        let i = match status {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Error => 2,
        };
        self.runs[i].inc();
    }
}

/// A watch's counters, looked up once per task.
#[derive(Clone)]
pub struct WatchMetrics {
    /// Polls by result: ok, empty, error.
    polls: [Counter; 3],
    releases: Counter,
    waiting: Gauge,
}

/// How one poll of a watch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    Ok,
    /// No series at all (not an observation).
    Empty,
    /// The source could not be asked, rejected the query, or no series had the version label.
    Error,
}

impl PollResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PollResult::Ok => "ok",
            PollResult::Empty => "empty",
            PollResult::Error => "error",
        }
    }
}

impl WatchMetrics {
    pub fn polled(&self, r: PollResult) {
        self.polls[r as usize].inc();
    }

    pub fn started(&self) {
        self.releases.inc();
    }

    pub fn set_waiting(&self, n: usize) {
        self.waiting.set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

impl Metrics {
    /// The metric handles of one watch (every series exists from the start, at 0).
    pub fn watch(&self, watch: &str) -> WatchMetrics {
        let labels = vec![("watch", watch.to_string())];
        let polls = [PollResult::Ok, PollResult::Empty, PollResult::Error].map(|r| {
            let mut l = labels.clone();
            l.push(("result", r.as_str().to_string()));
            self.watch_polls.get_or_create(&l).clone()
        });
        let releases = self.watch_releases.get_or_create(&labels).clone();
        let waiting = self.watch_waiting.get_or_create(&labels).clone();
        WatchMetrics { polls, releases, waiting }
    }

    /// The metric handles of one probe, looked up once (a probe task keeps them, so a run
    /// costs no label hashing or allocation).
    pub fn probe(&self, probe: &str, kind: &str) -> ProbeMetrics {
        let labels = vec![("probe", probe.to_string()), ("kind", kind.to_string())];
        let timing = if self.histograms {
            Timing::Histogram(self.probe_duration.get_or_create(&labels).clone())
        } else {
            Timing::Seconds(self.probe_seconds.get_or_create(&labels).clone())
        };
        let runs = [Status::Pass, Status::Fail, Status::Error].map(|s| {
            let mut l = labels.clone();
            l.push(("result", s.as_str().to_string()));
            self.probe_runs.get_or_create(&l).clone()
        });
        ProbeMetrics { timing, runs }
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

    /// The event metrics in the classic text format (no `# EOF`, so more families may follow).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn without_probe_histograms_a_probe_keeps_one_seconds_counter() {
        let on = Metrics::new(true);
        let off = Metrics::new(false);
        for m in [&on, &off] {
            let p = m.probe("health", "http");
            p.ran(Status::Pass, Duration::from_millis(250));
            p.ran(Status::Error, Duration::from_millis(500));
        }
        let (on, off) = (on.encode(), off.encode());
        assert!(
            on.contains(r#"shipwatch_probe_duration_seconds_bucket{probe="health",kind="http",le="0.25"} 1"#),
            "{on}"
        );
        assert!(!lines(&on).iter().any(|l| l.starts_with("shipwatch_probe_run_seconds_total")), "{on}");
        assert!(!off.contains("_bucket"), "no histogram series: {off}");
        assert!(
            lines(&off).contains(&r#"shipwatch_probe_run_seconds_total{probe="health",kind="http"} 0.75"#),
            "{off}"
        );
        assert!(lines(&off).contains(&r#"shipwatch_probe_runs_total{probe="health",kind="http",result="error"} 1"#));
        assert!(
            lines(&off).len() * 2 < lines(&on).len(),
            "far fewer lines: {} vs {}",
            lines(&off).len(),
            lines(&on).len()
        );
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
        let w = m.watch("checkout");
        w.polled(PollResult::Ok);
        w.polled(PollResult::Error);
        w.polled(PollResult::Error);
        w.started();
        w.set_waiting(2);
        let text = m.encode();
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
            r#"shipwatch_watch_polls_total{watch="checkout",result="ok"} 1"#,
            r#"shipwatch_watch_polls_total{watch="checkout",result="empty"} 0"#,
            r#"shipwatch_watch_polls_total{watch="checkout",result="error"} 2"#,
            r#"shipwatch_watch_releases_total{watch="checkout"} 1"#,
            r#"shipwatch_watch_waiting_versions{watch="checkout"} 2"#,
            &format!(r#"shipwatch_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")),
        ] {
            assert!(l.contains(&want), "missing {want:?} in:\n{text}");
        }
        assert!(text.contains("# TYPE shipwatch_probe_runs_total counter\n"), "{text}");
        assert!(text.contains("# TYPE shipwatch_probe_duration_seconds histogram\n"), "{text}");
        assert!(!text.contains("# EOF"), "classic text format has no EOF marker");
    }
}
