//! Opt-in: real Claude Code releases through `claude-snapshot`, `claude-union`, the reports
//! and the version metadata, compared byte for byte with `fixtures/claude/<version>/`.
//!
//!     PARITY_REAL_CLAUDE=$(../shared/tools/fetch-claude 2.1.113)/claude \
//!       cargo test -p parity-rules --test it real_claude -- --ignored --nocapture
//!
//! The fixtures of 2.1.112 (the last `cli.js` release, run by node through fetch-claude's
//! wrapper script) and 2.1.113 (the first native one) are the reference `xtask`'s own outputs
//! (atomize-hq/codex-wrapper at 18eb027, same commands and SOURCE_DATE_EPOCH); 2.1.332's are
//! parity's, since the reference never finishes on it (claude spec §9 B1). The tests are
//! `#[ignore]`d: `.ci/run` runs them with `--ignored`; without their variable they fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parity_rules::snapshot::crawl::NotePaths;
use parity_rules::snapshot::{self, Cli, Out, SnapshotOptions};
use parity_rules::{metadata, report, union};
use serde_json::Value;

use crate::files::{files_under, version_of};

/// `SOURCE_DATE_EPOCH` of the fixtures (`2026-02-02T00:00:00Z`).
const EPOCH: i64 = 1_769_990_400;
const TARGET: &str = "linux-x64";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude")
}

fn binary(var: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "set {var}=/path/to/claude (../shared/tools/fetch-claude VERSION prints its directory)"
        )
    });
    PathBuf::from(path)
}

/// A temp `claude_code` root with the repository's sources, after the whole chain ran on
/// `binary` for `version`.
fn chain(binary: &Path, version: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("claude_code");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli_manifests/claude_code");
    for f in [
        "RULES.json",
        "wrapper_coverage.json",
        "supplement/commands.json",
    ] {
        std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
        std::fs::copy(sources.join(f), root.join(f)).unwrap();
    }
    snapshot::run(&SnapshotOptions {
        cli: Cli::Claude,
        binary: binary.to_path_buf(),
        out: Out::File(root.join(format!("snapshots/{version}/{TARGET}.json"))),
        capture_raw_help: true,
        raw_help_target: Some(TARGET.into()),
        supplement: Some(root.join("supplement/commands.json")),
        collected_at: Some(parity_rules::common::epoch_to_rfc3339(EPOCH).unwrap()),
        timeout: Duration::from_secs(30),
        jobs: 2,
        note_paths: NotePaths::Full,
    })
    .unwrap();
    union::run(&union::UnionOptions {
        cli: Cli::Claude,
        root: root.clone(),
        version: version.into(),
        rules: None,
        epoch: Some(EPOCH),
    })
    .unwrap();
    report::run(&report::ReportOptions {
        root: root.clone(),
        version: version.into(),
        rules: None,
        epoch: Some(EPOCH),
    })
    .unwrap();
    metadata::run(&metadata::MetadataOptions {
        root: root.clone(),
        version: version.into(),
        status: "reported".into(),
        rules: None,
        epoch: Some(EPOCH),
    })
    .unwrap();
    tmp
}

/// Every file the chain wrote under `root` (snapshots, raw help, reports, metadata) equals
/// the fixture's, and there are no others.
fn assert_same_outputs(root: &Path, want: &Path) {
    let areas = ["snapshots", "raw_help", "reports", "versions"];
    let listed = |base: &Path| -> Vec<PathBuf> {
        areas
            .iter()
            .flat_map(|a| {
                files_under(&base.join(a))
                    .into_iter()
                    .map(move |f| Path::new(a).join(f))
            })
            .collect()
    };
    let expected = listed(want);
    assert!(
        !expected.is_empty(),
        "no fixture files under {}",
        want.display()
    );
    assert_eq!(listed(root), expected);
    for rel in &expected {
        assert_eq!(
            std::fs::read(root.join(rel)).unwrap(),
            std::fs::read(want.join(rel)).unwrap(),
            "{} differs from the fixture",
            rel.display()
        );
    }
}

#[test]
#[ignore = "needs PARITY_REAL_CLAUDE=/path/to/claude of a version with fixtures (.ci/run sets it)"]
fn real_claude_reproduces_the_reference_bytes() {
    let binary = binary("PARITY_REAL_CLAUDE");
    let version = version_of(&binary);
    let want = fixtures().join(&version);
    assert!(
        want.is_dir(),
        "no fixtures for Claude Code {version} under {}",
        fixtures().display()
    );
    let tmp = chain(&binary, &version);
    assert_same_outputs(&tmp.path().join("claude_code"), &want);
    eprintln!("Claude Code {version}: snapshot, raw help, union, reports and metadata identical");
}

