//! The config loader: YAML → env expansion → templates → typed config, collecting every error
//! with its `file:line:col`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigErrors, did_you_mean};
use super::template::{TemplateError, Templates};
use super::yaml_pos::PosIndex;
use super::{Binding, Config, FailRule, Notifier, PassRule, Phase, ProbeDef, Server, Source, Storage, Window};
use crate::event::EventKind;
use crate::probe::{Dur, KINDS, ProbeKind};
use crate::redact::Redactor;
use crate::schedule::{Schedule, default_jitter};

/// A validated config plus non-fatal warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigError>,
}

const TOP: &[&str] = &["server", "storage", "checklist", "window", "sources", "notify", "probes", "items", "templates"];
const PROBE_META: &[&str] = &["every", "cron", "initial_delay", "jitter", "description", "use", "with"];
/// Probes run every minute unless told otherwise.
const DEFAULT_EVERY: Duration = Duration::from_secs(60);

/// Load and validate `path`, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_with_env(path, &|k| std::env::var(k).ok())
}

struct Ctx {
    file: PathBuf,
    idx: PosIndex,
    errors: Vec<ConfigError>,
}

fn p(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

impl Ctx {
    fn at_key(&mut self, path: &[String], message: String, hint: Option<String>) {
        let pos = self.idx.key(path);
        self.errors.push(ConfigError { file: self.file.clone(), line: pos.line, col: pos.col, message, hint });
    }

    fn at_value(&mut self, path: &[String], message: String, hint: Option<String>) {
        let pos = self.idx.value(path);
        self.errors.push(ConfigError { file: self.file.clone(), line: pos.line, col: pos.col, message, hint });
    }

    /// Deserialize `v` (found at `base`) into `T`, turning a serde error into a positioned one.
    fn de<T: DeserializeOwned>(&mut self, v: &Value, base: &[String]) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(v) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut path = base.to_vec();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Seq { index } => path.push(index.to_string()),
                        serde_path_to_error::Segment::Map { key } => path.push(key.clone()),
                        serde_path_to_error::Segment::Enum { variant } => path.push(variant.clone()),
                        serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let msg = e.inner().to_string();
                let where_ = path.join(".");
                if let Some((what, name, expected)) = parse_unknown(&msg) {
                    if what == "field" {
                        path.push(name.clone());
                    }
                    let hint = did_you_mean(&name, expected.iter().map(String::as_str));
                    let kind = if what == "field" { "key" } else { "value" };
                    self.at_key(&path, format!("unknown {kind} '{name}' in {where_}"), hint);
                } else if let Some(field) = msg.strip_prefix("missing field `").and_then(|s| s.strip_suffix('`')) {
                    self.at_key(&path, format!("{where_} is missing '{field}'"), Some(format!("add {field}: ...")));
                } else {
                    self.at_value(&path, format!("{where_}: {msg}"), None);
                }
                None
            }
        }
    }
}

