//! Tests of the `snapshot` rule, against a fake codex (`fixtures/snapshot/fake_codex.sh`) and
//! small per-test fakes written into the temp dir. The fakes are bash scripts: unix only.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parity_rules::snapshot::crawl::NotePaths;
use parity_rules::snapshot::{self, Cli, Out, SnapshotOptions};
use serde_json::Value;

use crate::files::{files_under, redact, version_of};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot")
}

/// A temp parity root with a minimal RULES.json (only what snapshot reads).
struct Root {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Root {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("codex");
        std::fs::create_dir_all(&root).unwrap();
        let rules = r#"{
  "sorting": { "commands": "lexicographic_path", "flags": "by_key_then_long_then_short", "args": "by_name" },
  "union": { "expected_targets": ["x86_64-unknown-linux-musl", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"] }
}
"#;
        std::fs::write(root.join("RULES.json"), rules).unwrap();
        Root { _tmp: tmp, root }
    }

    fn out_file(&self) -> PathBuf {
        self.root.join(format!("snapshots/0.77.0/{TARGET}.json"))
    }

    fn raw_help(&self) -> PathBuf {
        self.root.join(format!("raw_help/0.77.0/{TARGET}"))
    }

    fn opts(&self, binary: &Path) -> SnapshotOptions {
        SnapshotOptions {
            cli: Cli::Codex,
            binary: binary.to_path_buf(),
            out: Out::File(self.out_file()),
            capture_raw_help: false,
            raw_help_target: None,
            supplement: None,
            collected_at: Some("1970-01-01T00:00:00Z".to_string()),
            timeout: Duration::from_secs(20),
            jobs: 4,
            note_paths: NotePaths::Full,
        }
    }

    /// Writes an executable bash fake: `--version` prints codex 0.77.0, `features list` lists
    /// nothing, everything else runs `body` with the args in `$*`.
    fn fake(&self, name: &str, body: &str) -> PathBuf {
        let path = self.root.parent().unwrap().join(name);
        let script = format!(
            "#!/usr/bin/env bash\ncase \"$*\" in\n  --version) echo 'codex 0.77.0'; exit 0 ;;\n  'features list') exit 0 ;;\nesac\n{body}\n"
        );
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
        path
    }

    fn snapshot_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.out_file()).unwrap()).unwrap()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn fake_codex() -> PathBuf {
    fixtures().join("fake_codex.sh")
}

/// The default run over the fixture fake: supplement and raw help on.
fn run_fixture(root: &Root, jobs: usize) {
    let mut opts = root.opts(&fake_codex());
    opts.capture_raw_help = true;
    opts.supplement = Some(fixtures().join("supplement_commands.json"));
    opts.jobs = jobs;
    snapshot::run(&opts).unwrap();
}

