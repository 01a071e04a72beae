//! Tests of the `validate` rule: a small valid tree built in a temp dir, then one defect at a
//! time. Schemas and RULES come from `tests/fixtures/validate` (written for these tests).

use std::path::{Path, PathBuf};

use parity_rules::validate::{self, Mode, Report, ValidateOptions};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/validate");

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    /// Version 0.1.0 validated on `linux-t` (the required target), union incomplete, reports
    /// any + linux, empty wrapper coverage, pointers on 0.1.0 for linux and `none` elsewhere.
    fn valid() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("codex");
        let t = Tree { _dir: dir, root };
        for f in ["RULES.json", "SCHEMA.json", "VERSION_METADATA_SCHEMA.json"] {
            t.write(
                f,
                &std::fs::read_to_string(Path::new(FIXTURES).join(f)).unwrap(),
            );
        }
        for name in ["min_supported.txt", "latest_validated.txt"] {
            t.write(name, "0.1.0\n");
        }
        for kind in ["latest_supported", "latest_validated"] {
            t.write(&format!("pointers/{kind}/linux-t.txt"), "0.1.0\n");
            t.write(&format!("pointers/{kind}/mac-t.txt"), "none\n");
            t.write(&format!("pointers/{kind}/win-t.txt"), "none\n");
        }
        let union = t.union(false);
        t.write_json("snapshots/0.1.0/union.json", &union);
        t.write_json("current.json", &union);
        t.write_json(
            "snapshots/0.1.0/linux-t.json",
            &json!({"snapshot_schema_version": 1, "binary": {"semantic_version": "0.1.0"},
                    "commands": [{"path": []}, {"path": ["exec"]}]}),
        );
        t.write_json("versions/0.1.0.json", &t.metadata("validated"));
        t.write_json("reports/0.1.0/coverage.any.json", &report(json!({})));
        t.write_json("reports/0.1.0/coverage.linux-t.json", &report(json!({})));
        t.write_json(
            "wrapper_coverage.json",
            &json!({"schema_version": 1, "coverage": []}),
        );
        t
    }

    fn union(&self, complete: bool) -> Value {
        json!({
            "snapshot_schema_version": 2, "mode": "union", "complete": complete,
            "inputs": [{"target_triple": "linux-t", "binary": {"semantic_version": "0.1.0"}}],
            "commands": [{"path": [], "flags": [{"key": "--help", "long": "--help"}]}, {"path": ["exec"]}]
        })
    }

    fn metadata(&self, status: &str) -> Value {
        json!({"schema_version": 1, "semantic_version": "0.1.0", "status": status,
               "coverage": {"supported_targets": ["linux-t"]},
               "validation": {"passed_targets": ["linux-t"], "failed_targets": [], "skipped_targets": []}})
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn write_json(&self, rel: &str, v: &Value) {
        self.write(rel, &(serde_json::to_string_pretty(v).unwrap() + "\n"));
    }

    fn read_json(&self, rel: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.path(rel)).unwrap()).unwrap()
    }

    /// Rewrites a union and keeps `current.json` its byte copy.
    fn set_union(&self, union: &Value) {
        self.write_json("snapshots/0.1.0/union.json", union);
        self.write_json("current.json", union);
    }

    fn edit_rules(&self, f: impl FnOnce(&mut Value)) {
        let mut rules = self.read_json("RULES.json");
        f(&mut rules);
        self.write_json("RULES.json", &rules);
    }

    fn opts(&self, mode: Mode) -> ValidateOptions {
        ValidateOptions {
            root: self.root.clone(),
            mode,
            json: false,
            rules: None,
            schema: None,
            version_schema: None,
        }
    }

    fn check(&self) -> Report {
        validate::check(&self.opts(Mode::Check)).expect("no fatal error")
    }
}

fn report(deltas: Value) -> Value {
    json!({"schema_version": 1, "deltas": deltas})
}

fn lines(r: &Report) -> Vec<String> {
    r.violations.iter().map(|v| v.human_line()).collect()
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.violations.iter().map(|v| v.code).collect()
}

#[test]
fn minimal_valid_tree_passes() {
    let t = Tree::valid();
    let r = t.check();
    assert!(r.ok(), "{:#?}", lines(&r));
    assert_eq!(r.to_json(), json!({"ok": true, "violations": []}));
}

