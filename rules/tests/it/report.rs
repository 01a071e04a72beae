//! Tests of the `report` rule.

use std::path::Path;

use parity_rules::report::{ReportOptions, run};
use serde_json::{Value, json};

use super::union::{LINUX, MAC, WIN, read, root_with, snapshot, union, write};

fn report(root: &Path) -> anyhow::Result<()> {
    run(&ReportOptions {
        root: root.to_path_buf(),
        version: "0.77.0".into(),
        rules: None,
        epoch: Some(0),
    })
}

fn wrapper(root: &Path, coverage: Value) {
    write(
        &root.join("wrapper_coverage.json"),
        &json!({ "schema_version": 1, "coverage": coverage }),
    );
}

fn rep(root: &Path, name: &str) -> Value {
    read(&root.join(format!("reports/0.77.0/coverage.{name}.json")))
}

/// The spec §10 `complete_union_empty_wrapper` upstream, per target.
fn filter_cmds(target: &str) -> Value {
    let mut root_flags = vec![json!({ "long": "--all", "takes_value": false })];
    let mut root_args = vec![json!({ "name": "INPUT", "required": false, "variadic": false })];
    let mut cmds = vec![];
    if target == LINUX {
        root_flags.push(json!({ "long": "--linux-only", "takes_value": false }));
        cmds.push(json!({ "path": ["linux-only"] }));
    }
    if target == WIN {
        root_args.push(json!({ "name": "WIN", "required": false, "variadic": false }));
    }
    if target == MAC {
        cmds.push(json!({ "path": ["macos-only"] }));
    }
    if target != WIN {
        cmds.push(json!({ "path": ["two"], "args": [{ "name": "LM", "required": false, "variadic": false }] }));
    }
    cmds.push(json!({ "path": [], "flags": root_flags, "args": root_args }));
    snapshot(target, Value::Array(cmds))
}

fn lens(r: &Value) -> [usize; 3] {
    let d = &r["deltas"];
    ["missing_commands", "missing_flags", "missing_args"].map(|k| d[k].as_array().unwrap().len())
}

#[test]
fn complete_union_empty_wrapper() {
    let root = root_with(&[
        (LINUX, filter_cmds(LINUX)),
        (MAC, filter_cmds(MAC)),
        (WIN, filter_cmds(WIN)),
    ]);
    union(root.path()).unwrap();
    wrapper(root.path(), json!([]));
    report(root.path()).unwrap();
    let p = root.path();
    assert_eq!(lens(&rep(p, "any")), [4, 2, 3]);
    let all = rep(p, "all");
    assert_eq!(lens(&all), [1, 1, 1]);
    assert_eq!(all["deltas"]["missing_commands"][0]["path"], json!([]));
    assert_eq!(all["deltas"]["missing_flags"][0]["key"], json!("--all"));
    assert_eq!(all["deltas"]["missing_args"][0]["name"], json!("INPUT"));
    let linux = rep(p, LINUX);
    assert_eq!(
        linux["platform_filter"],
        json!({ "mode": "exact_target", "target_triple": LINUX })
    );
    assert_eq!(lens(&linux)[0], 3);
    assert_eq!(lens(&linux)[2], 2);
    let win = rep(p, WIN);
    assert_eq!(lens(&win)[0], 1);
    assert_eq!(lens(&win)[2], 2);
    assert_eq!(all["generated_at"], rep(p, "any")["generated_at"]);
}

#[test]
fn skips_coverage_all_when_union_incomplete_and_removes_stale_files() {
    let root = root_with(&[(LINUX, filter_cmds(LINUX))]);
    union(root.path()).unwrap();
    wrapper(root.path(), json!([]));
    let dir = root.path().join("reports/0.77.0");
    std::fs::create_dir_all(&dir).unwrap();
    for stale in ["coverage.all.json", &format!("coverage.{MAC}.json")] {
        std::fs::write(dir.join(stale), "{}").unwrap();
    }
    std::fs::write(dir.join("notes.md"), "kept").unwrap();
    report(root.path()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "coverage.any.json",
            &format!("coverage.{LINUX}.json"),
            "notes.md"
        ]
    );
}

