//! Tests of `graph`: edges, patterns, cycles, topological order, target selection.

use parity_engine::Error;
use parity_engine::graph::{Graph, Input};

use crate::pipeline::{Fixture, error, graph, ids};

const CODEX: &str = r#"
[params]
version = ["0.92.0", "0.97.0"]
target = ["linux", "macos", "windows"]

[artifact.lock]
rule = "merge-lock"
outputs = ["artifacts.lock.json"]

[artifact.binary]
rule = "acquire"
params = ["version", "target"]
inputs = ["lock"]
outputs = ["{cache}/bin/{version}/codex-{target}"]

[artifact.snapshot]
rule = "snapshot"
params = ["version", "target"]
host = "{target}"
inputs = ["binary@{version}/{target}", "supplement/commands.json", "RULES.json"]
outputs = ["snapshots/{version}/{target}.json", "{cache}/raw_help/{version}/{target}/"]

[artifact.union]
rule = "union"
params = ["version"]
inputs = ["snapshot@{version}/*?", "RULES.json"]
outputs = ["snapshots/{version}/union.json"]

[artifact.report]
rule = "report"
params = ["version"]
inputs = ["snapshots/{version}/union.json", "snapshots/{version}/linux.json"]
outputs = ["reports/{version}/"]

[artifact.index]
rule = "report"
inputs = ["reports/0.97.0/any.json", "report@*"]
outputs = ["index.json"]
"#;

fn node(g: &Graph, id: &str) -> usize {
    g.find(id).unwrap()
}

fn names(g: &Graph, ixs: &[usize]) -> Vec<String> {
    ixs.iter().map(|&i| g.nodes[i].id.to_string()).collect()
}

#[test]
fn node_references_and_patterns() {
    let g = graph(CODEX);
    assert_eq!(g.nodes.len(), 1 + 6 + 6 + 2 + 2 + 1);
    let s = &g.nodes[node(&g, "snapshot@0.97.0/macos")];
    assert_eq!(
        s.inputs[0],
        Input::Node {
            node: node(&g, "binary@0.97.0/macos"),
            file: None,
            optional: false
        }
    );
    assert_eq!(
        s.inputs[1],
        Input::Source {
            path: "supplement/commands.json".into(),
            dir: false,
            optional: false
        }
    );
    let u = &g.nodes[node(&g, "union@0.92.0")];
    let fan_in: Vec<_> = u.inputs[..3].to_vec();
    let expected: Vec<_> = [
        "snapshot@0.92.0/linux",
        "snapshot@0.92.0/macos",
        "snapshot@0.92.0/windows",
    ]
    .iter()
    .map(|id| Input::Node {
        node: node(&g, id),
        file: None,
        optional: true,
    })
    .collect();
    assert_eq!(fan_in, expected);
    assert_eq!(u.inputs.len(), 4);
    assert_eq!(
        names(&g, &g.deps[node(&g, "binary@0.92.0/linux")]),
        ["lock"]
    );
}

#[test]
fn make_style_file_edges() {
    let g = graph(CODEX);
    let r = &g.nodes[node(&g, "report@0.97.0")];
    assert_eq!(
        *r.inputs,
        [
            Input::Node {
                node: node(&g, "union@0.97.0"),
                file: Some("snapshots/0.97.0/union.json".into()),
                optional: false
            },
            Input::Node {
                node: node(&g, "snapshot@0.97.0/linux"),
                file: Some("snapshots/0.97.0/linux.json".into()),
                optional: false
            },
        ]
    );
    // A file inside a directory output is an edge to the directory's producer.
    let i = &g.nodes[node(&g, "index")];
    assert_eq!(
        i.inputs[0],
        Input::Node {
            node: node(&g, "report@0.97.0"),
            file: Some("reports/0.97.0/any.json".into()),
            optional: false
        }
    );
    assert_eq!(
        names(&g, &g.deps[node(&g, "index")]),
        ["report@0.92.0", "report@0.97.0"]
    );
    assert_eq!(
        g.producer_of_path("reports/0.92.0/x/y.json"),
        Some((node(&g, "report@0.92.0"), 0))
    );
    assert_eq!(
        g.producer_of_path("{cache}/raw_help/0.92.0/linux/a.txt"),
        Some((node(&g, "snapshot@0.92.0/linux"), 1))
    );
    assert_eq!(
        g.producer_of_path("snapshots/0.92.0/linux.json"),
        Some((node(&g, "snapshot@0.92.0/linux"), 0))
    );
    assert_eq!(g.producer_of_path("snapshots/0.92.0"), None);
    assert_eq!(g.producer_of_path("RULES.json"), None);
}

