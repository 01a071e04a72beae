//! Bad pipelines and bad targets: a message that points at the file and line (or names the
//! node), exit code 2, and nothing written: no `pipeline.lock`, no `cache/`, no output.

use crate::support::Project;

/// Runs `parity ARGS` over `pipeline`, expects exit code 2 and an untouched project; returns
/// stderr.
#[track_caller]
fn rejected(pipeline: &str, args: &[&str]) -> String {
    let p = Project::new()
        .file("pipeline.toml", pipeline)
        .file("src.txt", "source\n");
    let before = p.tree();
    let run = p.parity(args);
    run.code(2);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing on stdout");
    assert_eq!(p.tree(), before, "a rejected command wrote something");
    assert_eq!(p.take_runs(), Vec::<String>::new(), "no rule may run");
    run.stderr
}

/// A pipeline every command refuses the same way; returns what `parity build` says.
#[track_caller]
fn rejected_pipeline(pipeline: &str) -> String {
    let stderr = rejected(pipeline, &["build"]);
    for args in [
        &["build", "--dry-run"][..],
        &["status"],
        &["list"],
        &["graph"],
        &["explain", "a"],
    ] {
        assert_eq!(rejected(pipeline, args), stderr, "{args:?}");
    }
    stderr
}

const OK_NODE: &str = r#"[artifact.a]
rule = "command"
inputs = ["src.txt"]
outputs = ["a.txt"]
config = { command = "cat $in > $out" }
"#;

#[test]
fn malformed_toml_points_at_line_and_column() {
    let stderr = rejected_pipeline("[artifact.a\nrule = \"command\"\n");
    assert_eq!(
        stderr,
        "error: invalid TOML: unclosed table, expected `]`\n --> pipeline.toml:1:12\n  |\n1 | [artifact.a\n  |            ^\n"
    );
}

#[test]
fn unknown_rule_gets_did_you_mean() {
    let stderr = rejected_pipeline(&OK_NODE.replace("\"command\"\n", "\"comand\"\n"));
    assert_eq!(
        stderr,
        "error: unknown rule `comand` in `[artifact.a]`\n --> pipeline.toml:2:8\n  |\n2 | rule = \"comand\"\n  |        ^^^^^^^^\n  help: did you mean `command`?\n"
    );
}

#[test]
fn unknown_param_gets_did_you_mean() {
    let pipeline = format!(
        "[params]\nversion = [\"1\"]\n\n{}",
        OK_NODE.replace(
            "rule = \"command\"\n",
            "rule = \"command\"\nparams = [\"versoin\"]\n"
        )
    );
    let stderr = rejected_pipeline(&pipeline);
    assert_eq!(
        stderr,
        "error: unknown param `versoin` in `[artifact.a]`\n --> pipeline.toml:6:11\n  |\n6 | params = [\"versoin\"]\n  |           ^^^^^^^^^\n  help: did you mean `version`?\n"
    );
}

#[test]
fn duplicate_output_path_names_both_nodes() {
    let pipeline = format!("{OK_NODE}\n{}", OK_NODE.replace("artifact.a", "artifact.b"));
    let stderr = rejected_pipeline(&pipeline);
    assert_eq!(
        stderr,
        "error: duplicate output path `a.txt`: declared by `a` and `b`\n  --> pipeline.toml:10:12\n   |\n10 | outputs = [\"a.txt\"]\n   |            ^^^^^^^\n"
    );
}

#[test]
fn cycle_prints_the_whole_loop_and_points_at_its_first_edge() {
    let node = |name: &str, input: &str| {
        OK_NODE
            .replace("artifact.a", &format!("artifact.{name}"))
            .replace("src.txt", input)
            .replace("a.txt", &format!("{name}.txt"))
    };
    let pipeline = [node("a", "c"), node("b", "a"), node("c", "b")].join("\n");
    let stderr = rejected_pipeline(&pipeline);
    assert_eq!(
        stderr,
        "error: dependency cycle: a -> c -> b -> a\n --> pipeline.toml:3:11\n  |\n3 | inputs = [\"c\"]\n  |           ^^^\n"
    );
    // A file another node produces is an edge too (make-style): the caret is on that file.
    let pipeline = [node("a", "c.txt"), node("b", "a"), node("c", "b")].join("\n");
    let stderr = rejected_pipeline(&pipeline);
    assert!(
        stderr.ends_with("3 | inputs = [\"c.txt\"]\n  |           ^^^^^^^\n"),
        "{stderr}"
    );
}

#[test]
fn output_outside_the_workspace_is_refused() {
    let stderr = rejected_pipeline(&OK_NODE.replace("\"a.txt\"", "\"../x\""));
    assert_eq!(
        stderr,
        "error: output `../x` of `a` is outside the workspace\n --> pipeline.toml:4:12\n  |\n4 | outputs = [\"../x\"]\n  |            ^^^^^^\n  help: outputs are relative paths below the root\n"
    );
    let p = Project::new()
        .file("pipeline.toml", &OK_NODE.replace("\"a.txt\"", "\"../x\""))
        .file("src.txt", "s\n");
    p.parity(&["build"]).code(2);
    assert!(!p.root().parent().unwrap().join("x").exists());
}

#[test]
fn command_without_config_command_names_the_node() {
    let pipeline = OK_NODE.replace("config = { command = \"cat $in > $out\" }\n", "");
    let stderr = rejected_pipeline(&pipeline);
    assert_eq!(
        stderr,
        "error: invalid config for `a` (rule `command`): `config.command` is required\n"
    );
    let empty = rejected_pipeline(&OK_NODE.replace("\"cat $in > $out\"", "\"  \""));
    assert_eq!(
        empty,
        "error: invalid config for `a` (rule `command`): `config.command` must be a non-empty string\n"
    );
}

