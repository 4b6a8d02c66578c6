//! The demo's counts match the verdict's, manual items say why from the config, and the
//! progress line reads the window and the gate items.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::config::load_with_env;

fn load(path: &Path) -> Config {
    let env = |k: &str| match k {
        "SHIPWATCH_DEMO_TARGET" => Some("http://127.0.0.1:9".into()),
        "SHIPWATCH_DEMO_DATA" => Some("/nonexistent-demo".into()),
        "SHIPWATCH_DEMO_PROMETHEUS" => Some("http://127.0.0.1:9".into()),
        "SHIPWATCH_DEMO_ALERTMANAGER" => Some("http://127.0.0.1:9".into()),
        _ => None,
    };
    load_with_env(path, &env).unwrap_or_else(|e| panic!("{}: {e}", path.display())).config
}

/// Both demo configs: the header counts exactly the items the verdict judges (acting, bound to
/// probes, `gate`), and every checklist item is counted once.
#[test]
fn the_demo_counts_what_the_verdict_counts() {
    for name in ["demo.yaml", "demo-metrics.yaml"] {
        let cfg = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(name));
        let p = plan(&cfg, name);
        let judged_gate = cfg.acting().filter(|(_, b)| !b.probes.is_empty() && b.mode == Mode::Gate).count();
        assert_eq!(p.gate.len(), judged_gate, "{name}");
        assert!(p.header().starts_with(&format!("{judged_gate} of {} items decide the verdict", p.total)), "{name}");
        let pre_ticked = cfg.checklist.items.iter().filter(|i| i.checked && !cfg.items.contains_key(&i.id)).count();
        assert_eq!(p.gate.len() + p.warn.len() + p.on_event.len() + p.manual.len() + pre_ticked, p.total, "{name}");
    }
}

/// Each item lands in its group; manual ones say why from the config.
#[test]
fn manual_items_say_why_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.md"), "- [ ] Aa\n- [ ] Bb\n- [ ] Cc\n- [ ] Dd\n- [ ] Ee\n- [x] Ff\n").unwrap();
    let yaml = "checklist: list.md\nprobes:\n  up: { http: { url: \"http://127.0.0.1:9/\" }, every: 1s }\n\
                items:\n  aa: { probes: [up] }\n  bb: { probes: [up], mode: warn }\n  cc: { probes: [up], mode: shadow }\n  \
                dd: { on: item.regressed }\n";
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    let p = plan(&load(&dir.path().join("c.yaml")), "c.yaml");
    let want = Plan {
        gate: vec!["aa".into()],
        warn: vec!["bb".into()],
        on_event: vec!["dd".into()],
        manual: vec![
            ("cc".into(), "shadow mode in c.yaml: up run and show, change nothing".into()),
            ("ee".into(), "not bound in c.yaml: no probe or event under items:".into()),
        ],
        total: 6,
    };
    assert_eq!(p, want);
    assert_eq!(
        p.header(),
        "1 of 6 items decide the verdict (gate, bound to probes), 1 only warn, 1 tick on an event, 2 stay manual"
    );
    assert_eq!(
        p.manual_list("api-1", "http://x"),
        "2 items stay manual: a person ticks them\n  shadow mode in c.yaml: up run and show, change nothing (1):\n    - cc\n  \
         not bound in c.yaml: no probe or event under items: (1):\n    - ee\n  \
         tick one: shipwatch tick api-1 ITEM --by NAME --server http://x\n"
    );
    assert_eq!(Plan::default().manual_list("api-1", "http://x"), "");
}

#[test]
fn progress_reads_the_window_and_the_gate_items() {
    let gate: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let items = json!([{"id": "a", "state": "complete"}, {"id": "b", "state": "pending"},
                       {"id": "c", "state": "regressed"}, {"id": "d", "state": "unknown"}, {"id": "m", "state": "manual"}]);
    #[rustfmt::skip]
    let table = [
        (json!({"elapsed_s": 12.4, "remaining_s": 27.6, "min_s": 20.0, "max_s": 40.0}),
            "1 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown",
            "window 12s: 8s to min, 28s to max · 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown"),
        (json!({"elapsed_s": 25.0, "remaining_s": 15.0, "min_s": 20.0, "max_s": 40.0}),
            "2 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown",
            "window 25s: min reached, 15s to max · 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown"),
        (json!({"elapsed_s": 40.0, "remaining_s": null, "min_s": 20.0, "max_s": 40.0}),
            "4 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown",
            "window 40s: closed · 1 of 4 gate items complete, 1 pending, 1 red, 1 unknown"),
    ];
    for (window, key, line) in table {
        let rel = json!({"window": window, "items": items});
        assert_eq!(progress(&rel, &gate), (key.to_string(), line.to_string()));
    }
    let done = json!({"window": {"elapsed_s": 1.0, "remaining_s": 39.0, "min_s": 20.0}, "items": [{"id": "a", "state": "waived"}]});
    assert_eq!(
        progress(&done, &gate[..1]).1,
        "window 1s: 19s to min, 39s to max · 1 of 1 gate items complete, 0 pending"
    );
}