#[test]
fn deps_and_rdeps_are_deduplicated_and_ascending() {
    let g = graph(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"a1\", \"a2\"]\n[artifact.b]\nrule = \"pin\"\ninputs = [\"a2\", \"a\", \"a1\"]\noutputs = [\"b\"]\n[artifact.c]\nrule = \"pin\"\ninputs = [\"b\", \"a\"]\noutputs = [\"c\"]\n",
    );
    let lists =
        |adj: &parity_engine::graph::Adjacency| adj.iter().map(<[_]>::to_vec).collect::<Vec<_>>();
    assert_eq!(lists(&g.deps), [vec![], vec![0], vec![0, 1]]);
    assert_eq!(lists(&g.rdeps), [vec![1, 2], vec![2], vec![]]);
}

#[test]
fn topo_order_is_stable() {
    let g = graph(CODEX);
    let order = names(&g, &g.topo);
    assert_eq!(order[0], "lock");
    assert_eq!(
        order[1..7],
        [
            "binary@0.92.0/linux",
            "binary@0.92.0/macos",
            "binary@0.92.0/windows",
            "binary@0.97.0/linux",
            "binary@0.97.0/macos",
            "binary@0.97.0/windows"
        ]
    );
    for (pos, &i) in g.topo.iter().enumerate() {
        for &d in &g.deps[i] {
            assert!(
                g.topo[..pos].contains(&d),
                "{} before its dep {}",
                g.nodes[i].id,
                g.nodes[d].id
            );
        }
    }
    // Declared late but needed early: dependencies first, otherwise lowest index first.
    let g = graph(
        "[artifact.c]\nrule = \"pin\"\ninputs = [\"z\"]\noutputs = [\"c\"]\n[artifact.b]\nrule = \"pin\"\noutputs = [\"b\"]\n[artifact.z]\nrule = \"pin\"\noutputs = [\"z\"]\n",
    );
    assert_eq!(names(&g, &g.topo), ["b", "z", "c"]);
}

