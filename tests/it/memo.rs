//! The no-op memo (`cache/noop`): after it was written, every kind of change makes `status`
//! take the full path again and report exactly what the full path (`PARITY_NO_MEMO=1`)
//! reports; while nothing changed, the memo answers, with the same output.

use std::time::Duration;

use crate::support::{Project, command_node, wait_until};

fn project() -> Project {
    let pipeline = format!(
        "[params]\nversion = {{ from = \"versions.toml\", key = \"tracked\" }}\n\n\
         [artifact.a]\nrule = \"command\"\nparams = [\"version\"]\n\
         inputs = [\"src/{{version}}.txt\", \"opt.txt?\"]\noutputs = [\"out/a-{{version}}.txt\"]\n\
         config = {{ command = 'cat $in > $out', env = [\"GREETING\"] }}\n\n\
         [artifact.far]\nrule = \"command\"\nhost = \"plan9\"\ninputs = [\"src/1.txt\"]\n\
         outputs = [\"out/far.txt\"]\nconfig = {{ command = 'cat $in > $out' }}\n\n{}",
        command_node("b", &["a@*"], &["out/b.txt"], "cat $in > $out"),
    );
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("versions.toml", "tracked = [\"1\", \"2\"]\n")
        .file("src/1.txt", "one\n")
        .file("src/2.txt", "two\n")
}

const TRACE: (&str, &str) = ("PARITY_MEMO_TRACE", "1");

/// The racy window shrunk to nothing (`PARITY_MEMO_RACY_MS`, a test knob), so a file is old
/// enough for the memo as soon as the evaluation starts after it was written.
const NO_RACY_WINDOW: (&str, &str) = ("PARITY_MEMO_RACY_MS", "0");

/// Runs `parity ARGS` with no racy window until it writes the memo (the first run does, unless
/// the last write and the evaluation's start fall in one tick of the filesystem's clock).
fn write_memo(p: &Project, args: &[&str]) {
    let mut last = String::new();
    let written = wait_until(Duration::from_secs(30), || {
        last = p.parity_env(&[TRACE, NO_RACY_WINDOW], args).stderr;
        last.contains("memo: written")
    });
    assert!(written, "{last}");
    assert!(p.exists("cache/noop"));
}

/// Builds, then has `status` write the memo.
fn built_with_memo(p: &Project) {
    p.parity(&["build"]).ok(); // `far` is blocked on this host: not a failure
    write_memo(p, &["status"]);
}

