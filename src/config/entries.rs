//! One probe or item entry of the config: schedule and kind of a probe (with template
//! expansion), rules and references of an item binding.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::did_you_mean;
use super::load::{Ctx, DEFAULT_EVERY, PROBE_META, p};
use super::template::{TemplateError, Templates};
use super::{Binding, FailRule, Notifier, PassRule, Phase, ProbeDef, Receiver};
use crate::event::EventKind;
use crate::probe::{Dur, KINDS, ProbeKind};
use crate::schedule::{Schedule, default_jitter};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Meta {
    every: Option<Dur>,
    cron: Option<String>,
    initial_delay: Option<Dur>,
    jitter: Option<Dur>,
    description: Option<String>,
    error_limit: Option<u32>,
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
    let (kind_name, kind_body) = match kinds.len() {
        1 => kinds.remove(0),
        0 => {
            cx.at_key(&path, format!("probe '{name}' has no kind"), Some(format!("add one of: {}", KINDS.join(", "))));
            return None;
        }
        _ => {
            cx.at_key(
                &[path.clone(), vec![kinds[1].0.clone()]].concat(),
                format!("probe '{name}' has more than one kind"),
                Some("split it into two probes".into()),
            );
            return None;
        }
    };
    let wrapped = Value::Object(Map::from_iter([(kind_name.clone(), kind_body)]));
    let kind: Option<ProbeKind> = cx.de(&wrapped, &path);
    let meta: Option<Meta> = cx.de(&Value::Object(meta), &path);
    let (kind, meta) = (kind?, meta?);
    if let Err(msg) = kind.validate() {
        cx.at_value(&[path.clone(), vec![kind_name]].concat(), format!("probe '{name}': {msg}"), None);
        ok = false;
    }
    let schedule = match (meta.every, meta.cron) {
        (Some(_), Some(_)) => {
            cx.at_key(
                &[path.clone(), p(&["cron"])].concat(),
                format!("probe '{name}' has both every: and cron:"),
                Some("keep one".into()),
            );
            return None;
        }
        (Some(Dur(d)), None) if d.is_zero() => {
            cx.at_value(&[path.clone(), p(&["every"])].concat(), "every: must be longer than 0s".into(), None);
            return None;
        }
        (Some(Dur(d)), None) => Schedule::Every(d),
        (None, Some(c)) => match Schedule::cron(&c, chrono::Utc::now()) {
            Ok(s) => s,
            Err(e) => {
                let at = [path.clone(), p(&["cron"])].concat();
                cx.at_value(&at, format!("{}: {e}", at.join(".")), Some(e.hint()));
                return None;
            }
        },
        (None, None) => Schedule::Every(DEFAULT_EVERY),
    };
    let jitter = meta.jitter.map(|d| d.0).unwrap_or_else(|| default_jitter(schedule.nominal(chrono::Utc::now())));
    ok.then(|| ProbeDef {
        name: name.to_string(),
        kind,
        schedule,
        initial_delay: meta.initial_delay.map(|d| d.0).unwrap_or_default(),
        jitter,
        description: meta.description,
        template,
        error_limit: meta.error_limit.unwrap_or(4).max(1),
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
    probes: &BTreeSet<String>,
    notify: &BTreeMap<String, Receiver>,
) -> Option<Binding> {
    let raw: RawBinding = cx.de(v, path)?;
    let sub = |k: &str| [path.to_vec(), vec![k.to_string()]].concat();
    let mut ok = true;
    for (i, name) in raw.probes.iter().enumerate() {
        if !probes.contains(name) {
            let at = [sub("probes"), vec![i.to_string()]].concat();
            cx.at_value(
                &at,
                format!("item '{id}' uses unknown probe '{name}'"),
                did_you_mean(name, probes.iter().map(String::as_str)),
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
    ok.then(|| Binding {
        item: id.to_string(),
        probes: raw.probes,
        pass,
        fail,
        notify: raw.notify,
        on: raw.on,
        phase: raw.phase.unwrap_or_default(),
    })
}

/// Receiver kinds, as written in YAML.
const RECEIVER_KINDS: &[&str] = &["alertmanager", "webhook", "slack"];

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
    let events: Vec<EventKind> = match body.remove("events") {
        None | Some(Value::Null) => vec![],
        Some(e) => cx.de(&e, &[path.clone(), p(&["events"])].concat())?,
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
    Some(Receiver { name: name.to_string(), kind, events, max_age })
}