#[test]
fn reported_status_requires_reports() {
    let t = Tree::valid();
    std::fs::remove_dir_all(t.path("reports")).unwrap();
    let r = t.check();
    assert_eq!(
        lines(&r),
        [
            "REPORT_MISSING error reports/0.1.0/coverage.any.json missing required file: reports/0.1.0/coverage.any.json (kind=any)",
            "REPORT_MISSING error reports/0.1.0/coverage.linux-t.json missing required file: reports/0.1.0/coverage.linux-t.json (kind=per_target target_triple=linux-t)",
        ]
    );
    // Without a status that needs them, absent reports are fine (pointers set to none so the
    // status check does not fire).
    t.write_json("versions/0.1.0.json", &t.metadata("snapshotted"));
    for kind in ["latest_supported", "latest_validated"] {
        t.write(&format!("pointers/{kind}/linux-t.txt"), "none\n");
    }
    let r = t.check();
    assert_eq!(
        codes(&r),
        [
            "POINTER_VERSION_STATUS_TOO_LOW",
            "POINTER_LATEST_VALIDATED_MISMATCH"
        ]
    );
}

#[test]
fn coverage_all_is_required_only_when_union_complete() {
    let t = Tree::valid();
    t.set_union(&t.union(true));
    let r = t.check();
    assert_eq!(
        lines(&r),
        [
            "REPORT_MISSING error reports/0.1.0/coverage.all.json missing required file: reports/0.1.0/coverage.all.json (kind=all)"
        ]
    );
    t.write_json("reports/0.1.0/coverage.all.json", &report(json!({})));
    assert!(t.check().ok());
}

#[test]
fn wrapper_overlap_errors_are_complete_and_deterministic() {
    let t = Tree::valid();
    t.write_json(
        "wrapper_coverage.json",
        &json!({"schema_version": 1, "coverage": [
            {"path": ["exec"], "level": "explicit", "scope": {"platforms": ["linux"]}},
            {"path": ["exec"], "level": "explicit", "scope": {"target_triples": ["linux-t"]},
             "flags": [{"key": "--x", "level": "explicit"}, {"key": "--x", "level": "explicit"}]}
        ]}),
    );
    let first = t.check();
    assert_eq!(
        lines(&first),
        [
            "WRAPPER_SCOPE_OVERLAP error wrapper_coverage.json overlapping wrapper_coverage scopes are manifest-invalid (unit=command_path command_path=exec target_triple=linux-t matching_entry_indexes=[coverage[0],coverage[1]])",
            "WRAPPER_SCOPE_OVERLAP error wrapper_coverage.json overlapping wrapper_coverage scopes are manifest-invalid (unit=flag command_path=exec target_triple=linux-t matching_entry_indexes=[coverage[1].flags[0],coverage[1].flags[1]]) key_or_name=--x",
        ]
    );
    assert_eq!(
        first.violations[0].details,
        Some(
            json!({"matching_entry_indexes": ["coverage[0]", "coverage[1]"],
                    "matching_entry_scope_kinds": ["platforms", "target_triples"]})
        )
    );
    assert_eq!(lines(&t.check()), lines(&first));
}

#[test]
fn overlap_grouping_keeps_slash_paths_apart() {
    let t = Tree::valid();
    t.write_json(
        "wrapper_coverage.json",
        &json!({"schema_version": 1, "coverage": [
            {"path": ["a/b"], "level": "explicit"},
            {"path": ["a", "b"], "level": "explicit"}
        ]}),
    );
    assert!(t.check().ok());
}

#[test]
fn pointer_without_trailing_newline_is_rejected() {
    let t = Tree::valid();
    t.write("latest_validated.txt", "0.1.0");
    let r = t.check();
    assert_eq!(
        lines(&r),
        [
            "POINTER_INVALID_FORMAT error latest_validated.txt invalid pointer file format (missing trailing newline); expected single line + trailing newline"
        ]
    );
}