/// Runs `status` (plain, -v and --json) with `env`, through the memo and without it; asserts
/// both print the same and returns (plain output, whether the memo was used).
fn status_both_ways(p: &Project, env: &[(&str, &str)]) -> (String, bool) {
    let mut used = None;
    let mut plain = String::new();
    for args in [&["status", "-v"][..], &["status", "--json"], &["status"]] {
        let with: Vec<_> = env.iter().copied().chain([TRACE]).collect();
        let fast = p.parity_env(&with, args);
        let no: Vec<_> = env
            .iter()
            .copied()
            .chain([("PARITY_NO_MEMO", "1")])
            .collect();
        let slow = p.parity_env(&no, args);
        assert_eq!(fast.stdout, slow.stdout, "{args:?}");
        assert_eq!(fast.code, slow.code, "{args:?}");
        let untraced: String = fast
            .stderr
            .lines()
            .filter(|l| !l.starts_with("memo: "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(untraced, slow.stderr, "{args:?}");
        let this = fast.stderr.contains("memo: used");
        if used.is_none() {
            used = Some(this);
        }
        plain = fast.stdout + &slow.stderr;
    }
    (plain, used.unwrap_or(false))
}

const ALL_FRESH: &str = "blocked  far  never built\n4 nodes: 3 fresh, 1 blocked\n";

/// Each change is made on a workspace whose memo is valid; `status` must not use it.
fn detects(change: impl FnOnce(&Project), env: &[(&str, &str)], want: &str) {
    let p = project();
    built_with_memo(&p);
    let (out, used) = status_both_ways(&p, &[]);
    assert!(used, "the memo should answer an unchanged workspace");
    assert_eq!(out, ALL_FRESH);
    change(&p);
    let (out, used) = status_both_ways(&p, env);
    assert!(!used, "the memo answered after a change");
    assert!(out.contains(want), "{out}");
}

/// Rewrites `rel` with `text` keeping its size and mtime (the racy case: only ctime differs).
fn edit_keeping_mtime(p: &Project, rel: &str, text: &str) {
    let path = p.path(rel);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len(), text.len());
    std::fs::write(&path, text).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(mtime).unwrap();
}

#[test]
fn input_edited_with_same_size_and_mtime() {
    detects(
        |p| edit_keeping_mtime(p, "src/1.txt", "uno\n"),
        &[],
        "stale    a@1",
    );
}

#[test]
fn output_edited_or_deleted() {
    detects(
        |p| edit_keeping_mtime(p, "out/b.txt", "xne\ntwo\n"),
        &[],
        "modified b",
    );
    detects(|p| p.remove("out/a-2.txt"), &[], "missing  a@2");
}

#[test]
fn optional_input_appearing() {
    detects(|p| p.write("opt.txt", "new\n"), &[], "stale    a@1");
}

#[test]
fn pipeline_and_param_files_edited() {
    detects(
        |p| {
            let text = p
                .read("pipeline.toml")
                .replace("cat $in > $out'", "cat $in >$out'");
            p.write("pipeline.toml", &text);
        },
        &[],
        "stale    a@1",
    );
    detects(
        |p| {
            p.write("versions.toml", "tracked = [\"1\", \"2\", \"3\"]\n");
            p.write("src/3.txt", "three\n");
        },
        &[],
        "missing  a@3  never built",
    );
}

#[test]
fn another_lock_checked_out() {
    detects(
        |p| {
            // Back to the lock of an older state, as `git checkout` would bring back.
            let lock = p.read("pipeline.lock");
            p.write("src/2.txt", "deux\n");
            p.parity(&["build"]).ok();
            p.write("pipeline.lock", &lock);
        },
        &[],
        "modified a@2  input `src/2.txt` changed",
    );
    detects(
        |p| {
            let lock = p.read("pipeline.lock");
            let cut = lock.find("[\"a@2\"]").or_else(|| lock.find("a@2")).unwrap();
            p.write("pipeline.lock", &lock[..cut]);
        },
        &[],
        "pipeline.lock",
    );
}

#[test]
fn environment_changed() {
    detects(|_| {}, &[("GREETING", "hi")], "stale    a@1");
    detects(
        |_| {},
        &[("PARITY_HOST", "plan9")],
        "missing  far  never built",
    );
    // SOURCE_DATE_EPOCH decides no verdict here, but the memo is not trusted across it.
    detects(
        |_| {},
        &[("SOURCE_DATE_EPOCH", "1700000000")],
        "3 fresh, 1 blocked",
    );
}

#[test]
fn a_corrupt_or_truncated_memo_is_not_used() {
    detects(
        |p| {
            let mut bytes = std::fs::read(p.path("cache/noop")).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 1;
            std::fs::write(p.path("cache/noop"), bytes).unwrap();
        },
        &[],
        "3 fresh, 1 blocked",
    );
    detects(
        |p| {
            let bytes = std::fs::read(p.path("cache/noop")).unwrap();
            std::fs::write(p.path("cache/noop"), &bytes[..bytes.len() - 40]).unwrap();
        },
        &[],
        "3 fresh, 1 blocked",
    );
}

#[test]
fn racy_files_get_no_memo_until_they_age() {
    let p = project();
    p.parity(&["build"]).ok();
    let run = p.parity_env(&[TRACE], &["status"]);
    assert!(run.stderr.contains("memo: not written"), "{}", run.stderr);
    assert!(!p.exists("cache/noop"));
}

#[test]
fn a_no_op_build_answers_from_the_memo_like_the_full_path() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node("a", &["src.txt"], &["out/a.txt"], "cat $in > $out"),
                command_node("b", &["a", "src.txt"], &["out/b.txt"], "cat $in > $out"),
                command_node("c", &["src.txt"], &["out/c.txt"], "cat $in > $out"),
            ]
            .concat(),
        )
        .file("src.txt", "source\n");
    p.parity(&["build"]).ok();
    write_memo(&p, &["build"]);
    let scrub = |s: &str| {
        s.lines()
            .map(|l| match l.find("\"elapsed_ms\":") {
                Some(i) => {
                    let rest = &l[i + 13..];
                    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
                    format!("{}{}", &l[..i], &rest[end..])
                }
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [&["build"][..], &["build", "-v"], &["build", "--json"]] {
        let fast = p.parity_env(&[TRACE], args);
        assert!(fast.stderr.contains("memo: used"), "{}", fast.stderr);
        let slow = p.parity_env(&[("PARITY_NO_MEMO", "1")], args);
        assert_eq!(scrub(&fast.stdout), scrub(&slow.stdout), "{args:?}");
        let fast_err = fast.stderr.replace("memo: used\n", "");
        assert_eq!(fast_err, slow.stderr, "{args:?}");
        assert_eq!(fast.code, 0);
    }
    assert_eq!(p.take_runs().len(), 3);
    // A changed input: the build runs (the memo is not used, and is rewritten only when all
    // is fresh and old enough again).
    p.write("src.txt", "changed\n");
    let run = p.parity_env(&[TRACE], &["build"]);
    assert!(run.stderr.contains("memo: not used"), "{}", run.stderr);
    assert_eq!(p.take_runs_sorted(), ["a", "b", "c"]);
}

/// A workspace's memo covers its members' pipeline files and their params files.
#[test]
fn a_member_pipeline_or_params_file_edited_after_the_memo_is_noticed() {
    let member = format!(
        "[params]\nversion = {{ from = \"versions.toml\", key = \"tracked\" }}\n\n{}",
        command_node("a", &["src.txt"], &["out/a.txt"], "cat $in > $out"),
    )
    .replace("[artifact.a]", "[artifact.a]\nparams = [\"version\"]")
    .replace("out/a.txt", "out/a-{version}.txt");
    let p = Project::new()
        .file("pipeline.toml", "[members]\nm = \"sub/pipeline.toml\"\n")
        .file("sub/pipeline.toml", &member)
        .file("sub/versions.toml", "tracked = [\"1\"]\n")
        .file("sub/src.txt", "x\n");
    p.parity(&["build"]).ok();
    write_memo(&p, &["status"]);
    let run = p.parity_env(&[TRACE], &["status"]);
    assert!(run.stderr.contains("memo: used"), "{}", run.stderr);
    p.write("sub/versions.toml", "tracked = [\"1\", \"2\"]\n");
    let run = p.parity_env(&[TRACE], &["status"]);
    assert!(!run.stderr.contains("memo: used"), "{}", run.stderr);
    assert!(run.stdout.contains("missing  m:a@2"), "{}", run.stdout);
    p.parity(&["build"]).ok();
    write_memo(&p, &["status"]);
    p.write(
        "sub/pipeline.toml",
        &member.replace("cat $in > $out", "cat $in $in > $out"),
    );
    let run = p.parity_env(&[TRACE], &["status"]);
    assert!(!run.stderr.contains("memo: used"), "{}", run.stderr);
    assert!(run.stdout.contains("m:a@1"), "{}", run.stdout);
}

/// Writes `text` to `rel`, has `status` answer through the memo in part (`evaluated`: "N of
/// M" nodes) and returns what it prints, checked to be what the full path prints.
fn status_after_edit(p: &Project, rel: &str, text: &str, evaluated: &str) -> String {
    p.write(rel, text);
    let run = p.parity_env(&[TRACE], &["status"]);
    let want = format!("memo: partly used: {evaluated} nodes evaluated");
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    let (out, used) = status_both_ways(p, &[]);
    assert!(!used);
    out
}

/// After an edit, `status` keeps the recorded verdicts of the nodes the edited file does not
/// reach and evaluates only the others, printing exactly what the full path prints.
#[test]
fn status_after_an_edit_evaluates_only_what_the_edit_reaches() {
    let p = project();
    built_with_memo(&p);
    // `a@2` and `b` (which depends on it); not `a@1` nor `far`.
    let out = status_after_edit(&p, "src/2.txt", "deux\n", "2 of 4");
    assert_eq!(
        out,
        "stale    a@2  input `src/2.txt` changed (ef40086ad8a3 -> 303fa5e0a9cd)\n\
         blocked  far  never built\nstale    b  dependency `a@2` is not fresh\n\
         4 nodes: 1 fresh, 2 stale, 1 blocked\n"
    );
}

/// After an edit, a dependent that waits on the edited node is evaluated without the records
/// of its other dependencies; one that waits on nothing (the edit left the node fresh) or that
/// names a file of another dependency is evaluated against them. Either way `status` prints
/// exactly what the full path prints.
#[test]
fn status_after_an_edit_reads_other_dependencies_records_only_when_a_dependent_needs_them() {
    let p = project();
    let pipeline = p.read("pipeline.toml")
        + &command_node(
            "c",
            &["out/a-1.txt", "a@2"],
            &["out/c.txt"],
            "cat $in > $out",
        );
    p.write("pipeline.toml", &pipeline);
    built_with_memo(&p);
    // The same bytes again: `a@2` is evaluated and found fresh, so `b` and `c` are too.
    let out = status_after_edit(&p, "src/2.txt", "two\n", "3 of 5");
    assert_eq!(
        out,
        "blocked  far  never built\n5 nodes: 4 fresh, 1 blocked\n"
    );
    // New bytes: `b` waits on `a@2` (and `a@1` is not named as a reason); `c` too.
    let out = status_after_edit(&p, "src/2.txt", "deux\n", "3 of 5");
    assert_eq!(
        out,
        "stale    a@2  input `src/2.txt` changed (ef40086ad8a3 -> 303fa5e0a9cd)\n\
         blocked  far  never built\nstale    b  dependency `a@2` is not fresh\n\
         stale    c  dependency `a@2` is not fresh\n\
         5 nodes: 1 fresh, 3 stale, 1 blocked\n"
    );
}

/// A target that is a node id is answered by the memo, which then looks only at the files of
/// the target's closure; a pattern goes through the graph.
#[test]
fn targeted_status_and_build_are_answered_by_the_memo_like_the_full_path() {
    let p = project();
    built_with_memo(&p);
    p.take_runs();
    // Outside the closure of `a@1`.
    p.write("src/2.txt", "deux\n");
    for args in [
        &["status", "a@1"][..],
        &["status", "-v", "a@1"],
        &["status", "--json", "a@1", "a@1"],
        &["build", "a@1"],
        &["build", "-v", "a@1"],
    ] {
        let fast = p.parity_env(&[TRACE], args);
        assert!(
            fast.stderr.contains("memo: used"),
            "{args:?}: {}",
            fast.stderr
        );
        let slow = p.parity_env(&[("PARITY_NO_MEMO", "1")], args);
        assert_eq!(fast.stdout, slow.stdout, "{args:?}");
        assert_eq!(
            fast.stderr.replace("memo: used\n", ""),
            slow.stderr,
            "{args:?}"
        );
        assert_eq!(fast.code, slow.code, "{args:?}");
    }
    assert!(p.take_runs().is_empty());
    let run = p.parity_env(&[TRACE], &["status", "a@*"]);
    assert!(
        run.stderr
            .contains("memo: not used: a target is not a node id"),
        "{}",
        run.stderr
    );
    // `b` depends on `a@2`, whose input changed.
    let run = p.parity_env(&[TRACE], &["build", "b"]);
    assert!(
        run.stderr.contains("memo: not used: `src/2.txt` changed"),
        "{}",
        run.stderr
    );
    assert_eq!(p.take_runs_sorted(), ["a@2", "b"]);
}

/// A build that leaves every node fresh writes the memo itself: the files it just wrote are
/// racy, recorded with the digests `pipeline.lock` records and their content checked, until a
/// check a second later settles them.
#[test]
fn a_build_writes_the_memo_with_its_racy_outputs_checked_by_content_until_they_settle() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node("a", &["src.txt"], &["out/a.txt"], "cat $in > $out"),
                command_node("b", &["a"], &["out/b.txt"], "cat $in > $out"),
            ]
            .concat(),
        )
        .file("src.txt", "source\n");
    // With no racy window the pipeline file (its digest is vouched by nothing) is old enough
    // as soon as the build starts, and what the build writes is racy.
    let run = p.parity_env(&[TRACE, NO_RACY_WINDOW], &["build"]);
    assert!(run.stderr.contains("memo: written"), "{}", run.stderr);
    assert_eq!(p.take_runs_sorted(), ["a", "b"]);
    // Within a window long enough for this whole test: answered, the racy outputs hashed,
    // nothing settled yet.
    const LONG_RACY_WINDOW: (&str, &str) = ("PARITY_MEMO_RACY_MS", "600000");
    for args in [&["status"][..], &["build", "b"], &["build"]] {
        let fast = p.parity_env(&[TRACE, LONG_RACY_WINDOW], args);
        assert!(
            fast.stderr.contains("memo: used"),
            "{args:?}: {}",
            fast.stderr
        );
        assert!(!fast.stderr.contains("settled"), "{}", fast.stderr);
        let slow = p.parity_env(&[("PARITY_NO_MEMO", "1")], args);
        assert_eq!(fast.stdout, slow.stdout, "{args:?}");
    }
    // An output rewritten with other bytes of the same size is seen.
    p.write("out/a.txt", "SOURCE\n");
    let (out, used) = status_both_ways(&p, &[]);
    assert!(!used);
    assert!(out.contains("modified a"), "{out}");
    let run = p.parity_env(&[TRACE, NO_RACY_WINDOW], &["build"]);
    assert!(run.stderr.contains("memo: written"), "{}", run.stderr);
    assert_eq!(p.take_runs_sorted(), ["a"]);
    // Once the window has passed (none here): what the build wrote (out/a.txt, the lock) is
    // settled, once.
    let run = p.parity_env(&[TRACE, NO_RACY_WINDOW], &["status"]);
    assert!(run.stderr.contains("memo: used"), "{}", run.stderr);
    assert!(run.stderr.contains("memo: settled "), "{}", run.stderr);
    let run = p.parity_env(&[TRACE, NO_RACY_WINDOW], &["status"]);
    assert!(run.stderr.contains("memo: used"), "{}", run.stderr);
    assert!(!run.stderr.contains("settled"), "{}", run.stderr);
}

