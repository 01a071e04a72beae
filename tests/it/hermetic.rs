//! Rules cannot harm the workspace or lie to the cache (issue 10): cache entries are validated
//! wherever they come from, outputs are checked when the pipeline loads and when a rule
//! finishes, recipes run sandboxed with a fixed environment, bounded and killable.

use parity_engine::cache::ActionEntry;
use parity_engine::hash::tree_digest;

use crate::cache_server::CacheServer;
use crate::support::{Project, command_node, map};

/// A project with one directory output `out/d/` (a file `f.txt` in it) and one file output.
fn dir_and_file() -> Project {
    Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node(
                    "d",
                    &["src.txt"],
                    &["out/d/"],
                    "mkdir -p $out; cp $in $out/f.txt",
                ),
                command_node("f", &["src.txt"], &["out/f.txt"], "cp $in $out"),
            ]
            .concat(),
        )
        .file("src.txt", "source\n")
}

/// The local action entries (file, parsed), one per node of `dir_and_file`.
fn local_entries(p: &Project) -> Vec<(std::path::PathBuf, ActionEntry)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p.path("cache/ac")).unwrap() {
        let path = e.unwrap().path();
        let entry: ActionEntry = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        out.push((path, entry));
    }
    out
}

fn entry_with(p: &Project, output: &str) -> (std::path::PathBuf, ActionEntry) {
    local_entries(p)
        .into_iter()
        .find(|(_, e)| e.outputs.contains_key(output))
        .unwrap()
}

#[test]
fn a_local_action_entry_with_a_path_out_of_its_directory_is_a_miss_and_is_removed() {
    let p = dir_and_file();
    p.parity(&["build"]).ok();
    let (path, mut entry) = entry_with(&p, "out/d");
    let rec = entry.outputs.get_mut("out/d").unwrap();
    let tree = rec.tree.as_mut().unwrap();
    tree[0].path = "../../../escaped.txt".into();
    rec.digest = tree_digest(tree);
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
    std::fs::remove_dir_all(p.path("out/d")).unwrap();
    p.take_runs();

    let run = p.parity(&["build", "--json"]);
    run.ok();
    assert_eq!(run.outcomes()["d"], "ran", "{}", run.stdout);
    assert_eq!(p.take_runs(), ["d"]);
    let outside = p.root().parent().unwrap().join("escaped.txt");
    assert!(!outside.exists(), "the entry wrote outside the workspace");
    assert_eq!(p.read("out/d/f.txt"), "source\n");
    let (_, fixed) = entry_with(&p, "out/d");
    assert_eq!(
        fixed.outputs["out/d"].tree.as_ref().unwrap()[0].path,
        "f.txt"
    );
}

#[test]
fn a_local_action_entry_of_the_wrong_shape_or_size_is_a_miss_and_is_removed() {
    let p = dir_and_file();
    p.parity(&["build"]).ok();
    // `f`'s entry names its object with another size; `d`'s says its directory is a file.
    let (path, mut entry) = entry_with(&p, "out/f.txt");
    entry.outputs.get_mut("out/f.txt").unwrap().digest.size += 1;
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
    let (path, mut entry) = entry_with(&p, "out/d");
    entry.outputs.get_mut("out/d").unwrap().tree = None;
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
    std::fs::remove_dir_all(p.path("out")).unwrap();
    p.take_runs();

    let run = p.parity(&["build", "--json"]);
    run.ok();
    assert_eq!(run.outcomes(), map(&[("d", "ran"), ("f", "ran")]));
    assert_eq!(p.take_runs_sorted(), ["d", "f"]);
    p.parity(&["verify"]).ok();
    assert_eq!(p.read("out/f.txt"), "source\n");
}

