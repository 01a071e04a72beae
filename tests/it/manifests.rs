//! The repository's own codex manifests (`cli_manifests/codex`, `pipeline.toml`, `pipeline.lock`):
//! committed fresh, valid, and reproducible byte for byte.
//!
//! Read-only for the repository: everything that writes (status's stat cache, builds) runs in a
//! temporary copy of the committed files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parity(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("parity").expect("the parity binary is built");
    cmd.current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PARITY_HOST")
        .arg("--color")
        .arg("never");
    cmd
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temp dir holding `cli_manifests/codex`, `pipeline.toml` and `pipeline.lock` of the repo.
fn copy_of_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo();
    copy_dir(
        &root.join("cli_manifests/codex"),
        &tmp.path().join("cli_manifests/codex"),
    );
    for f in ["pipeline.toml", "pipeline.lock"] {
        fs::copy(root.join(f), tmp.path().join(f)).unwrap();
    }
    tmp
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

/// The committed outputs recorded in `pipeline.lock` (paths relative to the pipeline root;
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

/// Asserts the copy's manifests and lock equal the repository's, file by file.
fn assert_same_as_repo(copy: &Path) {
    let want = files(&repo().join("cli_manifests/codex"));
    let got = files(&copy.join("cli_manifests/codex"));
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
    let out = parity(tmp.path())
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
    // union, report and version for each of the three tracked versions; pointers, current,
    // validate
    assert_eq!(nodes, 13, "{text}");
    assert_eq!(summary["total"], 13, "{text}");
    assert_eq!(summary["fresh"], 13, "{text}");
}

#[test]
fn the_codex_manifests_are_valid() {
    parity(&repo())
        .args(["rule", "validate", "--root", "cli_manifests/codex"])
        .assert()
        .code(0);
}

#[test]
fn a_build_from_the_sources_reproduces_the_committed_files() {
    let tmp = copy_of_repo();
    let root = tmp.path().join("cli_manifests/codex");
    let outputs = locked_outputs(&tmp.path().join("pipeline.lock"));
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
    parity(tmp.path()).arg("build").assert().success();
    assert_same_as_repo(tmp.path());

    // And once more, forced over the existing outputs.
    parity(tmp.path())
        .args(["build", "--force"])
        .assert()
        .success();
    assert_same_as_repo(tmp.path());
}
