//! Tests of the `version-metadata` rule.

use std::path::Path;

use parity_rules::metadata::{MetadataOptions, run};
use serde_json::{Value, json};

use super::union::{LINUX, read, redact, root_with, snapshot, union, write};

fn metadata(root: &Path, status: &str) -> anyhow::Result<()> {
    run(&MetadataOptions {
        root: root.to_path_buf(),
        version: "0.77.0".into(),
        status: status.into(),
        rules: None,
        epoch: Some(0),
    })
}

fn setup(coverage: Value) -> tempfile::TempDir {
    let cmds = json!([{ "path": ["waived"] }, { "path": ["waived", "new-child"],
        "flags": [{ "long": "--f", "takes_value": false }] }]);
    let root = root_with(&[(LINUX, snapshot(LINUX, cmds))]);
    union(root.path()).unwrap();
    write(
        &root.path().join("wrapper_coverage.json"),
        &json!({ "schema_version": 1, "coverage": coverage }),
    );
    root
}

#[test]
fn reported_requires_coverage_any() {
    let root = setup(json!([]));
    let err = metadata(root.path(), "reported").unwrap_err().to_string();
    assert!(
        err.starts_with("missing required input file: ") && err.ends_with("coverage.any.json"),
        "{err}"
    );
    assert!(!root.path().join("versions").exists());
    std::fs::create_dir_all(root.path().join("reports/0.77.0")).unwrap();
    std::fs::write(root.path().join("reports/0.77.0/coverage.any.json"), "{}").unwrap();
    metadata(root.path(), "reported").unwrap();
    let got = std::fs::read_to_string(root.path().join("versions/0.77.0.json")).unwrap();
    assert_eq!(
        redact(&got, "updated_at"),
        include_str!("../fixtures/metadata/reported.json")
    );
}

/// IU subtree inheritance (spec §11.3 item 28, fixed): `new-child` has no own entry.
#[test]
fn validated_gates_and_carry_over_with_iu_inheritance() {
    let root =
        setup(json!([{ "path": ["waived"], "level": "intentionally_unsupported", "note": "n" }]));
    std::fs::create_dir_all(root.path().join("reports/0.77.0")).unwrap();
    std::fs::write(root.path().join("reports/0.77.0/coverage.any.json"), "{}").unwrap();
    let err = metadata(root.path(), "validated").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot set status to validated: validation_passed_on_required_target=false (required_target={LINUX})"
        )
    );
    write(
        &root.path().join("versions/0.77.0.json"),
        &json!({
        "schema_version": 1, "semantic_version": "0.77.0", "status": "reported", "updated_at": "x",
        "notes": "keep", "validation": { "passed_targets": [LINUX] }, "junk": 1 }),
    );
    metadata(root.path(), "validated").unwrap();
    let v = read(&root.path().join("versions/0.77.0.json"));
    assert_eq!(v["notes"], json!("keep"));
    assert_eq!(v["validation"], json!({ "passed_targets": [LINUX] }));
    assert_eq!(
        v["coverage"],
        json!({ "supported_targets": [LINUX], "supported_required_target": true })
    );
    assert_eq!(v["promotion"]["eligible_for_latest_validated"], json!(true));
    assert!(v.get("junk").is_none());
    let err = metadata(root.path(), "supported").unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot set status to supported: requires union.complete=true"
    );
}

#[test]
fn unknown_unit_fails_supported_on_required_target() {
    let root = setup(json!([{ "path": ["waived"], "level": "explicit" }]));
    std::fs::create_dir_all(root.path().join("reports/0.77.0")).unwrap();
    std::fs::write(root.path().join("reports/0.77.0/coverage.any.json"), "{}").unwrap();
    let err = metadata(root.path(), "validated").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot set status to validated: supported_on_required_target=false (required_target={LINUX})"
        )
    );
}

#[test]
fn version_must_be_semver() {
    let root = setup(json!([]));
    let err = run(&MetadataOptions {
        root: root.path().into(),
        version: "x".into(),
        status: "snapshotted".into(),
        rules: None,
        epoch: Some(0),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("cannot set status to snapshotted: version is not a semantic version: "),
        "{err}"
    );
}
