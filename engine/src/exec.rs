//! Rules: the trait rules implement, the registry they are registered into, and the sandboxes a
//! rule runs in.
//!
//! A rule is a pure function of its declared inputs, params and config. Rules that run in
//! parity's own process ([`SandboxKind::Mirror`]) get a fresh directory where the node's
//! inputs are *copied* at their paths (`root/` mirrors the pipeline root, `cache/` the cache
//! outputs; never links to the workspace's inodes) and where they write their declared outputs
//! at theirs. Rules that run a process ([`SandboxKind::Process`], the `command` rule) run it
//! in a reused, confined slot (see [`crate::sandbox`]). Either way only the declared outputs
//! are taken out of the sandbox, checked, atomically; anything else the rule writes is
//! discarded with it (and reported, for processes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::fsutil;
use crate::graph::{Node, Output, OutputKind};
use crate::sandbox::{Ended, Slot};

/// The error a rule returns: anything, with its cause chain (an `anyhow::Error` converts).
pub type RuleError = Box<dyn std::error::Error + Send + Sync>;

/// A kind of action: `union`, `snapshot`, `command`, ...
pub trait Rule: Send + Sync {
    /// The name used in `pipeline.toml` (`rule = "..."`).
    fn name(&self) -> &'static str;
    /// Bumped when the rule's behaviour changes: part of every action key.
    fn version(&self) -> u32 {
        1
    }
    /// Environment variables the rule reads; their values are part of the action key.
    fn env(&self, node: &Node) -> Vec<String> {
        let _ = node;
        Vec::new()
    }
    /// Whether the rule stamps a time: the node's SOURCE_DATE_EPOCH is then part of its key
    /// (and required).
    fn reads_time(&self) -> bool {
        false
    }
    /// Checks a node's config when the graph is loaded; the message names what is wrong.
    fn check(&self, node: &Node) -> Result<(), String> {
        let _ = node;
        Ok(())
    }
    /// Whether the artifact's `epoch`, when it declares one, is passed to the rule (as
    /// SOURCE_DATE_EPOCH) and part of its key, without being required as [`Rule::reads_time`]
    /// makes it (nor taken from parity's environment).
    fn passes_epoch(&self) -> bool {
        false
    }
    /// Where the rule runs: in parity's process with a mirror of its inputs (the default), or
    /// as a confined process ([`RuleContext::run_shell`]).
    fn sandbox(&self) -> SandboxKind {
        SandboxKind::Mirror
    }
    /// Produces the node's outputs in the sandbox.
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError>;
}

/// Where a rule runs (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxKind {
    /// In parity's process, with copies of its inputs in a fresh directory.
    Mirror,
    /// As a process started by [`RuleContext::run_shell`], in a reused, confined slot.
    Process,
}

/// The rules known to a process. Only the binary registers rules; the engine knows none.
#[derive(Default, Clone)]
pub struct Registry {
    rules: BTreeMap<&'static str, Arc<dyn Rule>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }
    /// Adds a rule (replacing one of the same name).
    pub fn register(&mut self, rule: impl Rule + 'static) {
        self.rules.insert(rule.name(), Arc::new(rule));
    }
    /// The rule called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Rule>> {
        self.rules.get(name)
    }
    /// Every rule name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.rules.keys().copied().collect()
    }
}

/// What a running rule sees.
pub struct RuleContext<'a> {
    /// The node being built.
    pub node: &'a Node,
    /// Names of the inputs present, in declaration order (`path` or `{cache}/path`).
    pub inputs: Vec<String>,
    /// SOURCE_DATE_EPOCH of this node, when the rule reads the time.
    pub epoch: Option<i64>,
    /// Values of the rule's env allow-list (`None` = unset).
    pub env: BTreeMap<String, Option<String>>,
    /// Set when the build is interrupted; long rules should poll it and give up.
    pub cancelled: &'a AtomicBool,
    pub(crate) root: PathBuf,
    pub(crate) cache: PathBuf,
    pub(crate) outputs: Vec<PathBuf>,
    /// The process slot, for rules of [`SandboxKind::Process`].
    pub(crate) slot: Option<std::cell::RefCell<&'a mut Slot>>,
}

