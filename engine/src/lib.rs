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
//! - [`process`]     child processes with a deadline, drained pipes and process-group kill.
//! - [`fsutil`]      atomic writes and other careful file operations used everywhere.
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
