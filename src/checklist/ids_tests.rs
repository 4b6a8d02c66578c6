//! Pinned ids for tricky inputs. Ids are persisted in stores, so the ids produced for any
//! checklist must never change: this table was recorded from the original (quadratic)
//! implementation before it was made linear (issue 10, defect 11), and must keep passing.

use super::parse;

/// (name, checklist, expected ids in document order).
const PINNED: &[(&str, &str, &[&str])] = &[
    (
        "five identical",
        "- [ ] Ping\n- [ ] Ping\n- [ ] Ping\n- [ ] Ping\n- [ ] Ping\n",
        &["ping", "ping-2", "ping-3", "ping-4", "ping-5"],
    ),
    (
        "suffix taken by later text",
        "- [ ] Ping\n- [ ] Ping\n- [ ] Ping 2\n- [ ] Ping 3\n",
        &["ping", "ping-4", "ping-2", "ping-3"],
    ),
    (
        "suffix taken by earlier text",
        "- [ ] Ping 2\n- [ ] Ping\n- [ ] Ping\n- [ ] Ping\n",
        &["ping-2", "ping", "ping-3", "ping-4"],
    ),
    (
        "suffixed text itself duplicated",
        "- [ ] Ping\n- [ ] Ping\n- [ ] Ping 2\n- [ ] Ping 2\n",
        &["ping", "ping-3", "ping-2", "ping-2-2"],
    ),
    (
        "duplicated suffix texts first",
        "- [ ] A 2\n- [ ] A 2\n- [ ] A\n- [ ] A\n- [ ] A\n",
        &["a-2", "a-2-2", "a", "a-3", "a-4"],
    ),
    (
        "suffix of a suffix taken",
        "- [ ] B\n- [ ] B\n- [ ] B\n- [ ] B 2\n- [ ] B 3 \n- [ ] B 2 2\n",
        &["b", "b-4", "b-5", "b-2", "b-3", "b-2-2"],
    ),
    ("empty texts and a text like their ids", "- [ ] Item 2\n- [ ]\n- [ ] `  `\n", &["item-2", "item-2-2", "item-3"]),
    (
        "duplicates across sections",
        "# R\n## Pre\n- [ ] Notify\n## Post\n- [ ] Notify\n- [ ] Notify\n",
        &["pre/notify", "r/post/notify", "r/post/notify-2"],
    ),
    (
        "same nearest heading, different paths",
        "# A\n## C\n- [ ] X\n# B\n## C\n- [ ] X\n- [ ] X\n",
        &["a/c/x", "b/c/x", "b/c/x-2"],
    ),
    (
        "prefixed suffix taken by a prefixed text",
        "## S\n- [ ] Ping\n- [ ] Ping\n- [ ] Ping 2\n## T\n- [ ] Ping 2\n",
        &["s/ping", "s/ping-3", "s/ping-2", "t/ping-2"],
    ),
    ("no heading and a heading", "- [ ] Ping\n## S\n- [ ] Ping\n- [ ] Ping\n", &["ping", "s/ping", "s/ping-2"]),
    ("headings without slug", "# !!!\n- [ ] X\n# ???\n- [ ] X\n## Deep\n- [ ] X\n", &["x", "x-2", "deep/x"]),
    (
        "unicode case folds to one slug",
        "## Café\n- [ ] Café\n- [ ] CAFÉ\n## CAFÉ\n- [ ] café\n",
        &["café/café", "café/café-2", "café/café-3"],
    ),
    (
        "setext and ATX mixed paths",
        "Top\n===\n\n- [ ] Go\n\nSub\n---\n\n- [ ] Go\n\n# Top\n## Sub\n- [ ] Go\n",
        &["top/go", "top/sub/go", "top/sub/go-2"],
    ),
    (
        "nested items share the heading",
        "## S\n- [ ] Go\n  - [ ] Go\n    - [ ] Go 2\n- [ ] Unique\n",
        &["s/go", "s/go-2", "go-2", "unique"],
    ),
    (
        "path prefix equals a nearest prefix elsewhere",
        "# C\n- [ ] X\n- [ ] X\n# A\n## C\n- [ ] X\n",
        &["c/x", "c/x-2", "a/c/x"],
    ),
    (
        "texts differing only in punctuation",
        "- [ ] Deploy!\n- [ ] deploy\n- [ ] DEPLOY?\n- [ ] Deploy 2\n",
        &["deploy", "deploy-3", "deploy-4", "deploy-2"],
    ),
];

