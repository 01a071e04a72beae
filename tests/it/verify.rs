//! `parity verify`: the CI gate. Clean -> 0; an output edited by hand or a node not rebuilt
//! after an input changed -> 1, naming each; `--rebuild` proves the outputs reproducible.

use crate::support::{Project, command_node};

/// `src.txt` -> `a` -> `b`; `c` from `other.txt`.
fn project(c_recipe: &str) -> Project {
    let pipeline = [
        command_node("a", &["src.txt"], &["out/a.txt"], "sort $in > $out"),
        command_node("b", &["a"], &["out/b.txt"], "cat $in $in > $out"),
        command_node("c", &["other.txt"], &["out/c.txt"], c_recipe),
    ]
    .concat();
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "b\na\n")
        .file("other.txt", "x\n")
}

#[test]
fn verify_passes_on_a_fresh_workspace() {
    let p = project("cp $in $out");
    p.parity(&["build"]).ok();
    let run = p.parity(&["verify"]);
    run.ok();
    assert_eq!(
        run.stdout,
        "verify: ok: 3 nodes fresh, every committed output matches `pipeline.lock`\n"
    );
    let json = p.parity(&["verify", "--json"]);
    json.ok();
    assert_eq!(json.summary()["ok"], true);
}

#[test]
fn verify_names_every_hand_edited_output_and_every_stale_node() {
    let p = project("cp $in $out");
    p.parity(&["build"]).ok();
    p.take_runs();
    p.write("out/c.txt", "edited by hand\n");
    p.write("src.txt", "c\nb\na\n");
    let run = p.parity(&["verify"]);
    run.code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines[0].starts_with("stale: a  input `src.txt` changed ("),
        "{}",
        run.stdout
    );
    assert_eq!(lines[1], "stale: b  dependency `a` is not fresh");
    assert!(
        lines[2].starts_with("modified: out/c.txt (recorded blake3:"),
        "{}",
        run.stdout
    );
    assert!(lines[2].ends_with("; node c)"), "{}", lines[2]);
    assert!(
        run.stderr.contains("verify found 3 problems"),
        "{}",
        run.stderr
    );

    let json = p.parity(&["verify", "--json"]);
    json.code(1);
    let records = json.json();
    let problems: Vec<(&str, &str)> = records
        .iter()
        .filter_map(|r| Some((r["problem"].as_str()?, r["node"].as_str()?)))
        .collect();
    assert_eq!(
        problems,
        [("stale", "a"), ("stale", "b"), ("modified", "c")]
    );
    assert_eq!(records[2]["output"], "out/c.txt");
    assert_eq!(json.summary()["problems"], 3);
    // verify writes nothing: the edit is still there, nothing ran.
    assert_eq!(p.read("out/c.txt"), "edited by hand\n");
    assert_eq!(p.take_runs(), Vec::<String>::new());

    p.parity(&["build"]).ok();
    p.parity(&["verify"]).ok();
}

#[test]
fn verify_fails_on_a_node_never_built_and_a_missing_output() {
    let p = project("cp $in $out");
    let run = p.parity(&["verify"]);
    run.code(1);
    assert!(
        run.stdout.contains("stale: a  never built"),
        "{}",
        run.stdout
    );
    p.parity(&["build"]).ok();
    p.remove("out/b.txt");
    let run = p.parity(&["verify"]);
    run.code(1);
    assert_eq!(run.stdout, "stale: b  output `out/b.txt` is missing\n");
}

#[test]
fn verify_rebuild_proves_reproducible_outputs_and_names_the_others() {
    let p = project("cp $in $out");
    p.parity(&["build"]).ok();
    p.take_runs();
    let run = p.parity(&["verify", "--rebuild"]);
    run.ok();
    assert!(run.stdout.contains("byte for byte"), "{}", run.stdout);
    assert_eq!(
        p.take_runs_sorted(),
        ["a", "b", "c"],
        "every node really ran again"
    );
    assert!(run.stderr.contains("3 ran"), "{}", run.stderr);

    let p = project("od -An -N8 /dev/urandom > $out");
    p.parity(&["build"]).ok();
    p.parity(&["verify"]).ok();
    let before = p.tree();
    let run = p.parity(&["verify", "--rebuild"]);
    run.code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(
        lines[0].starts_with("differs: out/c.txt (node c): the rebuild wrote different bytes"),
        "{}",
        lines[0]
    );
    assert_eq!(p.tree(), before, "the rebuild happens in a scratch copy");
}

#[test]
fn a_host_blocked_node_with_matching_outputs_counts_as_fine() {
    let pipeline = command_node("mac", &["src.txt"], &["out/mac.txt"], "cp $in $out")
        .replace("rule = \"command\"", "rule = \"command\"\nhost = \"macos\"");
    let p = Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "x\n");
    if std::env::consts::OS == "macos" {
        return;
    }
    p.parity_env(&[("PARITY_HOST", "macos")], &["build"]).ok();
    p.parity(&["verify"]).ok();
    p.parity(&["verify", "--rebuild"]).ok();
    // An input changed: the macOS node cannot be rebuilt here; its outputs still match.
    p.write("src.txt", "y\n");
    let run = p.parity(&["verify"]);
    run.ok();
    assert!(
        run.stdout.starts_with("note: mac is blocked here"),
        "{}",
        run.stdout
    );
    // But a hand edit is drift wherever it is checked.
    p.write("out/mac.txt", "edited\n");
    p.parity(&["verify"]).code(1);
}