#[test]
fn each_pointer_format_reason_and_value_error() {
    let cases = [
        ("0.1.0\n\n", "POINTER_INVALID_FORMAT", "(multiple lines)"),
        (
            "0.1.0\r\n",
            "POINTER_INVALID_FORMAT",
            "(contains CR character)",
        ),
        (
            " 0.1.0\n",
            "POINTER_INVALID_FORMAT",
            "(contains leading/trailing whitespace)",
        ),
        (
            "v0.1.0\n",
            "POINTER_INVALID_VALUE",
            "(got v0.1.0); expected none or strict stable semver",
        ),
        ("01.1.0\n", "POINTER_INVALID_VALUE", "(got 01.1.0)"),
        ("0.1.0-rc.1\n", "POINTER_INVALID_VALUE", "(got 0.1.0-rc.1)"),
    ];
    for (content, code, needle) in cases {
        let t = Tree::valid();
        t.write("pointers/latest_supported/mac-t.txt", content);
        let r = t.check();
        assert_eq!(codes(&r), [code], "{content:?}");
        let v = &r.violations[0];
        assert_eq!(v.path, "pointers/latest_supported/mac-t.txt");
        assert!(v.message.contains(needle), "{}", v.message);
        assert!(
            v.message
                .ends_with("(target_triple=mac-t kind=latest_supported)"),
            "{}",
            v.message
        );
    }
    // Root pointers may not be `none` unless RULES allows it.
    let t = Tree::valid();
    t.write("min_supported.txt", "none\n");
    assert_eq!(
        lines(&t.check()),
        [
            "POINTER_INVALID_VALUE error min_supported.txt invalid pointer value (got none); expected strict stable semver MAJOR.MINOR.PATCH"
        ]
    );
    t.edit_rules(|r| r["versioning"]["pointers"]["root_pointers_allow_none"] = json!(true));
    assert!(t.check().ok());
    // A missing per-target pointer.
    std::fs::remove_file(t.path("pointers/latest_validated/win-t.txt")).unwrap();
    assert_eq!(
        lines(&t.check()),
        [
            "POINTER_MISSING_FILE error pointers/latest_validated/win-t.txt missing pointer file for target_triple=win-t kind=latest_validated"
        ]
    );
}

#[test]
fn fix_mode_creates_pointers_normalizes_and_rewrites_current() {
    let t = Tree::valid();
    std::fs::remove_file(t.path("pointers/latest_supported/win-t.txt")).unwrap();
    t.write("latest_validated.txt", "0.1.0\r\nextra\n");
    t.write("pointers/latest_validated/mac-t.txt", "none");
    t.write("current.json", "{}\n");
    assert!(!t.check().ok());
    let r = validate::check(&t.opts(Mode::Fix)).unwrap();
    assert!(r.ok(), "{:#?}", lines(&r));
    let read = |rel: &str| std::fs::read_to_string(t.path(rel)).unwrap();
    assert_eq!(read("pointers/latest_supported/win-t.txt"), "none\n");
    assert_eq!(read("latest_validated.txt"), "0.1.0\n");
    assert_eq!(read("pointers/latest_validated/mac-t.txt"), "none\n");
    assert_eq!(read("current.json"), read("snapshots/0.1.0/union.json"));
}

#[test]
fn iu_without_note_in_wrapper_coverage() {
    let t = Tree::valid();
    t.write_json(
        "wrapper_coverage.json",
        &json!({"schema_version": 1, "coverage": [
            {"path": ["exec"], "level": "intentionally_unsupported", "note": "  ",
             "args": [{"name": "PROMPT", "level": "intentionally_unsupported"}]}
        ]}),
    );
    assert_eq!(
        lines(&t.check()),
        [
            "IU_NOTE_MISSING error wrapper_coverage.json /coverage/0/args/0/note intentionally_unsupported requires non-empty note (unit=arg command_path=exec name=PROMPT)",
            "IU_NOTE_MISSING error wrapper_coverage.json /coverage/0/note intentionally_unsupported requires non-empty note (unit=command command_path=exec)",
        ]
    );
}

fn with_exclusions(t: &Tree, units: Value) {
    t.edit_rules(|r| r["parity_exclusions"] = json!({"schema_version": 1, "units": units}));
}

#[test]
fn report_missing_items_must_not_be_excluded_or_iu() {
    let t = Tree::valid();
    with_exclusions(
        &t,
        json!([{"unit": "flag", "path": [], "key": "--tui", "category": "tui", "note": "TUI only"}]),
    );
    t.write_json(
        "reports/0.1.0/coverage.any.json",
        &report(json!({
            "missing_flags": [{"path": [], "key": "--tui"}],
            "missing_args": [{"path": ["exec"], "name": "X", "wrapper_level": "intentionally_unsupported"}],
            "intentionally_unsupported": [
                {"path": ["b"], "wrapper_level": "intentionally_unsupported", "note": "n"},
                {"path": ["a"], "wrapper_level": "explicit", "note": ""}
            ]
        })),
    );
    assert_eq!(
        lines(&t.check()),
        [
            "REPORT_IU_NOT_SORTED error reports/0.1.0/coverage.any.json /deltas/intentionally_unsupported deltas.intentionally_unsupported must be stable-sorted by (kind,path,key_or_name)",
            "REPORT_MISSING_INCLUDES_EXCLUDED error reports/0.1.0/coverage.any.json /deltas/missing_flags/0 report missing_flags includes excluded flag (command_path=[] key=--tui category=tui)",
            "REPORT_IU_NOTE_MISSING error reports/0.1.0/coverage.any.json /deltas/intentionally_unsupported/1/wrapper_level intentionally_unsupported entry must have wrapper_level=intentionally_unsupported",
            "REPORT_IU_NOTE_MISSING error reports/0.1.0/coverage.any.json /deltas/intentionally_unsupported/1/note intentionally_unsupported entry requires non-empty note",
            "REPORT_MISSING_INCLUDES_INTENTIONALLY_UNSUPPORTED error reports/0.1.0/coverage.any.json /deltas/missing_args/0 report missing_args includes wrapper_level=intentionally_unsupported",
        ]
    );
}

