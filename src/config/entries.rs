//! One probe or item entry of the config: schedule and kind of a probe (with template
//! expansion), rules and references of an item binding.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ctx::{Ctx, p};
use super::error::did_you_mean;
use super::load::{DEFAULT_EVERY, PROBE_META};
use super::template::{TemplateError, Templates};
use super::{
    Binding, Coverage, FailRule, MIN_DEFAULT_STALE_AFTER, Mode, Notifier, PassRule, Phase, ProbeDef, Receiver,
};
use crate::event::EventKind;
use crate::probe::{Dur, KINDS, ProbeKind};
use crate::schedule::{Schedule, default_jitter};

/// A probe's keys other than its kind.
#[derive(Default)]
struct Meta {
    every: Option<Dur>,
    cron: Option<String>,
    initial_delay: Option<Dur>,
    jitter: Option<Dur>,
    description: Option<String>,
    error_limit: Option<u32>,
}

/// Read each key of `meta` on its own, so that one bad value does not hide the next; errors
/// name `probes.NAME.KEY`. The bool is false when any key was bad (each one reported).
fn read_meta(cx: &mut Ctx, path: &[String], name: &str, meta: Map<String, Value>) -> (Meta, bool) {
    fn field<T: serde::de::DeserializeOwned>(cx: &mut Ctx, at: &[String], v: &Value, ok: &mut bool) -> Option<T> {
        cx.de::<Option<T>>(v, at).unwrap_or_else(|| {
            *ok = false;
            None
        })
    }
    let mut m = Meta::default();
    let mut ok = true;
    for (k, v) in meta {
        let at = [path.to_vec(), vec![k.clone()]].concat();
        match k.as_str() {
            "every" => m.every = field(cx, &at, &v, &mut ok),
            "cron" => m.cron = field(cx, &at, &v, &mut ok),
            "initial_delay" => m.initial_delay = field(cx, &at, &v, &mut ok),
            "jitter" => m.jitter = field(cx, &at, &v, &mut ok),
            "description" => m.description = field(cx, &at, &v, &mut ok),
            "error_limit" => m.error_limit = field(cx, &at, &v, &mut ok),
            _ => {
                // `use`/`with` inside a template's body.
                cx.at_key(&at, format!("unknown key '{k}' in probe '{name}'"), Some("remove it".into()));
                ok = false;
            }
        }
    }
    (m, ok)
}

/// The schedule from `every:` / `cron:`, reporting each problem at `probes.NAME.KEY`.
fn schedule(cx: &mut Ctx, path: &[String], every: Option<Dur>, cron: Option<String>) -> Option<Schedule> {
    let at = |k: &str| [path.to_vec(), p(&[k])].concat();
    let field = |k: &str| at(k).join(".");
    match (every, cron) {
        (Some(_), Some(_)) => {
            cx.at_key(
                &at("cron"),
                format!("{}: cannot go with every: (a probe has one schedule)", field("cron")),
                Some("keep either every: or cron:".into()),
            );
            None
        }
        (Some(Dur(d)), None) if d.is_zero() => {
            cx.at_value(
                &at("every"),
                format!("{}: must be longer than 0s", field("every")),
                Some(format!(
                    "write e.g. every: 30s, or leave it out for every {}",
                    humantime::format_duration(DEFAULT_EVERY)
                )),
            );
            None
        }
        (Some(Dur(d)), None) => Some(Schedule::Every(d)),
        (None, Some(c)) => match Schedule::cron(&c, chrono::Utc::now()) {
            Ok(s) => Some(s),
            Err(e) => {
                cx.at_value(&at("cron"), format!("{}: {e}", field("cron")), Some(e.hint()));
                None
            }
        },
        (None, None) => Some(Schedule::Every(DEFAULT_EVERY)),
    }
}