/// A build right after sources were edited writes the memo with each racy source vouched for
/// by the digest the lock records for it: the first few found by looking through the nodes,
/// the rest through a map of every recorded source.
#[test]
fn a_build_right_after_edits_vouches_for_every_racy_source_from_the_lock() {
    let n = 12;
    let nodes: Vec<String> = (0..n)
        .map(|i| {
            command_node(
                &format!("a{i}"),
                &[&format!("src/{i}.txt")],
                &[&format!("out/{i}.txt")],
                "cat $in > $out",
            )
        })
        .collect();
    let mut p = Project::new().file("pipeline.toml", &nodes.concat());
    for i in 0..n {
        p = p.file(&format!("src/{i}.txt"), "old\n");
    }
    p.parity(&["build"]).ok();
    p.take_runs_sorted();
    // The pipeline file ages past the window; the sources edited now do not.
    std::thread::sleep(Duration::from_millis(1500));
    for i in 0..n {
        p.write(&format!("src/{i}.txt"), &format!("new {i}\n"));
    }
    const WINDOW: (&str, &str) = ("PARITY_MEMO_RACY_MS", "1000");
    let run = p.parity_env(&[TRACE, WINDOW], &["build"]);
    assert!(run.stderr.contains("memo: written"), "{}", run.stderr);
    assert_eq!(p.take_runs_sorted().len(), n);
    let run = p.parity_env(&[TRACE, WINDOW], &["status"]);
    assert!(run.stderr.contains("memo: used"), "{}", run.stderr);
}