impl RuleContext<'_> {
    /// The sandbox mirror of the pipeline root: committed inputs are here at their paths (and,
    /// for in-process rules, committed outputs must be written here at theirs).
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The sandbox mirror of the cache outputs (`{cache}/x` is at `cache_dir()/x`).
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }
    /// Where the input or output called `name` (`path` or `{cache}/path`) is in the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        fsutil::name_path(&self.root, &self.cache, name)
    }
    /// Where output `i` of the node must be written.
    pub fn output(&self, i: usize) -> PathBuf {
        self.outputs[i].clone()
    }
    /// Where every output must be written, in declaration order.
    pub fn outputs(&self) -> Vec<PathBuf> {
        self.outputs.clone()
    }
    /// The node's deadline (`timeout` in `pipeline.toml`, else an hour).
    pub fn timeout(&self) -> Duration {
        self.node.timeout.unwrap_or(crate::sandbox::DEFAULT_TIMEOUT)
    }

    /// Runs `sh -c script` in the sandbox (its working directory is [`RuleContext::root`])
    /// with exactly the environment `vars`, plus `HOME` and `TMPDIR` inside the sandbox: no
    /// other variable of parity's environment. The process is confined where the system allows
    /// it (see [`crate::sandbox`]), killed with its whole process group at the node's deadline
    /// or when the build is interrupted. Its output goes to a file; a failure message holds
    /// its last lines. Only for rules of [`SandboxKind::Process`].
    pub fn run_shell(&self, script: &str, vars: &[(String, String)]) -> Result<(), RuleError> {
        let Some(slot) = &self.slot else {
            return Err("run_shell needs a rule of SandboxKind::Process".into());
        };
        let mut slot = slot.borrow_mut();
        let ended = slot.run(script, vars, self.timeout(), self.cancelled)?;
        let Err(ended) = ended else { return Ok(()) };
        let mut msg = match ended {
            Ended::Failed(Some(code)) => format!("command exited with {code}: {script}"),
            Ended::Failed(None) => format!("command was killed by a signal: {script}"),
            Ended::TimedOut(t) => format!(
                "command timed out after {} s (`timeout` of the artifact) and its process group was killed: {script}",
                t.as_secs_f64()
            ),
            Ended::Interrupted => {
                return Err("interrupted: the command's process group was killed".into());
            }
        };
        let tail = slot.tail();
        if !tail.is_empty() {
            msg.push_str("\n--- output (last lines) ---\n");
            msg.push_str(&tail);
        }
        Err(msg.into())
    }
}

/// A rule's private directory: `root/` and `cache/` mirrors. Deleted when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) cache: PathBuf,
}

impl Sandbox {
    /// A new empty sandbox under `parent` (`cache/tmp`).
    pub fn create(parent: &Path) -> crate::Result<Sandbox> {
        std::fs::create_dir_all(parent).map_err(|e| crate::Error::io("create", parent, e))?;
        let dir = tempfile::Builder::new()
            .prefix("sandbox-")
            .tempdir_in(parent)
            .map_err(|e| crate::Error::io("create a sandbox in", parent, e))?;
        let root = dir.path().join("root");
        let cache = dir.path().join("cache");
        for d in [&root, &cache] {
            std::fs::create_dir_all(d).map_err(|e| crate::Error::io("create", d, e))?;
        }
        Ok(Sandbox { dir, root, cache })
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where `name` (`path` or `{cache}/path`) lives in the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        fsutil::name_path(&self.root, &self.cache, name)
    }

    /// Where `output` must be written in the sandbox.
    pub fn output_path(&self, output: &Output) -> PathBuf {
        match output.kind {
            OutputKind::Committed => fsutil::join_rel(&self.root, &output.path),
            OutputKind::Cache => fsutil::join_rel(&self.cache, &output.path),
        }
    }

    /// Copies the file or directory `from` into the sandbox as `name`: a private copy (a
    /// reflink where the filesystem has them), never a link a rule could write through.
    pub fn add_input(&self, name: &str, from: &Path) -> crate::Result<()> {
        let to = self.path(name);
        let dir = fsutil::parent_dir(&to);
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io("create", dir, e))?;
        fsutil::copy_tree(from, &to)
    }
}

/// Checks what a rule produced for output `o` at `path` (the error completes "rule `x` ..."):
/// it exists, it is a regular file (a
/// directory, for an output declared with a trailing `/`) and, for a directory, holds only
/// regular files and directories. Symbolic links, fifos, sockets and devices are refused: their
/// bytes are not the rule's (a link to `/etc/passwd` would be stored and uploaded).
pub fn check_output(path: &Path, o: &Output) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("did not write its declared output `{}`", o.name()));
        }
        Err(e) => return Err(format!("wrote an unreadable output `{}`: {e}", o.name())),
    };
    let kind = |t: std::fs::FileType| {
        if t.is_symlink() {
            "a symbolic link"
        } else if t.is_dir() {
            "a directory"
        } else if t.is_file() {
            "a regular file"
        } else {
            "a special file (fifo, socket or device)"
        }
    };
    match (o.dir, meta.file_type()) {
        (false, t) if t.is_file() => return Ok(()),
        (true, t) if t.is_dir() => {}
        (dir, t) => {
            let want = if dir {
                "a directory (declared with a trailing `/`)"
            } else {
                "a regular file"
            };
            return Err(format!(
                "wrote its output `{}` as {}, not {want}",
                o.name(),
                kind(t)
            ));
        }
    }
    for entry in walkdir::WalkDir::new(path).min_depth(1) {
        let entry = entry.map_err(|e| format!("wrote an unreadable output `{}`: {e}", o.name()))?;
        let t = entry.file_type();
        if !t.is_file() && !t.is_dir() {
            let rel = entry.path().strip_prefix(path).unwrap_or(entry.path());
            return Err(format!(
                "wrote `{}` in its output `{}` as {}; outputs hold only regular files and directories",
                rel.display(),
                o.name(),
                kind(t)
            ));
        }
    }
    Ok(())
}
