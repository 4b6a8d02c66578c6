//! The team's Markdown checklist.
//!
//! A checklist is an ordinary Markdown file. Headings (`#`..`######`, ATX or setext) become
//! [`Section`]s and GitHub-style task-list items (`- [ ]`, `* [x]`, `1. [ ]`, ...) become
//! [`Item`]s; everything else is prose and is ignored. Each item gets a stable, human-readable
//! id derived from its text (see [`slug`]), disambiguated by its headings when needed.
//!
//! The parsed [`Checklist`] keeps the original source so that [`Checklist::render`] can write
//! the file back with boxes ticked and notes appended while every other byte stays untouched.
//!
//! Everything here is linear in the size of the checklist: parsing, id assignment, lookups by
//! id or text ([`Checklist::get`], [`Checklist::resolve`], through an index built by [`parse`])
//! and rendering. Files read with [`load`] are refused above [`MAX_BYTES`] or [`MAX_ITEMS`].

mod ids;
mod limits;
mod parse;
mod render;
mod resolve;

use std::collections::HashMap;

use serde::Serialize;

pub use ids::slug;
pub use limits::{LoadError, MAX_BYTES, MAX_ITEMS, TooLarge, load};
pub use parse::parse;
pub use render::escape_inline;

/// A parsed checklist: the original source plus its headings and task items in document order.
///
/// Built by [`parse`] (or [`load`]) and then read only: [`Checklist::get`] and
/// [`Checklist::resolve`] use an index of `items` made when parsing, so changing `items`
/// afterwards makes them miss (they never return a wrong item).
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// The Markdown text exactly as it was given to [`parse`].
    pub source: String,
    /// Every heading, in document order.
    pub sections: Vec<Section>,
    /// Every task-list item, in document order; ids are unique.
    pub items: Vec<Item>,
    /// Positions in `items` by id and by text.
    #[serde(skip)]
    index: Index,
}

/// Positions of items by id and by exact text, for O(1) lookups.
#[derive(Clone, Default)]
struct Index {
    by_id: HashMap<String, usize>,
    /// Exact text → (first item with it, whether a later item has it too).
    by_text: HashMap<String, (usize, bool)>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("ids", &self.by_id.len()).field("texts", &self.by_text.len()).finish()
    }
}

/// A heading of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Plain text of the heading.
    pub title: String,
    /// [`slug`] of the title.
    pub slug: String,
    /// Heading level, 1 for `#` through 6 for `######`.
    pub level: u8,
    /// 1-based line where the heading starts.
    pub line: usize,
}

/// A task-list item of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Stable id: the slug of the text, prefixed by section slugs or suffixed by `-2`, `-3`, ...
    /// only when needed to keep ids unique.
    pub id: String,
    /// Plain text of the item's first paragraph, markup dropped and whitespace collapsed.
    pub text: String,
    /// Title of the nearest enclosing heading.
    pub section: Option<String>,
    /// Titles of the enclosing headings, outermost first.
    pub section_path: Vec<String>,
    /// 1-based line of the item's box.
    pub line: usize,
    /// Whether the box is pre-ticked in the file (`[x]` or `[X]`).
    pub checked: bool,
    /// List nesting depth: 0 for top-level items, 1 for nested ones, ...
    pub depth: usize,
    /// Byte offset in the source of the character between `[` and `]`.
    #[serde(skip)]
    pub box_offset: usize,
    /// Byte offset where the item's first line ends (before its line ending, or the source end).
    #[serde(skip)]
    pub line_end: usize,
}

/// What to write back for one item in [`Checklist::render`].
#[derive(Debug, Clone, Default)]
pub struct Mark {
    /// Tick the box (`x`) or clear it (` `).
    pub checked: bool,
    /// Plain text appended to the item's first line as ` — note` (escaped: see
    /// [`escape_inline`]).
    pub note: Option<String>,
}

impl Checklist {
    /// A checklist of parsed items (ids assigned), indexed.
    fn new(source: String, sections: Vec<Section>, items: Vec<Item>) -> Self {
        let mut index =
            Index { by_id: HashMap::with_capacity(items.len()), by_text: HashMap::with_capacity(items.len()) };
        for (i, item) in items.iter().enumerate() {
            index.by_id.entry(item.id.clone()).or_insert(i);
            match index.by_text.get_mut(item.text.as_str()) {
                Some((_, shared)) => *shared = true,
                None => {
                    index.by_text.insert(item.text.clone(), (i, false));
                }
            }
        }
        Checklist { source, sections, items, index }
    }

    /// The item with exactly this id, in O(1).
    pub fn get(&self, id: &str) -> Option<&Item> {
        let item = self.items.get(*self.index.by_id.get(id)?)?;
        (item.id == id).then_some(item)
    }

    /// The items on lines strictly between `after` and `before` (1-based), in O(log n): items
    /// are in document order, so their lines never decrease. With [`Checklist::section_ends`]
    /// this lists a section's items without scanning the whole checklist per section.
    pub fn items_between(&self, after: usize, before: usize) -> &[Item] {
        let start = self.items.partition_point(|i| i.line <= after);
        let end = self.items.partition_point(|i| i.line < before).max(start);
        &self.items[start..end]
    }

    /// For each section, the line where it ends: the line of the next heading of the same or
    /// a higher level (`usize::MAX` when none follows), so its items at any depth are
    /// `items_between(section.line, end)`. O(number of sections).
    pub fn section_ends(&self) -> Vec<usize> {
        let mut ends = vec![usize::MAX; self.sections.len()];
        // Sections still open, innermost last.
        let mut open: Vec<usize> = Vec::new();
        for (n, s) in self.sections.iter().enumerate() {
            while let Some(&o) = open.last()
                && self.sections[o].level >= s.level
            {
                ends[o] = s.line;
                open.pop();
            }
            open.push(n);
        }
        ends
    }

    /// The items whose text is exactly `text`, in O(1): the first one, and whether there are
    /// more.
    fn by_text(&self, text: &str) -> Option<(&Item, bool)> {
        let (i, shared) = *self.index.by_text.get(text)?;
        let item = self.items.get(i)?;
        (item.text == text).then_some((item, shared))
    }
}

#[cfg(test)]
mod ids_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod seed_tests;
#[cfg(test)]
mod tests;