#[test]
#[ignore = "needs PARITY_REAL_CLAUDE_TRAP=/path/to/claude of 2.1.153 or later (.ci/run sets it)"]
fn real_claude_with_the_wrapped_line_trap_finishes_with_a_sane_snapshot() {
    let binary = binary("PARITY_REAL_CLAUDE_TRAP");
    let version = version_of(&binary);
    let tmp = chain(&binary, &version);
    let root = tmp.path().join("claude_code");
    let snap: Value = serde_json::from_slice(
        &std::fs::read(root.join(format!("snapshots/{version}/{TARGET}.json"))).unwrap(),
    )
    .unwrap();
    let commands = snap["commands"].as_array().unwrap();
    let path = |c: &Value| -> Vec<String> { serde_json::from_value(c["path"].clone()).unwrap() };
    let notes: Vec<String> = serde_json::from_value(snap["known_omissions"].clone()).unwrap();
    let cut: Vec<&str> = notes
        .iter()
        .filter_map(|n| n.strip_prefix("skipped subcommands of a path that prints the root help: "))
        .collect();
    assert!(
        !cut.is_empty(),
        "no wrapped-line trap in {version}: {notes:?}"
    );
    let top = &commands[0];
    assert_eq!(path(top), Vec::<String>::new());
    assert!(top["flags"].as_array().unwrap().len() > 20);
    for word in &cut {
        let entry = commands
            .iter()
            .find(|c| path(c) == [word.to_string()])
            .unwrap_or_else(|| panic!("`{word}` is not recorded"));
        assert_eq!(entry["usage"], top["usage"]);
        assert!(
            !commands.iter().any(|c| {
                let p = path(c);
                p.len() > 1 && p[0] == *word
            }),
            "a path below `{word}` was crawled"
        );
    }
    for real in ["doctor", "mcp", "plugin", "update"] {
        assert!(
            commands.iter().any(|c| path(c) == [real.to_string()]),
            "`{real}` is missing"
        );
    }
    assert!(commands.len() < 60, "{} commands", commands.len());
    eprintln!(
        "Claude Code {version}: {} commands, cut below {cut:?}",
        commands.len()
    );
    let golden = fixtures().join(&version);
    if golden.is_dir() {
        assert_same_outputs(&root, &golden);
    }
}

/// The validation node of the claude member (`check = "help-surface"`, `cli = "claude"`): the
/// repository's wrapper claims hold against a real Claude Code release, and a claim its help
/// lacks (a flag, a subcommand whose `--help` prints no `Usage: claude <path>`) fails.
#[test]
#[ignore = "needs PARITY_REAL_CLAUDE=/path/to/claude (.ci/run sets it)"]
fn real_claude_reproduces_the_wrapper_claims_in_its_help_surface() {
    use parity_rules::rules_json::RulesJson;
    use parity_rules::wrapper_check;
    let binary = binary("PARITY_REAL_CLAUDE");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli_manifests/claude_code");
    let space = RulesJson::read(&sources.join("RULES.json"))
        .and_then(|r| r.target_space())
        .unwrap();
    let check = |coverage: &Path| {
        wrapper_check::check(
            &binary,
            coverage,
            &space,
            TARGET,
            Duration::from_secs(60),
            Cli::Claude,
        )
        .unwrap()
    };
    let report = check(&sources.join("wrapper_coverage.json"));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.commands >= 1 && report.units >= 6, "{report:?}");

    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrapper_coverage.json");
    let coverage = serde_json::json!({"schema_version": 1, "coverage": [
        {"path": [], "level": "explicit", "flags": [
            {"key": "--print", "level": "explicit"},
            {"key": "--no-such-flag", "level": "explicit"}]},
        {"path": ["no-such-command"], "level": "explicit"},
    ]});
    std::fs::write(&wrong, coverage.to_string()).unwrap();
    let report = check(&wrong);
    let claims: Vec<&str> = report.failures.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(
        claims,
        ["flag `<root> --no-such-flag`", "command `no-such-command`"],
        "{:?}",
        report.failures
    );
}
