//! Tests of the `retain` rule (spec §7, peer case c3 retain_behavior).

use std::path::Path;

use parity_rules::retain::{self, RetainOptions};
use serde_json::json;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/retain/RULES.json"
);

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Versions 0.1–0.6 with statuses snapshotted/validated/reported/supported/validated/validated,
/// min 0.2.0, latest 0.5.0, linux latest_supported 0.3.0.
fn c3_tree(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::copy(RULES, root.join("RULES.json")).unwrap();
    let statuses = [
        "snapshotted",
        "validated",
        "reported",
        "supported",
        "validated",
        "validated",
    ];
    for (i, status) in statuses.iter().enumerate() {
        let v = format!("0.{}.0", i + 1);
        let meta = json!({"schema_version": 1, "semantic_version": v, "status": status});
        write(root, &format!("versions/{v}.json"), &meta.to_string());
        write(root, &format!("snapshots/{v}/union.json"), "{}\n");
        write(root, &format!("reports/{v}/coverage.any.json"), "{}\n");
        write(root, &format!("raw_help/{v}/help.txt"), "help\n");
    }
    write(root, "min_supported.txt", "0.2.0\n");
    write(root, "latest_validated.txt", "0.5.0\n");
    write(root, "pointers/latest_supported/linux-t.txt", "0.3.0\n");
    write(root, "pointers/latest_validated/linux-t.txt", "0.5.0\n");
    write(root, "pointers/latest_validated/mac-t.txt", "none\n");
}

fn opts(root: &Path, apply: bool) -> RetainOptions {
    RetainOptions {
        root: root.to_path_buf(),
        apply,
        rules: None,
    }
}

#[test]
fn deletes_only_snapshots_and_reports_outside_keep_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("codex");
    c3_tree(&root);

    let plan = retain::plan(&opts(&root, false)).unwrap();
    assert_eq!(
        plan.render(false),
        "apply: false\nkeep_versions:\n  0.2.0\n  0.3.0\n  0.4.0\n  0.5.0\n  0.6.0\ndelete_versions:\n  0.1.0\n"
    );
    retain::run(&opts(&root, false)).unwrap();
    assert!(
        root.join("snapshots/0.1.0").is_dir(),
        "dry run deletes nothing"
    );

    retain::run(&opts(&root, true)).unwrap();
    assert!(!root.join("snapshots/0.1.0").exists());
    assert!(!root.join("reports/0.1.0").exists());
    assert!(root.join("raw_help/0.1.0/help.txt").is_file());
    assert!(root.join("versions/0.1.0.json").is_file());
    for v in ["0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0"] {
        assert!(root.join("snapshots").join(v).is_dir(), "{v}");
        assert!(root.join("reports").join(v).is_dir(), "{v}");
    }
}

#[test]
fn keeps_only_the_newest_validated_versions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("codex");
    c3_tree(&root);
    // No pointers at all: only the 3 newest validated/supported stay.
    for f in ["min_supported.txt", "latest_validated.txt"] {
        std::fs::remove_file(root.join(f)).unwrap();
    }
    std::fs::remove_dir_all(root.join("pointers")).unwrap();
    let plan = retain::plan(&opts(&root, false)).unwrap();
    let keep: Vec<String> = plan.keep.iter().map(ToString::to_string).collect();
    let delete: Vec<String> = plan.delete.iter().map(ToString::to_string).collect();
    assert_eq!(keep, ["0.4.0", "0.5.0", "0.6.0"]);
    assert_eq!(delete, ["0.1.0", "0.2.0", "0.3.0"]);
}
