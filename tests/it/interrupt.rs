//! Killing and interrupting a build, and two builds at once: completed nodes survive, no
//! output is ever half-written, the next build finishes only the rest. Unix only: the tests
//! send signals with `kill`.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::process::Child;
use std::time::Duration;

use crate::support::{Project, command_node, wait_until};

const N: usize = 8;
const POLL: Duration = Duration::from_secs(20);

fn id(k: usize) -> String {
    format!("n{k}")
}

fn out(k: usize) -> String {
    format!("out/n{k}.txt")
}

/// What `out/n{k}.txt` holds once complete: the source, then one line per node up to `k`.
fn expected(k: usize) -> String {
    let mut s = "source\n".to_string();
    for i in 0..=k {
        s.push_str(&format!("step {i}\n"));
    }
    s
}

/// A chain of `N` slow nodes: `n0` reads `src.txt`, `n{k}` reads `n{k-1}`.
fn slow_chain() -> Project {
    let mut pipeline = String::new();
    for k in 0..N {
        let input = if k == 0 {
            "src.txt".to_string()
        } else {
            id(k - 1)
        };
        let recipe = format!(r#"sleep 0.3; {{ cat $in; echo "step {k}"; }} > $out"#);
        pipeline.push_str(&command_node(&id(k), &[&input], &[&out(k)], &recipe));
    }
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "source\n")
}

fn existing_outputs(p: &Project) -> BTreeSet<usize> {
    (0..N).filter(|&k| p.exists(&out(k))).collect()
}

/// Starts a `-j 1` build and waits until the rule of `n3` has started: `n0` to `n2` are then
/// journaled (the coordinator journals a node before it schedules the next).
fn start_and_wait(p: &Project) -> Child {
    let child = p.spawn(&["build", "-j", "1", "--json"]);
    let started = wait_until(POLL, || p.take_runs_peek().contains(&id(3)));
    assert!(started, "the build did not get to `n3`");
    child
}

fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// After an interrupted build: every output on disk is complete, no temp file is left, the
/// nodes whose outputs exist are fresh (but possibly the last one, killed between the rename
/// and the journal write), the others are not. Returns the fresh nodes.
fn check_after_interruption(p: &Project) -> BTreeSet<usize> {
    let existing = existing_outputs(p);
    for &k in &existing {
        assert_eq!(p.read(&out(k)), expected(k), "`{}` is incomplete", out(k));
    }
    let leftovers: Vec<String> = p
        .tree()
        .into_iter()
        .filter(|f| !f.starts_with("cache") && f.contains(".parity-tmp"))
        .collect();
    assert_eq!(
        leftovers,
        Vec::<String>::new(),
        "temp files next to the outputs"
    );
    assert!(
        existing.len() < N,
        "the build finished before it was stopped"
    );

    let status = p.parity(&["status", "--json"]);
    status.ok();
    let states = status.states();
    let fresh: BTreeSet<usize> = (0..N).filter(|&k| states[&id(k)] == "fresh").collect();
    assert!((0..3).all(|k| fresh.contains(&k)), "{states:?}");
    assert!(
        fresh.is_subset(&existing),
        "{states:?} with outputs {existing:?}"
    );
    let unjournaled: Vec<usize> = existing.difference(&fresh).copied().collect();
    assert!(
        unjournaled.len() <= 1 && unjournaled.iter().all(|k| Some(k) == existing.last()),
        "{states:?}"
    );
    // A chain: the fresh nodes are a prefix.
    assert_eq!(fresh, (0..fresh.len()).collect(), "{states:?}");
    fresh
}

