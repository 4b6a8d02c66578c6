//! What the starter config holds ([`plan`]: items, probes, the source) and its text
//! ([`render`], through `emit`).

use serde_json::Value;

use super::emit::{COMMENT_MAX, Doc, comment_quote, comment_text};
use super::rules::{Env, Pass, Recognition, Rule, recognise};
use crate::checklist::Checklist;
use crate::config::FILL_ME;
use crate::config::template::{TemplateError, Templates};

/// The starter config, before it is text.
#[derive(Debug)]
pub struct Plan {
    /// Every checklist item, in checklist order.
    pub items: Vec<ItemPlan>,
    /// The probes, in order of first use.
    pub probes: Vec<ProbePlan>,
    /// `--prometheus`, checked.
    pub prometheus: Option<String>,
    /// Whether a probe reads the `prom` source.
    pub needs_prom: bool,
}

/// One checklist item and what the config does with it.
#[derive(Debug)]
pub struct ItemPlan {
    pub id: String,
    pub text: String,
    pub sections: Vec<String>,
    pub what: What,
}

/// Bound or manual.
#[derive(Debug)]
pub enum What {
    Bound {
        probes: Vec<String>,
        pass: Pass,
        pre_deploy: bool,
        unmeasured: Vec<&'static str>,
    },
    /// `needs_person`: the phrase that marked it and why; `None`: no rule matched.
    Manual {
        needs_person: Option<(&'static str, &'static str)>,
    },
}

/// One probe of the starter config.
#[derive(Debug)]
pub struct ProbePlan {
    pub name: String,
    pub template: &'static str,
    pub description: Option<String>,
    pub env: Env,
    /// `with:` entries: name, value (`None`: [`FILL_ME`]) and the comment beside it.
    pub with: Vec<(String, Option<Value>, String)>,
    pub every: Option<&'static str>,
    /// Ids of the items it checks.
    pub items: Vec<String>,
}

impl Plan {
    /// Items bound to probes.
    pub fn automated(&self) -> usize {
        self.items.iter().filter(|i| matches!(i.what, What::Bound { .. })).count()
    }

    /// `FILL_ME` values a person must replace.
    pub fn fill_count(&self) -> usize {
        let in_probes: usize = self.probes.iter().map(|p| p.with.iter().filter(|(_, v, _)| v.is_none()).count()).sum();
        in_probes + usize::from(self.needs_prom && self.prometheus.is_none())
    }
}

/// The probe of `rule` for items in `env`, with the template's description and its required
/// parameters the rule leaves out added as `FILL_ME`.
fn probe_for(rule: &'static Rule, env: Env, templates: &Templates) -> Result<ProbePlan, TemplateError> {
    let doc = templates.doc(rule.template)?;
    let staging = env == Env::Staging;
    let mut with: Vec<(String, Option<Value>, String)> = vec![];
    for p in rule.with {
        let value = p.value.map(|v| serde_json::from_str(v).expect("rule values are JSON (tested)"));
        with.push((p.name.to_string(), value, p.note.to_string()));
    }
    for (name, spec) in &doc.params {
        if spec.required && !with.iter().any(|(n, _, _)| n == name) {
            with.push((name.clone(), None, spec.description.clone().unwrap_or_else(|| name.clone())));
        }
    }
    if staging {
        for (_, v, note) in &mut with {
            if v.is_none() {
                *note = format!("in staging: {note}");
            }
        }
    }
    Ok(ProbePlan {
        name: if staging { format!("staging-{}", rule.probe) } else { rule.probe.to_string() },
        template: rule.template,
        description: doc.description,
        env,
        with,
        every: rule.every,
        items: vec![],
    })
}

/// Decide every item of `checklist`.
pub fn plan(checklist: &Checklist, prometheus: Option<&str>) -> Result<Plan, TemplateError> {
    let templates = Templates::builtin();
    let mut probes: Vec<ProbePlan> = vec![];
    let mut items = vec![];
    for item in &checklist.items {
        let what = match recognise(&item.text, &item.section_path) {
            Recognition::Manual { needs_person } => What::Manual { needs_person },
            Recognition::Automated { rules, env, unmeasured } => {
                let mut names: Vec<String> = vec![];
                let mut pass = rules[0].pass;
                for rule in rules {
                    pass = pass.stricter(rule.pass);
                    let planned = probe_for(rule, env, &templates)?;
                    let at = match probes.iter().position(|p| p.name == planned.name) {
                        Some(i) => i,
                        None => {
                            probes.push(planned);
                            probes.len() - 1
                        }
                    };
                    let probe = &mut probes[at];
                    if !probe.items.contains(&item.id) {
                        probe.items.push(item.id.clone());
                    }
                    if !names.contains(&probe.name) {
                        names.push(probe.name.clone());
                    }
                }
                What::Bound { probes: names, pass, pre_deploy: env == Env::Staging, unmeasured }
            }
        };
        items.push(ItemPlan {
            id: item.id.clone(),
            text: item.text.clone(),
            sections: item.section_path.clone(),
            what,
        });
    }
    let needs_prom = probes.iter().any(|p| templates.doc(p.template).is_ok_and(|d| d.params.contains_key("source")));
    Ok(Plan { items, probes, prometheus: prometheus.map(String::from), needs_prom })
}

