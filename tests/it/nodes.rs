//! The codex nodes in temp pipelines: `snapshot@V/T` over fake codex binaries, and the derived
//! promotion (`version@V` status, `pointers`, `current`, `validate`) over a copy of this
//! repository's manifests with different recorded validation results.

use std::path::Path;

use serde_json::Value;

use crate::support::{Project, clone_workspace, repo};

const LINUX: &str = "x86_64-unknown-linux-musl";

// ---------------------------------------------------------------------------------------------
// snapshot@V/T

const SNAPSHOT_RULES: &str = r#"{
  "sorting": { "commands": "lexicographic_path", "flags": "by_key_then_long_then_short", "args": "by_name" },
  "union": { "expected_targets": ["x86_64-unknown-linux-musl", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"] }
}
"#;

/// A pipeline with one `snapshot@0.77.0/<linux>` node over `bin/codex-<target>`, written
/// without the exec bit (as a sandbox input may be).
fn snapshot_project(fake: &str, timeout_ms: u64) -> Project {
    let pipeline = format!(
        r#"[params]
version = ["0.77.0"]
target = ["{LINUX}"]

[artifact.snapshot]
rule = "snapshot"
params = ["version", "target"]
host = "{{target}}"
epoch = 1700000000
inputs = ["bin/codex-{{target}}", "supplement/commands.json", "RULES.json"]
outputs = ["snapshots/{{version}}/{{target}}.json", "{{cache}}/raw_help/{{version}}/{{target}}/"]
config = {{ help_timeout_ms = {timeout_ms} }}
"#
    );
    let fixtures = repo().join("rules/tests/fixtures/snapshot");
    let supplement = std::fs::read_to_string(fixtures.join("supplement_commands.json")).unwrap();
    let p = Project::new()
        .file("pipeline.toml", &pipeline)
        .file("RULES.json", SNAPSHOT_RULES)
        .file("supplement/commands.json", &supplement)
        .file(&format!("bin/codex-{LINUX}"), fake);
    #[cfg(unix)]
    set_mode(&p.path(&format!("bin/codex-{LINUX}")), 0o644);
    p
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn fake_codex() -> String {
    std::fs::read_to_string(repo().join("rules/tests/fixtures/snapshot/fake_codex.sh")).unwrap()
}

/// Every file under `dir`, relative, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn snapshot_node_equals_parity_rule_snapshot_for_the_same_binary() {
    let p = snapshot_project(&fake_codex(), 20_000);
    p.parity(&["build"]).ok();
    let snapshot = format!("snapshots/0.77.0/{LINUX}.json");
    assert!(p.exists(&snapshot));

    // The reference command on the same binary, in another root, same epoch.
    p.write("ref/RULES.json", SNAPSHOT_RULES);
    let bin = p.path(&format!("ref/codex-{LINUX}"));
    std::fs::copy(p.path(&format!("bin/codex-{LINUX}")), &bin).unwrap();
    set_mode(&bin, 0o755);
    let out = crate::support::parity_command()
        .current_dir(p.root())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["rule", "snapshot", "--capture-raw-help", "--codex-binary"])
        .arg(&bin)
        .arg("--out-file")
        .arg(p.path(&format!("ref/{snapshot}")))
        .arg("--supplement")
        .arg(p.path("supplement/commands.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.read(&snapshot) == p.read(&format!("ref/{snapshot}")));
    assert!(
        p.read(&snapshot)
            .contains("\"collected_at\": \"2023-11-14T22:13:20Z\"")
    );

    // The raw help is the cache-only output, byte for byte the reference's.
    let raw = p.path(&format!("cache/out/raw_help/0.77.0/{LINUX}"));
    let want = tree(&p.path(&format!("ref/raw_help/0.77.0/{LINUX}")));
    assert!(!want.is_empty());
    assert_eq!(tree(&raw), want);

    // Fresh afterwards; a changed binary makes it stale.
    assert_eq!(
        p.parity(&["status", "--json"]).states()[&format!("snapshot@0.77.0/{LINUX}")],
        "fresh"
    );
    p.write(
        &format!("bin/codex-{LINUX}"),
        &format!("{}\n# changed\n", fake_codex()),
    );
    let states = p.parity(&["status", "--json"]).states();
    assert_eq!(states[&format!("snapshot@0.77.0/{LINUX}")], "stale");
}

/// A fake whose `--version` says `version` and whose every other invocation runs `body`.
fn broken_fake(version: &str, body: &str) -> String {
    format!(
        "#!/usr/bin/env bash\ncase \"$*\" in\n  --version) echo '{version}'; exit 0 ;;\nesac\n{body}\n"
    )
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn snapshot_node_fails_on_a_broken_binary_and_writes_nothing() {
    let cases = [
        (
            "hangs",
            broken_fake("codex 0.77.0", "sleep 30"),
            "timeout after 300ms",
        ),
        (
            "exits 3",
            broken_fake("codex 0.77.0", "echo boom >&2; exit 3"),
            "exit 3",
        ),
        (
            "prints garbage",
            broken_fake("garbage", "echo '%%%'"),
            "failed to probe semantic version",
        ),
        (
            "is another version",
            broken_fake("codex 0.78.0", "exit 0"),
            "expected parent dir name 0.78.0",
        ),
    ];
    for (what, fake, message) in cases {
        let p = snapshot_project(&fake, 300);
        let run = p.parity(&["build"]);
        assert_eq!(run.code, 1, "a binary that {what}: {run:?}");
        assert!(
            run.stderr.contains(message),
            "a binary that {what}: {}",
            run.stderr
        );
        assert!(
            !p.exists("snapshots"),
            "a binary that {what} left a snapshot"
        );
        assert!(
            !p.exists("cache/out/raw_help"),
            "a binary that {what} left raw help"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// version@V status, pointers, current, validate over a copy of the repository's manifests

const ROOT: &str = "cli_manifests/codex";

/// A copy of the repository's pipeline and manifests whose `validation.toml` records `passed`
/// on Linux for exactly `passed`.
fn manifests_project(passed: &[&str]) -> Project {
    let p = clone_workspace(&repo());
    record(&p, passed);
    p
}

fn record(p: &Project, passed: &[&str]) {
    let mut text = "schema_version = 1\n".to_string();
    for v in passed {
        text.push_str(&format!(
            "\n[[result]]\nversion = \"{v}\"\ntarget = \"{LINUX}\"\nresult = \"passed\"\nevidence = \"test\"\n"
        ));
    }
    p.write(&format!("{ROOT}/validation.toml"), &text);
}

fn at(rel: &str) -> String {
    format!("{ROOT}/{rel}")
}

fn status_of(p: &Project, version: &str) -> String {
    let v: Value = serde_json::from_str(&p.read(&at(&format!("versions/{version}.json")))).unwrap();
    v["status"].as_str().unwrap().to_string()
}

#[test]
fn pointers_and_current_follow_the_recorded_validations() {
    let p = manifests_project(&["0.92.0"]);
    p.write(&at("min_supported.txt"), "0.97.0\n");
    p.parity(&["build"]).ok();
    assert_eq!(status_of(&p, "0.92.0"), "validated");
    assert_eq!(status_of(&p, "0.97.0"), "reported");
    assert_eq!(p.read(&at("latest_validated.txt")), "0.92.0\n");
    assert_eq!(
        p.read(&at(&format!("pointers/latest_validated/{LINUX}.txt"))),
        "0.92.0\n"
    );
    // 0.92.0 is below min_supported: no latest_supported yet.
    assert_eq!(
        p.read(&at(&format!("pointers/latest_supported/{LINUX}.txt"))),
        "none\n"
    );
    assert_eq!(
        p.read(&at("pointers/latest_validated/aarch64-apple-darwin.txt")),
        "none\n"
    );
    assert!(p.read(&at("current.json")) == p.read(&at("snapshots/0.92.0/union.json")));

    // A newer validation advances every pointer, and current.json follows.
    record(&p, &["0.92.0", "0.97.0"]);
    p.parity(&["build"]).ok();
    assert_eq!(status_of(&p, "0.97.0"), "validated");
    assert_eq!(p.read(&at("latest_validated.txt")), "0.97.0\n");
    assert_eq!(
        p.read(&at(&format!("pointers/latest_validated/{LINUX}.txt"))),
        "0.97.0\n"
    );
    assert_eq!(
        p.read(&at(&format!("pointers/latest_supported/{LINUX}.txt"))),
        "0.97.0\n"
    );
    assert!(p.read(&at("current.json")) == p.read(&at("snapshots/0.97.0/union.json")));
    let states = p.parity(&["status", "--json"]).states();
    assert!(states.values().all(|s| s == "fresh"), "{states:?}");
}

#[test]
fn a_failed_validation_keeps_the_version_reported() {
    let p = manifests_project(&[]);
    p.write(
        &at("validation.toml"),
        &format!("schema_version = 1\n[[result]]\nversion = \"0.97.0\"\ntarget = \"{LINUX}\"\nresult = \"failed\"\nevidence = \"test\"\n"),
    );
    p.parity(&["build", "version@0.97.0"]).ok();
    assert_eq!(status_of(&p, "0.97.0"), "reported");
    let v: Value = serde_json::from_str(&p.read(&at("versions/0.97.0.json"))).unwrap();
    assert_eq!(
        v["validation"]["failed_targets"],
        serde_json::json!([LINUX])
    );
    assert_eq!(v["promotion"]["eligible_for_latest_validated"], false);
}

/// The repository's codex pipeline without the `current` artifact.
fn without_current(p: &Project) {
    let text = p.read(&at("pipeline.toml"));
    let start = text.find("[artifact.current]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    p.write(
        &at("pipeline.toml"),
        &format!("{}{}", &text[..start], &text[end + 2..]),
    );
}

#[test]
fn bootstrap_mode_has_no_current_json() {
    let p = manifests_project(&[]);
    without_current(&p);
    p.remove(&at("current.json"));
    p.parity(&["build"]).ok();
    assert_eq!(p.read(&at("latest_validated.txt")), "none\n");
    assert_eq!(
        p.read(&at(&format!("pointers/latest_supported/{LINUX}.txt"))),
        "none\n"
    );
    assert!(!p.exists(&at("current.json")));
    assert!(
        p.exists(&format!("cache/out/{ROOT}/validate/report.json")),
        "validate ran and passed"
    );

    // Declaring `current` while nothing is validated fails, saying why, and writes nothing.
    std::fs::copy(
        repo().join(at("pipeline.toml")),
        p.path(&at("pipeline.toml")),
    )
    .unwrap();
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(run.stderr.contains("bootstrap mode"), "{}", run.stderr);
    assert!(!p.exists(&at("current.json")));
}

#[test]
fn a_none_root_pointer_fails_when_rules_forbid_it() {
    let p = manifests_project(&[]);
    let rules = p.read(&at("RULES.json"));
    let strict = rules.replace(
        "\"root_pointers_allow_none\": true",
        "\"root_pointers_allow_none\": false",
    );
    assert_ne!(rules, strict);
    p.write(&at("RULES.json"), &strict);
    let before = p.read(&at("latest_validated.txt"));
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(
        run.stderr.contains("root_pointers_allow_none"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.read(&at("latest_validated.txt")),
        before,
        "a failed node wrote a pointer"
    );
}

#[test]
fn validate_node_fails_the_build_on_a_broken_tree() {
    let p = manifests_project(&["0.92.0", "0.97.0"]);
    let path = at("VERSION_METADATA_SCHEMA.json");
    let mut schema: Value = serde_json::from_str(&p.read(&path)).unwrap();
    schema["properties"]["status"]["enum"] = serde_json::json!(["reported"]);
    p.write(&path, &serde_json::to_string_pretty(&schema).unwrap());
    let run = p.parity(&["build"]);
    run.code(1);
    assert!(run.stderr.contains("FAIL: 2 violations"), "{}", run.stderr);
    assert!(
        run.stderr.contains("versions/0.97.0.json"),
        "{}",
        run.stderr
    );
    assert!(!p.exists(&format!("cache/out/{ROOT}/validate/report.json")));
}