const NOTE: &str = r#"[params]
v = ["1", "2"]

[artifact.note]
rule = "command"
params = ["v"]
inputs = ["src.txt"]
outputs = ["note{v}.txt"]
config = { command = "cat $in > $out" }
"#;

#[test]
fn unknown_target_gets_did_you_mean() {
    let stderr = rejected(NOTE, &["build", "nope@1"]);
    assert_eq!(
        stderr,
        "error: no node matches `nope@1`\n  help: did you mean `note@1`?\n"
    );
    let stderr = rejected(NOTE, &["build", "note@1", "nothing-like-it"]);
    assert_eq!(stderr, "error: no node matches `nothing-like-it`\n");
    for cmd in ["status", "explain", "graph", "list"] {
        let p = Project::new()
            .file("pipeline.toml", NOTE)
            .file("src.txt", "s\n");
        let run = p.parity(&[cmd, "nope@1"]);
        run.code(2);
        assert!(
            run.stderr.contains("did you mean `note@1`?"),
            "{cmd}: {}",
            run.stderr
        );
    }
}

#[test]
fn missing_pipeline_toml_is_a_usage_error() {
    let p = Project::new();
    for args in [
        &["build"][..],
        &["status"],
        &["list"],
        &["graph"],
        &["explain", "a"],
    ] {
        let run = p.parity(args);
        run.code(2);
        assert_eq!(
            run.stderr,
            "error: no `pipeline.toml` here (run parity in the directory holding it, or pass -C DIR / --pipeline FILE)\n"
        );
    }
    assert_eq!(p.tree(), Vec::<String>::new());
}

#[test]
fn the_pipeline_is_found_with_dash_c() {
    let p = Project::new()
        .file("sub/pipeline.toml", OK_NODE)
        .file("sub/src.txt", "source\n");
    p.parity(&["-C", "sub", "build"]).ok();
    assert_eq!(p.read("sub/a.txt"), "source\n");
    assert!(p.exists("sub/pipeline.lock") && p.exists("sub/cache"));
}

/// The remote-cache and mirror options are listed by the commands that build, and only there.
#[test]
fn remote_cache_and_mirror_options_appear_only_where_they_apply() {
    let p = Project::new();
    for cmd in ["build", "pin"] {
        let help = p.parity(&[cmd, "--help"]);
        help.ok();
        for opt in ["--remote-cache", "--remote-read-only", "--mirror"] {
            assert!(help.stdout.contains(opt), "{cmd} --help lacks {opt}");
        }
    }
    for cmd in [
        "status", "explain", "graph", "list", "gc", "verify", "init", "watch",
    ] {
        let help = p.parity(&[cmd, "--help"]);
        help.ok();
        assert!(
            !help.stdout.contains("--remote-cache") && !help.stdout.contains("--mirror"),
            "{cmd} --help lists the remote cache or the mirror:\n{}",
            help.stdout
        );
    }
    let run = p.parity(&["status", "--remote-cache", "file:///x"]);
    run.code(2);
}

/// Each command's `--help` opens with the description `--help` lists it with, `dist`'s
/// commands too. The commands' arguments are built only for the one that runs, after its own
/// description: a doc comment on a struct they flatten (the remote cache options of `build`
/// and `pin`) once took its place.
#[test]
fn each_command_help_opens_with_the_description_listed_for_it() {
    let p = Project::new();
    for parent in [&[][..], &["dist"]] {
        let listing = p.parity(&[parent, &["--help"]].concat());
        listing.ok();
        let commands = listing.stdout.split("Commands:\n").nth(1).unwrap();
        let entries: Vec<(&str, &str)> = commands
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| l.trim().split_once(' '))
            .filter(|(name, _)| *name != "help")
            .collect();
        assert!(entries.len() >= 8, "{}", listing.stdout);
        for (name, about) in entries {
            let help = p.parity(&[parent, &[name, "--help"]].concat());
            help.ok();
            let about = about.trim();
            let head: String = about.chars().take(24).collect();
            assert!(
                help.stdout.starts_with(&head),
                "`{parent:?} {name} --help` does not open with `{about}`:\n{}",
                help.stdout
            );
        }
    }
}

#[test]
fn a_params_file_key_or_pointer_typo_gets_did_you_mean() {
    let p = Project::new()
        .file("versions.toml", "tracked = [\"1\"]\n")
        .file("RULES.json", "{\"union\": {\"targets\": [\"x\"]}}")
        .file(
            "pipeline.toml",
            "[params]\nv = { from = \"versions.toml\", key = \"trakced\" }\n\n[artifact.a]\nrule = \"command\"\nparams = [\"v\"]\noutputs = [\"a{v}.txt\"]\nconfig = { command = \"true\" }\n",
        );
    let run = p.parity(&["status"]);
    run.code(2);
    assert!(
        run.stderr.starts_with(
            "error: key `trakced` not found in `versions.toml`\n --> pipeline.toml:2:37\n"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("  help: did you mean `tracked`?\n"),
        "{}",
        run.stderr
    );
    p.write(
        "pipeline.toml",
        "[params]\nv = { from = \"RULES.json\", pointer = \"/unoin/targets\" }\n\n[artifact.a]\nrule = \"command\"\nparams = [\"v\"]\noutputs = [\"a{v}.txt\"]\nconfig = { command = \"true\" }\n",
    );
    let run = p.parity(&["status"]);
    run.code(2);
    assert!(
        run.stderr
            .ends_with("  help: did you mean `/union/targets`?\n"),
        "{}",
        run.stderr
    );
}
