//! Fuzz entry points: bad input must never panic.
//!
//! Each function takes arbitrary bytes, feeds them to one input surface and checks cheap
//! invariants with `assert!`; a panic is a bug. The `cargo fuzz` targets in `fuzz/` call these,
//! and `tests/fuzz_corpus.rs` replays the committed corpus and regressions through them, so the
//! test exercises exactly what is fuzzed.
//!
//! - [`checklist`]: Markdown → [`crate::checklist::parse`], ids, resolve and byte-exact render.
//! - [`config`]: YAML → [`crate::config::load_str`] (env expansion, templates, probe kinds,
//!   conditions, matchers, cron) against a fixed on-disk fixture; also the input as one
//!   condition and one label matcher. Offline: the loader reads files but never runs commands
//!   or contacts sources.
//! - [`api_body`]: the API's JSON bodies (create release, tick, waive) through the handlers'
//!   own `body()` parser, then the window arithmetic the engine does with an accepted release.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};

use crate::checklist::{Checklist, Mark};
use crate::probe::condition::Condition;
use crate::probe::matcher::Matcher;

// The very `body()` the API handlers parse requests with.
use crate::api::{ApiError, handlers};

/// Parse `data` (lossily decoded) as a checklist and check ids, offsets and rendering.
pub fn checklist(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let list = crate::checklist::parse(&source);
    check_checklist(&source, &list);
}

fn check_checklist(src: &str, list: &Checklist) {
    assert_eq!(list.source, src, "parse keeps the source as given");
    let bytes = src.as_bytes();
    let line_count = 1 + bytes.iter().enumerate().filter(|&(i, b)| ends_line(bytes, i, *b)).count();
    let mut ids = HashSet::new();
    for item in &list.items {
        assert!(!item.id.is_empty(), "empty id for {item:?}");
        assert!(ids.insert(item.id.as_str()), "duplicate id {:?}", item.id);
        assert!(list.get(&item.id).is_some_and(|i| std::ptr::eq(i, item)), "get({:?})", item.id);
        assert_eq!(list.resolve(&item.id).map(|i| i.id.as_str()), Ok(item.id.as_str()), "resolve by id");
        let b = item.box_offset;
        assert!(b >= 1 && bytes.get(b - 1) == Some(&b'[') && bytes.get(b + 1) == Some(&b']'), "box at {b}: {item:?}");
        let box_byte = bytes[b];
        assert!(matches!(box_byte, b' ' | b'\t' | 0x0b | 0x0c | b'x' | b'X'), "box byte {box_byte:?}: {item:?}");
        assert_eq!(item.checked, matches!(box_byte, b'x' | b'X'), "checked flag: {item:?}");
        assert!(item.line_end > b && item.line_end <= bytes.len(), "line_end: {item:?}");
        assert!(src.is_char_boundary(item.line_end), "line_end on a char boundary: {item:?}");
        assert!(!src[b..item.line_end].contains(['\n', '\r']), "line_end is the first line's end: {item:?}");
        assert!((1..=line_count).contains(&item.line), "line {} of {line_count}", item.line);
        assert_eq!(item.section_path.last(), item.section.as_ref(), "section is the innermost heading");
    }
    for s in &list.sections {
        assert!((1..=6).contains(&s.level) && (1..=line_count).contains(&s.line), "{s:?}");
        assert_eq!(s.slug, crate::checklist::slug(&s.title));
    }

    // Rendering without marks, or with every item marked as it already is, changes nothing
    // but box bytes (`X` → `x`, tab, VT or FF → space).
    assert_eq!(list.render(&BTreeMap::new()), src, "render without marks");
    let own = marks(list, |item| (item.checked, None));
    let out = list.render(&own);
    assert_eq!(out.len(), src.len(), "render with own state keeps the length");
    let boxes: HashSet<usize> = list.items.iter().map(|i| i.box_offset).collect();
    for (i, (a, b)) in bytes.iter().zip(out.as_bytes()).enumerate() {
        let fine = a == b || (boxes.contains(&i) && matches!((a, b), (b'X', b'x') | (b'\t' | 0x0b | 0x0c, b' ')));
        assert!(fine, "render with own state changed byte {i}: {a:?} → {b:?}");
    }

    // Ticking everything swaps box bytes only; re-reading finds the same items, all ticked.
    let ticked = list.render(&marks(list, |_| (true, None)));
    assert_eq!(ticked.len(), src.len(), "ticking keeps the length");
    let again = crate::checklist::parse(&ticked);
    let ids = |l: &Checklist| l.items.iter().map(|i| (i.id.clone(), i.line)).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(list), "ticked checklist has the same items");
    assert!(again.items.iter().all(|i| i.checked), "ticked checklist has every box ticked");

    // Notes go at the end of each item's first line, flattened to one line.
    let note = "ok (200) — ✓\r\nline two";
    let noted = list.render(&marks(list, |_| (false, Some(note.to_string()))));
    let added = " — ".len() + note.len();
    assert_eq!(noted.len(), src.len() + added * list.items.len(), "each note is added once");
}