fn pass_value(pass: Pass) -> Value {
    match pass {
        Pass::Consecutive(n) => serde_json::json!({ "consecutive": n }),
        Pass::Sustained(d) => serde_json::json!({ "sustained": d }),
        Pass::Window => serde_json::json!({ "window": true }),
    }
}

/// The config's text. `checklist_ref` is how it names the checklist (relative to itself),
/// `out` where it is written (for the comment on checking it).
pub fn render(plan: &Plan, checklist_ref: &str, out: &str) -> String {
    let mut d = Doc::default();
    let (auto, total, fill) = (plan.automated(), plan.items.len(), plan.fill_count());
    d.comment(0, "shipwatch starter config, written by `shipwatch init`.");
    d.comment(
        0,
        &format!("{auto} of {total} checklist items automated; the other {} stay manual: each is listed", total - auto),
    );
    d.comment(0, "under items: in checklist order with why, and a person ticks it with `shipwatch tick`.");
    d.comment(0, "");
    d.comment(0, &format!("Before it runs: replace each of the {fill} FILL_ME values with what the comment beside it"));
    d.comment(
        0,
        &format!("asks for, then check the file with: shipwatch check-config --config {}", comment_text(out, 200)),
    );
    d.comment(0, "Templates (use:) are built into shipwatch: `shipwatch templates` lists them with their params;");
    d.comment(0, "a probes/NAME.yaml file beside this config overrides the built-in template NAME.");
    d.open(0, "server");
    d.pair(1, "listen", &Value::from("127.0.0.1:9797"), None);
    d.pair(
        1,
        "api_token",
        &Value::from("${SHIPWATCH_API_TOKEN:-}"),
        Some("empty: no token needed; set one in production"),
    );
    d.open(0, "storage");
    d.pair(1, "sqlite", &Value::from("shipwatch.db"), Some("relative to this file"));
    d.pair(0, "checklist", &Value::from(checklist_ref), Some("relative to this file"));
    d.pair(
        0,
        "window",
        &serde_json::json!({"min": "24h", "max": "48h"}),
        Some("how long a release is watched after its deploy"),
    );
    d.blank();
    if plan.needs_prom || plan.prometheus.is_some() {
        d.open(0, "sources");
        d.open(1, "prom");
        d.open(2, "prometheus");
        match &plan.prometheus {
            Some(url) => d.pair(3, "url", &Value::from(url.as_str()), None),
            None => d.pair(
                3,
                "url",
                &Value::from(FILL_ME),
                Some("FILL_ME: base URL of the Prometheus that scrapes the service, e.g. http://prometheus.internal:9090"),
            ),
        }
        d.blank();
    }
    if !plan.probes.is_empty() {
        d.open(0, "probes");
    }
    for p in &plan.probes {
        let about = p.description.as_deref().map(|s| format!(": {}", comment_text(s, COMMENT_MAX))).unwrap_or_default();
        d.comment(1, &format!("{} (built in){about}", p.template));
        d.open(1, &p.name);
        d.pair(2, "use", &Value::from(p.template), None);
        d.open(2, "with");
        for (name, value, note) in &p.with {
            match value {
                Some(v) => d.pair(3, name, v, Some(&comment_text(note, 200))),
                None => d.pair(3, name, &Value::from(FILL_ME), Some(&format!("FILL_ME: {}", comment_text(note, 200)))),
            }
        }
        if let Some(every) = p.every {
            d.pair(2, "every", &Value::from(every), None);
        }
    }
    d.blank();
    d.open(0, "items");
    // A title every item sits under (the document's `# Title`) is left out of section comments.
    let first = plan.items.first().and_then(|i| i.sections.first());
    let skip = usize::from(first.is_some() && plan.items.iter().all(|i| i.sections.first() == first));
    let mut section: Option<&[String]> = None;
    for item in &plan.items {
        if section != Some(item.sections.as_slice()) {
            section = Some(item.sections.as_slice());
            if item.sections.len() > skip {
                let path: Vec<String> = item.sections[skip..].iter().map(|s| comment_text(s, 60)).collect();
                d.comment(1, &format!("== {} ==", path.join(" / ")));
            }
        }
        match &item.what {
            What::Manual { needs_person } => {
                d.comment(1, &format!("manual: {}", comment_text(&item.id, COMMENT_MAX)));
                let why = match needs_person {
                    Some((phrase, why)) => {
                        format!("{} needs a person: {why} ({phrase:?})", comment_quote(&item.text))
                    }
                    None => format!("no probe recognised for: {}", comment_quote(&item.text)),
                };
                d.comment(2, &why);
            }
            What::Bound { probes, pass, pre_deploy, unmeasured } => {
                d.comment(1, &comment_quote(&item.text));
                if !unmeasured.is_empty() {
                    d.comment(
                        1,
                        &format!(
                            "REVIEW: it also names {}, which no probe here measures: add a probe for each, or split the item",
                            unmeasured.iter().map(|u| u.trim_end_matches('*')).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
                d.open(1, &item.id);
                d.pair(2, "probes", &Value::from(probes.clone()), None);
                d.pair(2, "pass", &pass_value(*pass), None);
                if *pre_deploy {
                    d.pair(
                        2,
                        "phase",
                        &Value::from("pre-deploy"),
                        Some("staging: runs from `release start --planned` on"),
                    );
                }
            }
        }
    }
    d.finish()
}
