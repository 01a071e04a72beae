//! Union of per-target snapshots (spec §2).

use std::path::PathBuf;

use anyhow::Result;

/// `parity rule union` options (the reference `codex-union`).
#[derive(Debug, Clone)]
pub struct UnionOptions {
    /// The parity root (`cli_manifests/codex`).
    pub root: PathBuf,
    /// The version whose `snapshots/<V>/` are merged.
    pub version: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
}

/// Writes `<root>/snapshots/<V>/union.json`.
pub fn run(opts: &UnionOptions) -> Result<()> {
    anyhow::bail!("union is not implemented yet ({opts:?})")
}