fn command<'a>(snap: &'a Value, path: &[&str]) -> &'a Value {
    snap["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == serde_json::json!(path))
        .unwrap_or_else(|| panic!("no command {path:?}"))
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x[key].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn run_err(opts: &SnapshotOptions) -> String {
    format!("{:#}", snapshot::run(opts).unwrap_err())
}

#[test]
fn snapshot_and_raw_help_match_expected_bytes() {
    let root = Root::new();
    run_fixture(&root, 4);
    let got = std::fs::read_to_string(root.out_file()).unwrap();
    let want = std::fs::read_to_string(fixtures().join(format!("expected/{TARGET}.json"))).unwrap();
    assert_eq!(redact(&got), want);

    let want_dir = fixtures().join("expected/raw_help");
    assert_eq!(files_under(&root.raw_help()), files_under(&want_dir));
    for rel in files_under(&want_dir) {
        let got = std::fs::read(root.raw_help().join(&rel)).unwrap();
        assert_eq!(
            got,
            std::fs::read(want_dir.join(&rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn raw_help_dir_is_replaced_as_a_whole() {
    let root = Root::new();
    let stale = root.raw_help().join("commands/gone/help.txt");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "old").unwrap();
    run_fixture(&root, 2);
    assert!(!stale.exists());
    assert_eq!(
        files_under(&root.raw_help()),
        files_under(&fixtures().join("expected/raw_help"))
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.raw_help().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, [TARGET]);
}

#[test]
fn binary_digest_is_of_the_probed_file() {
    let root = Root::new();
    run_fixture(&root, 1);
    let bytes = std::fs::read(fake_codex()).unwrap();
    let snap = root.snapshot_json();
    assert_eq!(
        snap["binary"]["sha256"],
        parity_engine::hash::sha256_hex(&bytes)
    );
    assert_eq!(snap["binary"]["size_bytes"], bytes.len());
    assert_eq!(snap["binary"]["target_triple"], TARGET);
}

#[test]
fn parallel_crawl_equals_sequential_and_is_deterministic() {
    let (a, b) = (Root::new(), Root::new());
    run_fixture(&a, 1);
    run_fixture(&b, 8);
    assert_eq!(
        std::fs::read(a.out_file()).unwrap(),
        std::fs::read(b.out_file()).unwrap()
    );
    assert_eq!(files_under(&a.raw_help()), files_under(&b.raw_help()));
    run_fixture(&a, 3);
    assert_eq!(
        std::fs::read(a.out_file()).unwrap(),
        std::fs::read(b.out_file()).unwrap()
    );
}

#[test]
fn sorts_commands_and_flags() {
    let root = Root::new();
    run_fixture(&root, 2);
    let snap = root.snapshot_json();
    let paths: Vec<Vec<String>> = snap["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::from_value(c["path"].clone()).unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    let start = command(&snap, &["exec", "start"]);
    let keys: Vec<_> = start["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["long"]
                .as_str()
                .or(f["short"].as_str())
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(keys, ["--alpha", "--delta", "--help", "-z"]);
}

#[test]
fn infers_usage_args_and_parses_flags_across_blank_lines() {
    let root = Root::new();
    run_fixture(&root, 2);
    let snap = root.snapshot_json();
    let exec = command(&snap, &["exec"]);
    assert_eq!(names(&exec["args"], "name"), ["PROMPT"]);
    assert_eq!(exec["args"][0]["note"], "inferred from usage");
    let beta = exec["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["long"] == "--beta")
        .unwrap();
    assert!(beta.get("short").is_none());
    assert!(names(&exec["flags"], "long").contains(&"--alpha".to_string()));
    // the wrapped `zed` description is not a subcommand
    assert!(
        snap["commands"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["path"][0] != "wraps")
    );
}

#[test]
fn records_feature_probe_and_feature_gated_commands() {
    let root = Root::new();
    run_fixture(&root, 2);
    let snap = root.snapshot_json();
    let features = &snap["features"];
    assert_eq!(
        features["enabled_for_snapshot"],
        serde_json::json!(["base_feature", "extra_feature"])
    );
    assert_eq!(
        features["commands_added_when_all_enabled"],
        serde_json::json!([["extra"]])
    );
    assert_eq!(features["mode"], "default_plus_all_enabled");
    command(&snap, &["extra"]);
}

#[test]
fn supplement_inserts_paths_and_records_only_applied_items() {
    let root = Root::new();
    run_fixture(&root, 2);
    let snap = root.snapshot_json();
    assert_eq!(
        command(&snap, &["sandbox"])["platforms"],
        serde_json::json!(["linux", "macos"])
    );
    assert_eq!(
        snap["known_omissions"],
        serde_json::json!(["supplement/commands.json:v1:sandbox"])
    );

    let bad = root.root.join("supplement_v2.json");
    std::fs::write(&bad, r#"{"version": 2, "commands": []}"#).unwrap();
    let mut opts = root.opts(&fake_codex());
    opts.supplement = Some(bad);
    assert_eq!(run_err(&opts), "supplement file version must be 1 (got 2)");

    let none = root.root.join("supplement_empty.json");
    std::fs::write(
        &none,
        r#"{"version": 1, "commands": [{"path": ["exec"], "note": "n"}]}"#,
    )
    .unwrap();
    opts.supplement = Some(none);
    snapshot::run(&opts).unwrap();
    assert!(root.snapshot_json().get("known_omissions").is_none());
}

#[test]
fn out_file_layout_errors() {
    let root = Root::new();
    let fake = fake_codex();
    let err_for = |out: PathBuf, target: Option<&str>| {
        let mut opts = root.opts(&fake);
        opts.out = Out::File(out);
        opts.raw_help_target = target.map(str::to_string);
        run_err(&opts)
    };
    let r = &root.root;
    assert_eq!(
        err_for(r.join("snapshots/0.1.0/x.json"), None),
        "invalid --out-file layout: expected parent dir name 0.77.0, got 0.1.0"
    );
    assert_eq!(
        err_for(r.join("snaps/0.77.0/x.json"), None),
        "invalid --out-file layout: expected snapshots/<version> layout, got .../snaps/0.77.0"
    );
    assert_eq!(
        err_for(r.join("snapshots/0.77.0/x.txt"), None),
        "invalid --out-file layout: expected out-file name like <target_triple>.json"
    );
    assert_eq!(
        err_for(
            r.join(format!("snapshots/0.77.0/{TARGET}.json")),
            Some("aarch64-apple-darwin")
        ),
        format!(
            "invalid --out-file layout: expected filename aarch64-apple-darwin.json, got {TARGET}.json"
        )
    );
    assert_eq!(
        err_for(r.join("snapshots/0.77.0/riscv.json"), None),
        "raw_help_target=riscv is not in RULES.json.union.expected_targets"
    );
    std::fs::write(r.join("RULES.json"), r#"{"sorting": {"commands": "x"}}"#).unwrap();
    assert!(err_for(root.out_file(), None).starts_with(
        "unsupported rules configuration: sorting.commands=x, sorting.flags=<missing>"
    ));
    std::fs::remove_file(r.join("RULES.json")).unwrap();
    assert!(err_for(root.out_file(), None).starts_with("failed to read rules file: "));
    assert!(!root.out_file().exists());
}

#[test]
fn rejects_bad_collected_at_and_missing_binary() {
    let root = Root::new();
    let mut opts = root.opts(&fake_codex());
    opts.collected_at = Some("yesterday".to_string());
    assert_eq!(
        run_err(&opts),
        "invalid collected_at (must be RFC3339): yesterday"
    );
    let missing = root.root.join("no-such-codex");
    assert_eq!(
        run_err(&root.opts(&missing)),
        format!("invalid codex binary path: {}", missing.display())
    );
}

#[test]
fn binary_that_is_not_executable_is_a_clear_error() {
    let root = Root::new();
    let path = root.root.join("codex-plain");
    std::fs::write(&path, "#!/bin/sh\necho codex 0.77.0\n").unwrap();
    let err = run_err(&root.opts(&path));
    assert!(err.starts_with("command failed: "), "{err}");
    assert!(err.contains("codex-plain --version"), "{err}");
}

#[test]
fn hanging_help_times_out_naming_the_command() {
    let root = Root::new();
    // `sleep` is a grandchild holding the pipes: the whole process group must be killed (it
    // says its pid, to be checked below).
    let pid_file = root.root.parent().unwrap().join("sleep.pid");
    let fake = root.fake(
        "codex-hang",
        &format!(
            "sleep 300 & echo $! > '{}'; wait; echo done",
            pid_file.display()
        ),
    );
    let mut opts = root.opts(&fake);
    opts.timeout = Duration::from_millis(300);
    opts.capture_raw_help = true;
    let err = run_err(&opts);
    // The grandchild is gone (or a zombie waiting to be reaped), not left holding the pipes.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = Path::new("/proc").join(pid.trim()).join("stat");
    let gone = || {
        std::fs::read_to_string(&stat).map_or(true, |s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gone() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(), "the grandchild `sleep` {} survived", pid.trim());
    assert_eq!(
        err,
        format!(
            "command failed: timeout after 300ms: {} --help",
            fake.canonicalize().unwrap().display()
        )
    );
    assert!(!root.out_file().exists());
    assert!(
        !root
            .root
            .join("raw_help")
            .join("0.77.0")
            .join(TARGET)
            .exists()
    );
}

#[test]
fn non_zero_help_exit_fails_and_writes_nothing() {
    let root = Root::new();
    let body = r#"case "$*" in
  --help) printf 'Usage: codex [OPTIONS]\n\nCommands:\n  ok  fine\n  bad  broken\n' ;;
  'help ok') echo 'Usage: codex ok' ;;
  *) echo 'boom' >&2; exit 3 ;;
esac"#;
    let fake = root.fake("codex-fails", body);
    let mut opts = root.opts(&fake);
    opts.capture_raw_help = true;
    opts.jobs = 1;
    let err = run_err(&opts);
    let canonical = fake.canonicalize().unwrap();
    assert_eq!(
        err,
        format!(
            "command failed: {} help bad (exit 3)\nstderr:\nboom\n",
            canonical.display()
        )
    );
    assert!(!root.out_file().exists());
    assert!(
        !root.root.join("raw_help").exists() || files_under(&root.root.join("raw_help")).is_empty()
    );
}

#[test]
fn garbage_version_output_is_rejected() {
    let root = Root::new();
    let path = root.root.parent().unwrap().join("codex-garbage");
    std::fs::write(&path, "#!/usr/bin/env bash\necho 'hello there'\n").unwrap();
    make_executable(&path);
    let err = run_err(&root.opts(&path));
    assert!(
        err.starts_with("failed to probe semantic version; required for per-target snapshots: "),
        "{err}"
    );
    assert!(
        err.contains("codex-garbage --version") && err.contains("hello there"),
        "{err}"
    );
}

#[test]
fn self_listing_subcommand_is_not_recursed_into() {
    let root = Root::new();
    let body = r#"printf 'Usage: codex %s\n\nCommands:\n  loop  again\n  help  help\n' "$*""#;
    let fake = root.fake("codex-loop", body);
    snapshot::run(&root.opts(&fake)).unwrap();
    let paths: Vec<Value> = root.snapshot_json()["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].clone())
        .collect();
    let want = serde_json::json!([[], ["help"], ["help", "loop"], ["loop"], ["loop", "help"]]);
    assert_eq!(Value::Array(paths), want);
}

#[test]
fn crawl_stops_at_the_depth_limit() {
    let root = Root::new();
    // every help lists one more, new subcommand: `c1`, then `c2` under it, …
    let fake = root.fake(
        "codex-deep",
        r#"printf 'Usage: codex\n\nCommands:\n  c%s  deeper\n' "$#""#,
    );
    snapshot::run(&root.opts(&fake)).unwrap();
    let commands = root.snapshot_json()["commands"].as_array().unwrap().clone();
    let deepest = commands
        .iter()
        .map(|c| c["path"].as_array().unwrap().len())
        .max();
    assert_eq!(commands.len(), 13);
    assert_eq!(deepest, Some(12));
}

#[test]
fn children_get_a_fresh_home() {
    let root = Root::new();
    let body = r#"[[ -d "$HOME" && -z "$(ls -A "$HOME")" && -d "$CODEX_HOME" ]] && state=fresh || state=dirty
printf 'Title\nHOME=%s\nCODEX_HOME=%s\n%s %s %s %s\n\nUsage: codex\n' "$HOME" "$CODEX_HOME" "$state" "$NO_COLOR" "$CLICOLOR" "$TERM""#;
    let fake = root.fake("codex-home", body);
    snapshot::run(&root.opts(&fake)).unwrap();
    let about = root.snapshot_json()["commands"][0]["about"]
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = about.lines().collect();
    assert_eq!(lines[2], "fresh 1 0 dumb");
    if let Ok(real) = std::env::var("HOME") {
        assert_ne!(lines[0], format!("HOME={real}"));
    }
    assert_ne!(lines[0], "HOME=");
    assert_ne!(lines[1], "CODEX_HOME=");
}

#[test]
fn feature_probe_error_names_the_program_without_its_directory() {
    let root = Root::new();
    let path = root.root.parent().unwrap().join("codex-nofeat");
    let script = "#!/usr/bin/env bash\ncase \"$*\" in\n  --version) echo 'codex 0.77.0' ;;\n  'features list') echo 'unknown' >&2; exit 1 ;;\n  *) printf 'T\\n\\nUsage: codex\\n' ;;\nesac\n";
    std::fs::write(&path, script).unwrap();
    make_executable(&path);
    let mut opts = root.opts(&path);
    opts.capture_raw_help = true;
    snapshot::run(&opts).unwrap();
    let snap = root.snapshot_json();
    assert_eq!(
        snap["features"]["probe_error"],
        "codex-nofeat features list (exit 1)\nstderr:\nunknown"
    );
    assert!(snap["features"].get("enabled_for_snapshot").is_none());
    assert!(
        snap["features"]
            .get("commands_added_when_all_enabled")
            .is_none()
    );
    // without features the raw help comes from the default pass
    assert_eq!(
        std::fs::read_to_string(root.raw_help().join("help.txt")).unwrap(),
        "T\n\nUsage: codex\n"
    );
}

/// Opt-in: `PARITY_REAL_CODEX=/path/to/codex cargo test -p parity-rules real_codex`.
#[test]
#[ignore = "needs PARITY_REAL_CODEX=/path/to/codex (a real binary; .ci/run sets it)"]
fn real_codex_snapshot_is_stable() {
    let binary = std::env::var("PARITY_REAL_CODEX")
        .expect("set PARITY_REAL_CODEX=/path/to/codex to run this opt-in test");
    let binary = PathBuf::from(binary);
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let root = Root::new();
        let version = version_of(&binary);
        let mut opts = root.opts(&binary);
        let out = root.root.join(format!("snapshots/{version}/{TARGET}.json"));
        opts.out = Out::File(out.clone());
        opts.capture_raw_help = true;
        snapshot::run(&opts).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let snap: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(snap["binary"]["semantic_version"], version);
        assert!(snap["commands"].as_array().unwrap().len() > 1);
        outputs.push(bytes);
    }
    assert_eq!(outputs[0], outputs[1]);
}
