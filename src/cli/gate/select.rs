//! Which items a gate waits for: every automated item (the default), items named by id
//! (`--items a,b`, with a "did you mean" hint for unknown ids), or the items under a heading
//! (`--section NAME`, matched against every enclosing heading, case- and punctuation-insensitive).
//!
//! The API's items carry only their nearest heading (`section`); the enclosing headings are
//! recovered from the release's `checklist.md` by walking its headings in document order.

use std::collections::HashMap;

use serde_json::Value;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Automated,
    Items(Vec<String>),
    Section(String),
}

impl Selection {
    /// From `--items` / `--section` (both at once is an error).
    pub fn from_args(items: Option<&str>, section: Option<&str>) -> Result<Self, String> {
        match (items, section) {
            (Some(_), Some(_)) => Err("give either --items or --section, not both".into()),
            (Some(list), None) => {
                let mut ids: Vec<String> = Vec::new();
                for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !ids.iter().any(|i| i == id) {
                        ids.push(id.to_string());
                    }
                }
                if ids.is_empty() {
                    Err("--items is empty; list item ids like a,b".into())
                } else {
                    Ok(Self::Items(ids))
                }
            }
            (None, Some(s)) if norm(s).is_empty() => Err("--section is empty; give a heading of the checklist".into()),
            (None, Some(s)) => Ok(Self::Section(s.trim().to_string())),
            (None, None) => Ok(Self::Automated),
        }
    }
}

