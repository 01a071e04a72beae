//! `parity rule …` as a drop-in for the reference `xtask`: the reference's command names
//! (`codex-union`, `claude-snapshot`, …) with its flags, on copies of this repository's
//! manifests and on the fake Claude Code of the rules tests.

use std::path::{Path, PathBuf};

use crate::support::{Project, copy_dir, repo};

fn fake_claude() -> PathBuf {
    repo().join("rules/tests/fixtures/snapshot/fake_claude.sh")
}

/// A project holding a copy of `cli_manifests/codex` at `codex/`.
fn codex_copy() -> Project {
    let p = Project::new();
    copy_dir(&repo().join("cli_manifests/codex"), &p.path("codex"));
    p
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_reference_codex_command_names_run_the_same_rules() {
    let p = codex_copy();
    let epoch = [("SOURCE_DATE_EPOCH", "1769990400")];
    let committed = |rel: &str| bytes(&repo().join("cli_manifests/codex").join(rel));
    p.remove("codex/snapshots/0.92.0/union.json");
    p.parity_env(
        &epoch,
        &[
            "rule",
            "codex-union",
            "--root",
            "codex",
            "--version",
            "0.92.0",
        ],
    )
    .ok();
    assert_eq!(
        bytes(&p.path("codex/snapshots/0.92.0/union.json")),
        committed("snapshots/0.92.0/union.json")
    );
    std::fs::remove_dir_all(p.path("codex/reports/0.92.0")).unwrap();
    p.parity_env(
        &epoch,
        &[
            "rule",
            "codex-report",
            "--root",
            "codex",
            "--version",
            "0.92.0",
        ],
    )
    .ok();
    for file in [
        "coverage.any.json",
        "coverage.x86_64-unknown-linux-musl.json",
    ] {
        assert_eq!(
            bytes(&p.path(&format!("codex/reports/0.92.0/{file}"))),
            committed(&format!("reports/0.92.0/{file}"))
        );
    }
    let meta = [
        "rule",
        "codex-version-metadata",
        "--root",
        "codex",
        "--version",
        "0.92.0",
        "--status",
        "validated",
    ];
    p.parity_env(&epoch, &meta).ok();
    assert_eq!(
        bytes(&p.path("codex/versions/0.92.0.json")),
        committed("versions/0.92.0.json")
    );
    let run = p.parity(&["rule", "codex-validate", "--root", "codex"]);
    run.ok();
    assert_eq!(run.stdout, "OK: codex-validate\n");
    let run = p.parity(&["rule", "codex-retain", "--root", "codex"]);
    run.ok();
    assert!(
        run.stdout.starts_with("apply: false\nkeep_versions:\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn claude_snapshot_takes_the_reference_flags_and_none_of_the_callers_environment() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("claude_code")).unwrap();
    std::fs::copy(
        repo().join("cli_manifests/claude_code/RULES.json"),
        p.path("claude_code/RULES.json"),
    )
    .unwrap();
    let fake = fake_claude();
    let args = [
        "rule",
        "claude-snapshot",
        "--claude-binary",
        fake.to_str().unwrap(),
        "--out-file",
        "claude_code/snapshots/9.8.7/linux-x64.json",
        "--capture-raw-help",
        "--raw-help-target",
        "linux-x64",
        "--help-timeout-ms",
        "300",
    ];
    let leak = [("SOURCE_DATE_EPOCH", "0"), ("ANTHROPIC_API_KEY", "sk-leak")];
    p.parity_env(&leak, &args).ok();
    let snap: serde_json::Value =
        serde_json::from_str(&p.read("claude_code/snapshots/9.8.7/linux-x64.json")).unwrap();
    assert_eq!(snap["tool"], "claude-code-cli");
    assert_eq!(snap["collected_at"], "1970-01-01T00:00:00Z");
    let commands = p.path("claude_code/raw_help/9.8.7/linux-x64/commands");
    let env_help = std::fs::read_dir(&commands)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.to_string_lossy().contains("/env__"))
        .expect("raw help of `env`");
    let text = std::fs::read_to_string(env_help.join("help.txt")).unwrap();
    assert!(text.contains("caller environment seen: no"), "{text}");

    let both = p.parity(&[
        "rule",
        "claude-snapshot",
        "--claude-binary",
        fake.to_str().unwrap(),
        "--out-file",
        "a.json",
        "--out-dir",
        "d",
    ]);
    both.code(2);
    assert!(
        both.stderr.contains("--out-file") && both.stderr.contains("--out-dir"),
        "{}",
        both.stderr
    );
    p.parity(&["rule", "claude-snapshot", "--claude-binary", "x"])
        .code(2);
}

#[test]
fn claude_union_refuses_a_codex_snapshot() {
    let p = Project::new();
    let root = p.path("claude_code");
    std::fs::create_dir_all(root.join("snapshots/0.92.0")).unwrap();
    std::fs::copy(
        repo().join("cli_manifests/claude_code/RULES.json"),
        root.join("RULES.json"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("cli_manifests/codex/snapshots/0.92.0/x86_64-unknown-linux-musl.json"),
        root.join("snapshots/0.92.0/linux-x64.json"),
    )
    .unwrap();
    let run = p.parity(&[
        "rule",
        "claude-union",
        "--root",
        "claude_code",
        "--version",
        "0.92.0",
    ]);
    run.code(1);
    assert!(
        run.stderr
            .contains("(expected claude-code-cli, got codex-cli)"),
        "{}",
        run.stderr
    );
}