/// Spec §10 c5: descendants of an IU command inherit IU; an explicit override wins.
#[test]
fn iu_subtree_inheritance() {
    let cmds = json!([
        { "path": ["waived"] },
        { "path": ["waived", "child-a"], "flags": [{ "long": "--zzz", "takes_value": false },
            { "long": "--aaa", "takes_value": false }],
          "args": [{ "name": "ARG_A", "required": false, "variadic": false }] },
        { "path": ["waived", "child-b"], "flags": [{ "long": "--bbb", "takes_value": false }],
          "args": [{ "name": "ARG_B", "required": false, "variadic": false }] },
        { "path": ["waived", "override"] }
    ]);
    let root = root_with(&[(LINUX, snapshot(LINUX, cmds))]);
    union(root.path()).unwrap();
    wrapper(
        root.path(),
        json!([
            { "path": ["waived"], "level": "intentionally_unsupported", "note": " Out of scope. " },
            { "path": ["waived", "override"], "level": "explicit" }
        ]),
    );
    report(root.path()).unwrap();
    let any = rep(root.path(), "any");
    assert_eq!(lens(&any), [0, 0, 0]);
    let iu: Vec<String> = any["deltas"]["intentionally_unsupported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["note"], json!("Out of scope."));
            assert_eq!(e["wrapper_level"], json!("intentionally_unsupported"));
            let id = e
                .get("key")
                .or(e.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            format!(
                "{} {id}",
                e["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("/")
            )
        })
        .collect();
    assert_eq!(
        iu,
        [
            "waived ",
            "waived/child-a ",
            "waived/child-b ",
            "waived/child-a --aaa",
            "waived/child-a --zzz",
            "waived/child-b --bbb",
            "waived/child-a ARG_A",
            "waived/child-b ARG_B",
        ]
    );
}

#[test]
fn iu_scope_mismatch_and_multi_level_are_errors_that_write_nothing() {
    let cmds = json!([{ "path": ["w"] }, { "path": ["w", "c"] }]);
    let root = root_with(&[
        (LINUX, snapshot(LINUX, cmds.clone())),
        (MAC, snapshot(MAC, cmds)),
    ]);
    union(root.path()).unwrap();
    wrapper(
        root.path(),
        json!([
            { "path": ["w"], "level": "intentionally_unsupported", "note": "n", "scope": { "platforms": ["linux"] } }
        ]),
    );
    let err = report(root.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "unsupported or inconsistent wrapper coverage for command: IU subtree root scope mismatch: root_path=w does not cover all upstream targets for unit_path=w c (root_targets={LINUX} unit_targets={MAC},{LINUX})"
        )
    );
    assert!(!root.path().join("reports").exists());

    wrapper(
        root.path(),
        json!([
            { "path": ["w"], "level": "explicit", "scope": { "target_triples": [LINUX] } },
            { "path": ["w"], "level": "unsupported", "scope": { "platforms": ["macos"] } }
        ]),
    );
    let err = report(root.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        "unsupported or inconsistent wrapper coverage for command: path=w has multiple wrapper levels across relevant scopes"
    );
    assert!(!root.path().join("reports").exists());
}

#[test]
fn failing_report_keeps_previous_files() {
    let cmds = json!([{ "path": ["w"] }]);
    let root = root_with(&[(LINUX, snapshot(LINUX, cmds))]);
    union(root.path()).unwrap();
    wrapper(root.path(), json!([]));
    report(root.path()).unwrap();
    let any = root.path().join("reports/0.77.0/coverage.any.json");
    let before = std::fs::read(&any).unwrap();
    wrapper(
        root.path(),
        json!([{ "path": ["w"], "level": "intentionally_unsupported" }]),
    );
    let err = report(root.path()).unwrap_err().to_string();
    assert!(
        err.ends_with("path=w intentionally_unsupported requires non-empty note"),
        "{err}"
    );
    assert_eq!(std::fs::read(&any).unwrap(), before);
}

