//! `parity graph` (dot, mermaid, json) and `parity list` over a small graph, whole outputs.

use crate::support::Project;

const PIPELINE: &str = r#"[params]
v = ["1", "2"]

[artifact.gen]
rule = "command"
params = ["v"]
inputs = ["src.txt"]
outputs = ["gen/{v}.txt"]
config = { command = "cat $in > $out" }

[artifact.all]
rule = "command"
inputs = ["gen@*"]
outputs = ["all.txt"]
config = { command = "cat $in > $out" }

[artifact.other]
rule = "command"
host = "linux"
inputs = ["src.txt"]
outputs = ["other.txt"]
config = { command = "cat $in > $out" }
"#;

fn project() -> Project {
    Project::new()
        .file("pipeline.toml", PIPELINE)
        .file("src.txt", "source\n")
}

#[track_caller]
fn stdout(p: &Project, args: &[&str]) -> String {
    let run = p.parity(args);
    run.ok();
    assert_eq!(run.stderr, "");
    run.stdout.clone()
}

#[test]
fn list_prints_nodes_in_build_order() {
    let p = project();
    assert_eq!(stdout(&p, &["list"]), "gen@1\ngen@2\nall\nother\n");
    assert_eq!(
        stdout(&p, &["list", "-v"]),
        "gen@1  rule=command  -> gen/1.txt\n\
         gen@2  rule=command  -> gen/2.txt\n\
         all  rule=command  -> all.txt\n\
         other  rule=command host=linux  -> other.txt\n"
    );
    assert_eq!(stdout(&p, &["list", "gen"]), "gen@1\ngen@2\n");
    assert_eq!(stdout(&p, &["list", "all", "gen@2"]), "gen@2\nall\n");
    assert_eq!(
        p.tree(),
        ["pipeline.toml", "src.txt"],
        "list writes nothing"
    );
}

#[test]
fn graph_as_dot() {
    let p = project();
    assert_eq!(
        stdout(&p, &["graph"]),
        r#"digraph parity {
  rankdir=LR;
  "gen@1" [label="gen@1\n(command)"];
  "gen@2" [label="gen@2\n(command)"];
  "all" [label="all\n(command)"];
  "other" [label="other\n(command)"];
  "gen@1" -> "all";
  "gen@2" -> "all";
}
"#
    );
    assert_eq!(
        stdout(&p, &["graph", "--format", "dot"]),
        stdout(&p, &["graph"])
    );
}

#[test]
fn graph_as_mermaid_of_one_target_and_what_it_needs() {
    let p = project();
    assert_eq!(
        stdout(&p, &["graph", "--format", "mermaid", "all"]),
        "graph LR\n  n0[\"gen@1\"]\n  n1[\"gen@2\"]\n  n2[\"all\"]\n  n0 --> n2\n  n1 --> n2\n"
    );
}

#[test]
fn graph_as_json() {
    let p = project();
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&p, &["graph", "--format", "json"])).unwrap();
    let node = |id: &str, host: Option<&str>, deps: &[&str], out: &str| serde_json::json!({"id": id, "rule": "command", "host": host, "deps": deps, "outputs": [out]});
    assert_eq!(
        json,
        serde_json::json!({"nodes": [
            node("gen@1", None, &[], "gen/1.txt"),
            node("gen@2", None, &[], "gen/2.txt"),
            node("all", None, &["gen@1", "gen@2"], "all.txt"),
            node("other", Some("linux"), &[], "other.txt"),
        ]})
    );
    assert_eq!(
        p.tree(),
        ["pipeline.toml", "src.txt"],
        "graph writes nothing"
    );
}