#[test]
fn parity_exclusions_config_errors() {
    let t = Tree::valid();
    with_exclusions(
        &t,
        json!([
            {"unit": "flag", "path": [], "key": "--a", "note": "x"},
            {"unit": "command", "path": ["c"], "name": "n", "note": "x"},
            {"unit": "flag", "path": [], "key": "--a", "note": " "},
            {"unit": "arg", "path": [], "note": "x"},
            {"unit": "bogus", "path": [], "note": "x"}
        ]),
    );
    let r = t.check();
    let got: Vec<(&str, Option<&str>)> = r
        .violations
        .iter()
        .map(|v| (v.code, v.json_pointer.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "PARITY_EXCLUSIONS_NOT_SORTED",
                Some("/parity_exclusions/units")
            ),
            (
                "PARITY_EXCLUSIONS_INVALID_ENTRY",
                Some("/parity_exclusions/units/3/name")
            ),
            (
                "PARITY_EXCLUSIONS_INVALID_ENTRY",
                Some("/parity_exclusions/units/4/unit")
            ),
            (
                "PARITY_EXCLUSIONS_DUPLICATE",
                Some("/parity_exclusions/units")
            ),
            (
                "PARITY_EXCLUSIONS_NOTE_MISSING",
                Some("/parity_exclusions/units/2/note")
            ),
            (
                "PARITY_EXCLUSIONS_INVALID_ENTRY",
                Some("/parity_exclusions/units/1")
            ),
        ]
    );
    assert!(r.violations.iter().all(|v| v.path == "RULES.json"));
    t.edit_rules(|r| r["parity_exclusions"]["schema_version"] = json!(2));
    assert_eq!(codes(&t.check()), ["PARITY_EXCLUSIONS_SCHEMA_VERSION"]);
}

#[test]
fn version_file_with_invalid_name() {
    let t = Tree::valid();
    t.write_json("versions/0.2.0-beta.json", &t.metadata("validated"));
    assert_eq!(
        lines(&t.check()),
        [
            "VERSION_FILE_INVALID_NAME error versions/0.2.0-beta.json versions/<version>.json filename must be a strict stable semver (got 0.2.0-beta)"
        ]
    );
}

#[test]
fn pointer_to_snapshotted_version_is_too_low() {
    let t = Tree::valid();
    t.write_json("versions/0.1.0.json", &t.metadata("snapshotted"));
    let r = t.check();
    assert_eq!(codes(&r), ["POINTER_VERSION_STATUS_TOO_LOW"; 3]);
    let paths: Vec<&str> = r.violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "latest_validated.txt",
            "pointers/latest_supported/linux-t.txt",
            "pointers/latest_validated/linux-t.txt"
        ]
    );
    t.write_json("versions/0.1.0.json", &t.metadata("supported"));
    assert!(t.check().ok());
}

