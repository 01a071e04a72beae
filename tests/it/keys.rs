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
config = { command = "mkdir -p out/tree/a/b && cat src/x/y.txt data.txt > out/tree/a/b/c.txt && printf '{flavor}\n' > out/tree/top.txt" }

[artifact.use]
rule = "command"
inputs = ["gen@plain", "data.txt"]
outputs = ["out/use.txt"]
config = { command = "cat out/tree/a/b/c.txt out/tree/top.txt > out/use.txt" }
"#;

const GEN_KEY: &str = "ee2c8ba5dd7a883997d0ce124b8b1f146e46e0ca1e001eed57359c3954bb8d8a";
const USE_KEY: &str = "b2e9c8ddd942d9c12e0a7fd201b7a939d4b9b0d6510f4407a6b77d9372777d90";

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