fn ends_line(bytes: &[u8], i: usize, b: u8) -> bool {
    b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

fn marks(list: &Checklist, f: impl Fn(&crate::checklist::Item) -> (bool, Option<String>)) -> BTreeMap<String, Mark> {
    list.items
        .iter()
        .map(|item| {
            let (checked, note) = f(item);
            (item.id.clone(), Mark { checked, note })
        })
        .collect()
}

/// The variables `${VAR}` expands from in [`config`]; everything else is unset.
const ENV: &[(&str, &str)] = &[
    ("TOKEN", "tok-12345"),
    ("EMPTY", ""),
    ("SHIPWATCH_DEMO_TARGET", "http://127.0.0.1:9"),
    ("SHIPWATCH_DEMO_DATA", "data"),
    ("SHIPWATCH_DEMO_PROMETHEUS", "http://127.0.0.1:9090"),
    ("SHIPWATCH_DEMO_ALERTMANAGER", "http://127.0.0.1:9093"),
];

/// Files of the config fixture, laid out like the repository: the shipped checklist and
/// templates, so the shipped configs load as seeds.
const FIXTURE: &[(&str, &str)] = &[
    ("config/release-checklist.md", include_str!("../config/release-checklist.md")),
    ("config/small.md", "# Deploy\n- [ ] Run smoke tests\n- [x] Ask the PM\n## Later\n- [ ] Run smoke tests\n"),
    ("probes/alert-rules-loaded.yaml", include_str!("../probes/alert-rules-loaded.yaml")),
    ("probes/error-ratio.yaml", include_str!("../probes/error-ratio.yaml")),
    ("probes/http-smoke.yaml", include_str!("../probes/http-smoke.yaml")),
    ("probes/latency-p99.yaml", include_str!("../probes/latency-p99.yaml")),
    ("probes/memory-headroom.yaml", include_str!("../probes/memory-headroom.yaml")),
    ("probes/no-new-alerts.yaml", include_str!("../probes/no-new-alerts.yaml")),
    ("probes/saturation.yaml", include_str!("../probes/saturation.yaml")),
    ("probes/target-up.yaml", include_str!("../probes/target-up.yaml")),
    ("probes/version-live.yaml", include_str!("../probes/version-live.yaml")),
];

/// Load `data` as `config/shipwatch.yaml` of the fixture; check what a valid config promises.
/// Also parse the whole input as one condition and one label matcher.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    condition(text);
    matcher(text);
    let path = fixture_dir().join("config").join("shipwatch.yaml");
    let env = |k: &str| ENV.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string());
    match crate::config::load_str(&path, text, &env) {
        Ok(loaded) => check_config(&loaded.config),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an Err carries at least one error");
            assert!(errors.0.iter().all(|e| !e.message.is_empty()), "{errors:?}");
            let _ = errors.to_string();
        }
    }
}

fn check_config(cfg: &crate::config::Config) {
    for (id, b) in &cfg.items {
        assert!(cfg.checklist.get(id).is_some() && &b.item == id, "binding {id} names a checklist item");
        assert!(b.probes.iter().all(|p| cfg.probes.contains_key(p)), "binding {id} uses defined probes");
        assert!(b.notify.iter().all(|n| cfg.notify.contains_key(n)), "binding {id} notifies defined receivers");
    }
    if let Some(rb) = &cfg.rollback {
        assert!(rb.item.as_deref().is_some_and(|i| cfg.checklist.get(i).is_some()), "rollback item resolved");
    }
    // Every duration can be added to the wall clock as the engine does (windows, schedules,
    // retention, delivery ages).
    let now = Utc::now();
    let mut durations = vec![cfg.window.min.0, cfg.window.max.0, cfg.storage.retention.0];
    for def in cfg.probes.values() {
        durations.extend([def.initial_delay, def.jitter, def.schedule.nominal(now)]);
        let _ = def.schedule.next_after(now);
        let _ = def.schedule.describe();
    }
    durations.extend(cfg.notify.values().map(|r| r.max_age));
    durations.extend(cfg.items.values().filter_map(|b| match b.pass {
        crate::config::PassRule::Sustained(d) => Some(d),
        _ => None,
    }));
    for d in durations {
        assert!(add(now, d).is_some(), "duration {d:?} overflows the wall clock");
    }
}

