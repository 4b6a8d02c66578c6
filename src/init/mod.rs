//! `shipwatch init`: a starter config from a team's checklist.
//!
//! Every item of the checklist is listed in checklist order under `items:`. The ones
//! [`rules::recognise`] knows (smoke tests, error rates, latency, alerts, version, alerting
//! rules, targets up, CPU and memory) are bound to probes using the built-in templates; the
//! values only a person knows (URLs, job labels, limits) are the [`FILL_ME`] placeholder with
//! a comment saying what goes there, and the config loader refuses the file until each one is
//! replaced. The rest are comments: the item's id and why it stays manual. [`plan`] decides what
//! to write and [`render`] writes it (through `emit`, which quotes every value), never by
//! pasting checklist text into YAML.

mod emit;
mod plan;
pub mod rules;

use std::path::{Component, Path, PathBuf};

use crate::checklist::{self, Checklist};
use crate::config::FILL_ME;
use crate::config::template::TemplateError;

pub use plan::{ItemPlan, Plan, ProbePlan, What, plan, render};

/// What `shipwatch init` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The team's Markdown checklist.
    pub checklist: PathBuf,
    /// Base URL of Prometheus (`sources.prom`); `None` writes a `FILL_ME`.
    pub prometheus: Option<String>,
    /// Where to write the config.
    pub out: PathBuf,
    /// Overwrite `out` if it exists.
    pub force: bool,
}

/// What `shipwatch init` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// Items bound to probes.
    pub automated: usize,
    /// Items in the checklist.
    pub total: usize,
    /// `FILL_ME` values left for a person.
    pub fill: usize,
}

/// Why `shipwatch init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Checklist(#[from] checklist::LoadError),
    #[error("checklist {} has no task-list items; items are lines like '- [ ] Run smoke tests'", .0.display())]
    NoItems(PathBuf),
    #[error("--prometheus {url:?} {why}; write its base URL, e.g. http://prometheus.internal:9090")]
    BadUrl { url: String, why: String },
    #[error("{} already exists; pass --force to overwrite it, or write elsewhere with --out FILE", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A built-in template a rule names cannot be read (a bug in the binary, not in the input).
    #[error("built-in template: {0}")]
    Template(#[from] TemplateError),
}

/// Check `--prometheus`: an http(s) URL with a host and no credentials, query or fragment.
/// Returns it as given, without surrounding spaces.
pub fn prometheus_url(raw: &str) -> Result<String, InitError> {
    let url = raw.trim();
    let bad = |why: &str| InitError::BadUrl { url: raw.to_string(), why: why.to_string() };
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(&format!("has scheme '{}', not http or https", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "holds credentials, which would be written to the file in clear (add basic_auth with ${VAR} values to sources.prom instead)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("has a query or fragment (Prometheus' API paths are appended to the base URL)"));
    }
    Ok(url.to_string())
}

/// `path` without `.` and with `..` applied, made absolute from the working directory.
fn normal(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How a config in `dir` refers to `target`: relative when they share a root.
pub fn relative(target: &Path, dir: &Path) -> PathBuf {
    let (t, d) = (normal(target), normal(dir));
    let (tc, dc): (Vec<Component>, Vec<Component>) = (t.components().collect(), d.components().collect());
    let common = tc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return t;
    }
    let mut rel = PathBuf::new();
    for _ in common..dc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c);
    }
    rel
}

/// Read the checklist, plan the config and write it to `opts.out` (refusing to overwrite an
/// existing file unless `opts.force`).
pub fn run(opts: &Options) -> Result<Written, InitError> {
    let prometheus = opts.prometheus.as_deref().map(prometheus_url).transpose()?;
    let checklist: Checklist = checklist::load(&opts.checklist)?;
    if checklist.items.is_empty() {
        return Err(InitError::NoItems(opts.checklist.clone()));
    }
    let out_dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let reference = relative(&opts.checklist, &out_dir);
    let plan = plan(&checklist, prometheus.as_deref())?;
    let text = render(&plan, &reference.display().to_string(), &opts.out.display().to_string());
    let write_err = |source| InitError::Write { path: opts.out.clone(), source };
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if opts.force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let mut file = open.open(&opts.out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => InitError::Exists(opts.out.clone()),
        _ => write_err(e),
    })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(write_err)?;
    Ok(Written {
        path: opts.out.clone(),
        automated: plan.automated(),
        total: plan.items.len(),
        fill: plan.fill_count(),
    })
}

/// How many `FILL_ME` values `text` holds (not counting comments).
pub fn count_fill(text: &str) -> usize {
    text.matches(&format!("\"{FILL_ME}\"")).count()
}

#[cfg(test)]
mod tests;