/// The files inside a directory input and a directory output belong to the node that owns the
/// directory: editing one (keeping its size and mtime) makes `status` re-evaluate that node and
/// what depends on it, not the others.
#[test]
fn a_file_inside_a_directory_input_or_output_edited_is_noticed() {
    let pipeline = "[artifact.t]\nrule = \"command\"\ninputs = [\"tree/\"]\noutputs = [\"out/t/\"]\n\
         config = { command = 'mkdir -p $out && cat $in/a.txt $in/sub/b.txt > $out/ab.txt' }\n\n\
         [artifact.u]\nrule = \"command\"\ninputs = [\"t\"]\noutputs = [\"out/u.txt\"]\n\
         config = { command = 'cat $in/ab.txt > $out' }\n\n\
         [artifact.v]\nrule = \"command\"\ninputs = [\"other.txt\"]\noutputs = [\"out/v.txt\"]\n\
         config = { command = 'cat $in > $out' }\n";
    let p = Project::new()
        .file("pipeline.toml", pipeline)
        .file("tree/a.txt", "a\n")
        .file("tree/sub/b.txt", "b\n")
        .file("other.txt", "o\n");
    p.parity(&["build"]).ok();
    write_memo(&p, &["status"]);
    let (_, used) = status_both_ways(&p, &[]);
    assert!(used, "the memo should answer an unchanged workspace");

    edit_keeping_mtime(&p, "tree/sub/b.txt", "B\n");
    let run = p.parity_env(&[TRACE], &["status"]);
    assert!(
        run.stderr
            .contains("memo: partly used: 2 of 3 nodes evaluated"),
        "{}",
        run.stderr
    );
    let (out, used) = status_both_ways(&p, &[]);
    assert!(!used);
    assert!(out.contains("stale    t  input `tree` changed"), "{out}");
    assert!(
        out.contains("stale    u  dependency `t` is not fresh"),
        "{out}"
    );

    p.parity(&["build"]).ok();
    write_memo(&p, &["status"]);
    edit_keeping_mtime(&p, "out/t/ab.txt", "x\nB\n");
    let (out, used) = status_both_ways(&p, &[]);
    assert!(!used, "the memo answered after an output's member changed");
    assert!(out.contains("modified t"), "{out}");
}
