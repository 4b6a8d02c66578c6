//! The team's Markdown checklist.
//!
//! A checklist is an ordinary Markdown file. Headings (`#`..`######`, ATX or setext) become
//! [`Section`]s and GitHub-style task-list items (`- [ ]`, `* [x]`, `1. [ ]`, ...) become
//! [`Item`]s; everything else is prose and is ignored. Each item gets a stable, human-readable
//! id derived from its text (see [`slug`]), disambiguated by its headings when needed.
//!
//! The parsed [`Checklist`] keeps the original source so that [`Checklist::render`] can write
//! the file back with boxes ticked and notes appended while every other byte stays untouched.

mod ids;
mod parse;
mod render;
mod resolve;

use serde::Serialize;

pub use ids::slug;
pub use parse::parse;
pub use render::escape_inline;

/// A parsed checklist: the original source plus its headings and task items in document order.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// The Markdown text exactly as it was given to [`parse`].
    pub source: String,
    /// Every heading, in document order.
    pub sections: Vec<Section>,
    /// Every task-list item, in document order; ids are unique.
    pub items: Vec<Item>,
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
    /// The item with exactly this id.
    pub fn get(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }
}

#[cfg(test)]
mod ids_tests;
#[cfg(test)]
mod seed_tests;
#[cfg(test)]
mod tests;
