//! Action keys are the same on every OS: a node whose inputs are given bytes (a file, a
//! directory tree with nested paths, another node's directory output) has exactly this key on
//! Linux, macOS and Windows (ci.yml runs this on all three). Paths in keys and tree digests are
//! `/`-separated; nothing machine-specific goes in.
//!
//! If a key changes on purpose (a rule's version or key material), update the constants: they
//! must then be equal on every OS again.

use crate::support::Project;

const PIPELINE: &str = r#"[params]
flavor = ["plain"]

[artifact.gen]
rule = "command"
params = ["flavor"]
inputs = ["src/", "data.txt"]
outputs = ["out/tree/"]
config = { command = "mkdir -p $out/a/b && cat src/x/y.txt data.txt > $out/a/b/c.txt && printf '{flavor}\n' > $out/top.txt" }

[artifact.use]
rule = "command"
inputs = ["gen@plain", "data.txt"]
outputs = ["out/use.txt"]
config = { command = "cat out/tree/a/b/c.txt out/tree/top.txt > $out" }
"#;

const GEN_KEY: &str = "7fc84f8b2ac5d4839a8a21885fcf75593a57bbb17e7cf5294c955906d94994da";
const USE_KEY: &str = "b4c8d249cd92c6b85be1b6762383fdd57c2a0983c588f0b0a7892e700a078e25";

fn keys(p: &Project) -> (String, String) {
    let lock: serde_json::Value = serde_json::from_str(&p.read("pipeline.lock")).unwrap();
    let key = |id: &str| lock["nodes"][id]["key"].as_str().unwrap().to_string();
    (key("gen@plain"), key("use"))
}

#[test]
fn action_keys_of_given_bytes_are_pinned_and_the_same_on_every_os() {
    let p = Project::new()
        .file("pipeline.toml", PIPELINE)
        .file("src/x/y.txt", "nested\n")
        .file("data.txt", "data\n");
    p.parity(&["build"]).ok();
    assert_eq!(p.read("out/use.txt"), "nested\ndata\nplain\n");
    let (gen_key, use_key) = keys(&p);
    assert_eq!(gen_key, GEN_KEY, "key of `gen@plain`");
    assert_eq!(use_key, USE_KEY, "key of `use`");
    let lock = p.read("pipeline.lock");
    assert!(
        !lock.contains('\\'),
        "a backslash in pipeline.lock:\n{lock}"
    );
}