#[test]
fn ids_are_pinned() {
    for (name, src, want) in PINNED {
        let list = parse(src);
        let got: Vec<&str> = list.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(got, want.to_vec(), "case {name}");
        for id in *want {
            assert_eq!(list.get(id).map(|i| i.id.as_str()), Some(*id), "case {name}: get({id})");
        }
    }
}

/// The original id assignment (quadratic in the number of identical texts), kept verbatim as
/// the oracle: ids of random checklists must match it exactly.
fn reference_assign(items: &[super::Item]) -> Vec<String> {
    use std::collections::{HashMap, HashSet};

    use super::slug;

    fn prefixed<'a>(titles: impl Iterator<Item = &'a String>, base: &str) -> String {
        let mut parts: Vec<String> = titles.map(|t| slug(t)).filter(|s| !s.is_empty()).collect();
        parts.push(base.to_string());
        parts.join("/")
    }
    fn counts(values: &[String]) -> HashMap<&str, usize> {
        let mut map = HashMap::new();
        for v in values {
            *map.entry(v.as_str()).or_insert(0) += 1;
        }
        map
    }

    let base: Vec<String> = items
        .iter()
        .map(|item| {
            let s = slug(&item.text);
            if s.is_empty() { format!("item-{}", item.line) } else { s }
        })
        .collect();
    let mut ids = base.clone();
    let base_counts = counts(&base);
    for (i, item) in items.iter().enumerate() {
        if base_counts.get(base[i].as_str()).copied().unwrap_or(0) > 1 {
            ids[i] = prefixed(item.section.iter(), &base[i]);
        }
    }
    let prefixed_counts = counts(&ids);
    let still: Vec<bool> = ids
        .iter()
        .zip(&base)
        .map(|(id, b)| {
            base_counts.get(b.as_str()).copied().unwrap_or(0) > 1
                && prefixed_counts.get(id.as_str()).copied().unwrap_or(0) > 1
        })
        .collect();
    for (i, item) in items.iter().enumerate() {
        if still[i] {
            ids[i] = prefixed(item.section_path.iter(), &base[i]);
        }
    }
    let all: HashSet<String> = ids.iter().cloned().collect();
    let mut seen: HashSet<String> = HashSet::new();
    for id in ids.iter_mut() {
        if seen.insert(id.clone()) {
            continue;
        }
        let mut n = 2usize;
        loop {
            let candidate = format!("{id}-{n}");
            if !seen.contains(&candidate) && !all.contains(&candidate) {
                seen.insert(candidate.clone());
                *id = candidate;
                break;
            }
            n += 1;
        }
    }
    ids
}

/// Random checklists from a tiny vocabulary (so texts, headings and generated suffixes collide
/// a lot): the ids must equal the original algorithm's.
#[test]
fn ids_match_the_original_algorithm() {
    const TEXTS: &[&str] = &["Ping", "Ping 2", "ping 3", "PING 2 2", "Ping-4", "Go", "Go 2", "", "Item 3", "item 5"];
    const HEADINGS: &[&str] = &["# A", "## B", "## A", "### C", "# !!!", "## Ping", "### B"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for round in 0..500 {
        let mut src = String::new();
        for _ in 0..next(60) {
            if next(5) == 0 {
                src.push_str(HEADINGS[next(HEADINGS.len())]);
            } else {
                src.push_str("- [ ] ");
                src.push_str(TEXTS[next(TEXTS.len())]);
            }
            src.push('\n');
        }
        let list = parse(&src);
        let got: Vec<&str> = list.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(got, reference_assign(&list.items), "round {round}: {src}");
    }
}
