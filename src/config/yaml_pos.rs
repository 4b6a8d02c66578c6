//! Source positions of YAML nodes by path.
//!
//! serde gives us values; this index gives us where each key and value stands in the file, so
//! an error found after deserialization (an unknown item, a bad duration) still names
//! `file:line:col`. Built once per file from the parser's event stream.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Path → position of the key (for map entries) and of the value.
#[derive(Debug, Default)]
pub struct PosIndex {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

const SEP: char = '\u{1f}';

fn join(path: &[String]) -> String {
    let mut s = String::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            s.push(SEP);
        }
        s.push_str(p);
    }
    s
}

enum Frame {
    Map { key: Option<String> },
    Seq { next: usize },
}

impl PosIndex {
    /// Index `text`. A syntax error stops indexing early; serde reports it with its own position.
    pub fn build(text: &str) -> Self {
        let mut idx = PosIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut path: Vec<String> = Vec::new();
        for ev in Parser::new_from_str(text) {
            let Ok((ev, span)) = ev else { break };
            let pos = Pos { line: span.start.line(), col: span.start.col() + 1 };
            let is_node =
                matches!(ev, Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(..));
            if !is_node {
                if matches!(ev, Event::SequenceEnd | Event::MappingEnd) {
                    stack.pop();
                    Self::finish_value(&mut stack, &mut path);
                }
                continue;
            }
            // Is this node a map key?
            if let Some(Frame::Map { key }) = stack.last_mut()
                && key.is_none()
            {
                {
                    let name = match &ev {
                        Event::Scalar(v, ..) => v.to_string(),
                        _ => "?".to_string(),
                    };
                    path.push(name.clone());
                    idx.keys.insert(join(&path), pos);
                    *key = Some(name);
                    // Complex (non-scalar) keys are not valid in a shipwatch config; serde
                    // reports them, so their contents need no positions here.
                    continue;
                }
            }
            if let Some(Frame::Seq { next }) = stack.last_mut() {
                path.push(next.to_string());
                *next += 1;
            }
            idx.values.entry(join(&path)).or_insert(pos);
            match ev {
                Event::MappingStart(..) => stack.push(Frame::Map { key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { next: 0 }),
                _ => Self::finish_value(&mut stack, &mut path),
            }
        }
        idx
    }

    /// A value (scalar or finished container) ended: pop its path segment.
    #[allow(clippy::collapsible_match)]
    fn finish_value(stack: &mut [Frame], path: &mut Vec<String>) {
        match stack.last_mut() {
            Some(Frame::Map { key }) => {
                if key.take().is_some() {
                    path.pop();
                }
            }
            Some(Frame::Seq { .. }) => {
                path.pop();
            }
            None => {}
        }
    }

    /// Position of the key at `path` (falls back to the value, then to the nearest ancestor).
    pub fn key(&self, path: &[String]) -> Pos {
        self.lookup(path, true)
    }

    /// Position of the value at `path` (falls back to the key, then to the nearest ancestor).
    pub fn value(&self, path: &[String]) -> Pos {
        self.lookup(path, false)
    }

    fn lookup(&self, path: &[String], key_first: bool) -> Pos {
        for n in (0..=path.len()).rev() {
            let k = join(&path[..n]);
            let (a, b) = if key_first { (&self.keys, &self.values) } else { (&self.values, &self.keys) };
            if let Some(p) = a.get(&k).or_else(|| b.get(&k)) {
                return *p;
            }
        }
        Pos { line: 1, col: 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        if s.is_empty() { vec![] } else { s.split('.').map(String::from).collect() }
    }

    #[test]
    fn positions_of_keys_and_values() {
        let text = "server:\n  listen: 127.0.0.1:9797\nprobes:\n  api:\n    http: { url: \"http://x\" }\n    every: 30s\nlist:\n  - a\n  - b: 1\n";
        let idx = PosIndex::build(text);
        for (path, key, want) in [
            ("server", true, (1, 1)),
            ("server.listen", true, (2, 3)),
            ("server.listen", false, (2, 11)),
            ("probes.api.http.url", false, (5, 18)),
            ("probes.api.every", true, (6, 5)),
            ("list.1.b", true, (9, 5)),
            ("list.0", false, (8, 5)),
            ("probes.api.nope.deeper", true, (4, 3)),
        ] {
            let got = if key { idx.key(&p(path)) } else { idx.value(&p(path)) };
            assert_eq!((got.line, got.col), want, "{path} key={key}");
        }
    }
}
