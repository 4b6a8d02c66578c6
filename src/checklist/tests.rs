//! Table-driven tests for checklist parsing, sections, ids and slugs.

use std::collections::BTreeMap;

use super::{parse, slug};

/// Expected item: (id, text, line, checked, depth).
type Expect = (&'static str, &'static str, usize, bool, usize);

const CASES: &[(&str, &str, &[Expect])] = &[
    ("dash", "- [ ] Do a thing\n", &[("do-a-thing", "Do a thing", 1, false, 0)]),
    ("star", "* [ ] Star item\n", &[("star-item", "Star item", 1, false, 0)]),
    ("plus", "+ [ ] Plus item", &[("plus-item", "Plus item", 1, false, 0)]),
    (
        "ordered dot",
        "1. [ ] First\n2. [ ] Second\n",
        &[("first", "First", 1, false, 0), ("second", "Second", 2, false, 0)],
    ),
    ("ordered paren", "1) [ ] Paren\n", &[("paren", "Paren", 1, false, 0)]),
    (
        "ticked",
        "- [x] Lower\n- [X] Upper\n- [ ] Open\n",
        &[("lower", "Lower", 1, true, 0), ("upper", "Upper", 2, true, 0), ("open", "Open", 3, false, 0)],
    ),
    (
        "nested",
        "- [ ] Parent\n  - [ ] Child\n    - [x] Grandchild\n- [ ] Sibling\n",
        &[
            ("parent", "Parent", 1, false, 0),
            ("child", "Child", 2, false, 1),
            ("grandchild", "Grandchild", 3, true, 2),
            ("sibling", "Sibling", 4, false, 0),
        ],
    ),
    ("nested under plain bullet", "- plain\n  - [ ] Child\n", &[("child", "Child", 2, false, 1)]),
    (
        "inline markup",
        "- [ ] Run `cargo test`  on **all** [crates](https://x.io) _now_ <b>ok</b>\n",
        &[("run-cargo-test-on-all-crates-now-ok", "Run cargo test on all crates now ok", 1, false, 0)],
    ),
    (
        "continuation line",
        "- [ ] First line\n  continues here\n",
        &[("first-line-continues-here", "First line continues here", 1, false, 0)],
    ),
    (
        "loose list",
        "- [ ] One\n\n  Extra paragraph.\n\n- [ ] Two\n",
        &[("one", "One", 1, false, 0), ("two", "Two", 5, false, 0)],
    ),
    (
        "crlf",
        "# Title\r\n\r\n- [ ] One\r\n- [x] Two\r\n  - [ ] Three\r\n",
        &[("one", "One", 3, false, 0), ("two", "Two", 4, true, 0), ("three", "Three", 5, false, 1)],
    ),
    (
        "fenced code ignored",
        "```\n- [ ] not an item\n```\n~~~md\n* [x] nope\n~~~\n- [ ] Real\n",
        &[("real", "Real", 7, false, 0)],
    ),
    ("indented code ignored", "    - [ ] not an item\n\n- [ ] Real\n", &[("real", "Real", 3, false, 0)]),
    ("prose ignored", "- no box\n- [] empty\n- [y] other\n\n[ ] not a list\n", &[]),
    ("empty text", "- [ ]\n- [ ] `  `\n", &[("item-1", "", 1, false, 0), ("item-2", "", 2, false, 0)]),
    ("blockquote", "> - [ ] Quoted\n", &[("quoted", "Quoted", 1, false, 0)]),
    ("unicode", "- [ ] Überprüfe das Café\n", &[("überprüfe-das-café", "Überprüfe das Café", 1, false, 0)]),
    ("no headings dup", "- [ ] Ping\n- [ ] Ping\n", &[("ping", "Ping", 1, false, 0), ("ping-2", "Ping", 2, false, 0)]),
    (
        "suffix avoids taken ids",
        "- [ ] Ping\n- [ ] Ping\n- [ ] Ping 2\n",
        &[("ping", "Ping", 1, false, 0), ("ping-3", "Ping", 2, false, 0), ("ping-2", "Ping 2", 3, false, 0)],
    ),
    (
        "dup by nearest heading",
        "# Release\n## Pre\n- [ ] Notify team\n- [ ] Solo\n## Post\n- [ ] Notify team\n",
        &[
            ("pre/notify-team", "Notify team", 3, false, 0),
            ("solo", "Solo", 4, false, 0),
            ("post/notify-team", "Notify team", 6, false, 0),
        ],
    ),
    (
        "dup by heading path",
        "# A\n## Comms\n- [ ] Notify team\n# B\n## Comms\n- [ ] Notify team\n- [ ] Unique\n",
        &[
            ("a/comms/notify-team", "Notify team", 3, false, 0),
            ("b/comms/notify-team", "Notify team", 6, false, 0),
            ("unique", "Unique", 7, false, 0),
        ],
    ),
    (
        "dup numbered",
        "## S\n- [ ] Ping\n- [ ] Ping\n- [x] Ping\n",
        &[("s/ping", "Ping", 2, false, 0), ("s/ping-2", "Ping", 3, false, 0), ("s/ping-3", "Ping", 4, true, 0)],
    ),
];

