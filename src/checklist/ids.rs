//! Slugs and stable item ids.
//!
//! An item's id is the [`slug`] of its text. Only when several items share a slug are they
//! disambiguated, in this order: prefix with the nearest heading's slug
//! (`communication/notify-x`); if that still collides, prefix with every enclosing heading's
//! slug (`post-release-activities/communication/notify-x`); if that still collides, the later
//! items get `-2`, `-3`, ... in document order.

use std::collections::{HashMap, HashSet};

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
pub(super) fn assign(items: &mut [Item]) {
    let base: Vec<String> = items
        .iter()
        .map(|item| {
            let s = slug(&item.text);
            if s.is_empty() { format!("item-{}", item.line) } else { s }
        })
        .collect();
    let mut ids = base.clone();

    // Shared slugs: prefix with the nearest heading.
    let base_counts = counts(&base);
    for (i, item) in items.iter().enumerate() {
        if base_counts.get(base[i].as_str()).copied().unwrap_or(0) > 1 {
            ids[i] = prefixed(item.section.iter(), &base[i]);
        }
    }

    // Still shared (same nearest heading): prefix with the whole heading path.
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

    // Still shared (same heading path): number the later ones, avoiding any id in use.
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

    for (item, id) in items.iter_mut().zip(ids) {
        item.id = id;
    }
}

/// `base` prefixed with the slugs of `titles` joined by `/`; empty slugs are skipped.
fn prefixed<'a>(titles: impl Iterator<Item = &'a String>, base: &str) -> String {
    let mut parts: Vec<String> = titles.map(|t| slug(t)).filter(|s| !s.is_empty()).collect();
    parts.push(base.to_string());
    parts.join("/")
}

/// How many times each string occurs.
fn counts(values: &[String]) -> HashMap<&str, usize> {
    let mut map = HashMap::new();
    for v in values {
        *map.entry(v.as_str()).or_insert(0) += 1;
    }
    map
}
