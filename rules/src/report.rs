//! Coverage reports (spec §4).

use std::path::PathBuf;

use anyhow::Result;

/// `parity rule report` options (the reference `codex-report`).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The parity root.
    pub root: PathBuf,
    /// The version whose union is reported.
    pub version: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
}

/// Writes `<root>/reports/<V>/coverage.*.json`.
pub fn run(opts: &ReportOptions) -> Result<()> {
    anyhow::bail!("report is not implemented yet ({opts:?})")
}