#[test]
fn parse_cases() {
    for (name, src, expected) in CASES {
        let list = parse(src);
        let got: Vec<(&str, &str, usize, bool, usize)> =
            list.items.iter().map(|i| (i.id.as_str(), i.text.as_str(), i.line, i.checked, i.depth)).collect();
        assert_eq!(got, expected.to_vec(), "case {name}");
        for item in &list.items {
            let b = src.as_bytes();
            assert_eq!(b.get(item.box_offset - 1), Some(&b'['), "case {name}: box of {}", item.id);
            assert_eq!(b.get(item.box_offset + 1), Some(&b']'), "case {name}: box of {}", item.id);
            let rest = &src[item.line_end..];
            assert!(
                rest.is_empty() || rest.starts_with('\n') || rest.starts_with("\r\n"),
                "case {name}: line_end of {}",
                item.id
            );
        }
        assert_eq!(list.render(&BTreeMap::new()), *src, "case {name}: identity render");
    }
}

#[test]
fn slug_cases() {
    let cases = [
        ("Run post-deploy smoke tests on production", "run-post-deploy-smoke-tests-on-production"),
        ("Monitor system for 24-48 hours post-release", "monitor-system-for-24-48-hours-post-release"),
        (
            "Check resource capacity (CPU, memory, storage, bandwidth)",
            "check-resource-capacity-cpu-memory-storage-bandwidth",
        ),
        ("  --Leading & trailing!!  ", "leading-trailing"),
        ("Observability & Monitoring", "observability-monitoring"),
        ("CI/CD_pipeline", "ci-cd-pipeline"),
        ("ÄÖÜ straße 日本", "äöü-straße-日本"),
        ("!!!", ""),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(slug(input), want, "slug({input:?})");
    }
}

#[test]
fn sections_and_paths() {
    let src = "# Top\n\nSub\n---\n\n### Deep ###\n- [ ] x\n## Back\n- [ ] y\n\nSetext one\n==========\n- [ ] z\n";
    let list = parse(src);
    let got: Vec<(&str, &str, u8, usize)> =
        list.sections.iter().map(|s| (s.title.as_str(), s.slug.as_str(), s.level, s.line)).collect();
    assert_eq!(
        got,
        vec![
            ("Top", "top", 1, 1),
            ("Sub", "sub", 2, 3),
            ("Deep", "deep", 3, 6),
            ("Back", "back", 2, 8),
            ("Setext one", "setext-one", 1, 11),
        ]
    );
    let paths: Vec<(Option<&str>, Vec<&str>)> = list
        .items
        .iter()
        .map(|i| (i.section.as_deref(), i.section_path.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        paths,
        vec![
            (Some("Deep"), vec!["Top", "Sub", "Deep"]),
            (Some("Back"), vec!["Top", "Back"]),
            (Some("Setext one"), vec!["Setext one"]),
        ]
    );
    assert!(parse("- [ ] orphan\n").items.iter().all(|i| i.section.is_none()));
}

#[test]
fn get_by_id() {
    let list = parse("## S\n- [ ] Alpha\n");
    assert_eq!(list.get("alpha").map(|i| i.line), Some(2));
    assert!(list.get("s/alpha").is_none());
}

#[test]
fn items_between_and_section_ends() {
    let src = "- [ ] Head\n# A\n- [ ] A1\n## B\n- [ ] B1\n  - [ ] B2\n### C\n## D\n- [ ] D1\n# E\n- [ ] E1\n";
    let list = parse(src);
    let ends = list.section_ends();
    let titles: Vec<(&str, usize)> = list.sections.iter().map(|s| s.title.as_str()).zip(ends.iter().copied()).collect();
    assert_eq!(titles, vec![("A", 10), ("B", 8), ("C", 8), ("D", 10), ("E", usize::MAX)]);
    let texts = |after: usize, before: usize| -> Vec<&str> {
        list.items_between(after, before).iter().map(|i| i.text.as_str()).collect()
    };
    assert_eq!(texts(0, list.sections[0].line), vec!["Head"]);
    // A at any depth: through D, up to E.
    assert_eq!(texts(list.sections[0].line, ends[0]), vec!["A1", "B1", "B2", "D1"]);
    // B's direct items: up to the next heading of any level (C).
    assert_eq!(texts(list.sections[1].line, list.sections[2].line), vec!["B1", "B2"]);
    assert_eq!(texts(list.sections[2].line, ends[2]), Vec::<&str>::new());
    assert_eq!(texts(list.sections[4].line, ends[4]), vec!["E1"]);
    assert_eq!(texts(5, 3), Vec::<&str>::new());
    // The same as a scan, for every pair of lines.
    for after in 0..13 {
        for before in 0..13 {
            let scan: Vec<&str> =
                list.items.iter().filter(|i| i.line > after && i.line < before).map(|i| i.text.as_str()).collect();
            assert_eq!(texts(after, before), scan, "({after}, {before})");
        }
    }
}
