//! Slugs and stable item ids.
//!
//! An item's id is the [`slug`] of its text. Only when several items share a slug are they
//! disambiguated, in this order: prefix with the nearest heading's slug
//! (`communication/notify-x`); if that still collides, prefix with every enclosing heading's
//! slug (`post-release-activities/communication/notify-x`); if that still collides, the later
//! items get `-2`, `-3`, ... in document order.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use super::Item;

/// Lowercase `text` and turn every run of non-alphanumeric characters (Unicode alphanumerics
/// are kept) into a single `-`, trimming `-` from both ends.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.extend(c.to_lowercase());
        } else {
            pending_dash = true;
        }
    }
    out
}

/// Give every item its unique id (see the module docs for the rules).
///
/// Linear in the number of items (issue 10, defect 11): every step uses hash maps, section
/// slugs are computed once per distinct title, and the numbering remembers, per id, the next
/// suffix to try. The ids are exactly those of the original quadratic version (pinned by
/// `ids_tests.rs`), which tried `-2`, `-3`, ... from `-2` again for every duplicate.
pub(super) fn assign(items: &mut [Item]) {
    let base: Vec<String> = items
        .iter()
        .map(|item| {
            let s = slug(&item.text);
            if s.is_empty() { format!("item-{}", item.line) } else { s }
        })
        .collect();
    let mut ids = base.clone();
    let mut slugs = SlugCache::default();

    // Shared slugs: prefix with the nearest heading.
    let base_counts = counts(&base);
    let shared: Vec<bool> = base.iter().map(|b| base_counts.get(b.as_str()).copied().unwrap_or(0) > 1).collect();
    for (i, item) in items.iter().enumerate() {
        if shared[i] {
            ids[i] = slugs.prefixed(item.section.iter(), &base[i]);
        }
    }

    // Still shared (same nearest heading): prefix with the whole heading path.
    let prefixed_counts = counts(&ids);
    let still: Vec<bool> = ids
        .iter()
        .zip(&shared)
        .map(|(id, shared)| *shared && prefixed_counts.get(id.as_str()).copied().unwrap_or(0) > 1)
        .collect();
    drop(prefixed_counts);
    for (i, item) in items.iter().enumerate() {
        if still[i] {
            ids[i] = slugs.prefixed(item.section_path.iter(), &base[i]);
        }
    }

    // Still shared (same heading path): number the later ones, avoiding any id in use. A
    // candidate once refused stays refused (both sets only grow), so each id's search resumes
    // where its previous one stopped; every candidate string belongs to exactly one id, so all
    // the searches together try at most one candidate per id plus one per item.
    let all: HashSet<String> = ids.iter().cloned().collect();
    let mut seen: HashSet<String> = HashSet::with_capacity(ids.len());
    let mut next: HashMap<String, usize> = HashMap::new();
    for id in ids.iter_mut() {
        if !seen.contains(id.as_str()) {
            seen.insert(id.clone());
            continue;
        }
        let n = next.entry(id.clone()).or_insert(2);
        let mut candidate = String::with_capacity(id.len() + 4);
        loop {
            candidate.clear();
            let _ = write!(candidate, "{id}-{n}");
            *n += 1;
            if !seen.contains(&candidate) && !all.contains(&candidate) {
                break;
            }
        }
        seen.insert(candidate.clone());
        *id = candidate;
    }

    for (item, id) in items.iter_mut().zip(ids) {
        item.id = id;
    }
}

/// Slugs of heading titles, computed once per distinct title.
#[derive(Default)]
struct SlugCache {
    slugs: HashMap<String, String>,
}

impl SlugCache {
    /// `base` prefixed with the slugs of `titles` joined by `/`; empty slugs are skipped.
    fn prefixed<'a>(&mut self, titles: impl Iterator<Item = &'a String>, base: &str) -> String {
        let mut out = String::new();
        for title in titles {
            if !self.slugs.contains_key(title.as_str()) {
                self.slugs.insert(title.clone(), slug(title));
            }
            let s = &self.slugs[title.as_str()];
            if !s.is_empty() {
                out.push_str(s);
                out.push('/');
            }
        }
        out.push_str(base);
        out
    }
}

/// How many times each string occurs.
fn counts(values: &[String]) -> HashMap<&str, usize> {
    let mut map = HashMap::with_capacity(values.len());
    for v in values {
        *map.entry(v.as_str()).or_insert(0) += 1;
    }
    map
}