#[test]
fn a_remote_entry_listing_a_file_and_a_path_inside_it_never_reaches_the_local_cache() {
    let server = CacheServer::start();
    let url = server.url();
    let a = dir_and_file();
    a.parity(&["build", "--remote-cache", &url]).ok();
    // Rewrite `d`'s remote entry: `f.txt` and `f.txt/y`, digests consistent with each other.
    let mut poisoned = 0;
    for key in server.keys().iter().filter(|k| k.starts_with("ac/")) {
        let mut entry: serde_json::Value =
            serde_json::from_slice(&server.get(key).unwrap()).unwrap();
        let Some(d) = entry["outputs"].get_mut("out/d") else {
            continue;
        };
        let file = d["tree"][0].clone();
        let mut inner = file.clone();
        inner["path"] = "f.txt/y".into();
        d["tree"] = serde_json::json!([file, inner]);
        let tree: Vec<parity_engine::hash::TreeEntry> = d["tree"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                serde_json::from_value(serde_json::json!({
                    "path": f["path"], "digest": {"blake3": f["blake3"], "size": f["size"]}
                }))
                .unwrap()
            })
            .collect();
        let digest = tree_digest(&tree);
        d["blake3"] = digest.blake3.to_hex().into();
        d["size"] = digest.size.into();
        server.set(key, &serde_json::to_vec(&entry).unwrap());
        poisoned += 1;
    }
    assert_eq!(poisoned, 1);

    let b = dir_and_file();
    let run = b.parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    assert_eq!(run.outcomes(), map(&[("d", "ran"), ("f", "remote")]));
    assert!(
        run.stderr.contains("both the file `f.txt` and `f.txt/y`"),
        "{}",
        run.stderr
    );
    // Without the remote, the next builds work: nothing bad was kept locally.
    std::fs::remove_dir_all(b.path("out")).unwrap();
    let again = b.parity(&["build", "--json"]);
    again.ok();
    assert_eq!(again.outcomes(), map(&[("d", "cached"), ("f", "cached")]));
    assert_eq!(b.read("out/d/f.txt"), "source\n");
}

#[test]
fn an_output_that_is_the_pipeline_file_the_lock_or_the_cache_is_refused_when_the_pipeline_loads() {
    for (output, what) in [
        ("pipeline.toml", "the pipeline file"),
        ("pipeline.lock", "the lock file"),
        ("cache/ac/x", "the cache directory"),
        ("./cache", "the cache directory"),
    ] {
        let pipeline = command_node("evil", &["src.txt"], &[output], "echo hello > $out");
        let p = Project::new()
            .file("pipeline.toml", &pipeline)
            .file("src.txt", "x\n");
        let run = p.parity(&["build"]);
        run.code(2);
        assert!(run.stderr.contains(what), "{output}: {}", run.stderr);
        assert!(run.stderr.contains("pipeline.toml:"), "{}", run.stderr);
        assert_eq!(p.read("pipeline.toml"), pipeline, "{output}");
        assert!(!p.exists("pipeline.lock"));
    }
}

#[test]
fn an_output_over_a_hand_written_file_fails_unless_adopted() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node("gen", &["src.txt"], &["notes.txt"], "cp $in $out"),
        )
        .file("src.txt", "generated\n")
        .file("notes.txt", "my own notes\n");
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(run.stderr.contains("`notes.txt`"), "{}", run.stderr);
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert_eq!(p.read("notes.txt"), "my own notes\n");

    // The same bytes are no loss: a lock deleted by hand is rebuilt without --adopt.
    p.write("notes.txt", "generated\n");
    p.parity(&["build"]).ok();
    std::fs::remove_file(p.path("pipeline.lock")).unwrap();
    p.parity(&["build"]).ok();

    p.write("notes.txt", "my own notes\n");
    std::fs::remove_file(p.path("pipeline.lock")).unwrap();
    p.parity(&["build", "--adopt"]).ok();
    assert_eq!(p.read("notes.txt"), "generated\n");
    // Recorded now: an edit by hand is overwritten by the next build, as before.
    p.write("notes.txt", "edited\n");
    p.parity(&["build"]).ok();
    assert_eq!(p.read("notes.txt"), "generated\n");
}

#[test]
fn an_output_under_a_symlinked_directory_is_not_written_outside_the_workspace() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node("a", &["src.txt"], &["out/a.txt"], "cp $in $out"),
        )
        .file("src.txt", "x\n");
    let outside = p.root().parent().unwrap().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, p.path("out")).unwrap();
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!outside.join("a.txt").exists(), "written through the link");
}