pub(super) fn probe_def(cx: &mut Ctx, templates: &Templates, name: &str, v: Value) -> Option<ProbeDef> {
    let path = p(&["probes", name]);
    let Value::Object(mut body) = v else {
        cx.at_value(
            &path,
            format!("probe '{name}' must be a mapping"),
            Some(format!("write e.g. http: {{ url: ... }} and every: 30s; kinds: {}", KINDS.join(", "))),
        );
        return None;
    };
    let mut template = None;
    if let Some(u) = body.remove("use") {
        let with = match body.remove("with") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(w)) => w,
            Some(_) => {
                cx.at_value(
                    &[path.clone(), p(&["with"])].concat(),
                    "with: must be a mapping of parameters".into(),
                    None,
                );
                return None;
            }
        };
        let Value::String(tname) = u else {
            cx.at_value(&[path.clone(), p(&["use"])].concat(), "use: must name a template".into(), None);
            return None;
        };
        match templates.expand(&tname, &with) {
            Ok(mut expanded) => {
                for (k, v) in body {
                    expanded.insert(k, v);
                }
                body = expanded;
                template = Some(tname);
            }
            Err(e) => {
                let at = match &e {
                    TemplateError::MissingParam { .. } | TemplateError::UnknownParam { .. } if with.is_empty() => "use",
                    TemplateError::MissingParam { .. } | TemplateError::UnknownParam { .. } => "with",
                    _ => "use",
                };
                let sub = if let TemplateError::UnknownParam { param, .. } = &e {
                    vec![at.to_string(), param.clone()]
                } else {
                    vec![at.to_string()]
                };
                cx.at_key(&[path.clone(), sub].concat(), format!("probe '{name}': {e}"), None);
                return None;
            }
        }
    } else if body.contains_key("with") {
        cx.at_key(&[path.clone(), p(&["with"])].concat(), "with: only goes with use: TEMPLATE".into(), None);
        return None;
    }
    let mut kinds: Vec<(String, Value)> = vec![];
    let mut meta = Map::new();
    let allowed: Vec<&str> = PROBE_META.iter().chain(KINDS.iter()).copied().collect();
    let mut ok = true;
    for (k, v) in body {
        if KINDS.contains(&k.as_str()) {
            kinds.push((k, v));
        } else if PROBE_META.contains(&k.as_str()) {
            meta.insert(k, v);
        } else {
            cx.at_key(
                &[path.clone(), vec![k.clone()]].concat(),
                format!("unknown key '{k}' in probe '{name}'"),
                did_you_mean(&k, allowed.clone()),
            );
            ok = false;
        }
    }
    // Every check below runs even after one failed, so one check-config shows them all.
    let kind: Option<ProbeKind> = match kinds.len() {
        1 => {
            let (kind_name, kind_body) = kinds.remove(0);
            let wrapped = Value::Object(Map::from_iter([(kind_name.clone(), kind_body)]));
            let kind: Option<ProbeKind> = cx.de(&wrapped, &path);
            if let Some(Err(msg)) = kind.as_ref().map(ProbeKind::validate) {
                let at = [path.clone(), vec![kind_name]].concat();
                cx.at_value(&at, format!("{}: {msg}", at.join(".")), None);
                ok = false;
            }
            kind
        }
        0 => {
            cx.at_key(&path, format!("probe '{name}' has no kind"), Some(format!("add one of: {}", KINDS.join(", "))));
            None
        }
        _ => {
            cx.at_key(
                &[path.clone(), vec![kinds[1].0.clone()]].concat(),
                format!("probe '{name}' has more than one kind"),
                Some("split it into two probes".into()),
            );
            None
        }
    };
    let (meta, meta_ok) = read_meta(cx, &path, name, meta);
    let schedule = schedule(cx, &path, meta.every, meta.cron.clone());
    let (kind, schedule) = (kind?, schedule?);
    ok &= meta_ok;
    let jitter = meta.jitter.map(|d| d.0).unwrap_or_else(|| default_jitter(schedule.nominal(chrono::Utc::now())));
    ok.then(|| ProbeDef {
        name: name.to_string(),
        kind,
        schedule,
        initial_delay: meta.initial_delay.map(|d| d.0).unwrap_or_default(),
        jitter,
        description: meta.description,
        template,
        error_limit: meta.error_limit,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    #[serde(default)]
    probes: Vec<String>,
    #[serde(default)]
    pass: Option<RawPass>,
    #[serde(default)]
    fail: Option<FailRule>,
    #[serde(default)]
    notify: Vec<String>,
    #[serde(default)]
    on: Option<EventKind>,
    #[serde(default)]
    phase: Option<Phase>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    stale_after: Option<Dur>,
    #[serde(default)]
    min_coverage: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPass {
    consecutive: Option<u32>,
    sustained: Option<Dur>,
    window: Option<bool>,
}

pub(super) fn binding(
    cx: &mut Ctx,
    path: &[String],
    id: &str,
    v: &Value,
    probes: &BTreeMap<String, Duration>,
    notify: &BTreeMap<String, Receiver>,
    cov: &Coverage,
) -> Option<Binding> {
    let raw: RawBinding = cx.de(v, path)?;
    let sub = |k: &str| [path.to_vec(), vec![k.to_string()]].concat();
    let mut ok = true;
    for (i, name) in raw.probes.iter().enumerate() {
        if !probes.contains_key(name) {
            let at = [sub("probes"), vec![i.to_string()]].concat();
            cx.at_value(
                &at,
                format!("item '{id}' uses unknown probe '{name}'"),
                did_you_mean(name, probes.keys().map(String::as_str)),
            );
            ok = false;
        }
    }
    for (i, name) in raw.notify.iter().enumerate() {
        if !notify.contains_key(name) {
            let at = [sub("notify"), vec![i.to_string()]].concat();
            cx.at_value(
                &at,
                format!("item '{id}' notifies unknown receiver '{name}'"),
                did_you_mean(name, notify.keys().map(String::as_str)),
            );
            ok = false;
        }
    }
    match (raw.probes.is_empty(), raw.on) {
        (true, None) => {
            cx.at_key(path, format!("item '{id}' binds nothing"), Some("add probes: [NAME] or on: EVENT".into()));
            ok = false;
        }
        (false, Some(_)) => {
            cx.at_key(
                &sub("on"),
                format!("item '{id}' has both probes: and on:"),
                Some("an item is either checked by probes or ticked by an event".into()),
            );
            ok = false;
        }
        _ => {}
    }
    let pass = match raw.pass {
        None => PassRule::Consecutive(1),
        Some(RawPass { consecutive: Some(n), sustained: None, window: None }) if n > 0 => PassRule::Consecutive(n),
        Some(RawPass { consecutive: None, sustained: Some(d), window: None }) => PassRule::Sustained(d.0),
        Some(RawPass { consecutive: None, sustained: None, window: Some(true) }) => PassRule::Window,
        Some(_) => {
            cx.at_value(
                &sub("pass"),
                format!("item '{id}': pass must be one of consecutive: N (N ≥ 1), sustained: DURATION or window: true"),
                None,
            );
            return None;
        }
    };
    let fail = raw.fail.unwrap_or_default();
    if fail.consecutive == 0 {
        cx.at_value(&sub("fail"), "fail.consecutive must be at least 1".into(), None);
        ok = false;
    }
    if let Some(d) = raw.stale_after
        && d.0.is_zero()
    {
        cx.at_value(&sub("stale_after"), format!("item '{id}': stale_after must be longer than 0s"), None);
        ok = false;
    }
    let min_coverage = raw.min_coverage.unwrap_or(cov.min_coverage);
    if !(0.0..=1.0).contains(&min_coverage) {
        cx.at_value(
            &sub("min_coverage"),
            format!("item '{id}': min_coverage must be a share between 0 and 1, not {min_coverage}"),
            Some("e.g. min_coverage: 0.9 (90% of the window measured)".into()),
        );
        ok = false;
    }
    // 3 × the longest interval of the item's probes, at least a minute.
    let default_stale = raw.probes.iter().filter_map(|p| probes.get(p)).max().map(|d| *d * 3).unwrap_or_default();
    let stale_after =
        raw.stale_after.or(cov.stale_after).map(|d| d.0).unwrap_or_else(|| default_stale.max(MIN_DEFAULT_STALE_AFTER));
    ok.then(|| Binding {
        item: id.to_string(),
        probes: raw.probes,
        pass,
        fail,
        notify: raw.notify,
        on: raw.on,
        phase: raw.phase.unwrap_or_default(),
        mode: raw.mode,
        stale_after,
        min_coverage,
    })
}

/// Receiver kinds, as written in YAML.
const RECEIVER_KINDS: &[&str] = &["alertmanager", "webhook", "slack", "github"];

/// The events a `github` receiver gets when it lists none: the release's lifecycle, which is
/// what a commit status shows (pending while the window runs, then the verdict).
pub const GITHUB_EVENTS: [EventKind; 4] =
    [EventKind::ReleaseDeployed, EventKind::ReleaseVerified, EventKind::ReleaseFailed, EventKind::ReleaseInconclusive];

/// One `notify:` entry: exactly one kind key plus optional `events: [...]` and `max_age`.
pub(super) fn receiver(cx: &mut Ctx, name: &str, v: Value) -> Option<Receiver> {
    let path = p(&["notify", name]);
    let Value::Object(mut body) = v else {
        cx.at_value(
            &path,
            format!("receiver '{name}' must be a mapping"),
            Some("write e.g. webhook: { url: ... }".into()),
        );
        return None;
    };
    let events: Option<Vec<EventKind>> = match body.remove("events") {
        None | Some(Value::Null) => None,
        Some(e) => Some(cx.de(&e, &[path.clone(), p(&["events"])].concat())?),
    };
    let max_age = match body.remove("max_age") {
        None | Some(Value::Null) => std::time::Duration::from_secs(3600),
        Some(e) => cx.de::<Dur>(&e, &[path.clone(), p(&["max_age"])].concat())?.0,
    };
    let kinds: Vec<String> = body.keys().cloned().collect();
    for k in &kinds {
        if !RECEIVER_KINDS.contains(&k.as_str()) {
            let allowed: Vec<&str> = RECEIVER_KINDS.iter().copied().chain(["events", "max_age"]).collect();
            cx.at_key(
                &[path.clone(), vec![k.clone()]].concat(),
                format!("unknown key '{k}' in receiver '{name}'"),
                did_you_mean(k, allowed),
            );
            return None;
        }
    }
    if kinds.len() != 1 {
        cx.at_key(
            &path,
            format!("receiver '{name}' needs exactly one kind"),
            Some(format!("one of: {}", RECEIVER_KINDS.join(", "))),
        );
        return None;
    }
    let kind: Notifier = cx.de(&Value::Object(body), &path)?;
    let mut events = match (events, &kind) {
        (Some(e), _) => e,
        (None, Notifier::Github { .. }) => GITHUB_EVENTS.to_vec(),
        (None, _) => vec![],
    };
    // Whoever hears of a failed release hears of an inconclusive one: it needs a person too.
    if events.contains(&EventKind::ReleaseFailed) && !events.contains(&EventKind::ReleaseInconclusive) {
        events.push(EventKind::ReleaseInconclusive);
    }
    Some(Receiver { name: name.to_string(), kind, events, max_age })
}
