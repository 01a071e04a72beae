//! Tests of the `union` rule.

use std::path::{Path, PathBuf};

use parity_rules::snapshot::Cli;
use parity_rules::union::{UnionOptions, run};
use serde_json::{Value, json};

pub(crate) const LINUX: &str = "x86_64-unknown-linux-musl";
pub(crate) const MAC: &str = "aarch64-apple-darwin";
pub(crate) const WIN: &str = "x86_64-pc-windows-msvc";

/// A minimal RULES.json with every section the union, report and metadata rules read.
pub(crate) fn rules() -> Value {
    json!({
        "rules_schema_version": 1,
        "sorting": {
            "commands": "lexicographic_path", "flags": "by_key_then_long_then_short",
            "args": "by_name", "expected_targets": "rules_expected_targets_order",
            "inputs": "rules_expected_targets_order", "available_on": "rules_expected_targets_order",
            "conflicts": "by_unit_then_path_then_key_or_name_then_field",
            "report": {
                "missing_commands": "by_path", "missing_flags": "by_path_then_key",
                "missing_args": "by_path_then_name", "excluded_commands": "by_path",
                "excluded_flags": "by_path_then_key", "excluded_args": "by_path_then_name",
                "passthrough_candidates": "by_path", "unsupported": "by_path",
                "intentionally_unsupported": "by_kind_then_path_then_key_or_name",
                "wrapper_only_commands": "by_path", "wrapper_only_flags": "by_path_then_key",
                "wrapper_only_args": "by_path_then_name"
            }
        },
        "globals": { "effective_flags_model": { "enabled": true, "union_normalization": {
            "dedupe_per_command_flags_against_root": true, "dedupe_key": "flag_key" } } },
        "union": {
            "require_same_tool": true, "require_same_semantic_version": true,
            "require_semantic_version": true, "required_target": LINUX,
            "expected_targets": [LINUX, MAC, WIN],
            "platform_mapping": { LINUX: "linux", MAC: "macos", WIN: "windows" }
        },
        "report": {
            "file_naming": { "any": "coverage.any.json", "all": "coverage.all.json",
                             "per_target": "coverage.<target_triple>.json" },
            "filter_semantics": { "when_union_incomplete": { "all": "error" } }
        },
        "version_metadata": { "supported_policy": {
            "requires_union_complete": true, "requires_semantic_version": true,
            "coverage_requirement": {
                "allowed_levels": ["explicit", "passthrough", "intentionally_unsupported"],
                "disallowed_levels": ["unsupported", "unknown"], "treat_missing_as": "unknown" },
            "intentionally_unsupported_requires_note": true } }
    })
}

/// A per-target snapshot of version 0.77.0 with the given commands.
pub(crate) fn snapshot(target: &str, commands: Value) -> Value {
    json!({
        "snapshot_schema_version": 1, "tool": "codex-cli", "collected_at": "1970-01-01T00:00:00Z",
        "binary": { "sha256": "00", "size_bytes": 1, "platform": { "os": "linux", "arch": "x86_64" },
                    "target_triple": target, "version_output": "codex 0.77.0",
                    "semantic_version": "0.77.0", "channel": "stable" },
        "commands": commands
    })
}

