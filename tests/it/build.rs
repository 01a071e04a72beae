//! `parity build` over `command` nodes: the two-run story, early cutoff, targets, failures,
//! dry runs.

use crate::support::{Project, command_node, map};

/// `src.txt` -> `a` -> `b`, and `c`; all three read `shared.txt`. `a` drops `#` lines of
/// `src.txt`, so editing a comment changes `a`'s inputs but not its output.
fn chain() -> Project {
    let pipeline = [
        command_node(
            "a",
            &["src.txt", "shared.txt"],
            &["out/a.txt"],
            r#"grep -v "^#" src.txt > $out; cat shared.txt >> $out"#,
        ),
        command_node("b", &["a", "shared.txt"], &["out/b.txt"], "cat $in > $out"),
        command_node("c", &["shared.txt"], &["out/c.txt"], "cat $in > $out"),
    ]
    .concat();
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "one\n# note\n")
        .file("shared.txt", "shared\n")
}

#[test]
fn build_runs_every_node_then_nothing() {
    let p = chain();
    let first = p.parity(&["build", "--json"]);
    first.ok();
    assert_eq!(
        first.outcomes(),
        map(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    for e in first.events("finished") {
        assert_eq!(e["reasons"][0]["reason"], "never_built", "{e}");
    }
    let summary = first.summary();
    assert_eq!(
        (summary["ran"].as_u64(), summary["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(p.take_runs_sorted(), ["a", "b", "c"]);
    assert_eq!(p.read("out/a.txt"), "one\nshared\n");
    assert_eq!(p.read("out/b.txt"), "one\nshared\nshared\n");
    assert_eq!(p.read("out/c.txt"), "shared\n");
    assert!(p.exists("pipeline.lock"));

    let second = p.parity(&["build"]);
    second.ok();
    assert!(
        second.stderr.contains("no work to do."),
        "{}",
        second.stderr
    );
    assert_eq!(p.take_runs(), Vec::<String>::new());

    let third = p.parity(&["build", "--json"]);
    third.ok();
    assert_eq!(
        third.outcomes(),
        map(&[("a", "fresh"), ("b", "fresh"), ("c", "fresh")])
    );
    assert_eq!(third.summary()["fresh"], 3);

    let status = p.parity(&["status"]);
    status.ok();
    assert_eq!(status.stdout, "3 nodes: 3 fresh\n");
}

#[test]
fn edited_input_is_stale_explained_and_rebuilt_with_its_consumers_only() {
    let p = chain();
    p.parity(&["build"]).ok();
    p.take_runs();
    p.write("src.txt", "one\ntwo\n# note\n");

    let status = p.parity(&["status"]);
    status.ok();
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", status.stdout);
    assert!(
        lines[0].starts_with("stale    a  input `src.txt` changed ("),
        "{}",
        status.stdout
    );
    assert_eq!(lines[1], "stale    b  dependency `a` is not fresh");
    assert_eq!(lines[2], "3 nodes: 1 fresh, 2 stale");

    let json = p.parity(&["status", "--json"]);
    json.ok();
    assert_eq!(
        json.states(),
        map(&[("a", "stale"), ("b", "stale"), ("c", "fresh")])
    );
    let a = &json.json()[0];
    let reason = &a["reasons"][0];
    assert_eq!(reason["reason"], "input_changed");
    assert_eq!(reason["input"], "src.txt");
    let (old, new) = (
        reason["old"]["blake3"].as_str().unwrap(),
        reason["new"]["blake3"].as_str().unwrap(),
    );
    assert_eq!((old.len(), new.len()), (64, 64));
    assert_ne!(old, new);
    assert_eq!(
        (
            reason["old"]["size"].as_u64(),
            reason["new"]["size"].as_u64()
        ),
        (Some(11), Some(15))
    );
    // The human line shows the short forms of the same digests.
    assert!(
        lines[0].ends_with(&format!("({} -> {})", &old[..12], &new[..12])),
        "{}",
        lines[0]
    );
    assert_eq!(json.summary()["stale"], 2);

    let explain = p.parity(&["explain", "a"]);
    explain.ok();
    assert!(
        explain.stdout.starts_with("a: stale\n  rule: command\n"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains(&format!(
            "  input `src.txt` changed ({} -> {})\n      old {old} (11 bytes)\n      new {new} (15 bytes)\n",
            &old[..12],
            &new[..12]
        )),
        "{}",
        explain.stdout
    );

    let build = p.parity(&["build", "--json"]);
    build.ok();
    assert_eq!(
        build.outcomes(),
        map(&[("a", "ran"), ("b", "ran"), ("c", "fresh")])
    );
    assert_eq!(p.take_runs(), ["a", "b"]);
    assert_eq!(p.read("out/b.txt"), "one\ntwo\nshared\nshared\n");
    p.parity(&["build"]).ok();
    assert_eq!(p.take_runs(), Vec::<String>::new());
}

#[test]
fn shared_input_change_rebuilds_every_reader() {
    let p = chain();
    p.parity(&["build"]).ok();
    p.take_runs();
    p.write("shared.txt", "SHARED\n");
    let build = p.parity(&["build", "--json"]);
    build.ok();
    assert_eq!(
        build.outcomes(),
        map(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    assert_eq!(p.take_runs_sorted(), ["a", "b", "c"]);
    assert_eq!(p.read("out/c.txt"), "SHARED\n");
}

#[test]
fn early_cutoff_keeps_consumers_fresh_when_output_is_unchanged() {
    let p = chain();
    p.parity(&["build"]).ok();
    p.take_runs();
    p.write("src.txt", "one\n# another note\n");
    let status = p.parity(&["status", "--json"]);
    // Before building, `b` cannot know `a` will yield the same bytes.
    assert_eq!(
        status.states(),
        map(&[("a", "stale"), ("b", "stale"), ("c", "fresh")])
    );
    let build = p.parity(&["build", "--json"]);
    build.ok();
    assert_eq!(
        build.outcomes(),
        map(&[("a", "ran"), ("b", "fresh"), ("c", "fresh")])
    );
    assert_eq!(p.take_runs(), ["a"]);
    let status = p.parity(&["status", "--json"]);
    assert_eq!(
        status.states(),
        map(&[("a", "fresh"), ("b", "fresh"), ("c", "fresh")])
    );
}

#[test]
fn one_target_builds_only_it_and_its_dependencies() {
    let p = chain();
    let build = p.parity(&["build", "--json", "b"]);
    build.ok();
    assert_eq!(build.outcomes(), map(&[("a", "ran"), ("b", "ran")]));
    assert_eq!(p.take_runs(), ["a", "b"]);
    assert!(!p.exists("out/c.txt"));
    let status = p.parity(&["status", "--json"]);
    assert_eq!(
        status.states(),
        map(&[("a", "fresh"), ("b", "fresh"), ("c", "missing")])
    );

    let only_c = p.parity(&["build", "--json", "c"]);
    only_c.ok();
    assert_eq!(only_c.outcomes(), map(&[("c", "ran")]));
    assert_eq!(p.take_runs(), ["c"]);
}

/// `bad` fails after writing part of its output; `after` needs it; `ok` does not.
fn failing() -> Project {
    let pipeline = [
        command_node(
            "bad",
            &["src.txt"],
            &["out/bad.txt"],
            "echo partial > $out; echo first line >&2; echo boom: disk on fire >&2; exit 3",
        ),
        command_node("after", &["bad"], &["out/after.txt"], "cat $in > $out"),
        command_node("ok", &["src.txt"], &["out/ok.txt"], "cat $in > $out"),
    ]
    .concat();
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "source\n")
}

#[test]
fn failing_node_exits_1_with_its_stderr_and_writes_no_output() {
    let p = failing();
    let run = p.parity(&["build", "-j", "1", "bad", "after"]);
    run.code(1);
    assert!(
        run.stderr.contains(
            "Failed bad: rule `command` failed\n\nCaused by:\n    command exited with 3: "
        ) && run
            .stderr
            .contains("--- output (last lines) ---\nfirst line\nboom: disk on fire\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Failed 0 ran, 0 fresh, 1 failed, 1 skipped in "),
        "{}",
        run.stderr
    );
    assert!(
        !p.exists("out/bad.txt"),
        "a failed rule's output must not be moved into place"
    );
    assert!(!p.exists("out/after.txt"));
    assert_eq!(p.take_runs(), ["bad"]);
    let status = p.parity(&["status", "--json"]);
    assert_eq!(
        status.states(),
        map(&[("after", "missing"), ("bad", "missing"), ("ok", "missing")])
    );
}

#[test]
fn keep_going_builds_independent_nodes_and_skips_dependents() {
    let p = failing();
    let run = p.parity(&["build", "--keep-going", "--json"]);
    run.code(1);
    assert_eq!(
        run.outcomes(),
        map(&[("after", "skipped"), ("bad", "failed"), ("ok", "ran")])
    );
    let finished = run.events("finished");
    let msg = |node: &str| {
        finished.iter().find(|e| e["node"] == node).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        msg("bad").ends_with("\n--- output (last lines) ---\nfirst line\nboom: disk on fire"),
        "{}",
        msg("bad")
    );
    assert_eq!(msg("after"), "dependency `bad` failed");
    // A failure says its kind to machines: the rule's own failure.
    let bad = finished.iter().find(|e| e["node"] == "bad").unwrap();
    assert_eq!(bad["error"], "rule-failed");
    let summary = run.summary();
    assert_eq!(
        (
            summary["ran"].as_u64(),
            summary["failed"].as_u64(),
            summary["skipped"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(p.take_runs_sorted(), ["bad", "ok"]);
    assert_eq!(p.read("out/ok.txt"), "source\n");
    assert!(!p.exists("out/bad.txt"));
    // What succeeded is recorded; the failure is retried next time, `ok` is not.
    let again = p.parity(&["build", "--keep-going", "--json"]);
    again.code(1);
    assert_eq!(
        again.outcomes(),
        map(&[("after", "skipped"), ("bad", "failed"), ("ok", "fresh")])
    );
    assert_eq!(p.take_runs(), ["bad"]);
}

/// Storing a node's outputs fails (the object store is a file): the node fails with the
/// storage error, its path and the OS's cause, not as a failure of its rule.
#[test]
fn a_storage_failure_is_reported_as_one_with_its_path_and_cause() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node("a", &["src.txt"], &["out/a.txt"], "cat $in > $out"),
        )
        .file("src.txt", "source\n")
        .file("cache/cas", "not a directory\n");
    let run = p.parity(&["build", "--json"]);
    run.code(1);
    let finished = run.events("finished");
    let a = finished.iter().find(|e| e["node"] == "a").unwrap();
    assert_eq!(a["error"], "io", "{a}");
    let message = a["message"].as_str().unwrap();
    assert!(
        message.starts_with("failed to create `./cache/cas/")
            && message.contains("\n\nCaused by:\n    ")
            && (cfg!(windows) || message.ends_with("Not a directory (os error 20)")),
        "{message}"
    );
    assert!(!p.exists("out/a.txt"));
}

#[test]
fn rule_that_does_not_write_its_output_fails() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node("lazy", &["src.txt"], &["out/lazy.txt"], "true"),
        )
        .file("src.txt", "source\n");
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(
        run.stderr.contains(
            "Failed lazy: rule `command` failed\n\nCaused by:\n    did not write its declared output `out/lazy.txt`"
        ),
        "{}",
        run.stderr
    );
    assert!(!p.exists("pipeline.lock") || !p.read("pipeline.lock").contains("\"lazy\""));
}

/// Every file of the project with its bytes, to prove a command wrote nothing.
fn snapshot(p: &Project) -> Vec<(String, Option<Vec<u8>>)> {
    p.tree()
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(p.path(&f)).ok()))
        .collect()
}

#[test]
fn dry_run_lists_what_would_build_and_writes_nothing() {
    let p = chain();
    let before = snapshot(&p);
    let run = p.parity(&["build", "--dry-run", "-j", "1"]);
    run.ok();
    assert_eq!(
        run.stderr.lines().take(3).collect::<Vec<_>>(),
        [
            " Would build a (never built)",
            " Would build b (never built)",
            " Would build c (never built)"
        ]
    );
    assert!(
        run.stderr.contains("Finished 3 would run, 0 fresh in "),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&p), before, "no lock, no cache, no output");
    assert_eq!(p.take_runs(), Vec::<String>::new());

    p.parity(&["build"]).ok();
    p.take_runs();
    p.write("src.txt", "changed\n");
    p.remove("out/c.txt");
    let before = snapshot(&p);
    let run = p.parity(&["build", "-n", "--json"]);
    run.ok();
    assert_eq!(
        run.outcomes(),
        map(&[
            ("a", "would-run"),
            ("b", "would-run"),
            ("c", "would-restore")
        ])
    );
    assert_eq!(run.summary()["would_run"], 3);
    assert_eq!(
        snapshot(&p),
        before,
        "a dry run over a built project writes nothing either"
    );
    assert_eq!(p.take_runs(), Vec::<String>::new());
}

/// `$in` of a node input is every output of the producer, in declaration order, cache-only
/// ones included; a file the producer writes names only that output (docs/sandbox.md).
#[test]
fn a_node_input_stands_for_every_output_of_its_producer_cache_ones_included() {
    let p = Project::new().file(
        "pipeline.toml",
        &[
            "[artifact.p]\nrule = \"command\"\noutputs = [\"a.txt\", \"{cache}/d/\"]\n\
             config = { command = 'echo a > ../out/0-a.txt && mkdir ../out/1-d && echo x > ../out/1-d/x' }\n\n",
            &command_node("q", &["p"], &["q.txt"], "echo $in > $out"),
            &command_node("r", &["a.txt"], &["r.txt"], "echo $in > $out"),
        ]
        .concat(),
    );
    p.parity(&["build"]).ok();
    assert_eq!(p.read("q.txt"), "a.txt ../cache/d\n");
    assert_eq!(p.read("r.txt"), "a.txt\n");
}

/// A declared directory output does not exist when the recipe starts: the recipe makes it
/// (`mkdir $out`), as a file output is not created for it either (docs/sandbox.md).
#[test]
fn a_directory_output_is_made_by_its_recipe() {
    let p = Project::new().file(
        "pipeline.toml",
        &command_node(
            "d",
            &[],
            &["out/d/"],
            "test ! -e $out && mkdir $out && echo x > $out/x",
        ),
    );
    p.parity(&["build"]).ok();
    assert_eq!(p.read("out/d/x"), "x\n");
}
