//! The CLI test builder: a project in a temp dir, `parity` run in it as many times as needed.
//!
//! parity appends the id of every node whose rule it starts to `$PARITY_RUN_LOG` (a file
//! outside the project): that log says which rules really ran, as opposed to being fresh or
//! restored from the cache. (Recipes cannot write it themselves: they are sandboxed.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Variables of a developer's (or a CI runner's) shell that change what parity does, removed
/// from every `parity` a test starts unless the test sets them: every `PARITY_*` and
/// `GITHUB_*` variable, and these.
const SHELL_VARIABLES: &[&str] = &[
    "SOURCE_DATE_EPOCH",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
    "TERM",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

/// `parity` with the environment of a test: no variable of [`SHELL_VARIABLES`] or with a
/// `PARITY_`/`GITHUB_` prefix from the shell that runs the tests, `CI=1` (plain progress
/// lines) and `NO_COLOR=1`.
pub fn parity_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("parity"));
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("PARITY_")
            || name.starts_with("GITHUB_")
            || SHELL_VARIABLES.contains(&name)
        {
            cmd.env_remove(name);
        }
    }
    cmd.env("CI", "1").env("NO_COLOR", "1");
    cmd
}

/// A pipeline root in its own temp dir.
pub struct Project {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

/// What one `parity` invocation did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `[artifact.NAME]` table of rule `command` (inputs and outputs as TOML arrays' contents).
pub fn command_node(name: &str, inputs: &[&str], outputs: &[&str], recipe: &str) -> String {
    let list = |xs: &[&str]| {
        xs.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[artifact.{name}]\nrule = \"command\"\ninputs = [{}]\noutputs = [{}]\nconfig = {{ command = '{}' }}\n\n",
        list(inputs),
        list(outputs),
        recipe
    )
}

impl Project {
    pub fn new() -> Project {
        let tmp = tempfile::Builder::new()
            .prefix("parity-it-")
            .tempdir()
            .expect("temp dir");
        let root = tmp.path().join("work");
        std::fs::create_dir(&root).expect("create project dir");
        Project { tmp, root }
    }

    /// Writes `text` to `path` (relative to the project), creating directories.
    pub fn file(self, path: &str, text: &str) -> Project {
        self.write(path, text);
        self
    }

    /// Writes (or overwrites) a file of the project.
    pub fn write(&self, path: &str, text: &str) {
        let p = self.path(path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
    }

    /// Every file and directory under the project, relative, sorted (to assert "nothing written").
    pub fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }

    /// The log parity appends the id of every rule it starts to (outside the project).
    pub fn runlog(&self) -> PathBuf {
        self.tmp.path().join("runs.log")
    }

    /// The ids of the nodes whose rule ran since the last call, in order; clears the log.
    pub fn take_runs(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.runlog()).unwrap_or_default();
        let _ = std::fs::remove_file(self.runlog());
        text.lines().map(String::from).collect()
    }

    /// The ids logged so far, without clearing the log.
    pub fn take_runs_peek(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.runlog()).unwrap_or_default();
        text.lines().map(String::from).collect()
    }

    /// The same ids, sorted.
    pub fn take_runs_sorted(&self) -> Vec<String> {
        let mut runs = self.take_runs();
        runs.sort();
        runs
    }

    /// `parity` in the project, with the test environment ([`parity_command`]) and the run log.
    fn command(&self) -> std::process::Command {
        let mut cmd = parity_command();
        cmd.current_dir(&self.root)
            .env("PARITY_RUN_LOG", self.runlog());
        cmd
    }

    /// Runs `parity ARGS` in the project and waits for it.
    pub fn parity(&self, args: &[&str]) -> Run {
        self.parity_env(&[], args)
    }

    /// Runs `parity ARGS` with extra environment variables and waits for it.
    pub fn parity_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.envs(env.iter().copied());
        let out = assert_cmd::Command::from_std(cmd)
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run parity");
        Run::of(&out)
    }

    /// Runs `parity ARGS` under `umask` (set by `sh`, which then `exec`s parity with the same
    /// environment as [`Project::parity`]).
    pub fn parity_under_umask(&self, umask: &str, args: &[&str]) -> Run {
        let parity = self.command();
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(parity.get_program())
            .args(args)
            .current_dir(&self.root);
        for (name, value) in parity.get_envs() {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        let out = assert_cmd::Command::from_std(cmd)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run parity under sh");
        Run::of(&out)
    }

    /// Starts `parity ARGS` in the project without waiting (output piped).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut cmd = self.command();
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn parity")
    }
}

/// This repository's checkout.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A new project holding the workspace of `from` (this repository's checkout, or another
/// project): `pipeline.toml`, `pipeline.lock` and every member under `cli_manifests/`, without
/// any cache.
pub fn clone_workspace(from: &Path) -> Project {
    let p = Project::new();
    copy_dir(&from.join("cli_manifests"), &p.path("cli_manifests"));
    for f in ["pipeline.toml", "pipeline.lock"] {
        std::fs::copy(from.join(f), p.path(f)).unwrap();
    }
    p
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        if p.is_dir() {
            walk(base, &p, out);
        }
    }
}

impl Run {
    /// What a finished process did.
    pub fn of(out: &std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    /// Stdout as JSON lines.
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// `build --json`: node -> outcome of every `finished` event.
    pub fn outcomes(&self) -> BTreeMap<String, String> {
        self.events("finished")
            .iter()
            .map(|e| {
                (
                    e["node"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The events of one kind.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// The last record (`summary`), which every `--json` run ends with.
    pub fn summary(&self) -> Value {
        let last = self.json().pop().expect("a summary record");
        assert_eq!(
            last["event"], "summary",
            "last record is not a summary: {last}"
        );
        last
    }

    /// `status --json`: node -> state.
    pub fn states(&self) -> BTreeMap<String, String> {
        self.json()
            .iter()
            .filter(|e| e.get("node").is_some())
            .map(|e| {
                (
                    e["node"].as_str().unwrap().to_string(),
                    e["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// `[(k, v)]` as a map, for comparing with [`Run::outcomes`] and [`Run::states`].
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}
