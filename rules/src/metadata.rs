//! Version metadata `versions/<V>.json` (spec §5.1, §5.2).

use std::path::PathBuf;

use anyhow::Result;

/// `parity rule version-metadata` options (the reference `codex-version-metadata`).
#[derive(Debug, Clone)]
pub struct MetadataOptions {
    /// The parity root.
    pub root: PathBuf,
    /// The version.
    pub version: String,
    /// `snapshotted`, `reported`, `validated` or `supported`.
    pub status: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
}

/// Writes `<root>/versions/<V>.json`.
pub fn run(opts: &MetadataOptions) -> Result<()> {
    anyhow::bail!("version-metadata is not implemented yet ({opts:?})")
}