#[test]
fn a_symlink_output_is_refused_never_stored_nor_recorded() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node(
                    "link",
                    &["src.txt"],
                    &["out/link.txt"],
                    "ln -s /etc/passwd $out",
                ),
                command_node(
                    "dir",
                    &["src.txt"],
                    &["out/dir/"],
                    "mkdir $out && ln -s /etc/passwd $out/inner",
                ),
            ]
            .concat(),
        )
        .file("src.txt", "x\n");
    let run = p.parity(&["build", "--json", "--keep-going"]);
    run.code(1);
    assert_eq!(
        run.outcomes(),
        map(&[("dir", "failed"), ("link", "failed")])
    );
    assert!(!p.exists("out/link.txt") && !p.exists("out/dir"));
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let stored = walkdir_files(&p.path("cache/cas"));
    assert!(
        stored.iter().all(|f| std::fs::read(f).unwrap() != passwd),
        "the link's target was stored"
    );
    assert!(!p.exists("pipeline.lock") || !p.read("pipeline.lock").contains("link"));
}

fn walkdir_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `command` recipes are confined by Landlock on this project's machines (Linux 5.13+);
/// `PARITY_SANDBOX=copy` selects the portable fallback.
const COPY: (&str, &str) = ("PARITY_SANDBOX", "copy");