/// Lower-case letters and digits only: `Post-Deploy Verification` ~ `post deploy verification`.
pub fn norm(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The headings of a Markdown text in document order, each with the titles of its enclosing
/// headings (outermost first, itself last). ATX and setext headings; fenced code is skipped.
pub fn headings(md: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut fence: Option<&str> = None;
    let mut prev_text: Option<&str> = None;
    let mut push = |level: u8, title: String, stack: &mut Vec<(u8, String)>| {
        stack.retain(|(l, _)| *l < level);
        stack.push((level, title));
        out.push(stack.iter().map(|(_, t)| t.clone()).collect());
    };
    for line in md.lines() {
        let t = line.trim();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            prev_text = None;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if indent < 4 && (1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace) {
            let title = t[hashes..].trim().trim_end_matches('#').trim().to_string();
            push(hashes as u8, title, &mut stack);
            prev_text = None;
            continue;
        }
        let underline = !t.is_empty() && (t.chars().all(|c| c == '=') || t.chars().all(|c| c == '-'));
        if let (true, Some(title)) = (underline && indent < 4, prev_text) {
            push(if t.starts_with('=') { 1 } else { 2 }, title.to_string(), &mut stack);
            prev_text = None;
            continue;
        }
        let list = t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") || t.starts_with('>');
        prev_text = (!t.is_empty() && !list && indent < 4).then_some(t);
    }
    out
}

/// The enclosing headings of every item (by id), from the release's items (in checklist order)
/// and its `checklist.md`. An item whose heading cannot be placed gets just its own section.
pub fn section_paths(md: &str, items: &[Value]) -> HashMap<String, Vec<String>> {
    let heads = headings(md);
    let mut at = 0;
    let mut paths = HashMap::new();
    for it in items {
        let id = it["id"].as_str().unwrap_or("").to_string();
        let Some(section) = it["section"].as_str() else {
            paths.insert(id, vec![]);
            continue;
        };
        let want = norm(section);
        let found = heads[at..].iter().position(|p| p.last().is_some_and(|t| norm(t) == want));
        let path = match found {
            Some(k) => {
                at += k;
                heads[at].clone()
            }
            None => vec![section.to_string()],
        };
        paths.insert(id, path);
    }
    paths
}

/// The ids the gate waits for, in checklist order, or why the selection is wrong.
pub fn select(
    release_id: &str,
    items: &[Value],
    sel: &Selection,
    paths: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let id_of = |i: &Value| i["id"].as_str().unwrap_or("").to_string();
    match sel {
        Selection::Automated => {
            let ids: Vec<String> = items.iter().filter(|i| i["automated"] == true).map(id_of).collect();
            if ids.is_empty() {
                return Err(format!(
                    "release '{release_id}' has no automated items to wait for; name items with --items"
                ));
            }
            Ok(ids)
        }
        Selection::Items(wanted) => {
            let known: Vec<String> = items.iter().map(id_of).collect();
            let unknown: Vec<String> = wanted
                .iter()
                .filter(|w| !known.contains(w))
                .map(|w| {
                    let hint = crate::config::error::nearest(w, known.iter().map(String::as_str));
                    format!(
                        "no item '{w}' in release '{release_id}'{}",
                        hint.map(|h| format!("; did you mean '{h}'?")).unwrap_or_default()
                    )
                })
                .collect();
            if !unknown.is_empty() {
                return Err(unknown.join("\n"));
            }
            Ok(known.into_iter().filter(|k| wanted.contains(k)).collect())
        }
        Selection::Section(name) => {
            let want = norm(name);
            let path_of = |i: &Value| -> Vec<String> {
                paths
                    .get(&id_of(i))
                    .cloned()
                    .unwrap_or_else(|| i["section"].as_str().map(String::from).into_iter().collect())
            };
            let ids: Vec<String> =
                items.iter().filter(|i| path_of(i).iter().any(|t| norm(t) == want)).map(id_of).collect();
            if !ids.is_empty() {
                return Ok(ids);
            }
            let mut titles: Vec<String> = items.iter().flat_map(path_of).collect();
            titles.dedup();
            let lower: Vec<String> = titles.iter().map(|t| t.to_lowercase()).collect();
            let hint = crate::config::error::nearest(&name.to_lowercase(), lower.iter().map(String::as_str))
                .and_then(|h| lower.iter().position(|l| l == h))
                .map(|k| format!("; did you mean '{}'?", titles[k]))
                .unwrap_or_default();
            Err(format!("no items under a heading '{name}' in release '{release_id}'{hint}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MD: &str = "# Checklist\n\n## Deploy\n\n### Production Deployment\n- [ ] ship it\n- [ ] Confirm version\n\n\
        ```\n# not a heading\n```\n### Post-Deploy Verification ###\n- [x] smoke\n\nFollow-up\n---------\n- [ ] review\n";

    fn items() -> Vec<Value> {
        vec![
            json!({"id": "ship-it", "section": "Production Deployment", "automated": false}),
            json!({"id": "confirm-version", "section": "Production Deployment", "automated": true}),
            json!({"id": "smoke", "section": "Post-Deploy Verification", "automated": true}),
            json!({"id": "review", "section": "Follow-up", "automated": false}),
            json!({"id": "gone", "section": null, "automated": false}),
        ]
    }

    #[test]
    fn headings_nest_and_skip_code() {
        let h = headings(MD);
        assert_eq!(h.len(), 5, "{h:?}");
        assert_eq!(h[2], ["Checklist", "Deploy", "Production Deployment"]);
        assert_eq!(h[3], ["Checklist", "Deploy", "Post-Deploy Verification"]);
        assert_eq!(h[4], ["Checklist", "Follow-up"], "setext level 2 closes the level-3 headings");
    }

    #[test]
    fn sections_select_by_own_or_enclosing_heading() {
        let paths = section_paths(MD, &items());
        assert_eq!(paths["smoke"], ["Checklist", "Deploy", "Post-Deploy Verification"]);
        let sel = |s: &str| select("r", &items(), &Selection::Section(s.into()), &paths);
        assert_eq!(sel("post-deploy verification").unwrap(), ["smoke"]);
        assert_eq!(sel("DEPLOY").unwrap(), ["ship-it", "confirm-version", "smoke"]);
        assert_eq!(sel("checklist").unwrap().len(), 4);
        let err = sel("post deploy verfication").unwrap_err();
        assert!(err.contains("did you mean 'Post-Deploy Verification'?"), "{err}");
        let no_md = select("r", &items(), &Selection::Section("follow-up".into()), &HashMap::new());
        assert_eq!(no_md.unwrap(), ["review"], "without checklist.md the nearest heading still matches");
    }

    #[test]
    fn default_is_automated_items_and_ids_get_hints() {
        let none = HashMap::new();
        assert_eq!(select("r", &items(), &Selection::Automated, &none).unwrap(), ["confirm-version", "smoke"]);
        let picked = select("r", &items(), &Selection::Items(vec!["review".into(), "ship-it".into()]), &none);
        assert_eq!(picked.unwrap(), ["ship-it", "review"]);
        let err = select("r", &items(), &Selection::Items(vec!["smoke".into(), "confirm-versoin".into()]), &none);
        assert_eq!(err.unwrap_err(), "no item 'confirm-versoin' in release 'r'; did you mean 'confirm-version'?");
        let manual_only = vec![json!({"id": "a", "automated": false})];
        assert!(select("r", &manual_only, &Selection::Automated, &none).unwrap_err().contains("--items"));
    }

    #[test]
    fn parses_the_selection_flags() {
        assert_eq!(Selection::from_args(None, None), Ok(Selection::Automated));
        assert_eq!(Selection::from_args(Some(" a, b,a,"), None), Ok(Selection::Items(vec!["a".into(), "b".into()])));
        assert!(Selection::from_args(Some("a"), Some("b")).is_err());
        assert!(Selection::from_args(Some(" , "), None).is_err());
        assert!(Selection::from_args(None, Some(" - ")).is_err());
    }
}