/// `unknown field `x`, expected one of `a`, `b`` → ("field", "x", [a, b]).
fn parse_unknown(msg: &str) -> Option<(String, String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown ")?;
    let (what, rest) = rest.split_once(" `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).map(String::from).collect();
    Some((what.to_string(), name.to_string(), expected))
}

/// Load with a custom environment (tests).
pub fn load_with_env(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let fail = |message: String| {
        ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line: 0, col: 0, message, hint: None }])
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read config: {e}")))?;
    let root: Value = match serde_saphyr::from_str::<Option<Value>>(&text) {
        Ok(v) => v.unwrap_or(Value::Object(Map::new())),
        Err(e) => {
            let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
            let message = e.without_snippet().to_string();
            return Err(ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line, col, message, hint: None }]));
        }
    };
    let mut cx = Ctx { file: path.to_path_buf(), idx: PosIndex::build(&text), errors: vec![] };
    let mut root = match root {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => return Err(fail("the config must be a mapping (key: value) at the top level".into())),
    };
    let redactor = Redactor::default();
    {
        let mut secrets = vec![];
        let mut errs = vec![];
        for (k, v) in root.iter_mut() {
            let mut path = vec![k.clone()];
            super::env::expand(v, &mut path, env, &mut secrets, &mut errs);
        }
        for s in secrets {
            redactor.add(&s);
        }
        for (path, msg) in errs {
            cx.at_value(&path, msg, None);
        }
    }
    for k in root.keys() {
        if !TOP.contains(&k.as_str()) {
            cx.at_key(&[k.clone()], format!("unknown top-level key '{k}'"), did_you_mean(k, TOP.iter().copied()));
        }
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let section = |cx: &mut Ctx, key: &str| -> Option<Value> {
        root.get(key).filter(|v| !v.is_null()).cloned().or_else(|| {
            let _ = cx;
            None
        })
    };

    let server: Server = section(&mut cx, "server").and_then(|v| cx.de(&v, &p(&["server"]))).unwrap_or_default();
    let mut storage: Storage =
        section(&mut cx, "storage").and_then(|v| cx.de(&v, &p(&["storage"]))).unwrap_or_default();
    storage.sqlite = storage.sqlite.map(|s| if s.is_absolute() { s } else { dir.join(s) });
    let window: Window = section(&mut cx, "window").and_then(|v| cx.de(&v, &p(&["window"]))).unwrap_or_default();
    if window.min.0 > window.max.0 {
        cx.at_value(
            &p(&["window", "min"]),
            "window.min is longer than window.max".into(),
            Some("make max ≥ min".into()),
        );
    }
    if window.max.0.is_zero() {
        cx.at_value(&p(&["window", "max"]), "window.max must be longer than 0s".into(), None);
    }
    let templates_dir: Option<PathBuf> = section(&mut cx, "templates").and_then(|v| cx.de(&v, &p(&["templates"])));
    let templates = Templates::for_config(&dir, templates_dir);

    // Checklist.
    let checklist_ref: String = section(&mut cx, "checklist")
        .and_then(|v| cx.de(&v, &p(&["checklist"])))
        .unwrap_or_else(|| "release-checklist.md".to_string());
    let checklist_path = dir.join(&checklist_ref);
    let checklist = match std::fs::read_to_string(&checklist_path) {
        Ok(t) => {
            let c = crate::checklist::parse(&t);
            if c.items.is_empty() {
                cx.at_value(
                    &p(&["checklist"]),
                    format!("{} has no task-list items", checklist_path.display()),
                    Some("items are lines like '- [ ] Run smoke tests'".into()),
                );
            }
            c
        }
        Err(e) => {
            cx.at_value(&p(&["checklist"]), format!("cannot read checklist {}: {e}", checklist_path.display()), None);
            crate::checklist::parse("")
        }
    };

    let mut sources = BTreeMap::new();
    for (name, v) in obj_entries(&mut cx, &root, "sources") {
        if let Some(s) = cx.de::<Source>(&v, &p(&["sources", &name])) {
            sources.insert(name, s);
        }
    }
    let mut notify = BTreeMap::new();
    for (name, v) in obj_entries(&mut cx, &root, "notify") {
        if let Some(n) = cx.de::<Notifier>(&v, &p(&["notify", &name])) {
            if let Notifier::Alertmanager { source } = &n {
                if !matches!(sources.get(source), Some(Source::Alertmanager(_))) {
                    let am: Vec<&str> = sources
                        .iter()
                        .filter(|(_, s)| matches!(s, Source::Alertmanager(_)))
                        .map(|(k, _)| k.as_str())
                        .collect();
                    cx.at_value(
                        &p(&["notify", &name, "alertmanager", "source"]),
                        format!("notifier '{name}' uses source '{source}', which is not an alertmanager source"),
                        did_you_mean(source, am),
                    );
                }
            }
            notify.insert(name, n);
        }
    }

    let mut probes = BTreeMap::new();
    let probe_entries = obj_entries(&mut cx, &root, "probes");
    // Names of every defined probe, valid or not: an invalid probe is reported once, at its
    // definition, not again at each item that uses it.
    let probe_names: std::collections::BTreeSet<String> = probe_entries.iter().map(|(k, _)| k.clone()).collect();
    for (name, v) in probe_entries {
        if let Some(def) = probe_def(&mut cx, &templates, &name, v) {
            probes.insert(name, def);
        }
    }

    let mut items: BTreeMap<String, Binding> = BTreeMap::new();
    for (reference, v) in obj_entries(&mut cx, &root, "items") {
        let path = p(&["items", &reference]);
        let id = match checklist.resolve(&reference) {
            Ok(item) => item.id.clone(),
            Err(near) => {
                cx.at_key(
                    &path,
                    format!("unknown item '{reference}' (not in {})", checklist_path.display()),
                    near.map(|n| format!("did you mean '{n}'?")),
                );
                continue;
            }
        };
        if items.contains_key(&id) {
            cx.at_key(&path, format!("item '{id}' is bound twice"), Some("merge the two entries".into()));
            continue;
        }
        if let Some(b) = binding(&mut cx, &path, &id, &v, &probe_names, &notify) {
            items.insert(id, b);
        }
    }

    if !cx.errors.is_empty() {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        return Err(ConfigErrors(cx.errors));
    }
    let config = Config {
        file: path.to_path_buf(),
        server,
        storage,
        checklist_path,
        checklist: Arc::new(checklist),
        window,
        sources,
        notify,
        probes,
        items,
        redactor,
    };
    Ok(Loaded { config, warnings: vec![] })
}

/// The entries of a top-level mapping section, reporting a non-mapping value.
fn obj_entries(cx: &mut Ctx, root: &Map<String, Value>, key: &str) -> Vec<(String, Value)> {
    match root.get(key) {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => {
            cx.at_value(&p(&[key]), format!("{key} must be a mapping of name: definition"), None);
            vec![]
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Meta {
    every: Option<Dur>,
    cron: Option<String>,
    initial_delay: Option<Dur>,
    jitter: Option<Dur>,
    description: Option<String>,
}

fn probe_def(cx: &mut Ctx, templates: &Templates, name: &str, v: Value) -> Option<ProbeDef> {
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
        (None, Some(c)) => match Schedule::cron(&c) {
            Ok(s) => s,
            Err(msg) => {
                cx.at_value(&[path.clone(), p(&["cron"])].concat(), msg, None);
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

fn binding(
    cx: &mut Ctx,
    path: &[String],
    id: &str,
    v: &Value,
    probes: &std::collections::BTreeSet<String>,
    notify: &BTreeMap<String, Notifier>,
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