#[test]
fn duplicate_command_paths_and_flag_keys() {
    let t = Tree::valid();
    let mut union = t.union(false);
    union["commands"] = json!([
        {"path": [], "flags": [{"key": "--help"}, {"key": "--help"}]},
        {"path": ["exec"]},
        {"path": ["exec"]}
    ]);
    t.set_union(&union);
    let r = t.check();
    let got: Vec<(&str, &str, Option<&str>)> = r
        .violations
        .iter()
        .map(|v| (v.code, v.path.as_str(), v.json_pointer.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "DUPLICATE_FLAG_KEY",
                "current.json",
                Some("/commands/0/flags/1")
            ),
            (
                "DUPLICATE_COMMAND_PATH",
                "current.json",
                Some("/commands/2/path")
            ),
            (
                "DUPLICATE_FLAG_KEY",
                "snapshots/0.1.0/union.json",
                Some("/commands/0/flags/1")
            ),
            (
                "DUPLICATE_COMMAND_PATH",
                "snapshots/0.1.0/union.json",
                Some("/commands/2/path")
            ),
        ]
    );
    // Per-target snapshots: flag key is long, else short.
    let t = Tree::valid();
    t.write_json(
        "snapshots/0.1.0/linux-t.json",
        &json!({"snapshot_schema_version": 1, "binary": {"semantic_version": "0.1.0"},
                "commands": [{"path": [], "flags": [{"short": "-q"}, {"long": "--quiet", "short": "-q"}, {"short": "-q"}]}]}),
    );
    assert_eq!(
        lines(&t.check()),
        [
            "DUPLICATE_FLAG_KEY error snapshots/0.1.0/linux-t.json /commands/0/flags/2 duplicate flag key (command_path=[] key=-q first=/commands/0/flags/0)"
        ]
    );
}

#[test]
fn current_semver_mismatch_points_at_the_input() {
    let t = Tree::valid();
    let mut union = t.union(false);
    union["inputs"] = json!([
        {"target_triple": "mac-t", "binary": {"semantic_version": "0.1.0"}},
        {"target_triple": "linux-t", "binary": {"semantic_version": "0.0.9"}}
    ]);
    t.set_union(&union);
    t.write_json(
        "snapshots/0.1.0/mac-t.json",
        &t.read_json("snapshots/0.1.0/linux-t.json"),
    );
    t.write_json("reports/0.1.0/coverage.mac-t.json", &report(json!({})));
    let r = t.check();
    assert_eq!(
        lines(&r),
        [
            "CURRENT_JSON_SEMVER_MISMATCH error current.json /inputs/1/binary/semantic_version current.json required_target binary.semantic_version must equal latest_validated.txt (expected 0.1.0, got 0.0.9)"
        ]
    );
}

#[test]
fn schema_errors_are_one_per_error_with_pointer() {
    let t = Tree::valid();
    let mut union = t.union(false);
    union["complete"] = json!("no");
    union["commands"][1]["path"] = json!([1]);
    t.write_json("snapshots/0.1.0/union.json", &union);
    let r = t.check();
    let schema: Vec<(&str, Option<&str>)> = r
        .violations
        .iter()
        .filter(|v| v.code == "UNION_SCHEMA_INVALID")
        .map(|v| (v.code, v.json_pointer.as_deref()))
        .collect();
    assert_eq!(
        schema,
        [
            ("UNION_SCHEMA_INVALID", Some("/commands/1/path/0")),
            ("UNION_SCHEMA_INVALID", Some("/complete"))
        ]
    );
    assert!(r.has("CURRENT_JSON_NOT_EQUAL_UNION"));
    assert!(
        r.violations.iter().all(|v| v.message.len() < 200),
        "{:#?}",
        lines(&r)
    );
}

#[test]
fn missing_files_are_reported() {
    let t = Tree::valid();
    std::fs::remove_file(t.path("snapshots/0.1.0/linux-t.json")).unwrap();
    std::fs::remove_file(t.path("wrapper_coverage.json")).unwrap();
    t.write("versions/0.1.0.json", "{not json");
    assert_eq!(
        codes(&t.check()),
        [
            "SNAPSHOT_MISSING",
            "VERSION_METADATA_INVALID_JSON",
            "WRAPPER_COVERAGE_MISSING"
        ]
    );
}

#[test]
fn json_output_has_sorted_keys() {
    let t = Tree::valid();
    t.write("latest_validated.txt", "0.1.0");
    let text = serde_json::to_string_pretty(&t.check().to_json()).unwrap();
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"').and_then(|l| l.split('"').next()))
        .collect();
    assert_eq!(
        keys,
        ["ok", "violations", "code", "message", "path", "severity"]
    );
}

#[test]
fn unsupported_rules_are_fatal() {
    let t = Tree::valid();
    t.edit_rules(|r| {
        r["wrapper_coverage"]["scope_semantics"]["scope_set_resolution"]["mode"] = json!("best")
    });
    let err = validate::check(&t.opts(Mode::Check)).unwrap_err();
    assert!(
        format!("{err:#}").contains("scope_set_resolution.mode=best"),
        "{err:#}"
    );
    assert_eq!(validate::run(&t.opts(Mode::Check)), 3);
}
