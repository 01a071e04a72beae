//! Tests of `pipeline`: parsing, params, placeholders, inputs and outputs, and their errors.

use std::path::Path;

use parity_engine::graph::{Graph, Input, OutputKind};
use parity_engine::pipeline::Pipeline;

/// The rules the tests' pipelines may use.
pub const RULES: &[&str] = &[
    "snapshot",
    "union",
    "merge-lock",
    "acquire",
    "report",
    "pin",
];

/// A temp dir holding `pipeline.toml` and data files.
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture with `pipeline.toml` = `text`.
    pub fn new(text: &str) -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        f.file("pipeline.toml", text)
    }

    /// Adds a file (relative to the dir).
    pub fn file(self, name: &str, text: &str) -> Fixture {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Loads and builds the graph.
    pub fn build(&self) -> parity_engine::Result<Graph> {
        let p = Pipeline::load(&self.dir.path().join("pipeline.toml"))?;
        Graph::build(&p, RULES)
    }

    /// The rendered error of loading and building, with the temp dir stripped.
    pub fn error(&self) -> String {
        let e = self.build().expect_err("expected an error");
        e.render()
            .replace(&format!("{}/", self.dir.path().display()), "")
    }
}

/// Builds `text` (no data files).
pub fn graph(text: &str) -> Graph {
    Fixture::new(text)
        .build()
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// The rendered error of building `text`.
pub fn error(text: &str) -> String {
    Fixture::new(text).error()
}

/// Node ids in node order.
pub fn ids(g: &Graph) -> Vec<&str> {
    g.nodes.iter().map(|n| n.id.as_str()).collect()
}

const BASE: &str = r#"
[params]
version = ["0.92.0", "0.97.0"]
target = ["linux", "macos"]
"#;

fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

#[test]
fn parse_keeps_declaration_order_and_root() {
    let text = "[pipeline]\nroot = \"cli/codex\"\n[artifact.zeta]\nrule = \"pin\"\noutputs = [\"z\"]\n[artifact.alpha]\nrule = \"pin\"\noutputs = [\"a\"]\n";
    let p = Pipeline::parse(Path::new("dir/pipeline.toml"), text).unwrap();
    assert_eq!(p.root, Path::new("dir/cli/codex"));
    assert_eq!(p.file, Path::new("dir/pipeline.toml"));
    let names: Vec<_> = p.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha"]);
    assert_eq!(p.artifacts[0].rule.value, "pin");
    let p = Pipeline::parse(Path::new("pipeline.toml"), "").unwrap();
    assert_eq!(p.root, Path::new("."));
}

#[test]
fn expansion_order_and_ids() {
    let g = graph(&with_base(
        r#"
[artifact.snapshot]
rule = "snapshot"
params = ["version", "target"]
host = "{target}"
outputs = ["snapshots/{version}/{target}.json"]
[artifact.union]
rule = "union"
params = ["version"]
outputs = ["snapshots/{version}/union.json"]
[artifact.lock]
rule = "merge-lock"
outputs = ["artifacts.lock.json"]
"#,
    ));
    assert_eq!(
        ids(&g),
        [
            "snapshot@0.92.0/linux",
            "snapshot@0.92.0/macos",
            "snapshot@0.97.0/linux",
            "snapshot@0.97.0/macos",
            "union@0.92.0",
            "union@0.97.0",
            "lock"
        ]
    );
    let n = &g.nodes[1];
    assert_eq!(n.host.as_deref(), Some("macos"));
    assert_eq!(n.params.get("version"), Some("0.92.0"));
    assert_eq!(n.params.get("target"), Some("macos"));
    assert_eq!(n.outputs[0].path, "snapshots/0.92.0/macos.json");
    assert_eq!(&*n.rule, "snapshot");
    assert_eq!(g.find(g.nodes[5].id.as_str()), Some(5));
    assert_eq!(g.find("snapshot@0.92.0/plan9"), None);
    assert_eq!(g.nodes[6].artifact, 2);
}

#[test]
fn config_strings_are_substituted() {
    let g = graph(&with_base(
        r#"
[artifact.pins]
rule = "pin"
params = ["version"]
outputs = ["pins/{version}.json"]
config = { repo = "openai/codex", tag = "rust-v{version}", n = 3, nested = { x = [1, "{version}", true] } }
"#,
    ));
    let c = &g.nodes[1].config;
    assert_eq!(c["tag"], "rust-v0.97.0");
    assert_eq!(c["n"], 3);
    assert_eq!(c["nested"]["x"], serde_json::json!([1, "0.97.0", true]));
}

#[test]
fn outputs_cache_and_dirs() {
    let g = graph(&with_base(
        r#"
[artifact.snapshot]
rule = "snapshot"
params = ["version"]
outputs = ["snapshots/{version}/", "{cache}/raw_help/{version}/"]
"#,
    ));
    let o = &g.nodes[0].outputs;
    assert_eq!(
        (o[0].path.as_str(), o[0].kind, o[0].dir),
        ("snapshots/0.92.0", OutputKind::Committed, true)
    );
    assert_eq!(
        (o[1].path.as_str(), o[1].kind, o[1].dir),
        ("raw_help/0.92.0", OutputKind::Cache, true)
    );
    assert_eq!(o[1].name(), "{cache}/raw_help/0.92.0");
}

#[test]
fn source_inputs() {
    let g = graph(
        r#"
[artifact.report]
rule = "report"
inputs = ["RULES.json", "supplement/", "./a/b.json"]
outputs = ["report.json"]
"#,
    );
    assert_eq!(
        *g.nodes[0].inputs,
        [
            Input::Source {
                path: "RULES.json".into(),
                dir: false,
                optional: false
            },
            Input::Source {
                path: "supplement".into(),
                dir: true,
                optional: false
            },
            Input::Source {
                path: "a/b.json".into(),
                dir: false,
                optional: false
            },
        ]
    );
}

#[test]
fn malformed_toml() {
    let e = error("[artifact.x]\nrule = \"pin\nrule2 = 1\n");
    assert!(e.starts_with("invalid TOML: "), "{e}");
    assert!(e.contains(" --> pipeline.toml:2:"), "{e}");
    assert!(e.contains("2 | rule = \"pin\n"), "{e}");
    assert!(e.contains('^'), "{e}");
}

#[test]
fn unknown_top_level_table() {
    assert_eq!(
        error("[params]\n[artefact.x]\nrule = \"pin\"\n"),
        "unknown table `artefact`
 --> pipeline.toml:2:2
  |
2 | [artefact.x]
  |  ^^^^^^^^
  help: did you mean `artifact`?"
    );
}

#[test]
fn unknown_artifact_key() {
    assert_eq!(
        error("[artifact.x]\nrule = \"pin\"\noutput = [\"a\"]\n"),
        "unknown key `output` in `[artifact.x]`
 --> pipeline.toml:3:1
  |
3 | output = [\"a\"]
  | ^^^^^^
  help: did you mean `outputs`?"
    );
}

#[test]
fn missing_rule_and_outputs() {
    let e = error("[artifact.x]\noutputs = [\"a\"]\n");
    assert!(
        e.starts_with("`[artifact.x]` has no `rule`\n --> pipeline.toml:1:11"),
        "{e}"
    );
    let e = error("[artifact.x]\nrule = \"pin\"\n");
    assert!(
        e.starts_with("`[artifact.x]` declares no `outputs`\n --> pipeline.toml:1:11"),
        "{e}"
    );
}

#[test]
fn wrong_type() {
    let e = error("[artifact.x]\nrule = \"pin\"\noutputs = \"a\"\n");
    assert!(
        e.starts_with("`outputs` must be a list of strings, not a string\n --> pipeline.toml:3:11"),
        "{e}"
    );
}

#[test]
fn unknown_rule() {
    assert_eq!(
        error("[artifact.x]\nrule = \"snapshoot\"\noutputs = [\"a\"]\n"),
        "unknown rule `snapshoot` in `[artifact.x]`
 --> pipeline.toml:2:8
  |
2 | rule = \"snapshoot\"
  |        ^^^^^^^^^^^
  help: did you mean `snapshot`?"
    );
}

#[test]
fn unknown_param() {
    let e = error(&with_base(
        "[artifact.x]\nrule = \"pin\"\nparams = [\"versoin\"]\noutputs = [\"a\"]\n",
    ));
    assert!(
        e.starts_with("unknown param `versoin` in `[artifact.x]`\n --> pipeline.toml:"),
        "{e}"
    );
    assert!(
        e.ends_with(
            "params = [\"versoin\"]\n  |           ^^^^^^^^^\n  help: did you mean `version`?"
        ),
        "{e}"
    );
}

#[test]
fn unknown_placeholder() {
    assert_eq!(
        error(&with_base(
            "[artifact.x]\nrule = \"pin\"\nparams = [\"version\"]\noutputs = [\"a/{verison}.json\"]\n"
        )),
        "unknown placeholder `{verison}`: the params of `[artifact.x]` are `version`
 --> pipeline.toml:8:15
  |
8 | outputs = [\"a/{verison}.json\"]
  |               ^^^^^^^^^
  help: did you mean `version`?"
    );
}

#[test]
fn placeholder_of_a_param_not_listed() {
    let e = error(&with_base(
        "[artifact.x]\nrule = \"pin\"\nparams = [\"version\"]\noutputs = [\"a/{target}.json\"]\n",
    ));
    assert!(
        e.starts_with(
            "placeholder `{target}` is not a param of `[artifact.x]`\n --> pipeline.toml:8:15"
        ),
        "{e}"
    );
    assert!(e.ends_with("help: add `target` to its `params`"), "{e}");
}

#[test]
fn cache_placeholder_only_leads_outputs() {
    let e = error("[artifact.x]\nrule = \"pin\"\noutputs = [\"a/{cache}/b\"]\n");
    assert!(
        e.starts_with(
            "`{cache}` may only start an output path (in `[artifact.x]`)\n --> pipeline.toml:3:15"
        ),
        "{e}"
    );
    let e = error("[artifact.x]\nrule = \"pin\"\ninputs = [\"{cache}/b\"]\noutputs = [\"a\"]\n");
    assert!(
        e.starts_with("`{cache}` may only start an output path"),
        "{e}"
    );
}

#[test]
fn output_outside_the_workspace() {
    assert_eq!(
        error("[artifact.x]\nrule = \"pin\"\noutputs = [\"../x\"]\n"),
        "output `../x` of `x` is outside the workspace
 --> pipeline.toml:3:12
  |
3 | outputs = [\"../x\"]
  |            ^^^^^^
  help: outputs are relative paths below the root"
    );
    let e = error("[artifact.x]\nrule = \"pin\"\noutputs = [\"/abs\"]\n");
    assert!(
        e.starts_with("output `/abs` of `x` is outside the workspace\n --> pipeline.toml:3:12"),
        "{e}"
    );
    let e = error("[artifact.x]\nrule = \"pin\"\noutputs = [\"{cache}/a/../../b\"]\n");
    assert!(
        e.starts_with("output `{cache}/a/../../b` of `x` is outside the workspace"),
        "{e}"
    );
    let e = error("[artifact.x]\nrule = \"pin\"\noutputs = [\"\"]\n");
    assert!(
        e.starts_with("output `` of `x` is outside the workspace"),
        "{e}"
    );
}

#[test]
fn input_outside_the_workspace() {
    let e = error("[artifact.x]\nrule = \"pin\"\ninputs = [\"a/../../b\"]\noutputs = [\"a\"]\n");
    assert!(
        e.starts_with("input `a/../../b` of `x` is outside the workspace\n --> pipeline.toml:3:11"),
        "{e}"
    );
}

#[test]
fn duplicate_output_path() {
    assert_eq!(
        error(&with_base(
            "[artifact.a]\nrule = \"pin\"\nparams = [\"version\"]\noutputs = [\"out.json\"]\n"
        )),
        "duplicate output path `out.json`: declared by `a@0.92.0` and `a@0.97.0`
 --> pipeline.toml:8:12
  |
8 | outputs = [\"out.json\"]
  |            ^^^^^^^^^^"
    );
    let e = error(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"{cache}/x\"]\n[artifact.b]\nrule = \"pin\"\noutputs = [\"{cache}/x\"]\n",
    );
    assert!(
        e.starts_with(
            "duplicate output path `{cache}/x`: declared by `a` and `b`\n --> pipeline.toml:6:12"
        ),
        "{e}"
    );
}

#[test]
fn duplicate_output_inside_a_directory_output() {
    let e = error(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"raw/\"]\n[artifact.b]\nrule = \"pin\"\noutputs = [\"raw/x/y.json\"]\n",
    );
    assert_eq!(
        e,
        "duplicate output path `raw/x/y.json`: `b` declares it inside the directory output `raw/` of `a`
 --> pipeline.toml:6:12
  |
6 | outputs = [\"raw/x/y.json\"]
  |            ^^^^^^^^^^^^^^"
    );
    // In the cache, named with its prefix; a committed `raw/` does not hold a cache file.
    let e = error(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"{cache}/raw/\"]\n[artifact.b]\nrule = \"pin\"\noutputs = [\"{cache}/raw/x/y.json\"]\n",
    );
    assert!(
        e.starts_with(
            "duplicate output path `{cache}/raw/x/y.json`: `b` declares it inside the directory output `{cache}/raw/` of `a`"
        ),
        "{e}"
    );
    let g = graph(
        "[artifact.a]\nrule = \"pin\"\noutputs = [\"raw/\"]\n[artifact.b]\nrule = \"pin\"\noutputs = [\"{cache}/raw/x/y.json\"]\n",
    );
    assert_eq!(g.nodes.len(), 2);
}

#[test]
fn bad_param_value() {
    let e = error("[params]\nversion = [\"0.92.0\", \"0 97\"]\n");
    assert_eq!(
        e,
        "param `version` has an invalid value `0 97` (from its list): it contains ' '; values may not contain `/`, `@`, `*`, `?`, `{`, `}` or whitespace
 --> pipeline.toml:2:22
  |
2 | version = [\"0.92.0\", \"0 97\"]
  |                      ^^^^^^"
    );
    let e = error("[params]\nversion = [\"\"]\n");
    assert!(
        e.starts_with("param `version` has an invalid value `` (from its list): it is empty"),
        "{e}"
    );
    let e = error("[params]\nversion = [\"a\", \"a\"]\n");
    assert!(
        e.starts_with("param `version` lists the value `a` twice"),
        "{e}"
    );
}

#[test]
fn params_from_json_pointer_and_toml_key() {
    let f = Fixture::new(
        r#"
[pipeline]
root = "codex"
[params]
target = { from = "RULES.json", pointer = "/union/expected_targets" }
version = { from = "versions.toml", key = "tracked.list" }
[artifact.snapshot]
rule = "snapshot"
params = ["version", "target"]
outputs = ["s/{version}/{target}.json"]
"#,
    )
    .file(
        "codex/RULES.json",
        r#"{"union": {"expected_targets": ["x86_64-linux", "aarch64-darwin"]}}"#,
    )
    .file(
        "codex/versions.toml",
        "[tracked]\nlist = [\"0.97.0\", \"0.92.0\"]\n",
    );
    let g = f.build().unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(
        ids(&g),
        [
            "snapshot@0.97.0/x86_64-linux",
            "snapshot@0.97.0/aarch64-darwin",
            "snapshot@0.92.0/x86_64-linux",
            "snapshot@0.92.0/aarch64-darwin"
        ]
    );
}

#[test]
fn params_file_missing() {
    let e =
        Fixture::new("[params]\ntarget = { from = \"RULES.json\", pointer = \"/t\" }\n").error();
    assert!(
        e.starts_with("cannot read params file `RULES.json`: "),
        "{e}"
    );
    assert!(e.contains(" --> pipeline.toml:2:19\n"), "{e}");
    assert!(e.ends_with("2 | target = { from = \"RULES.json\", pointer = \"/t\" }\n  |                   ^^^^^^^^^^^^"), "{e}");
}

#[test]
fn params_bad_pointer_and_key() {
    let e = Fixture::new(
        "[params]\ntarget = { from = \"RULES.json\", pointer = \"/union/targets\" }\n",
    )
    .file("RULES.json", r#"{"union": {}}"#)
    .error();
    assert_eq!(
        e,
        "pointer `/union/targets` not found in `RULES.json`
 --> pipeline.toml:2:43
  |
2 | target = { from = \"RULES.json\", pointer = \"/union/targets\" }
  |                                           ^^^^^^^^^^^^^^^^"
    );
    let e = Fixture::new("[params]\nv = { from = \"v.toml\", key = \"trackd\" }\n")
        .file("v.toml", "tracked = [\"1\"]\n")
        .error();
    assert!(
        e.starts_with("key `trackd` not found in `v.toml`\n --> pipeline.toml:2:30"),
        "{e}"
    );
    let e = Fixture::new("[params]\nv = { from = \"v.toml\", key = \"tracked\" }\n")
        .file("v.toml", "tracked = [1]\n")
        .error();
    assert!(
        e.starts_with("param `v`: `tracked` in `v.toml` is not a list of strings"),
        "{e}"
    );
    let e = Fixture::new("[params]\nv = { from = \"v.toml\", key = \"tracked\" }\n")
        .file("v.toml", "tracked = [\"a/b\"]\n")
        .error();
    assert!(
        e.starts_with(
            "param `v` has an invalid value `a/b` (from `v.toml` at `tracked`): it contains '/'"
        ),
        "{e}"
    );
    let e = Fixture::new("[params]\nv = { from = \"v.json\", pointer = \"/a\" }\n")
        .file("v.json", "{\n  \"a\": [,]\n}")
        .error();
    assert!(e.starts_with("invalid JSON: "), "{e}");
    assert!(e.contains(" --> v.json:2:"), "{e}");
    let e = Fixture::new("[params]\nv = { from = \"v.json\", pointer = \"a\" }\n").error();
    assert!(e.starts_with("pointer `a` must start with `/`"), "{e}");
    let e = Fixture::new("[params]\nv = { from = \"v.json\" }\n").error();
    assert!(
        e.starts_with("param `v` needs `key = \"a.b\"` (TOML) or `pointer = \"/a/b\"` (JSON)"),
        "{e}"
    );
}

#[test]
fn epoch_template_must_be_an_integer() {
    let e = error(&with_base(
        "[artifact.b]\nrule = \"pin\"\nparams = [\"version\"]\nepoch = \"{version}\"\noutputs = [\"b/{version}\"]\n",
    ));
    assert_eq!(
        e,
        "`epoch` of `b@0.92.0` is `0.92.0`, not an integer (seconds since 1970)
 --> pipeline.toml:8:9
  |
8 | epoch = \"{version}\"
  |         ^^^^^^^^^^^"
    );
}

#[test]
fn epoch_values() {
    let f = Fixture::new(
        r#"
[params]
version = ["92", "97"]
[artifact.a]
rule = "pin"
params = ["version"]
epoch = 1769990400
outputs = ["a/{version}"]
[artifact.b]
rule = "pin"
params = ["version"]
epoch = "17699{version}"
outputs = ["b/{version}"]
[artifact.c]
rule = "pin"
params = ["version"]
epoch = { from = "versions.toml", key = "epochs.v{version}" }
outputs = ["c/{version}"]
[artifact.d]
rule = "pin"
params = ["version"]
epoch = { from = "meta.json", pointer = "/epochs/{version}" }
outputs = ["d/{version}"]
[artifact.e]
rule = "pin"
outputs = ["e"]
"#,
    )
    .file("versions.toml", "[epochs]\nv92 = 100\nv97 = \"200\"\n")
    .file("meta.json", r#"{"epochs": {"92": 300, "97": "400"}}"#);
    let g = f.build().unwrap_or_else(|e| panic!("{}", e.render()));
    let epochs: Vec<_> = g.nodes.iter().map(|n| n.epoch).collect();
    assert_eq!(
        epochs,
        [
            Some(1769990400),
            Some(1769990400),
            Some(1769992),
            Some(1769997),
            Some(100),
            Some(200),
            Some(300),
            Some(400),
            None
        ]
    );
}

#[test]
fn epoch_key_with_dotted_values() {
    let g = Fixture::new(&with_base(
        "[artifact.c]\nrule = \"pin\"\nparams = [\"version\"]\nepoch = { from = \"v.toml\", key = \"epochs.{version}\" }\noutputs = [\"c/{version}\"]\n",
    ))
    .file("v.toml", "[epochs]\n\"0.92.0\" = 1\n\"0.97.0\" = 2\n")
    .build()
    .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(g.nodes[1].epoch, Some(2));
}

#[test]
fn epoch_missing_key_and_not_integer() {
    let e = Fixture::new(&with_base(
        "[artifact.c]\nrule = \"pin\"\nparams = [\"version\"]\nepoch = { from = \"v.json\", pointer = \"/e/{version}\" }\noutputs = [\"c/{version}\"]\n",
    ))
    .file("v.json", r#"{"e": {"0.92.0": "soon"}}"#)
    .error();
    assert!(e.starts_with("`epoch` of `c@0.92.0` is `soon`, not an integer (seconds since 1970)\n --> pipeline.toml:8:"), "{e}");
    let e = Fixture::new(&with_base(
        "[artifact.c]\nrule = \"pin\"\nparams = [\"version\"]\nepoch = { from = \"v.json\", pointer = \"/e/{version}\" }\noutputs = [\"c/{version}\"]\n",
    ))
    .file("v.json", r#"{"e": {"0.92.0": 5}}"#)
    .error();
    assert!(
        e.starts_with("pointer `/e/0.97.0` not found in `v.json`\n --> pipeline.toml:8:"),
        "{e}"
    );
    let e = error("[artifact.c]\nrule = \"pin\"\nepoch = 1.5\noutputs = [\"c\"]\n");
    assert!(e.starts_with("`epoch` must be an integer, a string"), "{e}");
}

#[test]
fn duplicate_key_is_malformed_toml() {
    assert_eq!(
        error("[artifact.x]\nrule = \"pin\"\nrule = \"pin\"\noutputs = [\"a\"]\n"),
        "invalid TOML: duplicate key
 --> pipeline.toml:3:1
  |
3 | rule = \"pin\"
  | ^^^^"
    );
}
