//! Size limits of checklist files ([`super::load`]): at the limits and just above.

use std::path::Path;

use super::limits::load_within;
use super::{LoadError, MAX_BYTES, MAX_ITEMS, TooLarge, load, parse};

fn write(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// `n` items with the same text (the worst case for id assignment).
fn identical(n: usize) -> String {
    "- [ ] Run smoke tests\n".repeat(n)
}

#[test]
fn items_at_the_limit_and_just_above() {
    let dir = tempfile::tempdir().unwrap();
    let at = write(dir.path(), "at.md", identical(MAX_ITEMS).as_bytes());
    let list = load(&at).expect("a checklist of exactly MAX_ITEMS items loads");
    assert_eq!(list.items.len(), MAX_ITEMS);
    assert_eq!(list.items[MAX_ITEMS - 1].id, format!("run-smoke-tests-{MAX_ITEMS}"));
    assert!(list.get(&format!("run-smoke-tests-{MAX_ITEMS}")).is_some());

    let above = write(dir.path(), "above.md", identical(MAX_ITEMS + 1).as_bytes());
    let err = load(&above).expect_err("one item more is refused");
    let LoadError::TooLarge(TooLarge::Items { path, items, limit }) = &err else {
        panic!("wrong error: {err:?}");
    };
    assert_eq!((path.as_path(), *items, *limit), (above.as_path(), MAX_ITEMS + 1, MAX_ITEMS));
    let message = err.to_string();
    for part in [&above.display().to_string(), "200001 task-list items", "limit of 200000", "split it"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

#[test]
fn bytes_at_the_limit_and_just_above() {
    let dir = tempfile::tempdir().unwrap();
    let item = b"- [ ] Run smoke tests\n";
    let mut content = item.to_vec();
    content.resize(MAX_BYTES as usize, b' ');
    let at = write(dir.path(), "at.md", &content);
    assert_eq!(load(&at).expect("exactly MAX_BYTES loads").items.len(), 1);

    content.push(b'\n');
    let above = write(dir.path(), "above.md", &content);
    let err = load(&above).expect_err("one byte more is refused");
    let LoadError::TooLarge(TooLarge::Bytes { path, bytes, limit }) = &err else {
        panic!("wrong error: {err:?}");
    };
    assert_eq!((path.as_path(), *bytes, *limit), (above.as_path(), MAX_BYTES + 1, MAX_BYTES));
    let message = err.to_string();
    for part in [&above.display().to_string(), "16777217 bytes", "limit of 16777216 bytes (16.0 MiB)", "split it"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

/// Small limits: every task-list item counts (nested, ticked, in quotes), prose does not, and
/// the count in the error is exact.
#[test]
fn small_limits_count_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let src = "# T\n- [ ] A\n  - [x] B\n> - [ ] C\n- not an item\n```\n- [ ] code\n```\n- [ ] A\n";
    let path = write(dir.path(), "c.md", src.as_bytes());
    let ids = |l: &super::Checklist| l.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&load_within(&path, 1024, 4).unwrap()), ids(&parse(src)));
    for max in [0, 1, 3] {
        match load_within(&path, 1024, max) {
            Err(LoadError::TooLarge(TooLarge::Items { items: 4, limit, .. })) => assert_eq!(limit, max),
            other => panic!("max {max}: {other:?}"),
        }
    }
    let n = src.len() as u64;
    assert!(load_within(&path, n, 4).is_ok());
    assert!(matches!(
        load_within(&path, n - 1, 4),
        Err(LoadError::TooLarge(TooLarge::Bytes { bytes, limit, .. })) if bytes == n && limit == n - 1
    ));
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&Path, &str)] = &[
        (dir.path(), "not a regular file"),
        (&dir.path().join("missing.md"), "No such file"),
        (&write(dir.path(), "latin1.md", b"- [ ] Caf\xe9\n"), "valid UTF-8"),
    ];
    for (path, want) in cases {
        let err = load(path).expect_err("refused");
        assert!(matches!(err, LoadError::Read { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("cannot read checklist {}: ", path.display())), "{message}");
        assert!(message.contains(want), "{want:?} not in {message:?}");
    }
    #[cfg(unix)]
    {
        let err = load(Path::new("/dev/zero")).expect_err("a device is refused unread");
        assert_eq!(err.to_string(), "cannot read checklist /dev/zero: not a regular file");
    }
}

#[test]
fn seed_checklist_loads_as_parsed() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/release-checklist.md");
    let loaded = load(&path).unwrap();
    let parsed = parse(include_str!("../../config/release-checklist.md"));
    let key = |l: &super::Checklist| l.items.iter().map(|i| (i.id.clone(), i.line)).collect::<Vec<_>>();
    assert_eq!(key(&loaded), key(&parsed));
    assert_eq!(loaded.source, parsed.source);
}
