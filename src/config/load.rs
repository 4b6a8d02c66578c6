//! The config loader: YAML → env expansion → templates → typed config, collecting every error
//! with its `file:line:col`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ctx::{Ctx, obj_entries, p};
use super::error::{ConfigError, ConfigErrors, did_you_mean};
use super::placeholder::FILL_ME;
use super::template::Templates;
use super::yaml_pos::PosIndex;
use super::{Binding, Config, Notifier, Server, Source, Storage, Window};
use crate::redact::Redactor;

/// A validated config plus non-fatal warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigError>,
}

const TOP: &[&str] = &[
    "server",
    "storage",
    "checklist",
    "window",
    "coverage",
    "metrics",
    "sources",
    "notify",
    "probes",
    "items",
    "templates",
    "rollback",
    "integrations",
    "watch",
];

/// The receiver name the rollback hook shows under (in the outbox, metrics and history); no
/// notifier may take it, so no one can mistake one for the other.
pub const RESERVED_RECEIVER: &str = "rollback";
pub(super) const PROBE_META: &[&str] =
    &["every", "cron", "initial_delay", "jitter", "description", "use", "with", "error_limit"];
/// Probes run every minute unless told otherwise.
pub(super) const DEFAULT_EVERY: Duration = Duration::from_secs(60);

/// Load and validate `path`, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_with_env(path, &|k| std::env::var(k).ok())
}

/// Load with a custom environment (tests).
pub fn load_with_env(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let message = format!("cannot read config: {e}");
        ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line: 0, col: 0, message, hint: None }])
    })?;
    load_str(path, &text, env)
}