#[test]
fn status_v_and_version_v_say_which_sandbox_is_active() {
    let p = dir_and_file();
    let run = p.parity(&["status", "-v"]);
    run.ok();
    assert!(
        run.stderr.contains("sandbox: landlock (ABI "),
        "this machine has Landlock: {}",
        run.stderr
    );
    let run = p.parity_env(&[COPY], &["status", "-v"]);
    assert!(
        run.stderr.contains("sandbox: copies (PARITY_SANDBOX=copy)"),
        "{}",
        run.stderr
    );
    let version = p.parity(&["--version", "-v"]);
    version.ok();
    let lines: Vec<&str> = version.stdout.lines().collect();
    assert_eq!(lines[0], format!("parity {}", env!("CARGO_PKG_VERSION")));
    assert!(lines[1].starts_with("host: "), "{}", version.stdout);
    assert!(
        lines[2].starts_with("sandbox: landlock (ABI "),
        "{}",
        version.stdout
    );
    let plain = p.parity(&["--version"]);
    assert_eq!(
        plain.stdout,
        format!("parity {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// A recipe that edits its input in place (`sed -i`, `>>`): the workspace source never changes,
/// confined (the edit is refused) or not (it edits a private copy).
#[test]
fn a_recipe_that_edits_its_input_in_place_never_changes_the_workspace_source() {
    for recipe in [
        "sed -i s/source/EDITED/ $in && cp $in $out",
        "echo x >> $in && cp $in $out",
    ] {
        for env in [&[][..], &[COPY][..]] {
            let p = Project::new()
                .file(
                    "pipeline.toml",
                    &command_node("edit", &["src/a.txt"], &["out/a.txt"], recipe),
                )
                .file("src/a.txt", "source\n");
            let run = p.parity_env(env, &["build"]);
            let run2 = p.parity_env(env, &["build"]);
            assert_eq!(
                p.read("src/a.txt"),
                "source\n",
                "{recipe} {env:?}: {}",
                run.stderr
            );
            if env.is_empty() {
                run.code(1);
                assert!(run.stderr.contains("Permission denied"), "{}", run.stderr);
            } else {
                run.ok();
                run2.ok();
            }
        }
    }
}

#[test]
fn a_recipe_cannot_write_outside_its_sandbox() {
    let abs = "[artifact.abs]\nrule = \"command\"\ninputs = [\"src.txt\"]\noutputs = [\"out/abs.txt\"]\n\
               config = { env = [\"TARGET\"], command = 'echo pwned > \"$$TARGET/pwned.txt\" && cp $in $out' }\n\n";
    let p = Project::new()
        .file(
            "pipeline.toml",
            &[
                command_node(
                    "up",
                    &["src.txt"],
                    &["out/up.txt"],
                    "echo pwned > ../../../../../escaped.txt && cp $in $out",
                ),
                abs.to_string(),
                command_node(
                    "here",
                    &["src.txt"],
                    &["out/here.txt"],
                    "echo pwned > src.txt && cp $in $out",
                ),
                // Simple commands, which run without a shell, are confined alike.
                command_node(
                    "simple_up",
                    &["src.txt"],
                    &["out/simple_up.txt"],
                    "cp $in ../../../../../escaped.txt",
                ),
                command_node(
                    "simple_here",
                    &["src.txt"],
                    &["out/simple_here.txt"],
                    "cat $in $in > src.txt",
                ),
            ]
            .concat(),
        )
        .file("src.txt", "x\n");
    let target = p.root().to_string_lossy().into_owned();
    let run = p.parity_env(&[("TARGET", &target)], &["build", "--keep-going", "--json"]);
    run.code(1);
    assert_eq!(
        run.outcomes(),
        map(&[
            ("abs", "failed"),
            ("here", "failed"),
            ("simple_here", "failed"),
            ("simple_up", "failed"),
            ("up", "failed")
        ]),
        "{}",
        run.stdout
    );
    assert!(!p.root().parent().unwrap().join("escaped.txt").exists());
    assert!(!p.exists("pwned.txt"));
    assert_eq!(p.read("src.txt"), "x\n");
}

#[test]
fn the_recipe_environment_is_exactly_path_home_tmpdir_epoch_node_and_declared_env() {
    let pipeline = "[artifact.env]\nrule = \"command\"\nepoch = 1700000000\ninputs = [\"src.txt\"]\n\
        outputs = [\"out/env.txt\"]\n\
        config = { command = 'env | sort | sed -e \"s|=$$HOME|=<home>|\" -e \"s|=$$TMPDIR|=<tmp>|\" -e \"s|=$$PWD|=<pwd>|\" > $out; test -d \"$$HOME\" && test -d \"$$TMPDIR\"', env = [\"GREETING\", \"UNSET_ONE\"] }\n";
    // The same through a simple command, which runs without a shell: the variables a shell
    // would pass on, `PWD` included.
    let direct = "[artifact.direct]\nrule = \"command\"\nepoch = 1700000000\ninputs = [\"src.txt\"]\n\
        outputs = [\"out/direct.txt\"]\nconfig = { command = 'printenv > $out', env = [\"GREETING\"] }\n";
    let p = Project::new()
        .file("pipeline.toml", &format!("{pipeline}\n{direct}"))
        .file("src.txt", "x\n");
    let env = [
        ("GREETING", "hi"),
        ("FOO", "bar"),
        ("SOURCE_DATE_EPOCH", "1"),
    ];
    p.parity_env(&env, &["build"]).ok();
    assert_eq!(
        p.read("out/env.txt"),
        "GREETING=hi\nHOME=<home>\nPARITY_NODE=env\nPATH=/usr/local/bin:/usr/bin:/bin\n\
         PWD=<pwd>\nSOURCE_DATE_EPOCH=1700000000\nTMPDIR=<tmp>\n"
    );
    let mut direct: Vec<String> = p.read("out/direct.txt").lines().map(String::from).collect();
    direct.sort();
    let names: Vec<&str> = direct
        .iter()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GREETING",
            "HOME",
            "PARITY_NODE",
            "PATH",
            "PWD",
            "SOURCE_DATE_EPOCH",
            "TMPDIR"
        ],
        "{direct:?}"
    );
    assert!(direct.contains(&"PARITY_NODE=direct".to_string()));
    assert!(direct.contains(&"SOURCE_DATE_EPOCH=1700000000".to_string()));
    // An undeclared variable is not seen, so it decides nothing; a declared one is keyed.
    let run = p.parity_env(&[("GREETING", "hi"), ("FOO", "baz")], &["build"]);
    assert!(run.stderr.contains("no work to do."), "{}", run.stderr);
    let run = p.parity_env(&[("GREETING", "hello")], &["build", "--json"]);
    assert_eq!(run.outcomes()["env"], "ran");
    assert!(p.read("out/env.txt").starts_with("GREETING=hello\n"));
}

/// Processes running `sleep TAG` (a unique argument), from `/proc`.
fn sleepers(tag: &str) -> usize {
    let want = format!("sleep\0{tag}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.ends_with(want.as_bytes()) && c.starts_with(b"sleep\0"))
        })
        .count()
}

