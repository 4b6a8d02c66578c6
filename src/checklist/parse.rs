//! Markdown → [`Checklist`]: walks pulldown-cmark events, collecting headings and task items.
//!
//! Parsing never fails: anything that is not a heading or a task-list item is prose and is
//! skipped. Code blocks never produce items because pulldown-cmark does not emit task markers
//! inside them.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::{Checklist, Item, Section, ids};

/// Parse a Markdown checklist. Never fails; prose is ignored. No size limit: a file from a
/// user goes through [`super::load`], which has one.
pub fn parse(source: &str) -> Checklist {
    match parse_at_most(source, usize::MAX) {
        Ok(list) => list,
        Err(_) => unreachable!("no checklist has more than usize::MAX items"),
    }
}

/// [`parse`], or Err with the number of task-list items when there are more than `max_items`
/// (counted without building or numbering the extra ones).
pub(super) fn parse_at_most(source: &str, max_items: usize) -> Result<Checklist, usize> {
    let lines = LineIndex::new(source);
    let mut sections: Vec<Section> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    // Enclosing headings as (level, title), outermost first.
    let mut path: Vec<(u8, String)> = Vec::new();
    // The heading being read: (level, start offset, text).
    let mut heading: Option<(u8, usize, String)> = None;
    // Number of list items currently open.
    let mut open_items: usize = 0;
    // Index in `items` whose text is currently being collected, with its raw text so far.
    let mut collecting: Option<(usize, String)> = None;
    // Task-list items seen beyond `max_items`.
    let mut over: usize = 0;

    let parser = Parser::new_ext(source, Options::ENABLE_TASKLISTS).into_offset_iter();
    for (event, range) in parser {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                finish_text(&mut collecting, &mut items);
                heading = Some((level as u8, range.start, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, start, raw)) = heading.take() {
                    let title = collapse(&raw);
                    while path.last().is_some_and(|(l, _)| *l >= level) {
                        path.pop();
                    }
                    path.push((level, title.clone()));
                    sections.push(Section { slug: ids::slug(&title), title, level, line: lines.line_of(start) });
                }
            }
            Event::Start(Tag::Item) => {
                finish_text(&mut collecting, &mut items);
                open_items += 1;
            }
            Event::End(TagEnd::Item) => {
                finish_text(&mut collecting, &mut items);
                open_items = open_items.saturating_sub(1);
            }
            Event::TaskListMarker(checked) => {
                finish_text(&mut collecting, &mut items);
                if items.len() >= max_items {
                    over += 1;
                    continue;
                }
                let box_offset = source
                    .get(range.clone())
                    .and_then(|s| s.find('['))
                    .map_or(range.start + 1, |i| range.start + i + 1);
                let index = items.len();
                items.push(Item {
                    id: String::new(),
                    text: String::new(),
                    section: path.last().map(|(_, t)| t.clone()),
                    section_path: path.iter().map(|(_, t)| t.clone()).collect(),
                    line: lines.line_of(box_offset),
                    checked,
                    depth: open_items.saturating_sub(1),
                    box_offset,
                    line_end: line_end(source, box_offset),
                });
                collecting = Some((index, String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, raw)) = heading.as_mut() {
                    raw.push_str(&text);
                } else if let Some((_, raw)) = collecting.as_mut() {
                    raw.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, _, raw)) = heading.as_mut() {
                    raw.push(' ');
                } else if let Some((_, raw)) = collecting.as_mut() {
                    raw.push(' ');
                }
            }
            // Only the item's first paragraph is its text: any other block ends it.
            Event::Start(tag) if !is_inline(&tag) => finish_text(&mut collecting, &mut items),
            Event::End(TagEnd::Paragraph) => finish_text(&mut collecting, &mut items),
            _ => {}
        }
    }
    finish_text(&mut collecting, &mut items);
    if over > 0 {
        return Err(items.len().saturating_add(over));
    }
    ids::assign(&mut items);
    Ok(Checklist::new(source.to_string(), sections, items))
}

/// Store the collected text (if any) into its item and stop collecting.
fn finish_text(collecting: &mut Option<(usize, String)>, items: &mut [Item]) {
    if let Some((index, raw)) = collecting.take()
        && let Some(item) = items.get_mut(index)
    {
        item.text = collapse(&raw);
    }
}

/// Tags that live inside a paragraph and so do not end an item's text.
fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

/// Collapse every run of whitespace to one space and trim both ends.
fn collapse(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte offset of the end of the line containing `offset` (before `\r\n`, `\n` or `\r`).
fn line_end(source: &str, offset: usize) -> usize {
    source
        .as_bytes()
        .get(offset..)
        .and_then(|rest| rest.iter().position(|b| *b == b'\n' || *b == b'\r'))
        .map_or(source.len(), |i| offset + i)
}

/// Byte offsets where lines start, for offset → 1-based line lookups.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Index `source`; `\n`, `\r\n` and a lone `\r` each end a line.
    fn new(source: &str) -> Self {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        for (i, b) in bytes.iter().enumerate() {
            let ends = match b {
                b'\n' => true,
                b'\r' => bytes.get(i + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// 1-based line containing byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }
}
