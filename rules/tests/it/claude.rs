//! Tests of the Claude Code rules (`claude-snapshot`, `claude-union`) against a fake Claude
//! Code (`fixtures/snapshot/fake_claude.sh`, a bash script: unix only) whose Commander-style
//! help hits every case of the crawl, and whose `--finite` variant the reference crawls to
//! the bytes in `fixtures/snapshot/expected/claude/`.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use parity_rules::snapshot::crawl::NotePaths;
use parity_rules::snapshot::{self, Cli, Out, SnapshotOptions};
use parity_rules::union::{self, UnionOptions};
use serde_json::Value;

use crate::files::{self, files_under};

const V: &str = "9.8.7";
const TARGET: &str = "linux-x64";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot")
}

fn claude_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli_manifests/claude_code/RULES.json")
}

/// A temp `claude_code` root holding the repository's claude RULES.json.
struct Root {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Root {
    fn new() -> Root {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("claude_code");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::copy(claude_rules(), root.join("RULES.json")).unwrap();
        Root { _tmp: tmp, root }
    }

    fn out_file(&self) -> PathBuf {
        self.root.join(format!("snapshots/{V}/{TARGET}.json"))
    }

    fn raw_help(&self) -> PathBuf {
        self.root.join(format!("raw_help/{V}/{TARGET}"))
    }

    fn opts(&self, fake: &str) -> SnapshotOptions {
        SnapshotOptions {
            cli: Cli::Claude,
            binary: fixtures().join(fake),
            out: Out::File(self.out_file()),
            capture_raw_help: true,
            raw_help_target: Some(TARGET.to_string()),
            supplement: Some(fixtures().join("claude_supplement.json")),
            collected_at: Some("1970-01-01T00:00:00Z".to_string()),
            timeout: Duration::from_millis(300),
            jobs: 4,
            note_paths: NotePaths::Full,
        }
    }

    fn snapshot(&self) -> String {
        std::fs::read_to_string(self.out_file()).unwrap()
    }

    fn snapshot_json(&self) -> Value {
        serde_json::from_str(&self.snapshot()).unwrap()
    }
}

/// The fake's canonical path as `{FAKE}`, and the host- and file-dependent fields redacted.
fn redact(json: &str, fake: &str) -> String {
    let canonical = std::fs::canonicalize(fixtures().join(fake)).unwrap();
    files::redact(&json.replace(&canonical.display().to_string(), "{FAKE}"))
}

fn paths(snap: &Value) -> Vec<String> {
    snap["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let tokens: Vec<&str> = c["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            tokens.join(" ")
        })
        .collect()
}

fn omissions(snap: &Value) -> Vec<String> {
    serde_json::from_value(snap["known_omissions"].clone()).unwrap()
}