/// Validate config `text` as if read from `path`: `path` names the file in errors and its
/// directory resolves the checklist, templates and TLS files, which are still read from disk.
pub fn load_str(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let fail = |message: String| {
        ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line: 0, col: 0, message, hint: None }])
    };
    let root: Value = match serde_saphyr::from_str::<Option<Value>>(text) {
        Ok(v) => v.unwrap_or(Value::Object(Map::new())),
        Err(e) => {
            let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
            let message = e.without_snippet().to_string();
            return Err(ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line, col, message, hint: None }]));
        }
    };
    let mut cx = Ctx {
        file: path.to_path_buf(),
        idx: PosIndex::build(text),
        errors: vec![],
        expanded: vec![],
        unfilled: vec![],
    };
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
        for s in &secrets {
            redactor.add(&s.value);
        }
        cx.expanded = secrets;
        for (path, msg) in errs {
            cx.at_value(&path, msg, None);
        }
    }
    for k in root.keys() {
        if !TOP.contains(&k.as_str()) {
            cx.at_key(
                std::slice::from_ref(k),
                format!("unknown top-level key '{k}'"),
                did_you_mean(k, TOP.iter().copied()),
            );
        }
    }
    let unfilled = super::placeholder::find(&root);
    for at in &unfilled {
        let message = format!("{} is still {FILL_ME}, a placeholder `shipwatch init` left", at.join("."));
        cx.at_value(at, message, Some("write the value the comment beside it asks for".into()));
    }
    cx.unfilled = unfilled.into_iter().map(|at| at.into_iter().take(2).collect()).collect();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let section = |key: &str| -> Option<Value> { root.get(key).filter(|v| !v.is_null()).cloned() };

    let server: Server = section("server").and_then(|v| cx.de(&v, &p(&["server"]))).unwrap_or_default();
    let mut storage: Storage = section("storage").and_then(|v| cx.de(&v, &p(&["storage"]))).unwrap_or_default();
    storage.sqlite = storage.sqlite.map(|s| if s.is_absolute() { s } else { dir.join(s) });
    if storage.sqlite.is_some() && storage.postgres.is_some() {
        cx.at_key(
            &p(&["storage", "postgres"]),
            "storage has both sqlite: and postgres:".into(),
            Some("keep one: sqlite for one process, postgres for replicas sharing a database".into()),
        );
    }
    if let Some(pg) = &storage.postgres {
        if let Err(e) = pg.url.parse::<postgres::Config>() {
            let message = format!("storage.postgres.url is not a PostgreSQL connection string: {e}");
            let hint = Some("write e.g. postgres://shipwatch:${PGPASSWORD}@db.internal:5432/shipwatch".into());
            cx.at_value(&p(&["storage", "postgres", "url"]), redactor.redact(&message), hint);
        }
        if pg.pool == 0 {
            cx.at_value(&p(&["storage", "postgres", "pool"]), "storage.postgres.pool must be at least 1".into(), None);
        }
    }
    let window: Window = section("window").and_then(|v| cx.de(&v, &p(&["window"]))).unwrap_or_default();
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
    let coverage: super::Coverage = section("coverage").and_then(|v| cx.de(&v, &p(&["coverage"]))).unwrap_or_default();
    if !(0.0..=1.0).contains(&coverage.min_coverage) {
        cx.at_value(
            &p(&["coverage", "min_coverage"]),
            format!("coverage.min_coverage must be a share between 0 and 1, not {}", coverage.min_coverage),
            Some("e.g. min_coverage: 0.9 (90% of the window measured)".into()),
        );
    }
    let metrics: super::MetricsSettings =
        section("metrics").and_then(|v| cx.de(&v, &p(&["metrics"]))).unwrap_or_default();
    if coverage.stale_after.is_some_and(|d| d.0.is_zero()) {
        cx.at_value(&p(&["coverage", "stale_after"]), "coverage.stale_after must be longer than 0s".into(), None);
    }
    let templates_dir: Option<PathBuf> = section("templates").and_then(|v| cx.de(&v, &p(&["templates"])));
    let templates = Templates::for_config(&dir, templates_dir);

    // Checklist.
    let checklist_ref: String = section("checklist")
        .and_then(|v| cx.de(&v, &p(&["checklist"])))
        .unwrap_or_else(|| "release-checklist.md".to_string());
    let checklist_path = dir.join(&checklist_ref);
    let checklist = match crate::checklist::load(&checklist_path) {
        Ok(c) => {
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
            cx.at_value(&p(&["checklist"]), e.to_string(), None);
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
        if name == RESERVED_RECEIVER {
            cx.at_key(
                &p(&["notify", &name]),
                format!("'{name}' is reserved for the rollback hook (the top-level `rollback:` section)"),
                Some(format!("rename this receiver, e.g. '{name}-webhook', and list that name where it is used")),
            );
            continue;
        }
        if let Some(r) = super::entries::receiver(&mut cx, &name, v) {
            super::integrations::check_notifier(&mut cx, &name, &r.kind, &redactor);
            if let Notifier::Alertmanager { source, .. } = &r.kind
                && !matches!(sources.get(source), Some(Source::Alertmanager(_)))
            {
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
            notify.insert(name, r);
        }
    }

    let mut probes = BTreeMap::new();
    let probe_entries = obj_entries(&mut cx, &root, "probes");
    // Names of every defined probe, valid or not: an invalid probe is reported once, at its
    // definition, not again at each item that uses it.
    // (with its nominal interval, zero for an invalid one: it only feeds the default stale_after)
    let mut intervals: BTreeMap<String, Duration> =
        probe_entries.iter().map(|(k, _)| (k.clone(), Duration::ZERO)).collect();
    for (name, v) in probe_entries {
        if let Some(def) = super::entries::probe_def(&mut cx, &templates, &name, v) {
            intervals.insert(name.clone(), def.schedule.nominal(chrono::Utc::now()));
            probes.insert(name, def);
        }
    }

    // Sources build (auth, TLS files) and every probe's source exists with the right kind.
    for (name, src) in &sources {
        if let Some(ca) = src.endpoint().tls.as_ref().and_then(|t| t.ca_file.as_ref())
            && let Err(e) = regular_file(&dir.join(ca))
        {
            let at = p(&["sources", name, src.kind(), "tls", "ca_file"]);
            cx.at_value(&at, format!("source '{name}': cannot read tls.ca_file {}: {e}", dir.join(ca).display()), None);
            continue;
        }
        if let Err(msg) = crate::probe::source::SourceClient::build(name, src, &dir) {
            cx.at_key(&p(&["sources", name]), msg, None);
        }
    }
    for (name, def) in &probes {
        if let Some((source, kinds)) = def.kind.source() {
            let ok = sources.get(source).is_some_and(|s| kinds.contains(&s.kind()));
            if !ok {
                let fitting: Vec<&str> =
                    sources.iter().filter(|(_, s)| kinds.contains(&s.kind())).map(|(k, _)| k.as_str()).collect();
                let why = match sources.get(source) {
                    Some(s) => {
                        format!("is a {} source; {} probes need {}", s.kind(), def.kind.name(), kinds.join(" or "))
                    }
                    None => "is not defined under sources:".to_string(),
                };
                cx.at_value(
                    &p(&["probes", name, def.kind.name(), "source"]),
                    format!("probe '{name}' uses source '{source}', which {why}"),
                    did_you_mean(source, fitting),
                );
            }
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
        if let Some(b) = super::entries::binding(&mut cx, &path, &id, &v, &intervals, &notify, &coverage) {
            items.insert(id, b);
        }
    }

    let integrations = super::integrations::load(&mut cx, section("integrations"), &redactor);
    let mut rollback: Option<super::Rollback> = section("rollback").and_then(|v| cx.de(&v, &p(&["rollback"])));
    if let Some(rb) = rollback.as_mut() {
        if rb.webhook.is_some() == rb.command.is_some() {
            cx.at_key(&p(&["rollback"]), "rollback needs exactly one of webhook: or command:".into(), None);
        }
        let reference = rb.item.clone().unwrap_or_else(|| "execute-documented-rollback-procedure".into());
        match checklist.resolve(&reference) {
            Ok(item) => rb.item = Some(item.id.clone()),
            Err(near) => cx.at_key(
                &p(&["rollback", "item"]),
                format!("rollback item '{reference}' is not in the checklist"),
                near.map(|n| format!("did you mean '{n}'?")),
            ),
        }
        if let Some(c) = &rb.command
            && let Err(e) = c.validate()
        {
            cx.at_key(&p(&["rollback", "command"]), e, None);
        }
    }

    let watches = super::watch::watches(&mut cx, &root, &sources, &window);

    if !cx.errors.is_empty() {
        // Errors near an expanded value were checked as they were made; this catches any other
        // error that quotes one (a template's, a checklist's).
        cx.errors.iter_mut().for_each(|e| e.redact(&redactor));
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
        coverage,
        metrics,
        sources,
        notify,
        probes,
        items,
        rollback,
        integrations,
        watches,
        redactor,
    };
    let mut warnings = vec![];
    for (name, def) in &config.probes {
        if def.error_limit.is_some() {
            let pos = cx.idx.key(&p(&["probes", name, "error_limit"]));
            let message = format!(
                "probes.{name}.error_limit is no longer used: an item whose probes cannot measure for longer than its stale_after is `unknown`"
            );
            let hint = Some("remove error_limit; set stale_after on the item (or coverage.stale_after) instead".into());
            warnings.push(ConfigError { file: path.to_path_buf(), line: pos.line, col: pos.col, message, hint });
        }
    }
    if let Some(message) = config.server.unguarded_remote() {
        let pos = cx.idx.value(&p(&["server", "listen"]));
        let hint = Some("set server.api_token (e.g. \"${SHIPWATCH_API_TOKEN}\") or listen on 127.0.0.1".into());
        warnings.push(ConfigError { file: path.to_path_buf(), line: pos.line, col: pos.col, message, hint });
    }
    Ok(Loaded { config, warnings })
}

/// Ok when `path` is a regular file (or a link to one). Devices, FIFOs and directories are
/// refused before reading, so `checklist: /dev/zero` or a FIFO cannot hang the loader.
fn regular_file(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() { Ok(()) } else { Err(std::io::Error::other("not a regular file")) }
}
