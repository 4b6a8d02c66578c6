//! Tests against the real seed checklist (`config/release-checklist.md`, a byte-exact copy of
//! the team's release operations checklist).

use std::collections::{BTreeMap, HashSet};

use super::{Checklist, Mark, parse};

#[test]
fn seed_checklist() {
    let src = include_str!("../../config/release-checklist.md");
    let list = parse(src);
    assert_eq!(list.items.len(), 50);
    let ids: HashSet<&str> = list.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 50, "ids must be unique");
    assert!(list.items.iter().all(|i| !i.checked && i.depth == 0));
    assert_eq!(list.render(&BTreeMap::new()), src);

    let id = "run-post-deploy-smoke-tests-on-production";
    let item = list.get(id).expect("seed item").clone();
    assert_eq!(item.section.as_deref(), Some("Post-Deploy Verification"));
    assert_eq!(
        item.section_path,
        vec!["Release Operations Checklist", "Deployment Execution", "Post-Deploy Verification"]
    );
    let mut marks = BTreeMap::new();
    marks.insert(id.to_string(), Mark { checked: true, note: None });
    let out = list.render(&marks);
    assert_eq!(out.len(), src.len());
    let diff: Vec<usize> = (0..src.len()).filter(|&i| src.as_bytes()[i] != out.as_bytes()[i]).collect();
    assert_eq!(diff, vec![item.box_offset]);
    assert_eq!(out.as_bytes()[item.box_offset], b'x');

    marks.insert(id.to_string(), Mark { checked: true, note: Some("ok in 3s".into()) });
    let out = list.render(&marks);
    let want = format!(
        "{}x{} — ok in 3s{}",
        &src[..item.box_offset],
        &src[item.box_offset + 1..item.line_end],
        &src[item.line_end..]
    );
    assert_eq!(out, want);
}

#[test]
fn seed_checklist_crlf() {
    let lf = include_str!("../../config/release-checklist.md");
    let crlf = lf.replace('\n', "\r\n");
    let (a, b) = (parse(lf), parse(&crlf));
    let key = |l: &Checklist| -> Vec<(String, usize)> { l.items.iter().map(|i| (i.id.clone(), i.line)).collect() };
    assert_eq!(key(&a), key(&b));
    assert_eq!(b.render(&BTreeMap::new()), crlf);
}