#[test]
fn a_recipe_past_its_timeout_is_killed_with_its_whole_process_group() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "slow",
                &["src.txt"],
                &["out/slow.txt"],
                "sleep 987.001 & sleep 987.002; cp $in $out",
            )
            .replace("rule = \"command\"", "rule = \"command\"\ntimeout = 1"),
        )
        .file("src.txt", "x\n");
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(
        run.stderr.contains("timed out after 1 s")
            && run.stderr.contains("process group was killed"),
        "{}",
        run.stderr
    );
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(5), || {
            sleepers("987.001") + sleepers("987.002") == 0
        }),
        "the recipe's background process outlived it"
    );
    assert!(!p.exists("out/slow.txt"));
}

#[test]
fn ctrl_c_kills_the_whole_process_group_of_a_running_recipe() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "slow",
                &["src.txt"],
                &["out/slow.txt"],
                "sleep 876.001 & sleep 876.002; cp $in $out",
            ),
        )
        .file("src.txt", "x\n");
    let child = p.spawn(&["build"]);
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(20), || {
            sleepers("876.001") == 1 && sleepers("876.002") == 1
        }),
        "the recipe did not start"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(5), || {
            sleepers("876.001") + sleepers("876.002") == 0
        }),
        "the recipe's processes outlived the interrupted build"
    );
}

#[test]
fn a_flood_of_recipe_output_is_kept_in_a_file_and_only_its_tail_reaches_the_message() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "loud",
                &["src.txt"],
                &["out/loud.txt"],
                "head -c 200000000 /dev/zero | tr \"\\\\000\" x; echo; echo the last line >&2; exit 4",
            ),
        )
        .file("src.txt", "x\n");
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(
        run.stderr.contains("command exited with 4"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(run.stderr.contains("the last line"));
    assert!(
        run.stderr.len() < 32 << 10,
        "{} bytes of message",
        run.stderr.len()
    );
}

#[test]
fn a_file_a_recipe_writes_beside_its_outputs_is_reported_and_discarded() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "messy",
                &["src.txt"],
                &["out/messy.txt"],
                "cp $in $out; echo junk > ../out/junk.txt",
            ),
        )
        .file("src.txt", "x\n");
    let run = p.parity(&["build"]);
    run.ok();
    assert!(
        run.stderr
            .contains("warning: `messy` wrote `junk.txt` beside its declared outputs"),
        "{}",
        run.stderr
    );
    assert_eq!(p.read("out/messy.txt"), "x\n");
    assert!(!p.tree().iter().any(|f| f.ends_with("junk.txt")));
}

#[test]
fn in_and_out_are_the_same_strings_confined_or_not_so_outputs_are_too() {
    let pipeline = [
        command_node("gen", &["src/a.txt"], &["{cache}/gen.txt"], "cp $in $out"),
        command_node(
            "show",
            &["src/a.txt", "gen"],
            &["out/show.txt"],
            "echo \"$in -> $out\" > $out; cat $in >> $out",
        ),
    ]
    .concat();
    let mut outputs = Vec::new();
    for env in [&[][..], &[COPY][..]] {
        let p = Project::new()
            .file("pipeline.toml", &pipeline)
            .file("src/a.txt", "a\n");
        let run = p.parity_env(env, &["build"]);
        run.ok();
        let warned = run.stderr.matches("warning: no sandbox confines").count();
        assert_eq!(warned, usize::from(!env.is_empty()), "{}", run.stderr);
        outputs.push(p.read("out/show.txt"));
    }
    assert_eq!(
        outputs[0],
        "src/a.txt ../cache/gen.txt -> ../out/0-show.txt\na\na\n"
    );
    assert_eq!(outputs[0], outputs[1]);
}

