//! Retention of versions (spec §7).

use std::path::PathBuf;

use anyhow::Result;

/// `parity rule retain` options (the reference `codex-retain`).
#[derive(Debug, Clone)]
pub struct RetainOptions {
    /// The parity root.
    pub root: PathBuf,
    /// Delete for real (default: dry run).
    pub apply: bool,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
}

/// Prints the keep/delete plan and, with `apply`, deletes out-of-window version directories.
pub fn run(opts: &RetainOptions) -> Result<()> {
    anyhow::bail!("retain is not implemented yet ({opts:?})")
}
