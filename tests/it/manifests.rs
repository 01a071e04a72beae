//! The repository's own codex manifests (`cli_manifests/codex`, `pipeline.toml`, `pipeline.lock`):
//! committed fresh, valid, and reproducible byte for byte.
//!
//! Read-only for the repository: everything that writes (status's stat cache, builds) runs in a
//! temporary copy of the committed files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use crate::support::{Project, clone_workspace, repo};

fn parity(dir: &Path) -> Command {
    let mut cmd = Command::from_std(crate::support::parity_command());
    cmd.current_dir(dir).arg("--color").arg("never");
    cmd
}

/// A temp copy of the repository's workspace (`pipeline.toml`, `pipeline.lock`,
/// `cli_manifests/`).
fn copy_of_repo() -> Project {
    clone_workspace(&repo())
}

/// Every file under `dir`, by `/`-separated relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The committed outputs recorded in `pipeline.lock` (paths relative to the workspace root;
/// cache-only `{cache}/…` outputs left out).
fn locked_outputs(lock: &Path) -> Vec<String> {
    let lock: Value = serde_json::from_slice(&fs::read(lock).unwrap()).unwrap();
    let nodes = lock["nodes"].as_object().expect("pipeline.lock has nodes");
    let mut out: Vec<String> = nodes
        .values()
        .flat_map(|n| n["outputs"].as_object().unwrap().keys().cloned())
        .filter(|o| !o.starts_with("{cache}/"))
        .collect();
    out.sort();
    out
}

/// Asserts the copy's manifests (every member's) and lock equal the repository's, file by file.
fn assert_same_as_repo(copy: &Path) {
    let want = files(&repo().join("cli_manifests"));
    let got = files(&copy.join("cli_manifests"));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "the rebuilt tree has different files"
    );
    for (path, bytes) in &want {
        assert!(
            &got[path] == bytes,
            "{path} differs from the committed file"
        );
    }
    assert!(
        fs::read(repo().join("pipeline.lock")).unwrap()
            == fs::read(copy.join("pipeline.lock")).unwrap(),
        "pipeline.lock differs from the committed one"
    );
}

#[test]
fn every_node_is_fresh_on_a_fresh_checkout() {
    let tmp = copy_of_repo();
    let out = parity(tmp.root())
        .args(["status", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let mut nodes = 0;
    let mut summary = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("event").and_then(Value::as_str) == Some("summary") {
            summary = Some(v);
        } else {
            nodes += 1;
            assert_eq!(v["state"], "fresh", "not fresh: {line}");
        }
    }
    let summary = summary.expect("a summary line");
    // codex: lock; union, report and version of each of its three tracked versions; pointers,
    // current, validate. claude: lock; union, report and version of 2.1.29; pointers, validate.
    assert_eq!(nodes, 13 + 6, "{text}");
    assert_eq!(summary["total"], 19, "{text}");
    assert_eq!(summary["fresh"], 19, "{text}");
}

#[test]
fn the_codex_and_claude_manifests_are_valid() {
    for root in ["cli_manifests/codex", "cli_manifests/claude_code"] {
        parity(&repo())
            .args(["rule", "validate", "--root", root])
            .assert()
            .code(0);
    }
}

#[test]
fn a_build_from_the_sources_reproduces_the_committed_files() {
    let tmp = copy_of_repo();
    let root = tmp.root();
    let outputs = locked_outputs(&root.join("pipeline.lock"));
    assert!(!outputs.is_empty());
    for out in &outputs {
        let p = root.join(out);
        if p.is_dir() {
            fs::remove_dir_all(&p).unwrap();
        } else {
            fs::remove_file(&p).unwrap();
        }
    }
    // No cache in the copy: every node runs, with the epochs of versions.toml.
    parity(root).arg("build").assert().success();
    assert_same_as_repo(root);

    // And once more, forced over the existing outputs.
    parity(root).args(["build", "--force"]).assert().success();
    assert_same_as_repo(root);
}