/// A pipeline of 20,000 nodes: `parity list` prints far more than a pipe buffer holds.
fn many_nodes() -> Project {
    let values: Vec<String> = (0..20_000).map(|i| format!("\"value-{i:06}\"")).collect();
    Project::new().file(
        "pipeline.toml",
        &format!(
            "[params]\nv = [{}]\n\n[artifact.node]\nrule = \"command\"\nparams = [\"v\"]\noutputs = [\"out/{{v}}.txt\"]\nconfig = {{ command = 'echo $$PARITY_NODE > $out' }}\n",
            values.join(", ")
        ),
    )
}

#[test]
fn a_reader_that_closes_the_pipe_ends_parity_quietly_with_exit_0() {
    use std::io::BufRead;
    let p = many_nodes();
    for args in [
        &["list"][..],
        &["status"][..],
        &["graph", "--format", "json"][..],
    ] {
        let mut child = p.spawn(args);
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{args:?}");
        // The reader is gone (the pipe closed, as `| head -1` does).
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("bug"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_journal_that_is_not_utf8_does_not_stop_status_build_or_verify() {
    let p = dir_and_file();
    p.parity(&["build"]).ok();
    std::fs::write(p.path("cache/journal"), b"\xff\xfe garbage \x80\n{\"id\":").unwrap();
    p.parity(&["status"]).ok();
    p.parity(&["verify"]).ok();
    let run = p.parity(&["build"]);
    run.ok();
    assert!(run.stderr.contains("no work to do."), "{}", run.stderr);
}

#[test]
fn an_empty_pipeline_is_an_error_and_leaves_the_lock_alone() {
    let p = dir_and_file();
    p.parity(&["build"]).ok();
    let lock = p.read("pipeline.lock");
    for text in ["", "# nothing yet\n", "[params]\nv = [\"1\"]\n"] {
        p.write("pipeline.toml", text);
        let run = p.parity(&["build"]);
        run.code(2);
        assert!(
            run.stderr.contains("declares no artifact"),
            "{}",
            run.stderr
        );
        assert_eq!(p.read("pipeline.lock"), lock);
    }
}

#[test]
fn a_pipeline_that_is_not_utf8_is_an_error_with_its_position() {
    let p = Project::new();
    std::fs::write(
        p.path("pipeline.toml"),
        b"[artifact.a]\nrule = \"command\"\noutputs = [\"caf\xe9.txt\"]\n",
    )
    .unwrap();
    let run = p.parity(&["status"]);
    run.code(2);
    assert!(run.stderr.contains("is not UTF-8"), "{}", run.stderr);
    assert!(run.stderr.contains("pipeline.toml:3:"), "{}", run.stderr);
}

#[test]
fn a_param_value_too_long_for_a_file_name_is_refused_when_the_pipeline_loads() {
    let long = "x".repeat(5000);
    let p = Project::new().file(
        "pipeline.toml",
        &format!(
            "[params]\nv = [\"{long}\"]\n\n[artifact.a]\nrule = \"command\"\nparams = [\"v\"]\noutputs = [\"out/{{v}}.txt\"]\nconfig = {{ command = 'echo > $out' }}\n"
        ),
    );
    let run = p.parity(&["build"]);
    run.code(2);
    assert!(run.stderr.contains("5000 bytes long"), "{}", run.stderr);
    assert!(run.stderr.contains("pipeline.toml:2:"), "{}", run.stderr);
    assert!(
        run.stderr.len() < 2000,
        "the message repeats the value: {}",
        run.stderr
    );
}

#[test]
fn outputs_of_parity_s_own_rules_get_the_modes_of_the_umask_not_0600() {
    use std::os::unix::fs::PermissionsExt;
    // `pins`-free corner of the real rules: `version-metadata` writes with a temp file (0600).
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "private",
                &["src.txt"],
                &["out/private.txt", "out/tool"],
                "cp $in ../out/0-private.txt && chmod 600 ../out/0-private.txt && cp $in ../out/1-tool && chmod 700 ../out/1-tool",
            ),
        )
        .file("src.txt", "x\n");
    let build_under_umask_027 = || {
        p.parity_under_umask("027", &["build"]).ok();
    };
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o777;
    build_under_umask_027();
    assert_eq!(mode("out/private.txt"), 0o640);
    assert_eq!(mode("out/tool"), 0o750);
    // Restored from the cache: the same modes.
    std::fs::remove_dir_all(p.path("out")).unwrap();
    build_under_umask_027();
    assert_eq!(mode("out/private.txt"), 0o640);
    assert_eq!(mode("out/tool"), 0o750);
}

#[test]
fn an_io_error_of_a_node_keeps_its_os_cause() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node("a", &["src.txt"], &["blocker/a.txt"], "cp $in $out"),
        )
        .file("src.txt", "x\n")
        .file("blocker", "a file where a directory must be\n");
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(run.stderr.contains("Not a directory"), "{}", run.stderr);
}

