//! `parity status` without a cache (a fresh clone), hand-edited and deleted outputs, and
//! restoring a deleted output from the local cache.

use std::path::Path;

use crate::support::{Project, command_node, map};

fn project() -> Project {
    let pipeline = [
        command_node("a", &["src.txt"], &["out/a.txt"], "cat $in > $out"),
        command_node("b", &["a", "shared.txt"], &["out/b.txt"], "cat $in > $out"),
        command_node("c", &["shared.txt"], &["out/c.txt"], "cat $in > $out"),
    ]
    .concat();
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "source\n")
        .file("shared.txt", "shared\n")
}

/// The files a commit would hold: everything but `cache/`.
const COMMITTED: [&str; 7] = [
    "pipeline.toml",
    "pipeline.lock",
    "src.txt",
    "shared.txt",
    "out/a.txt",
    "out/b.txt",
    "out/c.txt",
];

fn clone_into(p: &Project, clone: &Project) {
    for f in COMMITTED {
        clone.write(f, &p.read(f));
    }
    assert!(!clone.exists("cache"));
}

#[test]
fn fresh_clone_without_cache_is_all_fresh() {
    let p = project();
    p.parity(&["build"]).ok();
    p.take_runs();
    let clone = Project::new();
    clone_into(&p, &clone);

    let status = clone.parity(&["status"]);
    status.ok();
    assert_eq!(status.stdout, "3 nodes: 3 fresh\n");
    let json = clone.parity(&["status", "--json"]);
    assert_eq!(
        json.states(),
        map(&[("a", "fresh"), ("b", "fresh"), ("c", "fresh")])
    );
    let build = clone.parity(&["build"]);
    build.ok();
    assert!(build.stderr.contains("no work to do."), "{}", build.stderr);
    assert_eq!(clone.take_runs(), Vec::<String>::new());
}

#[test]
fn hand_edited_output_is_modified_and_deleted_one_is_missing() {
    let p = project();
    p.parity(&["build"]).ok();
    let clone = Project::new();
    clone_into(&p, &clone);
    clone.write("out/a.txt", "edited by hand\n");
    clone.remove("out/c.txt");

    let status = clone.parity(&["status"]);
    status.ok();
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert!(
        lines[0].starts_with("modified a  output `out/a.txt` was modified (recorded "),
        "{}",
        status.stdout
    );
    assert_eq!(lines[1], "stale    b  dependency `a` is not fresh");
    assert_eq!(lines[2], "missing  c  output `out/c.txt` is missing");
    assert_eq!(lines[3], "3 nodes: 1 stale, 1 missing, 1 modified");
    assert_eq!(lines.len(), 4, "{}", status.stdout);

    let json = clone.parity(&["status", "--json"]);
    assert_eq!(
        json.states(),
        map(&[("a", "modified"), ("b", "stale"), ("c", "missing")])
    );
    let a = &json.json()[0]["reasons"][0];
    assert_eq!(a["reason"], "output_modified");
    assert_eq!(a["output"], "out/a.txt");
    assert_eq!(a["actual"]["size"], 15);

    let explain = clone.parity(&["explain", "a"]);
    explain.ok();
    assert!(
        explain
            .stdout
            .contains("  output `out/a.txt` was modified (recorded "),
        "{}",
        explain.stdout
    );
    assert!(explain.stdout.contains(&format!(
        "      on disk  {} (15 bytes)",
        a["actual"]["blake3"].as_str().unwrap()
    )));

    // No cache in the clone: both rules run again; the edit is overwritten, and `b` is fresh
    // because `a` yields the recorded bytes again (early cutoff).
    let build = clone.parity(&["build", "--json"]);
    build.ok();
    assert_eq!(
        build.outcomes(),
        map(&[("a", "ran"), ("b", "fresh"), ("c", "ran")])
    );
    assert_eq!(clone.take_runs_sorted(), ["a", "c"]);
    assert_eq!(clone.read("out/a.txt"), "source\n");
    assert_eq!(clone.read("out/c.txt"), "shared\n");
}

#[test]
fn deleted_output_is_restored_from_the_local_cache_without_running() {
    let p = project();
    p.parity(&["build"]).ok();
    p.take_runs();
    p.remove("out/c.txt");
    p.remove("out/a.txt");
    let status = p.parity(&["status", "--json"]);
    assert_eq!(
        status.states(),
        map(&[("a", "missing"), ("b", "stale"), ("c", "missing")])
    );

    let build = p.parity(&["build", "--json"]);
    build.ok();
    assert_eq!(
        build.outcomes(),
        map(&[("a", "cached"), ("b", "fresh"), ("c", "cached")])
    );
    let restored = build
        .events("finished")
        .into_iter()
        .find(|e| e["node"] == "c")
        .unwrap();
    assert_eq!(restored["source"], "local-cache");
    assert_eq!(restored["reasons"][0]["reason"], "output_missing");
    assert_eq!(build.summary()["cached"], 2);
    assert_eq!(p.take_runs(), Vec::<String>::new(), "no rule may run");
    assert_eq!(p.read("out/a.txt"), "source\n");
    assert_eq!(p.read("out/c.txt"), "shared\n");
    let human = p.parity(&["build"]);
    assert!(human.stderr.contains("no work to do."), "{}", human.stderr);
}

#[test]
fn restore_from_cache_is_reported_for_humans() {
    let p = project();
    p.parity(&["build"]).ok();
    p.remove("out/c.txt");
    let build = p.parity(&["build"]);
    build.ok();
    assert!(
        build
            .stderr
            .contains("Restored c from the cache (output `out/c.txt` is missing)"),
        "{}",
        build.stderr
    );
    assert!(
        build
            .stderr
            .contains("Finished 0 ran, 1 from cache, 2 fresh in "),
        "{}",
        build.stderr
    );
    assert!(Path::new(&p.path("out/c.txt")).exists());
}

/// An env value changed: the reason does not say "params or config", and `explain` shows the
/// settings as they are now (env names only, never values).
#[test]
fn an_env_value_change_is_explained_as_a_settings_change() {
    let p = Project::new().file(
        "pipeline.toml",
        "[artifact.a]\nrule = \"command\"\noutputs = [\"a.txt\"]\nconfig = { command = 'echo \"$GREETING\" > $out', env = [\"GREETING\"] }\n",
    );
    p.parity_env(&[("GREETING", "hi")], &["build"]).ok();
    let status = p.parity_env(&[("GREETING", "hello")], &["status"]);
    assert!(
        status.stdout.contains(
            "stale    a  settings changed (params, config, epoch, env values or declared outputs)"
        ),
        "{}",
        status.stdout
    );
    let explain = p.parity_env(&[("GREETING", "hello")], &["explain", "a"]);
    assert!(
        explain
            .stdout
            .contains("      now env     GREETING (set)\n"),
        "{}",
        explain.stdout
    );
    assert!(!explain.stdout.contains("hello"), "{}", explain.stdout);
}