fn add(t: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::from_std(d).ok()?)
}

/// A condition that parses prints as text that parses back to it.
fn condition(text: &str) {
    if let Ok(c) = text.parse::<Condition>() {
        let again: Condition = c.to_string().parse().expect("a condition's display parses");
        assert_eq!(again.op, c.op);
        assert!(!c.value.is_nan(), "{text:?} parsed to a NaN condition, which never holds");
        assert!(again.value == c.value, "{c} → {again}");
        let _ = c.holds(c.value);
    }
}

/// A matcher that parses prints as text that parses back to it.
fn matcher(text: &str) {
    if let Ok(m) = text.parse::<Matcher>() {
        let again: Matcher = m.to_string().parse().unwrap_or_else(|e| panic!("{m} does not parse back: {e}"));
        assert_eq!(again, m);
        let labels: BTreeMap<String, String> = [(m.name.clone(), m.value.clone())].into();
        let _ = m.matches(&labels);
    }
}

/// The fixture directory, written once per process (shared between processes: its name is a
/// hash of its contents and it is completed by an atomic rename).
fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        FIXTURE.hash(&mut h);
        let dir = std::env::temp_dir().join(format!("shipwatch-fuzz-{:016x}", h.finish()));
        if !dir.is_dir() {
            let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
            let written = FIXTURE.iter().try_for_each(|(name, text)| {
                let p = tmp.join(name);
                std::fs::create_dir_all(p.parent().unwrap_or(&tmp))?;
                std::fs::write(p, text)
            });
            // Another process may have won the race; either way `dir` is complete or absent.
            if written.is_err() || std::fs::rename(&tmp, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        dir
    })
}

/// Parse `data` as each JSON body of the API with the handlers' `body()`; for an accepted
/// `NewRelease`, do the engine's window arithmetic.
pub fn api_body(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let is_json = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    match handlers::body::<crate::engine::NewRelease>(&bytes) {
        Ok(req) => new_release(req),
        Err(e) => api_error(&e, is_json),
    }
    if let Err(e) = handlers::body::<handlers::TickBody>(&bytes) {
        api_error(&e, is_json);
    }
    if let Err(e) = handlers::body::<handlers::WaiveBody>(&bytes) {
        api_error(&e, is_json);
    }
}

/// Malformed JSON is a 400, a well-formed body of the wrong shape a 422, with a message.
fn api_error(e: &ApiError, is_json: bool) {
    let want = if is_json { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
    assert_eq!(e.0, want, "{}", e.1);
    assert!(!e.1.is_empty());
}

/// What the engine computes from a release it accepts: window ends, verdict, window closing.
fn new_release(req: crate::engine::NewRelease) {
    let now = Utc::now();
    // The engine refuses these before any arithmetic (engine::start::start_release).
    if req.planned && req.deployed_at.is_some() || req.deployed_at.is_some_and(|d| d > now + TimeDelta::minutes(5)) {
        return;
    }
    let mut window = crate::config::Window::default();
    if let Some(o) = &req.window {
        window.min = o.min.unwrap_or(window.min);
        window.max = o.max.unwrap_or(window.max);
    }
    let _ = (crate::checklist::slug(&req.service), crate::checklist::slug(&req.version));
    let release = crate::release::Release {
        id: "fuzz-1".into(),
        service: req.service,
        version: req.version,
        environment: req.environment.unwrap_or_else(|| "production".into()),
        state: crate::release::ReleaseState::Deployed,
        created_at: now,
        deployed_at: Some(req.deployed_at.unwrap_or(now)),
        window_min: window.min.0,
        window_max: window.max.0,
        regressed: false,
        closed_at: None,
        reason: None,
        commit: req.commit,
        labels: req.labels,
        origin: None,
        idempotency: None,
    };
    for d in [release.window_min, release.window_max] {
        assert!(release.at(d).is_some(), "window end {d:?} after {:?} overflows", release.deployed_at);
    }
    let _ = crate::rules::window_closed(&release, now);
    let _ = crate::rules::verdict(&release, &[], None, now);
}