#[test]
fn cycle_prints_the_whole_loop() {
    let text = "[artifact.a]\nrule = \"pin\"\ninputs = [\"c.json\"]\noutputs = [\"a.json\"]\n\
                [artifact.b]\nrule = \"pin\"\ninputs = [\"a.json\"]\noutputs = [\"b.json\"]\n\
                [artifact.c]\nrule = \"pin\"\ninputs = [\"b\"]\noutputs = [\"c.json\"]\n\
                [artifact.d]\nrule = \"pin\"\ninputs = [\"a\"]\noutputs = [\"d.json\"]\n";
    let e = Fixture::new(text).build().unwrap_err();
    assert!(matches!(e, Error::Cycle { .. }));
    assert_eq!(e.to_string(), "dependency cycle: a -> c -> b -> a");
    // The caret is on the input of `a` that names `c`'s output.
    assert!(
        e.render()
            .ends_with(":3:11\n  |\n3 | inputs = [\"c.json\"]\n  |           ^^^^^^^^"),
        "{}",
        e.render()
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn self_loop_is_a_cycle() {
    let e = error("[artifact.a]\nrule = \"pin\"\ninputs = [\"a.json\"]\noutputs = [\"a.json\"]\n");
    assert_eq!(
        e,
        "dependency cycle: a -> a\n --> pipeline.toml:3:11\n  |\n3 | inputs = [\"a.json\"]\n  |           ^^^^^^^^"
    );
}

#[test]
fn pattern_matching_nothing() {
    let text = CODEX.replace(
        "\"snapshot@{version}/*?\"",
        "\"snapshot@{version}/freebsd?\"",
    );
    assert_eq!(
        error(&text),
        "pattern `snapshot@0.92.0/freebsd` (input of `union@0.92.0`) matches no node
  --> pipeline.toml:26:11
   |
26 | inputs = [\"snapshot@{version}/freebsd?\", \"RULES.json\"]
   |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  help: did you mean `snapshot@0.92.0/macos`?"
    );
}

/// A fan-in over a param with no values (nothing pinned yet) is an empty, optional input; the
/// same pattern without `?` is still an error, and so is a literal value that does not exist.
#[test]
fn optional_pattern_may_match_nothing() {
    let text = r#"
[params]
pinned = []
target = ["linux", "macos"]

[artifact.pins]
rule = "pin"
params = ["pinned", "target"]
outputs = ["pins/{pinned}/{target}.json"]

[artifact.lock]
rule = "merge-lock"
inputs = ["pins@*/*?", "pins@0.9*/mac*?"]
outputs = ["artifacts.lock.json"]
"#;
    let g = graph(text);
    assert_eq!(ids(&g), ["lock"]);
    assert!(g.nodes[node(&g, "lock")].inputs.is_empty());
    // Selecting the empty artifact says why it has no node, not "did you mean" itself.
    for target in ["pins", "pins@0.92.0/*"] {
        assert_eq!(
            g.select(&[target.to_string()]).unwrap_err().render(),
            format!(
                "no node matches `{target}`\n  help: artifact `pins` has no nodes: its param `pinned` has no values"
            )
        );
    }

    assert_eq!(
        error(&text.replace("\"pins@*/*?\"", "\"pins@*/*\"")),
        "pattern `pins@*/*` (input of `lock`) matches no node
  --> pipeline.toml:13:11
   |
13 | inputs = [\"pins@*/*\", \"pins@0.9*/mac*?\"]
   |           ^^^^^^^^^^
"
        .trim_end()
    );
    let typo = error(&text.replace("mac*?", "freebsd?"));
    assert!(
        typo.starts_with("pattern `pins@0.9*/freebsd` (input of `lock`) matches no node"),
        "{typo}"
    );
}

#[test]
fn wrong_segment_count() {
    let text = CODEX.replace("\"binary@{version}/{target}\"", "\"binary@{version}\"");
    assert_eq!(
        error(&text),
        "input `binary@0.92.0` of `snapshot@0.92.0/linux` gives 1 segment(s) but `binary` has 2 param(s): `version`, `target`
  --> pipeline.toml:20:11
   |
20 | inputs = [\"binary@{version}\", \"supplement/commands.json\", \"RULES.json\"]
   |           ^^^^^^^^^^^^^^^^^^
  help: write `binary@{version}/{target}`"
    );
}

#[test]
fn artifact_with_params_named_alone() {
    let text = CODEX.replace("\"binary@{version}/{target}\"", "\"binary\"");
    let e = error(&text);
    assert!(
        e.starts_with(
            "input `binary` of `snapshot@0.92.0/linux` names artifact `binary`, which has params"
        ),
        "{e}"
    );
    assert!(
        e.ends_with("help: name its nodes: `binary@{version}/{target}`"),
        "{e}"
    );
}

#[test]
fn unknown_artifact_in_input() {
    let text = CODEX.replace(
        "\"binary@{version}/{target}\"",
        "\"binery@{version}/{target}\"",
    );
    let e = error(&text);
    assert!(e.starts_with("input `binery@0.92.0/linux` of `snapshot@0.92.0/linux` names an unknown artifact `binery`"), "{e}");
    assert!(e.ends_with("help: did you mean `binary`?"), "{e}");
}

#[test]
fn a_dot_slash_input_is_a_file_even_with_an_at_sign() {
    // Paths such as `dist/distribution-contract@1.0/...` contain `@`: `./` says "a file".
    let g = graph(
        r#"
[params]
v = ["1"]

[artifact.pack]
rule = "report"
params = ["v"]
outputs = ["d@1.0/{v}/a.tar.gz"]

[artifact.sum]
rule = "report"
params = ["v"]
inputs = ["./d@1.0/{v}/a.tar.gz", "./d@1.0/{v}/a.zip?", "./notes@home.txt"]
outputs = ["d@1.0/{v}/sum.json"]
"#,
    );
    let sum = &g.nodes[node(&g, "sum@1")];
    assert_eq!(
        *sum.inputs,
        [
            Input::Node {
                node: node(&g, "pack@1"),
                file: Some("d@1.0/1/a.tar.gz".into()),
                optional: false
            },
            Input::Source {
                path: "d@1.0/1/a.zip".into(),
                dir: false,
                optional: true
            },
            Input::Source {
                path: "notes@home.txt".into(),
                dir: false,
                optional: false
            },
        ]
    );
    // Without `./` the same path is a node reference, and an unknown artifact.
    let e = error("[artifact.x]\nrule = \"report\"\ninputs = [\"d@1.0/a\"]\noutputs = [\"o\"]\n");
    assert!(e.contains("names an unknown artifact `d`"), "{e}");
}

#[test]
fn select_patterns() {
    let g = graph(CODEX);
    let sel = |p: &[&str]| {
        names(
            &g,
            &g.select(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
        )
    };
    assert_eq!(sel(&["union"]), ["union@0.92.0", "union@0.97.0"]);
    assert_eq!(sel(&["lock"]), ["lock"]);
    assert_eq!(
        sel(&["snapshot@0.97.0"]),
        [
            "snapshot@0.97.0/linux",
            "snapshot@0.97.0/macos",
            "snapshot@0.97.0/windows"
        ]
    );
    assert_eq!(
        sel(&["snapshot@*/macos"]),
        ["snapshot@0.92.0/macos", "snapshot@0.97.0/macos"]
    );
    assert_eq!(
        sel(&["snapshot@0.9*/m*"]),
        ["snapshot@0.92.0/macos", "snapshot@0.97.0/macos"]
    );
    assert_eq!(
        sel(&["report@*", "union@0.92.0", "report@0.92.0"]),
        ["union@0.92.0", "report@0.92.0", "report@0.97.0"]
    );
    assert_eq!(sel(&["*"]).len(), g.nodes.len());
    assert_eq!(sel(&["*@0.92.0"]), ["union@0.92.0", "report@0.92.0"]);
}

#[test]
fn select_unknown_target() {
    let g = graph(CODEX);
    let e = g.select(&["unoin@0.92.0".to_string()]).unwrap_err();
    assert_eq!(
        e.render(),
        "no node matches `unoin@0.92.0`\n  help: did you mean `union@0.92.0`?"
    );
    let e = g
        .select(&["snapshot@0.92.0/freebsd".to_string()])
        .unwrap_err();
    assert!(matches!(e, Error::UnknownTarget { .. }));
    let e = g
        .select(&["snapshot@0.92.0/linux/x".to_string()])
        .unwrap_err();
    assert!(matches!(e, Error::UnknownTarget { .. }));
    // Nothing close among the artifact's own nodes: name its first one.
    let e = g.select(&["snapshot@zzzzzzzzzz".to_string()]).unwrap_err();
    assert!(
        e.render().contains("help: artifact `snapshot` has ")
            && e.render()
                .contains("none like this; the first is `snapshot@"),
        "{}",
        e.render()
    );
}

#[test]
fn closure_in_topo_order() {
    let g = graph(CODEX);
    let roots = g.select(&["union@0.92.0".to_string()]).unwrap();
    assert_eq!(
        names(&g, &g.closure(&roots)),
        [
            "lock",
            "binary@0.92.0/linux",
            "binary@0.92.0/macos",
            "binary@0.92.0/windows",
            "snapshot@0.92.0/linux",
            "snapshot@0.92.0/macos",
            "snapshot@0.92.0/windows",
            "union@0.92.0"
        ]
    );
    assert_eq!(g.closure(&[]), Vec::<usize>::new());
}

/// A pipeline of about `versions * 100 * 5` nodes in five stages with about three edges each.
fn big_pipeline(versions: usize) -> String {
    let vs: Vec<String> = (0..versions).map(|i| format!("\"{i}.0\"")).collect();
    let ts: Vec<String> = (0..100).map(|i| format!("\"t{i}\"")).collect();
    format!(
        r#"
[params]
version = [{}]
target = [{}]
[artifact.lock]
rule = "merge-lock"
outputs = ["lock.json"]
[artifact.binary]
rule = "acquire"
params = ["version", "target"]
inputs = ["lock", "RULES.json"]
outputs = ["{{cache}}/bin/{{version}}/{{target}}"]
[artifact.snapshot]
rule = "snapshot"
params = ["version", "target"]
host = "{{target}}"
inputs = ["binary@{{version}}/{{target}}", "lock.json", "RULES.json"]
outputs = ["snapshots/{{version}}/{{target}}.json", "{{cache}}/raw/{{version}}/{{target}}/"]
config = {{ tag = "rust-v{{version}}" }}
[artifact.check]
rule = "report"
params = ["version", "target"]
inputs = ["snapshots/{{version}}/{{target}}.json", "binary@{{version}}/{{target}}", "lock"]
outputs = ["checks/{{version}}/{{target}}/"]
[artifact.report]
rule = "report"
params = ["version", "target"]
inputs = ["checks/{{version}}/{{target}}/a.json", "snapshot@{{version}}/{{target}}", "lock"]
outputs = ["reports/{{version}}/{{target}}.json"]
[artifact.union]
rule = "union"
params = ["version"]
inputs = ["snapshot@{{version}}/*?", "report@{{version}}/*"]
outputs = ["snapshots/{{version}}/union.json"]
"#,
        vs.join(", "),
        ts.join(", ")
    )
}

#[test]
fn big_pipeline_builds() {
    let g = graph(&big_pipeline(3));
    assert_eq!(g.nodes.len(), 1 + 4 * 300 + 3);
    let u = node(&g, "union@2.0");
    assert_eq!(g.deps[u].len(), 200);
}

/// Timing of parsing + expansion + graph at 100k nodes (run with `--ignored --nocapture`,
/// in release for a meaningful figure).
#[test]
#[ignore = "a timing figure, not a check: run with --release -- --ignored --nocapture"]
fn timing_100k_nodes() {
    let f = Fixture::new(&big_pipeline(250));
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let g = f.build().unwrap();
        let elapsed = start.elapsed();
        let edges: usize = g.deps.iter().map(<[_]>::len).sum();
        eprintln!("{} nodes, {edges} edges: {elapsed:?}", g.nodes.len());
    }
}

#[test]
fn optional_marks_exact_refs_and_file_edges() {
    let g = graph(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"a.json\", \"dir/\"]\n[artifact.b]\nrule = \"pin\"\ninputs = [\"a?\", \"a.json?\", \"dir/x?\", \"src?\"]\noutputs = [\"b\"]\n",
    );
    assert_eq!(
        *g.nodes[1].inputs,
        [
            Input::Node {
                node: 0,
                file: None,
                optional: true
            },
            Input::Node {
                node: 0,
                file: Some("a.json".into()),
                optional: true
            },
            Input::Node {
                node: 0,
                file: Some("dir/x".into()),
                optional: true
            },
            Input::Source {
                path: "src".into(),
                dir: false,
                optional: true
            },
        ]
    );
    assert_eq!(g.deps[1], [0]);
}

#[test]
fn select_artifact_without_params() {
    let g = graph(CODEX);
    assert_eq!(
        g.select(&["index".to_string()]).unwrap(),
        [node(&g, "index")]
    );
    assert!(matches!(
        g.select(&["index@x".to_string()]),
        Err(Error::UnknownTarget { .. })
    ));
}

/// A member pipeline: a param list from its own file, a snapshot per version and a union.
const MEMBER: &str = r#"
[params]
version = { from = "versions.toml", key = "tracked" }

[artifact.snapshot]
rule = "snapshot"
params = ["version"]
outputs = ["snapshots/{version}/linux.json", "{cache}/raw_help/{version}/"]

[artifact.union]
rule = "union"
params = ["version"]
inputs = ["snapshots/{version}/linux.json", "RULES.json"]
outputs = ["snapshots/{version}/union.json"]
"#;

fn workspace() -> Fixture {
    Fixture::new(
        "[members]\ncodex = \"cli/codex/pipeline.toml\"\nclaude = \"cli/claude_code/pipeline.toml\"\n",
    )
    .file("cli/codex/pipeline.toml", MEMBER)
    .file("cli/codex/versions.toml", "tracked = [\"0.92.0\"]\n")
    .file("cli/claude_code/pipeline.toml", MEMBER)
    .file(
        "cli/claude_code/versions.toml",
        "tracked = [\"0.92.0\", \"2.1.29\"]\n",
    )
}

#[test]
fn a_workspace_prefixes_ids_with_the_member_and_paths_with_its_root() {
    let g = workspace()
        .build()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(
        ids(&g),
        [
            "codex:snapshot@0.92.0",
            "codex:union@0.92.0",
            "claude:snapshot@0.92.0",
            "claude:snapshot@2.1.29",
            "claude:union@0.92.0",
            "claude:union@2.1.29",
        ]
    );
    // Every node is found by its id, computed from the id itself; nothing else is.
    for (i, n) in g.nodes.iter().enumerate() {
        assert_eq!(g.find(n.id.as_str()), Some(i), "{}", n.id);
    }
    for missing in [
        "claude:union@9.9.9",
        "claude:union",
        "claude:union@2.1.29/x",
        "union@2.1.29",
        "nope",
    ] {
        assert_eq!(g.find(missing), None, "{missing}");
    }
    // Every output is found by its name, a cache output only with its `{cache}/` prefix, and
    // a path inside a directory output by its producer.
    for (i, n) in g.nodes.iter().enumerate() {
        for (o, out) in n.outputs.iter().enumerate() {
            assert_eq!(g.output(&out.name()), Some((i, o)), "{}", out.name());
        }
    }
    let raw = node(&g, "claude:snapshot@2.1.29");
    assert_eq!(g.output("cli/claude_code/raw_help/2.1.29"), None);
    assert_eq!(g.output("cli/claude_code/snapshots/2.1.29"), None);
    assert_eq!(
        g.output("{cache}/cli/claude_code/snapshots/2.1.29/linux.json"),
        None
    );
    assert_eq!(
        g.producer_of_path("{cache}/cli/claude_code/raw_help/2.1.29/codex-help.txt"),
        Some((raw, 1))
    );
    let u = &g.nodes[node(&g, "claude:union@2.1.29")];
    assert_eq!(&*u.root, "cli/claude_code");
    assert_eq!(u.params.get("version"), Some("2.1.29"));
    assert_eq!(
        u.outputs[0].path,
        "cli/claude_code/snapshots/2.1.29/union.json"
    );
    // The make-style edge stays inside the member, and the source is prefixed too.
    assert_eq!(
        *u.inputs,
        [
            Input::Node {
                node: node(&g, "claude:snapshot@2.1.29"),
                file: Some("cli/claude_code/snapshots/2.1.29/linux.json".into()),
                optional: false,
            },
            Input::Source {
                path: "cli/claude_code/RULES.json".into(),
                dir: false,
                optional: false,
            },
        ]
    );
    let s = &g.nodes[node(&g, "codex:snapshot@0.92.0")];
    assert_eq!(s.outputs[1].name(), "{cache}/cli/codex/raw_help/0.92.0");
    assert_eq!(
        g.deps[node(&g, "codex:union@0.92.0")],
        [node(&g, "codex:snapshot@0.92.0")]
    );
}

#[test]
fn workspace_targets_without_a_member_match_in_every_member() {
    let g = workspace().build().unwrap();
    let sel = |p: &[&str]| {
        let patterns: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        names(&g, &g.select(&patterns).unwrap())
    };
    assert_eq!(
        sel(&["union@0.92.0"]),
        ["codex:union@0.92.0", "claude:union@0.92.0"]
    );
    assert_eq!(sel(&["claude:union@2.1.29"]), ["claude:union@2.1.29"]);
    assert_eq!(
        sel(&["claude"]),
        [
            "claude:snapshot@0.92.0",
            "claude:snapshot@2.1.29",
            "claude:union@0.92.0",
            "claude:union@2.1.29"
        ]
    );
    assert_eq!(sel(&["union@2.*"]), ["claude:union@2.1.29"]);
    assert!(g.select(&["claude:union@9.9.9".to_string()]).is_err());
    assert!(g.select(&["codex:union@2.1.29".to_string()]).is_err());
}

#[test]
fn workspace_errors_point_at_the_file_they_are_about() {
    let e = workspace()
        .file(
            "cli/claude_code/pipeline.toml",
            "[artifact.x]\nrule = \"nope\"\noutputs = [\"x\"]\n",
        )
        .error();
    assert!(e.contains("unknown rule `nope`"), "{e}");
    assert!(e.contains("cli/claude_code/pipeline.toml:2:8"), "{e}");

    let e = Fixture::new("[members]\nx = \"missing/pipeline.toml\"\n").error();
    assert!(e.contains("cannot read the pipeline of member `x`"), "{e}");
    let e = Fixture::new("[members]\nx = \"a/pipeline.toml\"\n[params]\nv = [\"1\"]\n")
        .file("a/pipeline.toml", MEMBER)
        .error();
    assert!(
        e.contains("a workspace (`[members]`, e.g. `x`) declares nothing else"),
        "{e}"
    );
    let e = Fixture::new("[members]\nx = \"a/pipeline.toml\"\ny = \"a/b/pipeline.toml\"\n")
        .file(
            "a/pipeline.toml",
            "[artifact.x]\nrule = \"union\"\noutputs = [\"x\"]\n",
        )
        .file(
            "a/b/pipeline.toml",
            "[artifact.x]\nrule = \"union\"\noutputs = [\"x\"]\n",
        )
        .error();
    assert!(
        e.contains("the roots of members `x` (`a`) and `y` (`a/b`) overlap"),
        "{e}"
    );
    let e = Fixture::new("[members]\nx = \"a/pipeline.toml\"\n")
        .file("a/pipeline.toml", "[members]\ny = \"b/pipeline.toml\"\n")
        .file(
            "a/b/pipeline.toml",
            "[artifact.x]\nrule = \"union\"\noutputs = [\"x\"]\n",
        )
        .error();
    assert!(e.contains("member `x` is itself a workspace"), "{e}");
    let e = Fixture::new("[members]\n\"a:b\" = \"a/pipeline.toml\"\n").error();
    assert!(e.contains("member name `a:b` must be letters"), "{e}");
    let e = Fixture::new("[members]\nx = \"a/pipeline.toml\"\n")
        .file("a/pipeline.toml", "[pipeline]\nroot = \"../..\"\n")
        .error();
    assert!(e.contains("is not inside the workspace"), "{e}");
}