#[test]
fn a_modified_directory_output_names_the_file_that_was_edited() {
    let p = Project::new()
        .file(
            "pipeline.toml",
            &command_node(
                "d",
                &["src.txt"],
                &["out/d/"],
                "mkdir -p $out/sub && cp $in $out/a.txt && cp $in $out/sub/b.txt",
            ),
        )
        .file("src.txt", "x\n");
    p.parity(&["build"]).ok();
    p.write("out/d/sub/b.txt", "edited\n");
    let status = p.parity(&["status"]);
    assert!(
        status.stdout.contains("`out/d/sub/b.txt` differs"),
        "{}",
        status.stdout
    );
    let verify = p.parity(&["verify"]);
    verify.code(1);
    assert!(
        verify.stdout.contains("`out/d/sub/b.txt` differs"),
        "{}",
        verify.stdout
    );
    let explain = p.parity(&["explain", "d"]);
    assert!(
        explain.stdout.contains("`out/d/sub/b.txt` differs"),
        "{}",
        explain.stdout
    );
}

/// Recipes that are simple commands run without a shell (as GNU make runs them); anything else
/// with `sh -c`. Either way the outputs are the bytes `sh -c` gives (`PARITY_SHELL=always`).
#[test]
fn simple_commands_run_without_a_shell_give_the_bytes_sh_gives() {
    let pipeline = [
        command_node("cp", &["src/a.txt"], &["out/cp.txt"], "cp $in $out"),
        command_node(
            "cat",
            &["src/a.txt", "src/b c.txt"],
            &["out/cat.txt"],
            "cat $in \"src/b c.txt\" > $out",
        ),
        command_node(
            "sort",
            &["src/a.txt"],
            &["out/sort.txt"],
            "sort -r $in >$out",
        ),
        command_node(
            "env",
            &["src/a.txt"],
            &["out/env.txt"],
            "printenv PARITY_NODE PATH > $out",
        ),
        command_node(
            "echo",
            &["src/a.txt"],
            &["out/echo.txt"],
            "echo \"one\\ttwo\" > $out",
        ),
        command_node(
            "tr",
            &["src/a.txt"],
            &["out/tr.txt"],
            "tr a-z A-Z < $in > $out",
        ),
    ]
    .concat();
    let mut trees = Vec::new();
    for env in [&[][..], &[("PARITY_SHELL", "always")][..]] {
        let p = Project::new()
            .file("pipeline.toml", &pipeline)
            .file("src/a.txt", "b\na\nc\n")
            .file("src/b c.txt", "spaced\n");
        p.parity_env(env, &["build"]).ok();
        let files =
            ["cp", "cat", "sort", "env", "echo", "tr"].map(|n| p.read(&format!("out/{n}.txt")));
        trees.push(files);
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0][1], "b\na\nc\nspaced\nspaced\n");
    assert_eq!(trees[0][2], "c\nb\na\n");
    assert_eq!(trees[0][4], "one\ttwo\n", "`echo` is the shell's");
}