#[test]
fn finite_tree_reproduces_the_reference_bytes() {
    let root = Root::new();
    snapshot::run(&root.opts("fake_claude_finite.sh")).unwrap();
    let want = fixtures().join("expected/claude");
    assert_eq!(
        redact(&root.snapshot(), "fake_claude_finite.sh"),
        std::fs::read_to_string(want.join("linux-x64.json")).unwrap()
    );
    let want_raw = want.join("raw_help");
    assert_eq!(files_under(&root.raw_help()), files_under(&want_raw));
    for rel in files_under(&want_raw) {
        assert_eq!(
            std::fs::read(root.raw_help().join(&rel)).unwrap(),
            std::fs::read(want_raw.join(&rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn a_word_that_prints_the_root_help_again_is_recorded_but_not_crawled() {
    // The reference crawls `findings X Y …` for every ordering of the root's tokens (claude
    // spec §9 B1): with this fake, 9! paths. Parity records `findings` as the reference does
    // and stops there, with a note.
    let root = Root::new();
    snapshot::run(&root.opts("fake_claude.sh")).unwrap();
    let snap = root.snapshot_json();
    let findings = &snap["commands"][paths(&snap).iter().position(|p| p == "findings").unwrap()];
    let top = &snap["commands"][0];
    assert_eq!(findings["usage"], top["usage"]);
    assert_eq!(findings["flags"], top["flags"]);
    assert!(
        !paths(&snap).iter().any(|p| p.starts_with("findings ")),
        "{:?}",
        paths(&snap)
    );
    assert!(
        omissions(&snap).contains(
            &"skipped subcommands of a path that prints the root help: findings".to_string()
        ),
        "{:?}",
        omissions(&snap)
    );
    let raw = std::fs::read_dir(root.raw_help().join("commands"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("findings__"))
        .expect("raw help of `findings`");
    assert_eq!(
        std::fs::read(root.raw_help().join("commands").join(raw).join("help.txt")).unwrap(),
        std::fs::read(root.raw_help().join("help.txt")).unwrap()
    );
}

#[test]
fn help_larger_than_a_pipe_is_read_not_timed_out() {
    let root = Root::new();
    snapshot::run(&root.opts("fake_claude.sh")).unwrap();
    let snap = root.snapshot_json();
    assert!(paths(&snap).contains(&"big".to_string()));
    assert!(!omissions(&snap).iter().any(|n| n.contains(" big ")));
    let big = walkdir::WalkDir::new(root.raw_help().join("commands"))
        .into_iter()
        .map(|e| e.unwrap())
        .find(|e| e.path().to_string_lossy().contains("/big__"))
        .expect("raw help of `big`");
    let size = std::fs::metadata(big.path().join("help.txt"))
        .unwrap()
        .len();
    assert!(size > 64 * 1024, "{size} bytes");
}

#[test]
fn probes_get_an_empty_home_an_empty_directory_and_nothing_of_the_callers_environment() {
    // The test process runs under cargo, which sets CARGO_MANIFEST_DIR: the fake says whether
    // it saw that (or ANTHROPIC_API_KEY), whether HOME and its working directory are empty, and
    // fails unless CI=1, DISABLE_AUTOUPDATER=1 and NO_COLOR=1 are set for help (CI not for
    // --version).
    let root = Root::new();
    snapshot::run(&root.opts("fake_claude.sh")).unwrap();
    let env = walkdir::WalkDir::new(root.raw_help().join("commands"))
        .into_iter()
        .map(|e| e.unwrap())
        .find(|e| e.path().to_string_lossy().contains("/env__"))
        .expect("raw help of `env`");
    assert_eq!(
        std::fs::read_to_string(env.path().join("help.txt")).unwrap(),
        "Usage: claude env [options]\n\nhome is empty: yes\nworking directory is empty: yes\ncaller environment seen: no\n"
    );
}

#[test]
fn notes_name_the_binary_by_file_name_in_pipeline_nodes() {
    let root = Root::new();
    let mut opts = root.opts("fake_claude.sh");
    opts.note_paths = NotePaths::FileName;
    snapshot::run(&opts).unwrap();
    let notes = omissions(&root.snapshot_json());
    assert!(
        notes.contains(&"help probe failed: fake_claude.sh broken --help (exit 1)".to_string())
    );
    assert!(notes.contains(&"timeout after 300ms: fake_claude.sh slow --help".to_string()));
    assert!(!root.snapshot().contains(&fixtures().display().to_string()));
}

#[test]
fn parallel_crawl_equals_sequential() {
    let (a, b) = (Root::new(), Root::new());
    let mut one = a.opts("fake_claude.sh");
    one.jobs = 1;
    snapshot::run(&one).unwrap();
    snapshot::run(&b.opts("fake_claude.sh")).unwrap();
    assert_eq!(
        redact(&a.snapshot(), "fake_claude.sh"),
        redact(&b.snapshot(), "fake_claude.sh")
    );
    assert_eq!(files_under(&a.raw_help()), files_under(&b.raw_help()));
}

#[test]
fn out_dir_mode_writes_current_json_without_reading_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Root::new();
    let mut opts = root.opts("fake_claude_finite.sh");
    opts.out = Out::Dir(tmp.path().to_path_buf());
    opts.raw_help_target = None;
    snapshot::run(&opts).unwrap();
    let snap: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("current.json")).unwrap()).unwrap();
    assert_eq!(snap["binary"]["target_triple"], "unknown");
    assert!(tmp.path().join(format!("raw_help/{V}/help.txt")).is_file());
    opts.raw_help_target = Some("unknown".into());
    let err = format!("{:#}", snapshot::run(&opts).unwrap_err());
    assert!(
        err.starts_with("--capture-raw-help requires a target triple"),
        "{err}"
    );
}

#[test]
fn claude_union_takes_claude_snapshots_and_dedupes_flags_against_the_root() {
    let root = Root::new();
    snapshot::run(&root.opts("fake_claude_finite.sh")).unwrap();
    let run = |cli| {
        union::run(&UnionOptions {
            cli,
            root: root.root.clone(),
            version: V.into(),
            rules: None,
            epoch: Some(0),
        })
    };
    let err = format!("{:#}", run(Cli::Codex).unwrap_err());
    assert!(
        err.contains("(expected codex-cli, got claude-code-cli)"),
        "{err}"
    );
    run(Cli::Claude).unwrap();
    let union: Value = serde_json::from_slice(
        &std::fs::read(root.root.join(format!("snapshots/{V}/union.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(union["tool"], "claude-code-cli");
    assert_eq!(union["complete"], false);
    assert_eq!(
        union["missing_targets"],
        serde_json::json!(["darwin-arm64", "win32-x64"])
    );
    for cmd in union["commands"].as_array().unwrap().iter().skip(1) {
        assert!(cmd.get("flags").is_none(), "{cmd}");
    }
    assert!(union["commands"][0]["flags"].as_array().unwrap().len() > 1);
}
