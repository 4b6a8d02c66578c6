//! `shipwatch init` (a starter config from a checklist, built by [`crate::init`]) and
//! `shipwatch templates` (the probe templates `use:` can name, and where each comes from).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::template::{TemplateSource, Templates};
use crate::init::{self, Options};

/// `shipwatch init`: write the starter config and say how much it automates.
pub fn run(opts: &Options) -> ExitCode {
    match init::run(opts) {
        Ok(w) => {
            let out = w.path.display();
            println!("{} of {} items automated; wrote {out}", w.automated, w.total);
            if w.fill > 0 {
                println!(
                    "{} value(s) to fill: replace each FILL_ME in {out} (the comment beside it says what goes there), then run",
                    w.fill
                );
            } else {
                println!("check it with");
            }
            println!("  shipwatch check-config --config {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shipwatch init: {e}");
            ExitCode::from(1)
        }
    }
}

/// The template directories a config uses (its `templates:` key, else `probes/` and
/// `../probes` beside it).
fn templates_of(config: &Path) -> Result<Templates, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    let root: Option<serde_json::Value> =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {}", config.display(), e.without_snippet()))?;
    let explicit = root.as_ref().and_then(|r| r.get("templates")).and_then(|t| t.as_str()).map(PathBuf::from);
    let dir = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Templates::for_config(&dir, explicit))
}

/// The listing: each template's name, source and description, then its parameters.
pub fn listing(templates: &Templates) -> String {
    let mut out = String::new();
    for (name, doc) in templates.list() {
        match doc {
            Ok(doc) => {
                let from = match &doc.source {
                    TemplateSource::Builtin => "builtin".to_string(),
                    TemplateSource::File(p) if doc.overrides_builtin => {
                        format!("file {} (overrides the built-in)", p.display())
                    }
                    TemplateSource::File(p) => format!("file {}", p.display()),
                };
                let _ = writeln!(out, "{name}  [{from}]  {}", doc.description.as_deref().unwrap_or(""));
                // Required parameters first, then the others with their defaults.
                let mut params: Vec<_> = doc.params.iter().collect();
                params.sort_by_key(|(_, spec)| !spec.required);
                let params: Vec<String> = params
                    .into_iter()
                    .map(|(p, spec)| match (&spec.default, spec.required) {
                        (_, true) => format!("{p} (required)"),
                        (Some(d), false) => format!("{p}={d}"),
                        (None, false) => format!("{p}=null"),
                    })
                    .collect();
                let _ =
                    writeln!(out, "    {}", if params.is_empty() { "(no params)".into() } else { params.join("  ") });
            }
            Err(e) => {
                let _ = writeln!(out, "{name}  [error]  {e}");
            }
        }
    }
    out
}

/// `shipwatch templates [--config FILE]`.
pub fn templates(config: Option<&Path>) -> ExitCode {
    let templates = match config.map(templates_of).transpose() {
        Ok(t) => t.unwrap_or_else(Templates::builtin),
        Err(e) => {
            eprintln!("shipwatch templates: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", listing(&templates));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_shows_source_description_and_params() {
        let dir = tempfile::tempdir().unwrap();
        let probes = dir.path().join("probes");
        std::fs::create_dir(&probes).unwrap();
        std::fs::write(
            probes.join("http-smoke.yaml"),
            "description: local smoke\nparams:\n  url: { required: true }\nprobe:\n  http: { url: \"{{ url }}\" }\n",
        )
        .unwrap();
        std::fs::write(probes.join("mine.yaml"), "probe: [\n").unwrap();
        let config = dir.path().join("shipwatch.yaml");
        std::fs::write(&config, "checklist: c.md\n").unwrap();
        let text = listing(&templates_of(&config).unwrap());
        let want = [
            format!("http-smoke  [file {} (overrides the built-in)]  local smoke\n    url (required)\n", probes.join("http-smoke.yaml").display()),
            format!("mine  [error]  {}:", probes.join("mine.yaml").display()),
            "target-up  [builtin]  Every scrape target of a job is up (a job without targets fails)\n    job (required)  no_data=\"fail\"  source=\"prom\"  timeout=\"10s\"\n".to_string(),
        ];
        for w in want {
            assert!(text.contains(&w), "missing {w:?} in\n{text}");
        }
        assert!(templates_of(&dir.path().join("nope.yaml")).unwrap_err().contains("cannot read"));
    }
}