/// The next build runs exactly the nodes that were not fresh (one whose output was renamed into
/// place but not journaled may come from the cache instead), and ends with everything fresh.
/// `recovered`: how many nodes it should replay from the journal.
fn check_second_build(p: &Project, fresh: &BTreeSet<usize>, recovered: usize) {
    let existing = existing_outputs(p);
    p.take_runs();
    let build = p.parity(&["build", "--json"]);
    build.ok();
    let plan = &build.events("plan")[0];
    assert_eq!(
        plan["recovered"].as_u64(),
        Some(recovered as u64),
        "{}",
        build.stdout
    );
    let outcomes = build.outcomes();
    for k in 0..N {
        let want: &[&str] = if fresh.contains(&k) {
            &["fresh"]
        } else if existing.contains(&k) {
            &["cached", "ran"]
        } else {
            &["ran"]
        };
        assert!(
            want.contains(&outcomes[&id(k)].as_str()),
            "{}",
            build.stdout
        );
    }
    let ran: Vec<String> = (0..N).map(id).filter(|n| outcomes[n] == "ran").collect();
    assert_eq!(p.take_runs(), ran);
    for k in 0..N {
        assert_eq!(p.read(&out(k)), expected(k));
    }
    let again = p.parity(&["build"]);
    assert!(again.stderr.contains("no work to do."), "{}", again.stderr);
    assert!(
        !p.exists("cache/journal"),
        "the journal outlived a complete build"
    );
}

#[test]
fn kill_9_keeps_completed_nodes_and_the_next_build_finishes_the_rest() {
    let p = slow_chain();
    let mut child = start_and_wait(&p);
    signal(&child, "-KILL");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    // `kill -9` orphans the running rule: the next build moves its sandbox aside, so whatever
    // it still writes never reaches the new one.
    assert!(
        !p.exists("pipeline.lock"),
        "the lock is only written at the end of a build"
    );
    assert!(p.exists("cache/journal"));
    let fresh = check_after_interruption(&p);
    check_second_build(&p, &fresh, fresh.len());
}

#[test]
fn ctrl_c_exits_130_and_keeps_completed_nodes() {
    let p = slow_chain();
    let child = start_and_wait(&p);
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        p.exists("pipeline.lock"),
        "an interrupted build writes the lock of what completed"
    );
    assert!(!p.exists("cache/journal"));
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["interrupted"], true);
    let fresh = check_after_interruption(&p);
    assert_eq!(
        fresh,
        existing_outputs(&p),
        "Ctrl-C lets the coordinator journal every completed node"
    );
    // The interrupted build wrote `pipeline.lock` itself: nothing left to replay.
    check_second_build(&p, &fresh, 0);
}

#[test]
fn ctrl_c_does_not_count_the_stopped_node_as_failed() {
    let p = slow_chain();
    let child = start_and_wait(&p);
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let run = crate::support::Run {
        code: 130,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.summary()["failed"], 0, "{}", run.stdout);
    assert!(
        run.outcomes().values().all(|o| o != "failed"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_second_build_waits_for_the_first() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node(
                    "a",
                    &["src.txt"],
                    &["out/a.txt"],
                    "sleep 0.3; cat $in > $out",
                ),
                command_node("b", &["a"], &["out/b.txt"], "sleep 0.3; cat $in > $out"),
                command_node("c", &["b"], &["out/c.txt"], "sleep 0.3; cat $in > $out"),
            ]
            .concat(),
        )
        .file("src.txt", "source\n");
    let first = p.spawn(&["build", "-j", "1"]);
    // The first build holds the lock once one of its rules runs.
    assert!(
        wait_until(POLL, || !p.take_runs_peek().is_empty()),
        "the first build did not start"
    );
    let second = p.spawn(&["build", "-j", "1"]);
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let (err1, err2) = (
        String::from_utf8_lossy(&first.stderr),
        String::from_utf8_lossy(&second.stderr),
    );
    assert_eq!(first.status.code(), Some(0), "{err1}");
    assert_eq!(second.status.code(), Some(0), "{err2}");
    assert!(
        err2.contains("Blocking waiting for another `parity build` to finish"),
        "{err2}"
    );
    assert!(!err1.contains("Blocking"), "{err1}");
    assert!(
        err2.contains("no work to do."),
        "the second build saw the first one's result: {err2}"
    );
    assert_eq!(p.take_runs(), ["a", "b", "c"], "each rule ran once");
    let third = p.parity(&["build"]);
    third.ok();
    assert!(third.stderr.contains("no work to do."), "{}", third.stderr);
    assert_eq!(p.parity(&["status"]).stdout, "3 nodes: 3 fresh\n");
}
