//! `parity pr-body V`: the pull request of a version, from this repository's artifacts.

use crate::support::{Project, clone_workspace, repo};

fn repo_copy() -> Project {
    clone_workspace(&repo())
}

#[test]
fn pr_body_says_why_a_version_is_not_promoted_and_lists_the_work() {
    let p = repo_copy();
    let run = p.parity(&["pr-body", "codex:0.61.0"]);
    run.ok();
    let out = &run.stdout;
    assert!(
        out.starts_with("codex 0.61.0: snapshots, reports and metadata (reported)\n\n## codex 0.61.0: `reported`\n"),
        "{out}"
    );
    assert!(
        out.contains("**Not promoted**: the status is `reported`, so `latest_validated.txt` and the pointers stay at 0.97.0: validation failed on `x86_64-unknown-linux-musl`."),
        "{out}"
    );
    assert!(
        out.contains(
            "| `x86_64-unknown-linux-musl` | **failed** | recorded in `validation.toml` |"
        ),
        "{out}"
    );
    assert!(
        out.contains("- [ ] wrapper-only command `fork` (on `x86_64-unknown-linux-musl`)"),
        "{out}"
    );
    assert!(out.contains("No earlier version to compare with."), "{out}");

    let run = p.parity(&["pr-body", "codex:0.97.0"]);
    run.ok();
    let out = &run.stdout;
    assert!(
        out.contains(
            "Promoted: `latest_validated.txt`, the pointers and `current.json` now point at 0.97.0."
        ),
        "{out}"
    );
    assert!(out.contains("### Upstream changes since 0.92.0"), "{out}");
    assert!(out.contains("- commands added (7): `debug`,"), "{out}");
    assert!(out.contains("| wrapper only commands | 1 | 0 |"), "{out}");
    // Same artifacts, same text.
    assert_eq!(p.parity(&["pr-body", "codex:0.97.0"]).stdout, run.stdout);

    let title = p.parity(&["pr-body", "codex:0.97.0", "--title"]);
    title.ok();
    assert_eq!(
        title.stdout,
        "codex 0.97.0: snapshots, reports and metadata (validated)\n"
    );

    // A node's result that validation.toml overrides is shown with the override.
    p.write(
        "cli_manifests/codex/validation/0.61.0/x86_64-unknown-linux-musl.json",
        r#"{"schema_version": 1, "version": "0.61.0", "target": "x86_64-unknown-linux-musl",
            "check": "help-surface", "result": "passed",
            "checked": {"commands": 21, "units": 48}, "failures": []}"#,
    );
    let run = p.parity(&["pr-body", "codex:0.61.0"]);
    run.ok();
    assert!(
        run.stdout.contains("| `x86_64-unknown-linux-musl` | **failed** | help-surface: 21 commands, 48 flags/args, which passed; overridden in `validation.toml` |"),
        "{}",
        run.stdout
    );

    let run = p.parity(&["pr-body", "codex:0.98.0"]);
    run.code(1);
    assert!(
        run.stderr.contains("no version metadata for 0.98.0"),
        "{}",
        run.stderr
    );
    p.parity(&["pr-body", "codex:0.98"]).code(2);
}
