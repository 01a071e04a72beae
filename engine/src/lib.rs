//! `parity-engine`: a declarative, content-hashed, incremental build graph.
//!
//! The engine knows nothing about codex: rules register into it through [`exec::Rule`].
//!
//! Map of the crate (module -> what it owns on disk):
//! - [`error`]       the one error enum of the engine; rendering with carets and "did you mean".
//! - [`pipeline`]    `pipeline.toml`: the model, the parser (with spans), parameter resolution.
//! - [`graph`]       node ids, expansion of artifacts into nodes, the DAG, cycles, target patterns.
//! - [`hash`]        blake3 digests of files and directories; the stat cache (`cache/stat`).
//! - [`memo`]        the verified no-op fast path (`cache/noop`): verdicts + stat tuples.
//! - [`fingerprint`] action keys and [`fingerprint::DirtyReason`].
//! - [`state`]       `pipeline.lock` (committed build state) and the build journal (`cache/journal`).
//! - [`cache`]       the local content-addressed store and action cache (`cache/cas`, `cache/ac`).
//! - [`remote`]      the remote HTTP cache client (Bazel's `cas/` + `ac/` layout).
//! - [`exec`]        the rule trait and registry, and the sandbox a rule runs in.
//! - [`workspace`]   a loaded workspace; evaluation of a node against its record; `status`.
//! - [`ops`]         `build` and `status` whole: the build lock (`cache/lock`), the no-op memo.
//! - [`build`]       the scheduler (rayon), the real and dry-run executors, build events.
//! - [`sandbox`]     where `command` recipes run (`cache/tmp/w*`): Landlock or copies, env,
//!   deadline, process group, captured output.
//! - [`command`]     the generic `command` rule (a shell recipe), registered by the binary.
//! - [`simple`]      recipes that are one simple command run without a shell.
//! - [`process`]     child processes with a deadline, drained pipes and process-group kill.
//! - [`fsutil`]      atomic writes and other careful file operations used everywhere.
//!
//! # Example
//!
//! A rule registered by the caller, a pipeline of one node, a build, then a no-op build that
//! runs nothing (the `parity` binary registers its rules the same way):
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//!
//! use parity_engine::build::{self, BuildOptions, Event, Reporter};
//! use parity_engine::exec::{Registry, Rule, RuleContext, RuleError};
//! use parity_engine::workspace::Workspace;
//!
//! /// `upper`: its inputs, upper-cased, into its one output.
//! struct Upper;
//!
//! impl Rule for Upper {
//!     fn name(&self) -> &'static str {
//!         "upper"
//!     }
//!     fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
//!         let mut text = String::new();
//!         for name in &ctx.inputs {
//!             text.push_str(&std::fs::read_to_string(ctx.path(name))?);
//!         }
//!         let out = &ctx.outputs()[0];
//!         std::fs::create_dir_all(out.parent().ok_or("an output has a parent")?)?;
//!         std::fs::write(out, text.to_uppercase())?;
//!         Ok(())
//!     }
//! }
//!
//! /// Build events are for a user interface; this one shows none.
//! struct Quiet;
//!
//! impl Reporter for Quiet {
//!     fn event(&mut self, _: Event<'_>) {}
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//! std::fs::write(
//!     dir.path().join("pipeline.toml"),
//!     "[artifact.shout]\nrule = \"upper\"\ninputs = [\"hello.txt\"]\noutputs = [\"out/shout.txt\"]\n",
//! )?;
//! let mut rules = Registry::new();
//! rules.register(Upper);
//! let ws = Workspace::open(&dir.path().join("pipeline.toml"), rules)?;
//! let every_node: Vec<usize> = (0..ws.graph.nodes.len()).collect();
//! let opts = BuildOptions {
//!     jobs: 2,
//!     keep_going: false,
//!     force: false,
//!     dry_run: false,
//!     remote: None,
//!     adopt: false,
//! };
//! let cancel = AtomicBool::new(false);
//!
//! let first = build::build(&ws, &every_node, &opts, &cancel, &mut Quiet)?;
//! assert_eq!(first.ran, 1);
//! assert_eq!(std::fs::read_to_string(dir.path().join("out/shout.txt"))?, "HELLO\n");
//! assert!(dir.path().join("pipeline.lock").exists());
//!
//! // Nothing changed: the node is fresh, nothing runs.
//! let second = build::build(&ws, &every_node, &opts, &cancel, &mut Quiet)?;
//! assert_eq!(second.ran, 0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod build;
pub mod cache;
pub mod command;
pub mod error;
pub mod exec;
pub mod fingerprint;
pub mod fsutil;
pub mod graph;
pub mod hash;
pub mod memo;
pub mod ops;
pub mod pipeline;
pub mod process;
pub mod remote;
pub mod sandbox;
pub mod simple;
pub mod state;
pub mod workspace;

pub use error::{Error, Result};

/// Work items below which the engine stays on one thread: starting threads and handing work
/// between them costs more than it saves on small graphs, and much more on a loaded machine,
/// where every hand-off waits for a time slice.
pub const PARALLEL_MIN: usize = 4096;

/// `pipeline.lock` sizes (bytes) below which the state is read on the calling thread.
pub(crate) const PARALLEL_MIN_BYTES: u64 = 1 << 20;

/// Whether the state of the workspace whose lock is `lock_path` is large enough to be read on
/// a second thread while the graph is expanded.
pub fn state_is_large(lock_path: &std::path::Path) -> bool {
    std::fs::metadata(lock_path).is_ok_and(|m| m.len() >= PARALLEL_MIN_BYTES)
}