pub(crate) fn write(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

pub(crate) fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `text` with the value of the first line `  "<field>": "…",` replaced by `<redacted>`: the
/// rules stamp the wall clock when SOURCE_DATE_EPOCH is unset, and tests do not touch the env.
pub(crate) fn redact(text: &str, field: &str) -> String {
    let prefix = format!("  \"{field}\": \"");
    let mut done = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if !done && line.starts_with(&prefix) {
            done = true;
            out.push_str(&format!("{prefix}<redacted>\",\n"));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// A temp parity root holding RULES.json and the given snapshots of 0.77.0.
pub(crate) fn root_with(snaps: &[(&str, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("RULES.json"), &rules());
    for (t, s) in snaps {
        write(&dir.path().join(format!("snapshots/0.77.0/{t}.json")), s);
    }
    dir
}

pub(crate) fn union(root: &Path) -> anyhow::Result<()> {
    run(&UnionOptions {
        cli: Cli::Codex,
        root: root.to_path_buf(),
        version: "0.77.0".into(),
        rules: None,
        epoch: Some(0),
    })
}

fn union_path(root: &Path) -> PathBuf {
    root.join("snapshots/0.77.0/union.json")
}

/// The c1 fixtures: `alpha --config` takes a value on linux/mac only, `INPUT` optional on windows.
fn c1(target: &str) -> Value {
    let (takes, value_name, required) = if target == WIN {
        (false, None, false)
    } else {
        (true, Some("PATH"), true)
    };
    let mut config = json!({ "long": "--config", "takes_value": takes });
    if let Some(v) = value_name {
        config["value_name"] = json!(v);
    }
    let mut cmds = vec![
        json!({ "path": [], "usage": "codex [OPTIONS] <COMMAND>",
                "flags": [{ "long": "--json", "takes_value": false }] }),
        json!({ "path": ["alpha"], "usage": "codex alpha [OPTIONS] <INPUT>",
                "args": [{ "name": "INPUT", "required": required, "variadic": false }],
                "flags": [config] }),
    ];
    if target == LINUX {
        cmds.push(json!({ "path": ["only-linux"], "usage": "codex only-linux [OPTIONS]" }));
    }
    snapshot(target, Value::Array(cmds))
}

#[test]
fn three_targets_record_conflicts_byte_for_byte() {
    let root = root_with(&[(LINUX, c1(LINUX)), (MAC, c1(MAC)), (WIN, c1(WIN))]);
    union(root.path()).unwrap();
    let got = std::fs::read_to_string(union_path(root.path())).unwrap();
    let want = include_str!("../fixtures/union/three_targets.json");
    assert_eq!(redact(&got, "collected_at"), want);
    // Deterministic: a second run writes the same bytes (but for the stamp).
    union(root.path()).unwrap();
    let again = std::fs::read_to_string(union_path(root.path())).unwrap();
    assert_eq!(redact(&again, "collected_at"), want);
}

#[test]
fn conflict_order_is_unit_then_key_then_field() {
    let root = root_with(&[(LINUX, c1(LINUX)), (MAC, c1(MAC)), (WIN, c1(WIN))]);
    union(root.path()).unwrap();
    let u = read(&union_path(root.path()));
    let alpha = &u["commands"][1];
    assert_eq!(alpha["available_on"], json!([LINUX, MAC, WIN]));
    let order: Vec<(String, String)> = alpha["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["unit"].as_str().unwrap().into(),
                c["field"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("flag", "takes_value"),
        ("flag", "value_name"),
        ("arg", "required"),
    ];
    assert_eq!(order, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(
        alpha["conflicts"][0]["values_by_target"],
        json!({ MAC: true, WIN: false, LINUX: true })
    );
    assert_eq!(u["complete"], json!(true));
    assert!(u.get("missing_targets").is_none());
}

#[test]
fn missing_optional_target_gives_incomplete_union() {
    let root = root_with(&[(LINUX, c1(LINUX))]);
    union(root.path()).unwrap();
    let u = read(&union_path(root.path()));
    assert_eq!(u["complete"], json!(false));
    assert_eq!(u["missing_targets"], json!([MAC, WIN]));
    assert_eq!(u["expected_targets"], json!([LINUX, MAC, WIN]));
    assert_eq!(u["inputs"].as_array().unwrap().len(), 1);
    assert!(u["commands"][1].get("conflicts").is_none());
}

#[test]
fn missing_required_target_is_an_error_and_writes_nothing() {
    let root = root_with(&[(MAC, c1(MAC))]);
    let err = union(root.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("missing required snapshot for target {LINUX}: ")),
        "{err}"
    );
    assert!(!union_path(root.path()).exists());
}

#[test]
fn tool_and_semver_mismatches_are_errors() {
    let mut s = c1(LINUX);
    s["tool"] = json!("other-cli");
    let root = root_with(&[(LINUX, s)]);
    let err = union(root.path()).unwrap_err().to_string();
    assert!(err.starts_with("snapshot tool mismatch in "), "{err}");
    assert!(
        err.ends_with("(expected codex-cli, got other-cli)"),
        "{err}"
    );

    let mut s = c1(LINUX);
    s["binary"]["semantic_version"] = json!("0.78.0");
    let root = root_with(&[(LINUX, s)]);
    let err = union(root.path()).unwrap_err().to_string();
    assert!(
        err.ends_with("(expected 0.77.0, got Some(\"0.78.0\"))"),
        "{err}"
    );

    let mut s = c1(LINUX);
    s["binary"]
        .as_object_mut()
        .unwrap()
        .remove("semantic_version");
    let root = root_with(&[(LINUX, s)]);
    let err = union(root.path()).unwrap_err().to_string();
    assert!(err.ends_with("(expected 0.77.0, got None)"), "{err}");
}

#[test]
fn bad_sorting_rules_are_rejected() {
    let root = root_with(&[(LINUX, c1(LINUX))]);
    let mut r = rules();
    r["sorting"]["args"] = json!("by_position");
    write(&root.path().join("RULES.json"), &r);
    let err = union(root.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid rules file: unsupported sorting rules: sorting.args=by_position"
    );
}

#[test]
fn dedupes_per_command_flags_against_root() {
    let cmds = json!([
        { "path": [], "flags": [{ "long": "--help", "takes_value": false },
                                { "long": "--config", "short": "-c", "takes_value": true }] },
        { "path": ["alpha"], "flags": [{ "long": "--help", "takes_value": false },
                                       { "long": "--config", "takes_value": false },
                                       { "long": "--alpha-only", "takes_value": false }] }
    ]);
    let mut mac = cmds.clone();
    mac[1]["flags"][1]["takes_value"] = json!(true);
    let root = root_with(&[(LINUX, snapshot(LINUX, cmds)), (MAC, snapshot(MAC, mac))]);
    union(root.path()).unwrap();
    let u = read(&union_path(root.path()));
    let keys: Vec<&str> = u["commands"][1]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["--alpha-only"]);
    // The `--config` conflict went with the flag.
    assert!(u["commands"][1].get("conflicts").is_none());
    assert_eq!(u["commands"][0]["flags"].as_array().unwrap().len(), 2);
}

#[test]
fn evidence_points_at_raw_help_files() {
    let root = root_with(&[(LINUX, c1(LINUX)), (MAC, c1(MAC)), (WIN, c1(WIN))]);
    let help = root
        .path()
        .join(format!("raw_help/0.77.0/{LINUX}/commands/alpha/help.txt"));
    std::fs::create_dir_all(help.parent().unwrap()).unwrap();
    std::fs::write(&help, "abc").unwrap();
    union(root.path()).unwrap();
    let u = read(&union_path(root.path()));
    let ev = &u["commands"][1]["conflicts"][0]["evidence"];
    assert_eq!(
        *ev,
        json!({
            "help_ref_by_target": { LINUX: format!("raw_help/0.77.0/{LINUX}/commands/alpha/help.txt") },
            "help_sha256_by_target": { LINUX: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" }
        })
    );
}

#[test]
fn canonical_values_come_from_the_required_target() {
    let linux = snapshot(
        LINUX,
        json!([{ "path": ["x"], "about": "linux about",
        "args": [{ "name": "A", "required": false, "variadic": false, "note": " inferred from usage " }] }]),
    );
    let mac = snapshot(
        MAC,
        json!([{ "path": ["x"], "about": "mac about" },
        { "path": ["y"], "flags": [{ "short": "-y", "takes_value": false, "repeatable": true }] }]),
    );
    let root = root_with(&[(MAC, mac), (LINUX, linux)]);
    union(root.path()).unwrap();
    let u = read(&union_path(root.path()));
    assert_eq!(u["commands"][0]["about"], json!("linux about"));
    assert_eq!(
        u["commands"][0]["args"][0]["inferred_from_usage"],
        json!(true)
    );
    assert_eq!(u["commands"][0]["conflicts"][0]["field"], json!("about"));
    assert_eq!(
        u["commands"][0]["conflicts"][0]["help_context"],
        json!("Usage")
    );
    assert_eq!(u["commands"][1]["available_on"], json!([MAC]));
    assert_eq!(u["commands"][1]["flags"][0]["key"], json!("-y"));
}

/// The whole error chain as one string.
pub(crate) fn chain(err: &anyhow::Error) -> String {
    err.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

#[test]
fn malformed_snapshot_json_names_the_file_and_writes_nothing() {
    let dir = root_with(&[]);
    let bad = dir.path().join(format!("snapshots/0.77.0/{LINUX}.json"));
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, "{ \"snapshot_schema_version\": 1, ").unwrap();
    let err = chain(&union(dir.path()).unwrap_err());
    assert!(err.contains("failed to parse JSON"), "{err}");
    assert!(
        err.contains(&format!("{LINUX}.json")),
        "the message names the file: {err}"
    );
    assert!(!union_path(dir.path()).exists());
}

#[test]
fn malformed_rules_json_is_an_error() {
    let dir = root_with(&[(LINUX, snapshot(LINUX, json!([{ "path": [] }])))]);
    std::fs::write(dir.path().join("RULES.json"), "not json").unwrap();
    let err = chain(&union(dir.path()).unwrap_err());
    assert!(err.contains("RULES.json"), "{err}");
    assert!(!union_path(dir.path()).exists());
}
