//! Snapshot of a codex binary's CLI surface (spec §1).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

/// `parity rule snapshot` options (the reference `codex-snapshot`, per-target mode).
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// The codex binary to probe.
    pub codex_binary: PathBuf,
    /// `<root>/snapshots/<version>/<target>.json`.
    pub out_file: PathBuf,
    /// Also write `<root>/raw_help/<version>/<target>/…/help.txt`.
    pub capture_raw_help: bool,
    /// Target name (default: the out-file stem).
    pub raw_help_target: Option<String>,
    /// `supplement/commands.json`.
    pub supplement: Option<PathBuf>,
    /// RFC 3339 override of `collected_at`, copied verbatim.
    pub collected_at: Option<String>,
    /// Timeout of one help invocation (the reference has none).
    pub timeout: Duration,
    /// Help invocations run at once.
    pub jobs: usize,
}

/// Probes the binary and writes the snapshot (and raw help).
pub fn run(opts: &SnapshotOptions) -> Result<()> {
    anyhow::bail!("snapshot is not implemented yet ({opts:?})")
}