#[test]
fn exclusions_buckets_and_wrapper_only() {
    let cmds = json!([
        { "path": [], "flags": [{ "long": "--tui", "takes_value": false }],
          "args": [{ "name": "PROMPT", "required": false, "variadic": false }] },
        { "path": ["gone"], "flags": [{ "long": "--x", "takes_value": false }] },
        { "path": ["pass"] }, { "path": ["unsup"], "flags": [{ "long": "--u", "takes_value": false }] },
        { "path": ["unk"] }
    ]);
    let root = root_with(&[(LINUX, snapshot(LINUX, cmds))]);
    let mut r = super::union::rules();
    r["parity_exclusions"] = json!({ "schema_version": 1, "units": [
        { "unit": "command", "path": ["gone"], "note": "gone note" },
        { "unit": "flag", "path": [], "key": "--tui", "note": "tui" },
        { "unit": "arg", "path": [], "name": "PROMPT", "note": "prompt" } ] });
    write(&root.path().join("RULES.json"), &r);
    union(root.path()).unwrap();
    wrapper(
        root.path(),
        json!([
            { "path": [], "level": "explicit" },
            { "path": ["pass"], "level": "passthrough", "note": "p" },
            { "path": ["unsup"], "level": "unsupported", "flags": [{ "key": "--u", "level": "unsupported" }] },
            { "path": ["unk"], "level": "unknown", "note": "why" },
            { "path": ["extra"], "level": "explicit", "args": [{ "name": "E", "level": "explicit" }] }
        ]),
    );
    report(root.path()).unwrap();
    let d = rep(root.path(), "any")["deltas"].clone();
    assert_eq!(
        d["excluded_commands"],
        json!([{ "path": ["gone"], "upstream_available_on": [LINUX], "note": "gone note" }])
    );
    assert_eq!(d["excluded_flags"][0]["key"], json!("--tui"));
    assert_eq!(d["excluded_args"][0]["name"], json!("PROMPT"));
    assert_eq!(
        d["passthrough_candidates"],
        json!([{ "path": ["pass"], "upstream_available_on": [LINUX], "wrapper_level": "passthrough", "note": "p" }])
    );
    assert_eq!(d["unsupported"][0]["path"], json!(["unsup"]));
    assert_eq!(
        d["missing_flags"],
        json!([{ "path": ["unsup"], "key": "--u", "upstream_available_on": [LINUX], "wrapper_level": "unsupported" }])
    );
    assert_eq!(
        d["missing_commands"],
        json!([{ "path": ["unk"], "upstream_available_on": [LINUX], "wrapper_level": "unknown", "note": "why" }])
    );
    assert_eq!(
        d["wrapper_only_commands"],
        json!([{ "path": ["extra"], "upstream_available_on": [LINUX], "wrapper_level": "explicit" }])
    );
    assert_eq!(d["wrapper_only_args"][0]["name"], json!("E"));
}

#[test]
fn wrong_schema_versions_are_errors_that_write_nothing() {
    use super::union::chain;
    let dir = root_with(&[(LINUX, snapshot(LINUX, json!([{ "path": [] }])))]);
    union(dir.path()).unwrap();
    wrapper(dir.path(), json!([]));
    // A union document of an unknown schema version.
    let union_file = dir.path().join("snapshots/0.77.0/union.json");
    let good = std::fs::read(&union_file).unwrap();
    let mut wrong = read(&union_file);
    wrong["snapshot_schema_version"] = json!(3);
    write(&union_file, &wrong);
    let err = chain(&report(dir.path()).unwrap_err());
    assert!(err.contains("invalid union snapshot kind"), "{err}");
    std::fs::write(&union_file, good).unwrap();
    // A wrapper coverage manifest of an unknown schema version.
    write(
        &dir.path().join("wrapper_coverage.json"),
        &json!({ "schema_version": 2, "coverage": [] }),
    );
    let err = chain(&report(dir.path()).unwrap_err());
    assert!(err.contains("invalid wrapper coverage kind"), "{err}");
    assert!(!dir.path().join("reports").exists(), "nothing written");
}
